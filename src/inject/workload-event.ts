// Which admissions deserve a Kubernetes Event on the pod's owner, so the
// problem shows in `kubectl describe deployment|job|…` and not only in the
// controller's (often unread) pod-creation warnings. Pure.
import type { Pod } from './kube-types.js';
import type { InjectionOutcome } from './plan.js';
import { DENIABLE_REASONS, describeProblem, type Problem } from './problems.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export interface InjectionEvent {
  namespace: string;
  /** The pod's controller (ReplicaSet, Job, StatefulSet…); the recorder may walk up to its own owner. */
  owner: OwnerReference;
  reason: 'SidecarInjectionRefused' | 'SidecarInjectionSkipped' | 'SidecarInjectionIncomplete';
  message: string;
}

/** The controller owner of a pod, from metadata.ownerReferences. */
export function controllerOf(pod: Pod): OwnerReference | undefined {
  const references = pod.metadata.ownerReferences;
  if (!Array.isArray(references)) return undefined;
  const owner = (references as Array<Partial<OwnerReference> & { controller?: boolean }>).find((r) => r.controller === true);
  if (owner?.apiVersion === undefined || owner.kind === undefined || owner.name === undefined || owner.uid === undefined) return undefined;
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid };
}

const worthTelling = (p: Problem): boolean => DENIABLE_REASONS.has(p.reason) || p.reason === 'no_default_templates';

/**
 * The event for one admission, or undefined: pods without a controller (the
 * user who created them saw the warning), and outcomes without a problem a
 * user must act on.
 */
export function injectionEvent(pod: Pod | undefined, namespace: string, outcome: InjectionOutcome): InjectionEvent | undefined {
  if (pod === undefined) return undefined;
  const problems = outcome.problems.filter(worthTelling);
  if (outcome.result !== 'denied' && problems.length === 0) return undefined;
  const owner = controllerOf(pod);
  if (owner === undefined) return undefined;
  if (outcome.result === 'denied') return { namespace, owner, reason: 'SidecarInjectionRefused', message: outcome.message };
  const reason = outcome.result === 'injected' ? 'SidecarInjectionIncomplete' : 'SidecarInjectionSkipped';
  const lead = outcome.result === 'injected' ? `injected ${outcome.templates.join(', ')}, but` : 'no sidecar injected:';
  return { namespace, owner, reason, message: `${lead} ${problems.map(describeProblem).join('; ')}` };
}
