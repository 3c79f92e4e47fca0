import { ANNOTATION_PREFIX } from './annotations.js';
import type { Container, Pod } from './kube-types.js';

/**
 * The part of a pod that injection planning may read: names, mount paths, env
 * names, the sidecar.example/ annotations, and which lists exist. Planning
 * runs on this view only, so two pods with equal views get equal plans — which
 * is what makes the plan cacheable by the view's JSON (see server/plan-cache).
 */
export function podView(pod: Pod): Pod {
  const meta = pod.metadata;
  const spec = pod.spec;
  return {
    metadata:
      meta === undefined
        ? (undefined as unknown as Pod['metadata'])
        : {
            name: meta.name,
            generateName: meta.generateName,
            annotations: meta.annotations === undefined ? undefined : ownAnnotations(meta.annotations),
          },
    spec: {
      serviceAccountName: spec.serviceAccountName,
      containers: spec.containers.map(containerView),
      initContainers: spec.initContainers?.map(nameOnly),
      ephemeralContainers: spec.ephemeralContainers?.map(nameOnly),
      volumes: spec.volumes?.map(nameOnly),
    },
  };
}

function ownAnnotations(annotations: Readonly<Record<string, string>>): Record<string, string> {
  const own: Record<string, string> = {};
  for (const key in annotations) {
    if (key.startsWith(ANNOTATION_PREFIX)) own[key] = annotations[key] as string;
  }
  return own;
}

function containerView(container: Container): Container {
  return {
    name: container.name,
    volumeMounts: container.volumeMounts?.map((m) => ({ name: m.name, mountPath: m.mountPath })),
    env: container.env?.map(nameOnly),
  };
}

function nameOnly<T extends { name: string }>(item: T): { name: string } {
  return { name: item.name };
}
