// Everything that can go wrong with a pod's request for injection. The reason
// is a stable snake_case key: metric label, log field and the warning's subject.

export type ProblemReason =
  | 'unknown_template'
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
  | 'annotation_on_workload';

export interface Problem {
  reason: ProblemReason;
  template: string | undefined;
  message: string;
  /** What the short message leaves out (kubectl warnings are kept to 120 characters); logged. */
  detail?: string;
}

/**
 * Problems that the `deny` policy turns into a denial (DESIGN.md: unknown
 * templates, disallowed templates, bad overrides, name conflicts). The rest
 * are only ever warnings: the pod's own value was kept and nothing is broken.
 */
export const DENIABLE_REASONS: ReadonlySet<ProblemReason> = new Set<ProblemReason>([
  'unknown_template',
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

/**
 * A tagged template for a problem's message: when the warning it becomes
 * (prefix included) would exceed WARNING_LIMIT, the interpolated values (names
 * from the pod or the templates) longer than a common length are cut to it,
 * ending in `…`, with that length the largest that fits: short values stay
 * whole, long ones share what is left. The literal text is never cut.
 * Deterministic.
 */
export function fitted(strings: TemplateStringsArray, ...values: Array<string | number>): FittedText {
  const texts = values.map(String);
  const join = (parts: readonly string[]): string => strings.reduce((out, literal, i) => out + literal + (parts[i] ?? ''), '');
  const whole = join(texts);
  if (lengthOf(WARNING_PREFIX + whole) <= WARNING_LIMIT) return { text: whole, unclipped: undefined };
  const budget = WARNING_LIMIT - lengthOf(WARNING_PREFIX) - strings.reduce((n, literal) => n + lengthOf(literal), 0);
  const lengths = texts.map(lengthOf);
  // The largest cap on every value's length under which they all fit.
  let cap = Math.max(0, ...lengths);
  const total = (c: number): number => lengths.reduce((sum, length) => sum + Math.min(length, c), 0);
  while (cap > 0 && total(cap) > budget) cap -= 1;
  return { text: join(texts.map((text) => clip(text, cap))), unclipped: whole };
}

/**
 * A problem whose warning fits WARNING_LIMIT. `detail` is what the short
 * text leaves out; with the unclipped text when a value had to be shortened,
 * it goes to the admission log line and the workload's Event.
 */
export function shortProblem(reason: ProblemReason, template: string | undefined, message: FittedText, detail?: string): Problem {
  const full = [message.unclipped, detail].filter((part) => part !== undefined && part !== '').join('; ');
  return full === '' ? { reason, template, message: message.text } : { reason, template, message: message.text, detail: full };
}

/** The whole story of a problem, for the Event, a denial and the CLI: the short text and its detail. */
export function describeProblem(problem: Problem): string {
  return problem.detail === undefined ? problem.message : `${problem.message} (${problem.detail})`;
}

export function problemToWarning(problem: Problem): string {
  // Every message is built to fit; this only guards one that was not.
  return clip(WARNING_PREFIX + problem.message, WARNING_LIMIT);
}
