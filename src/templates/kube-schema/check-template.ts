// A template's objects as the apiserver will see them: rendered with the
// parameters' defaults (and, at admission, a pod's overrides) and checked
// against the core/v1 schema. Placeholders make the raw template the wrong
// thing to check (`'{{ params.port | int }}'` is a string until rendered).
import { renderValue, type Compiled, type RenderContext } from '../placeholders.js';
import { kubeSchemaProblems, type KubeKind } from './validate.js';

export interface RenderedProblem {
  /** Dotted path segments from the spec, e.g. ['spec', 'containers', '0', 'ports', '0', 'containerPort']. */
  path: string[];
  message: string;
}

export interface TemplateObjects {
  containers: readonly Compiled[];
  initContainers: readonly Compiled[];
  volumes: readonly Compiled[];
  appVolumeMounts: readonly Compiled[];
  appEnv: readonly Compiled[];
}

const LISTS: ReadonlyArray<readonly [keyof TemplateObjects, KubeKind, readonly string[]]> = [
  ['containers', 'Container', ['spec', 'containers']],
  ['initContainers', 'Container', ['spec', 'initContainers']],
  ['volumes', 'Volume', ['spec', 'volumes']],
  ['appVolumeMounts', 'VolumeMount', ['spec', 'appContainers', 'volumeMounts']],
  ['appEnv', 'EnvVar', ['spec', 'appContainers', 'env']],
];

/** What would not decode as core/v1 once rendered in `context`; empty when all is well. */
export function renderedSchemaProblems(objects: TemplateObjects, context: RenderContext): RenderedProblem[] {
  const problems: RenderedProblem[] = [];
  for (const [list, kind, at] of LISTS) {
    objects[list].forEach((compiled, i) => {
      for (const problem of kubeSchemaProblems(kind, renderValue(compiled, context))) {
        problems.push({ path: [...at, String(i), ...problem.path], message: problem.message });
      }
    });
  }
  return problems;
}
