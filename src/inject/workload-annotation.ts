// Workloads (Deployments, Jobs…) are never mutated; the webhook and the CLI
// only warn when the inject annotation sits on a workload's own metadata,
// where nothing reads it. Which path a kind's pods copy is the injector's
// knowledge, so it lives in the pure core, shared by admission/ and workloads/.
import { fitted, shortProblem, type Problem } from './problems.js';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Where the pod template sits in each workload kind (like `istioctl kube-inject`). */
export const POD_TEMPLATE_PATH: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/** The pod template's path of each workload kind, e.g. `spec.template.metadata.annotations`. */
function podTemplateAnnotationsPath(kind: string): string | undefined {
  const path = POD_TEMPLATE_PATH[kind];
  return path === undefined ? undefined : [...path, 'metadata', 'annotations'].join('.');
}

function podTemplateAnnotations(object: JsonObject, kind: string): Record<string, unknown> | undefined {
  let value: unknown = object;
  for (const key of POD_TEMPLATE_PATH[kind] ?? []) value = isObject(value) ? value[key] : undefined;
  const meta = isObject(value) ? value['metadata'] : undefined;
  const annotations = isObject(meta) ? meta['annotations'] : undefined;
  return isObject(annotations) ? annotations : undefined;
}

/**
 * A common mistake: `sidecar.example/inject` on a workload's own metadata,
 * where nothing reads it, and not on its pod template, which its pods copy.
 * Returns the problem, or undefined when the annotation is placed right.
 */
export function misplacedInjectAnnotation(object: unknown, annotation: string): Problem | undefined {
  if (!isObject(object)) return undefined;
  const kind = String(object['kind'] ?? '');
  const where = podTemplateAnnotationsPath(kind);
  if (where === undefined) return undefined;
  const meta = isObject(object['metadata']) ? object['metadata'] : {};
  const own = isObject(meta['annotations']) ? meta['annotations'][annotation] : undefined;
  if (typeof own !== 'string' || own.trim() === '') return undefined;
  if (podTemplateAnnotations(object, kind)?.[annotation] !== undefined) return undefined;
  const name = String(meta['name'] ?? meta['generateName'] ?? '');
  // The warning names no workload: kubectl prints it beside the object's own line.
  return shortProblem(
    'annotation_on_workload',
    undefined,
    fitted`${annotation} has no effect; move it to ${where}`,
    `on ${kind} "${name}": its pods copy the annotations of ${where.replace(/\.metadata\.annotations$/, '')}, not the ${kind}'s`,
  );
}
