import type { CompiledTemplate } from '../templates/model.js';
import { renderJson, renderValue, type RenderContext } from '../templates/placeholders.js';
import type { EnvVar, Pod, VolumeMount } from './kube-types.js';

/**
 * A template rendered for one pod. What goes into the patch unread (containers,
 * volumes) is JSON text; what the injector checks against the pod (the mounts
 * and env of the application containers) is objects.
 */
export interface RenderedTemplate {
  template: CompiledTemplate;
  params: Readonly<Record<string, string>>;
  /** Where the sidecar containers go: `native` = initContainers with restartPolicy Always. */
  placement: 'native' | 'regular';
  /** The template's own run-to-completion init containers, JSON. */
  initContainers: string[];
  /** The sidecar containers, JSON. */
  sidecars: string[];
  /** Volumes, JSON. */
  volumes: string[];
  appVolumeMounts: VolumeMount[];
  appEnv: EnvVar[];
}

export function podContext(pod: Pod, namespace: string): RenderContext['pod'] {
  const meta = pod.metadata ?? {};
  return {
    name: meta.name ?? meta.generateName ?? '',
    generateName: meta.generateName ?? '',
    namespace,
    serviceAccountName: pod.spec.serviceAccountName ?? 'default',
  };
}

export function renderTemplate(
  template: CompiledTemplate,
  params: Readonly<Record<string, string>>,
  pod: RenderContext['pod'],
  nativeSidecars: boolean,
): RenderedTemplate {
  const context: RenderContext = { pod, params, template: { name: template.name, version: template.version } };
  const json = (list: CompiledTemplate['containers']): string[] => list.map((c) => renderJson(c, context));
  const objects = <T>(list: CompiledTemplate['containers']): T[] => list.map((c) => renderValue(c, context) as T);
  const placement = template.mode === 'native' && nativeSidecars ? 'native' : 'regular';
  return {
    template,
    params,
    placement,
    initContainers: json(template.initContainers),
    sidecars: json(placement === 'native' ? template.nativeContainers : template.containers),
    volumes: json(template.volumes),
    appVolumeMounts: objects<VolumeMount>(template.appVolumeMounts),
    appEnv: objects<EnvVar>(template.appEnv),
  };
}
