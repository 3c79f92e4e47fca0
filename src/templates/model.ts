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
  /** Namespace names allowed to use it; undefined means every namespace. */
  allowedNamespaces: ReadonlySet<string> | undefined;
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
}
