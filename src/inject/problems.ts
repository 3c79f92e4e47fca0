// Everything that can go wrong with a pod's request for injection. The reason
// is a stable snake_case key: metric label, log field and the warning's subject.

export type ProblemReason =
  | 'unknown_template'
  | 'templates_not_loaded'
  | 'namespace_not_allowed'
  | 'service_account_not_allowed'
  | 'privileged_not_allowed'
  | 'invalid_parameter'
  | 'parameter_not_overridable'
  | 'unknown_parameter'
  | 'name_conflict'
  | 'mount_path_conflict'
  | 'env_already_set'
  | 'invalid_status'
  | 'no_default_templates'
  | 'annotation_on_workload'
  /** A pod the webhook cannot read as a pod (a container without a name…): admitted untouched, for the apiserver to reject. */
  | 'invalid_pod'
  /** The injection record would take the pod's annotations past the apiserver's 256 KiB: always refused. */
  | 'annotations_too_large';

export interface Problem {
  reason: ProblemReason;
  template: string | undefined;
  message: string;
  /** What the short message leaves out (kubectl warnings are kept to 120 characters); logged. */
  detail?: string;
  /** The message before names were shortened to fit the warning; logged, and in the Event. */
  unclipped?: string;
}

/**
 * Problems that the `deny` policy turns into a denial (DESIGN.md: unknown
 * templates, disallowed templates, bad overrides, name conflicts). The rest
 * are only ever warnings: the pod's own value was kept and nothing is broken.
 */
export const DENIABLE_REASONS: ReadonlySet<ProblemReason> = new Set<ProblemReason>([
  'unknown_template',
  'templates_not_loaded',
  'namespace_not_allowed',
  'service_account_not_allowed',
  'privileged_not_allowed',
  'invalid_parameter',
  'parameter_not_overridable',
  'unknown_parameter',
  'name_conflict',
  'mount_path_conflict',
]);

const WARNING_PREFIX = 'sidecar-injector: ';

/**
 * The longest warning, prefix included: the API's guidance for admission
 * warnings ("limit warnings to 120 characters if possible"; the apiserver may
 * truncate one over 256 and drops warnings past 4096 characters in all).
 */
export const WARNING_LIMIT = 120;
const ELLIPSIS = '…';

/** Characters as kubectl shows them (code points, not UTF-16 units). */
const lengthOf = (text: string): number => [...text].length;

function clip(text: string, length: number): string {
  const chars = [...text];
  if (chars.length <= length) return text;
  return length <= 0 ? '' : chars.slice(0, length - 1).join('') + ELLIPSIS;
}

/** A problem's short text; `unclipped` is the text before any value was shortened to fit. */
export interface FittedText {
  text: string;
  unclipped: string | undefined;
}

/** A value the warning can best spare (the reader's own namespace or names, a list of alternatives): cut first, down to EXPENDABLE_MIN. */
export interface ExpendableValue {
  expendable: string;
}
export const expendable = (value: string): ExpendableValue => ({ expendable: value });
const EXPENDABLE_MIN = 8;

/** The largest cap under which the lengths, each cut to it, add up to at most `budget` (0 if none). */
function capFor(lengths: readonly number[], budget: number): number {
  let cap = Math.max(0, ...lengths);
  const total = (c: number): number => lengths.reduce((sum, length) => sum + Math.min(length, c), 0);
  while (cap > 0 && total(cap) > budget) cap -= 1;
  return cap;
}

/**
 * A tagged template for a problem's message: when the warning it becomes
 * (prefix included) would exceed WARNING_LIMIT, the interpolated values are
 * shortened, each ending in `…`: first the values wrapped in expendable()
 * (down to EXPENDABLE_MIN characters), then all the long ones alike, to the
 * largest common length that fits, so short values stay whole and long ones
 * share what is left. The literal text is never cut. Deterministic.
 */
export function fitted(strings: TemplateStringsArray, ...values: Array<string | number | ExpendableValue>): FittedText {
  const texts = values.map((value) => (typeof value === 'object' ? value.expendable : String(value)));
  const isExpendable = values.map((value) => typeof value === 'object');
  const join = (parts: readonly string[]): string => strings.reduce((out, literal, i) => out + literal + (parts[i] ?? ''), '');
  const whole = join(texts);
  if (lengthOf(WARNING_PREFIX + whole) <= WARNING_LIMIT) return { text: whole, unclipped: undefined };
  const budget = WARNING_LIMIT - lengthOf(WARNING_PREFIX) - strings.reduce((n, literal) => n + lengthOf(literal), 0);
  const lengths = texts.map(lengthOf);
  const sum = (list: readonly number[]): number => list.reduce((a, b) => a + b, 0);
  const others = sum(lengths.filter((_, i) => !isExpendable[i]));
  const expendableCap = Math.max(EXPENDABLE_MIN, capFor(lengths.filter((_, i) => isExpendable[i]), budget - others));
  const firstCut = lengths.map((length, i) => (isExpendable[i] ? Math.min(length, expendableCap) : length));
  const cap = capFor(firstCut, budget);
  return { text: join(texts.map((text, i) => clip(text, Math.min(cap, firstCut[i] ?? 0)))), unclipped: whole };
}

/**
 * A problem whose warning fits WARNING_LIMIT. `detail` is what the short text
 * leaves out; it and, when a value had to be shortened, the unclipped text go
 * to the admission log line and the workload's Event.
 */
export function shortProblem(reason: ProblemReason, template: string | undefined, message: FittedText, detail?: string): Problem {
  return {
    reason,
    template,
    message: message.text,
    ...(message.unclipped === undefined ? {} : { unclipped: message.unclipped }),
    ...(detail === undefined || detail === '' ? {} : { detail }),
  };
}

/** The whole story of a problem, for the Event, a denial and the CLI: the unshortened text and its detail. */
export function describeProblem(problem: Problem): string {
  const text = problem.unclipped ?? problem.message;
  return problem.detail === undefined ? text : `${text} (${problem.detail})`;
}

/** What the warning leaves out, for the log line: the unshortened text (when shortened) and the detail. */
export function problemDetail(problem: Problem): string | undefined {
  const parts = [problem.unclipped, problem.detail].filter((part): part is string => part !== undefined);
  return parts.length === 0 ? undefined : parts.join('; ');
}

export function problemToWarning(problem: Problem): string {
  // Every message is built to fit; this only guards one that was not.
  return clip(WARNING_PREFIX + problem.message, WARNING_LIMIT);
}
