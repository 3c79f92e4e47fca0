import type { ObjectMeta, Pod, PodSpec } from '../inject/kube-types.js';
import { fitted, shortProblem, type Problem } from '../inject/problems.js';

/** Where the pod template sits in each workload kind (like `istioctl kube-inject`). */
const POD_TEMPLATE_PATH: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export const SUPPORTED_KINDS = ['Pod', ...Object.keys(POD_TEMPLATE_PATH), 'List'];

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A pod found in a manifest: read it as a Pod, write the injected pod back. */
export interface PodSite {
  /** e.g. `Deployment/web`, for messages. */
  label: string;
  namespace: string | undefined;
  pod: Pod;
  replace(pod: Pod): void;
}

function siteFor(object: JsonObject, defaultNamespace: string | undefined): PodSite | undefined {
  const kind = String(object['kind'] ?? '');
  const meta = (isObject(object['metadata']) ? object['metadata'] : {}) as ObjectMeta;
  const label = `${kind}/${meta.name ?? meta.generateName ?? '(unnamed)'}`;
  const namespace = meta.namespace ?? defaultNamespace;
  if (kind === 'Pod') {
    if (!isObject(object['spec'])) return undefined;
    return {
      label,
      namespace,
      pod: object as unknown as Pod,
      replace: (pod) => Object.assign(object, pod),
    };
  }
  const path = POD_TEMPLATE_PATH[kind];
  if (path === undefined) return undefined;
  let parent: JsonObject = object;
  for (const key of path.slice(0, -1)) {
    const next = parent[key];
    if (!isObject(next)) return undefined;
    parent = next;
  }
  const key = path[path.length - 1] as string;
  const template = parent[key];
  if (!isObject(template) || !isObject(template['spec'])) return undefined;
  const templateMeta = (isObject(template['metadata']) ? template['metadata'] : {}) as ObjectMeta;
  // Controllers create pods named after the workload, with generateName.
  const pod: Pod = {
    metadata: { ...templateMeta, generateName: `${meta.name ?? 'pod'}-` },
    spec: template['spec'] as PodSpec,
  };
  return {
    label,
    namespace,
    pod,
    replace: (injected) => {
      const { generateName: _generated, ...metadata } = injected.metadata;
      parent[key] = { ...template, metadata, spec: injected.spec };
    },
  };
}

/** Every pod (or pod template) in a parsed manifest; Lists are walked. */
export function findPodSites(document: unknown, defaultNamespace: string | undefined): { sites: PodSite[]; skipped: string[] } {
  const sites: PodSite[] = [];
  const skipped: string[] = [];
  const visit = (value: unknown): void => {
    if (!isObject(value)) return;
    if (value['kind'] === 'List' || (typeof value['kind'] === 'string' && value['kind'].endsWith('List') && Array.isArray(value['items']))) {
      for (const item of (value['items'] as unknown[]) ?? []) visit(item);
      return;
    }
    const site = siteFor(value, defaultNamespace);
    if (site !== undefined) sites.push(site);
    else skipped.push(String(value['kind'] ?? 'object without kind'));
  };
  visit(document);
  return { sites, skipped };
}

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
