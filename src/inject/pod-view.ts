import { annotationBytes, annotationBytesWith } from './annotation-budget.js';
import { ANNOTATION_PREFIX, STATUS_ANNOTATION } from './annotations.js';
import type { Container, ObjectMeta, Pod, PodSpec } from './kube-types.js';

/**
 * The part of a pod that injection planning may read: names, mount paths, env
 * names, the sidecar.example/ annotations, the size of the others (the
 * annotation budget), and which lists exist. Planning
 * runs on this view only, so two pods with equal views get equal plans — which
 * is what makes the plan cacheable by the view's JSON (see server/plan-cache).
 * Absent fields are left out rather than set to undefined: the view is
 * serialised on every admission, and JSON.stringify skips them slowly.
 */
export function podView(pod: Pod): Pod {
  const spec = pod.spec;
  const view: PodSpec = { containers: spec.containers.map(containerView) };
  if (spec.serviceAccountName !== undefined) view.serviceAccountName = spec.serviceAccountName;
  if (spec.initContainers !== undefined) view.initContainers = spec.initContainers.map(containerView);
  if (spec.ephemeralContainers !== undefined) view.ephemeralContainers = spec.ephemeralContainers.map(nameOnly);
  if (spec.volumes !== undefined) view.volumes = spec.volumes.map(nameOnly);
  return { metadata: pod.metadata === undefined ? (undefined as unknown as ObjectMeta) : metadataView(pod.metadata), spec: view };
}

function metadataView(meta: ObjectMeta): ObjectMeta {
  const view: ObjectMeta = {};
  if (meta.name !== undefined) view.name = meta.name;
  if (meta.generateName !== undefined) view.generateName = meta.generateName;
  if (meta.annotations !== undefined) {
    const own: Record<string, string> = {};
    // The others' size, not their text: enough to keep the annotation budget (inject/annotation-budget.ts).
    let dropped = 0;
    for (const key in meta.annotations) {
      const value = meta.annotations[key] as string;
      if (key.startsWith(ANNOTATION_PREFIX)) own[key] = value;
      else dropped += annotationBytesWith(0, key, value);
    }
    view.annotations = own;
    if (dropped > 0) view[DROPPED_ANNOTATION_BYTES] = dropped;
  }
  return view;
}

/** Where a view keeps the size of the annotations it leaves out. */
const DROPPED_ANNOTATION_BYTES = 'droppedAnnotationBytes';

/**
 * The apiserver's measure of a pod's annotations other than the injection
 * record (which the patch replaces), from the pod or from its view.
 */
export function annotationBytesBesidesStatus(meta: ObjectMeta | undefined): number {
  if (meta === undefined) return 0;
  const dropped = meta[DROPPED_ANNOTATION_BYTES];
  return (typeof dropped === 'number' ? dropped : 0) + annotationBytes(meta.annotations, STATUS_ANNOTATION);
}

function containerView(container: Container): Container {
  const view: Container = { name: container.name };
  if (container.volumeMounts !== undefined) view.volumeMounts = container.volumeMounts.map((m) => ({ name: m.name, mountPath: m.mountPath }));
  if (container.env !== undefined) view.env = container.env.map(nameOnly);
  return view;
}

function nameOnly<T extends { name: string }>(item: T): { name: string } {
  return { name: item.name };
}
