// A stored pod that asked for sidecars but lacks them: created while the
// webhook was unreachable under failurePolicy Ignore. Pure.
import type { TemplateSet } from '../templates/model.js';
import type { InjectionSettings, NamespaceInfo } from './decide.js';
import type { Pod } from './kube-types.js';
import { planInjection } from './plan.js';

const FINISHED = new Set(['Succeeded', 'Failed']);

/**
 * The templates the webhook would inject into this pod now, which it
 * therefore lacks; empty when nothing is missing. Problems (unknown
 * templates, conflicts) are not "missed": the webhook would skip them too.
 */
export function missedTemplates(
  pod: Pod & { status?: { phase?: string } },
  namespace: string,
  templates: TemplateSet,
  settings: InjectionSettings,
  ns: NamespaceInfo,
): string[] {
  if (pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null) return [];
  if (FINISHED.has(pod.status?.phase ?? '')) return [];
  // Judged as under --on-problem=warn: a refused pod would not exist, but this one does.
  const outcome = planInjection(
    { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace, pod },
    templates,
    { ...settings, onProblem: 'warn' },
    ns,
  );
  return outcome.result === 'injected' ? outcome.templates : [];
}
