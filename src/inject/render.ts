import type { CompiledTemplate } from '../templates/model.js';
import { renderValue, type RenderContext } from '../templates/placeholders.js';
import type { Container, EnvVar, Pod, Volume, VolumeMount } from './kube-types.js';

/** A template rendered for one pod: plain objects ready to go into a patch. */
export interface RenderedTemplate {
  template: CompiledTemplate;
  params: Readonly<Record<string, string>>;
  /** Where the sidecar containers go: `native` = initContainers with restartPolicy Always. */
  placement: 'native' | 'regular';
  /** The template's own run-to-completion init containers. */
  initContainers: Container[];
  sidecars: Container[];
  volumes: Volume[];
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
  const render = <T>(list: CompiledTemplate['containers']): T[] => list.map((c) => renderValue(c, context) as T);
  const placement = template.mode === 'native' && nativeSidecars ? 'native' : 'regular';
  const sidecars = render<Container>(template.containers);
  return {
    template,
    params,
    placement,
    initContainers: render<Container>(template.initContainers),
    // Rendered objects may share frozen constant subtrees, so copy before adding a field.
    sidecars: placement === 'native' ? sidecars.map((c) => ({ ...c, restartPolicy: 'Always' })) : sidecars,
    volumes: render<Volume>(template.volumes),
    appVolumeMounts: render<VolumeMount>(template.appVolumeMounts),
    appEnv: render<EnvVar>(template.appEnv),
  };
}
