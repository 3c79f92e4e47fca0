import type { CompiledTemplate } from '../templates/model.js';
import { renderJson, renderValue, type Compiled, type RenderContext } from '../templates/placeholders.js';
import type { EnvVar, Pod, VolumeMount } from './kube-types.js';

/** What a template adds to the application's containers, rendered for one pod (objects: checked against the pod). */
export interface AppSettings {
  template: CompiledTemplate;
  /** Where the sidecar containers go: `native` = initContainers with restartPolicy Always. */
  placement: 'native' | 'regular';
  appVolumeMounts: VolumeMount[];
  appEnv: EnvVar[];
  /**
   * Whether the application's init containers get them too: only when all the
   * template adds runs before them (position before, and its sidecars native
   * or none), since an init container pointed at a proxy that starts after it
   * would fail.
   */
  reachesInitContainers: boolean;
}

/**
 * A template rendered for one pod. What goes into the patch unread (containers,
 * volumes) is JSON text; what the injector checks against the pod (the mounts
 * and env of the application containers) is objects.
 */
export interface RenderedTemplate extends AppSettings {
  params: Readonly<Record<string, string>>;
  /** The template's own run-to-completion init containers, JSON. */
  initContainers: string[];
  /** The sidecar containers, JSON. */
  sidecars: string[];
  /** Volumes, JSON. */
  volumes: string[];
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

const objects = <T>(list: readonly Compiled[], context: RenderContext): T[] => list.map((c) => renderValue(c, context) as T);

function contextOf(template: CompiledTemplate, params: Readonly<Record<string, string>>, pod: RenderContext['pod']): RenderContext {
  return { pod, params, template: { name: template.name, version: template.version } };
}

function placementOf(template: CompiledTemplate, nativeSidecars: boolean): 'native' | 'regular' {
  return template.mode === 'native' && nativeSidecars ? 'native' : 'regular';
}

function reachesInitContainers(template: CompiledTemplate, placement: 'native' | 'regular'): boolean {
  return template.position === 'before' && (placement === 'native' || template.containers.length === 0);
}

/** Only the application's part of a template: for containers added after it was injected. */
export function renderAppSettings(
  template: CompiledTemplate,
  params: Readonly<Record<string, string>>,
  pod: RenderContext['pod'],
  nativeSidecars: boolean,
): AppSettings {
  const context = contextOf(template, params, pod);
  const placement = placementOf(template, nativeSidecars);
  return {
    template,
    placement,
    appVolumeMounts: objects<VolumeMount>(template.appVolumeMounts, context),
    appEnv: objects<EnvVar>(template.appEnv, context),
    reachesInitContainers: reachesInitContainers(template, placement),
  };
}

export function renderTemplate(
  template: CompiledTemplate,
  params: Readonly<Record<string, string>>,
  pod: RenderContext['pod'],
  nativeSidecars: boolean,
): RenderedTemplate {
  const context = contextOf(template, params, pod);
  const json = (list: readonly Compiled[]): string[] => list.map((c) => renderJson(c, context));
  const placement = placementOf(template, nativeSidecars);
  return {
    template,
    params,
    placement,
    initContainers: json(template.initContainers),
    sidecars: json(placement === 'native' ? template.nativeContainers : template.containers),
    volumes: json(template.volumes),
    appVolumeMounts: objects<VolumeMount>(template.appVolumeMounts, context),
    appEnv: objects<EnvVar>(template.appEnv, context),
    reachesInitContainers: reachesInitContainers(template, placement),
  };
}
