// Whether policy mode serves a pod as the webhook does, in words, for
// `sidecar-injector explain`: the cases docs/policy-mode.md lists where the
// policies leave a pod alone, and the templates `policy` refuses to compile.
import { STATUS_ANNOTATION } from '../inject/annotations.js';
import type { InjectionSettings, Requested } from '../inject/decide.js';
import type { Pod } from '../inject/kube-types.js';
import type { TemplateSet } from '../templates/model.js';
import { policyName, statusRecordOf } from './compile.js';
import { refusalsOf } from './refusals.js';

/** One line: what the MutatingAdmissionPolicies would do with this pod, beside what the webhook does. */
export function policyModeVerdict(pod: Pod, requested: Requested, templates: TemplateSet, settings: Pick<InjectionSettings, 'nativeSidecars'>): string {
  if (requested.kind === 'skip') return 'policy mode: the same (nothing asked for)';
  const known = [...new Set(requested.names)].filter((name) => templates.templates.has(name));
  if (known.length === 0) return 'policy mode: the same (no known template asked for)';
  if (known.length > 1) {
    return `policy mode: leaves the pod alone: it asks for several templates (${known.join(', ')}), and each policy injects only a pod that asks for its template alone`;
  }
  const name = known[0] as string;
  const template = templates.templates.get(name);
  if (template === undefined) return 'policy mode: the same (no known template asked for)';
  const refusals = refusalsOf(template);
  if (refusals.length > 0) return `policy mode: "${name}" is not compiled (sidecar-injector policy refuses it): ${refusals.join('; ')}`;
  const record = pod.metadata?.annotations?.[STATUS_ANNOTATION];
  if (record !== undefined && record !== statusRecordOf(template)) {
    return `policy mode: leaves the pod alone: its ${STATUS_ANNOTATION} is not the record of "${name}" alone`;
  }
  if (template.mode === 'native' && !settings.nativeSidecars) {
    return `policy mode: injects "${name}" as a native sidecar (an init container with restartPolicy Always), as policies always do, where --native-sidecars=false makes the webhook add a regular container`;
  }
  return `policy mode: the same, by ${policyName(name)}`;
}
