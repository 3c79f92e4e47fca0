// The sidecar.example/status record is the basis of idempotency, and anyone
// who creates a pod can write it: it is believed only as far as the pod bears
// it out. Pure.
import type { TemplateSet } from '../templates/model.js';
import { EMPTY_STATUS, parseStatusAnnotation, STATUS_ANNOTATION, type InjectionStatus } from './annotations.js';
import type { Pod } from './kube-types.js';
import type { Problem } from './problems.js';

export interface StatusRecord {
  /** What the pod is known to carry: the record, or nothing when it cannot be believed. */
  status: InjectionStatus;
  /** Why the record was not believed (malformed, or not borne out by the pod); it is then replaced. */
  problem: Problem | undefined;
}

const NO_RECORD: StatusRecord = Object.freeze({ status: EMPTY_STATUS, problem: undefined });

/** Short enough for a kubectl warning (120 characters with its prefix); the detail goes to the log. */
const NOT_BORNE_OUT = `${STATUS_ANNOTATION} names containers or volumes the pod lacks; discarded`;

function hasAll(names: readonly string[], list: readonly { name: string }[] | undefined): string | undefined {
  return names.find((name) => !(list ?? []).some((item) => item.name === name));
}

/**
 * Why the record does not describe the pod, or undefined when it does: every
 * container, init container and volume it lists must be in the pod, and each
 * recorded template that is loaded must own one of the containers it lists
 * (so a record of bare template names proves nothing). One listed container
 * per template, not all of them: a template updated since may have gained one.
 */
function unsupported(status: InjectionStatus, pod: Pod, templates: TemplateSet): string | undefined {
  const spec = pod.spec;
  const container = hasAll(status.containers, spec.containers);
  if (container !== undefined) return `container "${container}" is not in the pod`;
  const init = hasAll(status.initContainers, spec.initContainers);
  if (init !== undefined) return `init container "${init}" is not in the pod`;
  const volume = hasAll(status.volumes, spec.volumes);
  if (volume !== undefined) return `volume "${volume}" is not in the pod`;
  for (const { name } of status.templates) {
    const template = templates.templates.get(name);
    if (template === undefined) continue;
    const owned = (n: string): boolean => status.containers.includes(n) || status.initContainers.includes(n);
    if (!template.containerNames.some(owned) && !template.initContainerNames.some(owned)) {
      return `template "${name}" is recorded without any of its containers`;
    }
  }
  return undefined;
}

/** Reads and checks the pod's record. */
export function readStatusRecord(pod: Pod, templates: TemplateSet): StatusRecord {
  const value = pod.metadata?.annotations?.[STATUS_ANNOTATION];
  if (value === undefined) return NO_RECORD;
  const parsed = parseStatusAnnotation(value);
  if (!parsed.ok) {
    const message = `${STATUS_ANNOTATION} ${parsed.error}; discarded`;
    return { status: EMPTY_STATUS, problem: { reason: 'invalid_status', template: undefined, message } };
  }
  const why = unsupported(parsed.status, pod, templates);
  if (why === undefined) return { status: parsed.status, problem: undefined };
  return { status: EMPTY_STATUS, problem: { reason: 'invalid_status', template: undefined, message: NOT_BORNE_OUT, detail: why } };
}
