// A problem's message (inject/problems.ts) as a CEL expression, for the
// messageExpression of the companion ValidatingAdmissionPolicy: the same text
// the webhook returns, shortened to the same 120 characters the same way when
// a value read from the pod makes it long. fitted()'s cut depends only on the
// lengths of the values; with one value read from the pod, every possible
// outcome is computed here, one per length of that value, and the CEL picks
// its own by index.
import { WARNING_LIMIT, type ExpendableValue } from '../inject/problems.js';
import { celString } from './cel.js';

const WARNING_PREFIX = 'sidecar-injector: ';
const EXPENDABLE_MIN = 8;
const ELLIPSIS = '…';

/** A value read from the pod or the request: a CEL string expression. */
export interface CelValue {
  cel: string;
  expendable: boolean;
}
export const celValue = (cel: string, expendable = false): CelValue => ({ cel, expendable });

type Value = string | number | ExpendableValue | CelValue;

const lengthOf = (text: string): number => [...text].length;
const isCel = (value: Value): value is CelValue => typeof value === 'object' && 'cel' in value;
const isExpendable = (value: Value): boolean => typeof value === 'object' && (isCel(value) ? value.expendable : true);
const constantText = (value: Value): string => (typeof value === 'object' ? (isCel(value) ? '' : value.expendable) : String(value));

/** problems.ts capFor: the largest cap under which the lengths, each cut to it, add up to at most `budget`. */
function capFor(lengths: readonly number[], budget: number): number {
  let cap = Math.max(0, ...lengths);
  const total = (c: number): number => lengths.reduce((sum, length) => sum + Math.min(length, c), 0);
  while (cap > 0 && total(cap) > budget) cap -= 1;
  return cap;
}

/**
 * How many characters fitted() keeps of each value, given the values'
 * lengths (a value longer than its cut ends in `…` within it). The same steps
 * as fitted(); test/unit/policy-validating.test.ts checks them against it.
 */
export function keptLengths(literalLength: number, lengths: readonly number[], expendable: readonly boolean[]): number[] {
  const sum = (list: readonly number[]): number => list.reduce((a, b) => a + b, 0);
  const budget = WARNING_LIMIT - lengthOf(WARNING_PREFIX) - literalLength;
  if (lengthOf(WARNING_PREFIX) + literalLength + sum(lengths) <= WARNING_LIMIT) return [...lengths];
  const others = sum(lengths.filter((_, i) => !expendable[i]));
  const expendableCap = Math.max(EXPENDABLE_MIN, capFor(lengths.filter((_, i) => expendable[i]), budget - others));
  const firstCut = lengths.map((length, i) => (expendable[i] ? Math.min(length, expendableCap) : length));
  const cap = capFor(firstCut, budget);
  return firstCut.map((length) => Math.min(cap, length));
}

/** problems.ts clip in CEL, on code points as kubectl shows them (CEL's size and substring count them too). */
function clipCel(text: string, kept: string): string {
  return `(size(${text}) <= ${kept} ? ${text} : (${kept} <= 0 ? "" : ${text}.substring(0, ${kept} - 1) + ${celString(ELLIPSIS)}))`;
}

function clipConstant(text: string, kept: number): string {
  const chars = [...text];
  if (chars.length <= kept) return text;
  return kept <= 0 ? '' : chars.slice(0, kept - 1).join('') + ELLIPSIS;
}

export interface ProblemTextCel {
  /** The warning the webhook returns, `sidecar-injector: ` included, shortened as it shortens it. */
  warning: string;
  /** The whole text, as a denial gives it (describeProblem without a detail). */
  whole: string;
}

/**
 * fitted`...` for a message with at most one value read from the pod (a
 * CelValue); the others are the template's own constants. Returns CEL.
 */
export function fittedCel(strings: TemplateStringsArray, ...values: Value[]): ProblemTextCel {
  const variable = values.findIndex(isCel);
  if (values.filter(isCel).length > 1) throw new Error('fittedCel: at most one value read from the pod');
  const literalLength = strings.reduce((n, literal) => n + lengthOf(literal), 0);
  const join = (parts: readonly string[]): string =>
    [celString(strings[0] ?? ''), ...parts.flatMap((part, i) => [part, celString(strings[i + 1] ?? '')])].filter((p) => p !== '""').join(' + ') || '""';
  const whole = join(values.map((value) => (isCel(value) ? value.cel : celString(constantText(value)))));
  const constantLengths = values.map((value) => lengthOf(constantText(value)));
  const flags = values.map(isExpendable);
  const prefixed = (text: string): string => `${celString(WARNING_PREFIX)} + ${text}`;
  if (variable < 0) {
    const kept = keptLengths(literalLength, constantLengths, flags);
    return { warning: prefixed(join(values.map((value, i) => celString(clipConstant(constantText(value), kept[i] ?? 0))))), whole };
  }
  const cel = (values[variable] as CelValue).cel;
  // Past the budget the cut no longer depends on the value's length (it is shortened to the cap whatever its length).
  const longest = WARNING_LIMIT - lengthOf(WARNING_PREFIX) - literalLength + 1;
  const table = Array.from({ length: Math.max(1, longest + 1) }, (_, length) =>
    keptLengths(literalLength, constantLengths.map((n, i) => (i === variable ? length : n)), flags),
  );
  const index = `(size(${cel}) < ${table.length - 1} ? size(${cel}) : ${table.length - 1})`;
  const keptCel = (i: number): string => {
    const column = table.map((row) => row[i] ?? 0);
    return column.every((n) => n === column[0]) ? String(column[0]) : `[${column.join(', ')}][${index}]`;
  };
  const parts = values.map((value, i) => {
    if (i === variable) return clipCel(cel, keptCel(i));
    const text = constantText(value);
    const column = table.map((row) => row[i] ?? 0);
    if (column.every((n) => n >= lengthOf(text))) return celString(text);
    return clipCel(celString(text), keptCel(i));
  });
  return { warning: prefixed(join(parts)), whole };
}
