import type { LabelSelector } from '../util/label-selector.js';
import type { Compiled } from './placeholders.js';

export const TEMPLATE_API_VERSION = 'sidecar.example/v1alpha1';
export const TEMPLATE_KIND = 'SidecarTemplate';

export type SidecarMode = 'native' | 'regular';
export type Position = 'before' | 'after';

export interface Parameter {
  name: string;
  default: string;
  /** Anchored: the whole value must match. */
  pattern: RegExp;
  /** The pattern as the template wrote it, for messages. */
  patternSource: string;
  overridable: boolean;
  type: 'string' | 'integer';
}

export interface TemplateAccess {
  /** `spec.allowedNamespaces`; undefined = not restricted by name. */
  namespaces: ReadonlySet<string> | undefined;
  /** `spec.allowedNamespaceSelector`, ORed with the names. */
  namespaceSelector: LabelSelector | undefined;
  /** `spec.allowedServiceAccounts`: `name` (in any allowed namespace) or `namespace/name`. */
  serviceAccounts: ReadonlySet<string> | undefined;
}

/**
 * A template after validation and placeholder compilation: everything a
 * per-admission render needs, with no YAML and no re-validation left to do.
 */
export interface CompiledTemplate {
  name: string;
  version: string;
  /** Where it came from, for messages: a file path or `SidecarTemplate/<name>`. */
  source: string;
  description: string;
  mode: SidecarMode;
  position: Position;
  /** Who may use it; decided by inject/authorize.ts on the pod's namespace and service account. */
  access: TemplateAccess;
  /**
   * Why it is privileged (`hostPath volume "x"`, `container "y" is privileged`…);
   * empty when it is not. A privileged template needs an explicit namespace allow-list.
   */
  privileged: readonly string[];
  parameters: ReadonlyMap<string, Parameter>;
  containers: readonly Compiled[];
  /** `containers` with restartPolicy Always, for mode native (empty otherwise). */
  nativeContainers: readonly Compiled[];
  initContainers: readonly Compiled[];
  volumes: readonly Compiled[];
  appVolumeMounts: readonly Compiled[];
  appEnv: readonly Compiled[];
  /** Literal names (placeholders are not allowed in names), for conflict checks without rendering. */
  containerNames: readonly string[];
  initContainerNames: readonly string[];
  volumeNames: readonly string[];
  appEnvNames: readonly string[];
}

/** An immutable set of templates: the unit the store swaps atomically. */
export interface TemplateSet {
  templates: ReadonlyMap<string, CompiledTemplate>;
  /** Content hash of the whole set, for logs and /readyz. */
  revision: string;
  /** Why no valid set has loaded yet (the set is then empty): what an asked-for template's answer names. */
  loadError?: { short: string; full: string };
}
