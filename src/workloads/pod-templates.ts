import type { ObjectMeta, Pod, PodSpec } from '../inject/kube-types.js';
import { POD_TEMPLATE_PATH } from '../inject/workload-annotation.js';

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
