// A stored pod that asked for sidecars but lacks them: created while the
// webhook was unreachable under failurePolicy Ignore. Pure.
import type { TemplateSet } from '../templates/model.js';
import type { InjectionSettings, NamespaceInfo } from './decide.js';
import type { ObjectMeta, Pod } from './kube-types.js';
import { planInjection } from './plan.js';
import { podView } from './pod-view.js';
import { sentToWebhook, type WebhookScope } from './webhook-scope.js';
import { controllerOf, type OwnerReference } from './workload-event.js';

const FINISHED = new Set(['Succeeded', 'Failed']);

/**
 * What the reconciler keeps of a stored pod, and all it judges: the planning
 * view (names, mount paths, env names, sidecar.example/ annotations — see
 * pod-view.ts) plus identity, controller, phase and deletion. Its informer
 * caches these instead of whole pods (a few hundred bytes instead of several
 * kilobytes each: docs/performance.md).
 */
export interface StoredPodView extends Pod {
  metadata: ObjectMeta & {
    name: string;
    namespace: string;
    uid: string;
    /** The informer compares it to skip unchanged objects on a re-list. */
    resourceVersion?: string;
    deletionTimestamp?: Date;
    /** The controller reference only. */
    ownerReferences?: Array<OwnerReference & { controller: true }>;
  };
  status?: { phase?: string };
}

/** A pod as a list (client-node objects) or a watch event (plain JSON) delivers it. */
export interface StoredPodSource {
  metadata?: ObjectMeta & { uid?: string; resourceVersion?: string; deletionTimestamp?: unknown; ownerReferences?: unknown };
  spec?: Pod['spec'];
  status?: { phase?: string };
}

/** The view of a pod from a list (client-node objects) or a watch event (plain JSON). */
export function storedPodView(pod: StoredPodSource): StoredPodView {
  const meta = pod.metadata ?? {};
  const view = podView({ metadata: meta, spec: pod.spec ?? { containers: [] } });
  const metadata: StoredPodView['metadata'] = { ...view.metadata, name: meta.name ?? '', namespace: meta.namespace ?? '', uid: meta.uid ?? '' };
  if (meta.resourceVersion !== undefined) metadata.resourceVersion = meta.resourceVersion;
  if (meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null) {
    metadata.deletionTimestamp = meta.deletionTimestamp instanceof Date ? meta.deletionTimestamp : new Date(String(meta.deletionTimestamp));
  }
  const controller = controllerOf({ metadata: meta, spec: view.spec });
  if (controller !== undefined) metadata.ownerReferences = [{ ...controller, controller: true }];
  const stored: StoredPodView = { metadata, spec: view.spec };
  if (pod.status?.phase !== undefined) stored.status = { phase: pod.status.phase };
  return stored;
}

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

export type Judgement =
  /** The webhook configuration never sends this pod: none of the reconciler's business. */
  | { kind: 'out_of_scope' }
  /** The namespace's labels and default templates are not known yet: judge again later. */
  | { kind: 'namespace_unknown' }
  | { kind: 'complete' }
  | { kind: 'missed'; templates: string[] };

/** The reconciler's verdict on one stored pod. */
export function judgeStoredPod(
  pod: StoredPodView,
  scope: WebhookScope,
  templates: TemplateSet,
  settings: InjectionSettings,
  ns: NamespaceInfo,
): Judgement {
  const namespace = pod.metadata.namespace;
  if (scope.excludedNamespaces.has(namespace)) return { kind: 'out_of_scope' };
  // Unknown labels would make an opted-in namespace look plain, or the global
  // defaults stand in for the namespace's own list: never judge on a guess.
  if (ns.labels === undefined) return { kind: 'namespace_unknown' };
  if (!sentToWebhook(pod.metadata.annotations, namespace, ns.labels, scope)) return { kind: 'out_of_scope' };
  const missed = missedTemplates(pod, namespace, templates, settings, ns);
  return missed.length === 0 ? { kind: 'complete' } : { kind: 'missed', templates: missed };
}
