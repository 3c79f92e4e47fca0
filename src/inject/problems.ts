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

export function problemToWarning(problem: Problem): string {
  return WARNING_PREFIX + problem.message;
}
