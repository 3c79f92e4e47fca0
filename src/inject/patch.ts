import { formatStatusAnnotation, STATUS_ANNOTATION, type InjectionStatus } from './annotations.js';
import type { Container, EnvVar, Pod } from './kube-types.js';
import type { Problem } from './problems.js';
import type { RenderedTemplate } from './render.js';

/**
 * An RFC 6902 operation whose value is already JSON text: rendered templates
 * are JSON, so the patch is assembled without re-serialising them.
 */
export interface PatchOperation {
  op: 'add' | 'replace';
  path: string;
  valueJson: string;
}

/** The patch as the JSON text the apiserver receives (base64-encoded by the caller). */
export function serializePatch(operations: readonly PatchOperation[]): string {
  let out = '[';
  operations.forEach((o, i) => {
    out += `${i === 0 ? '' : ','}{"op":"${o.op}","path":${JSON.stringify(o.path)},"value":${o.valueJson}}`;
  });
  return `${out}]`;
}

const toJson = (value: unknown): string => JSON.stringify(value);

const STATUS_PATH = `/metadata/annotations/${escapePointer(STATUS_ANNOTATION)}`;

/** RFC 6901: `~` → `~0`, `/` → `~1` (so `sidecar.example/status` → `sidecar.example~1status`). */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Appends items to a list: the whole array when it is missing (an `add` to
 * `/-` of a missing array does not apply), one `/-` per item otherwise.
 */
function appendTo(ops: PatchOperation[], path: string, existing: readonly unknown[] | undefined, items: readonly string[]): void {
  if (items.length === 0) return;
  if (existing === undefined) {
    ops.push({ op: 'add', path, valueJson: `[${items.join(',')}]` });
    return;
  }
  for (const item of items) ops.push({ op: 'add', path: `${path}/-`, valueJson: item });
}

/** Inserts `before` at the head and `after` at the tail of a list. */
function insertInto(
  ops: PatchOperation[],
  path: string,
  existing: readonly unknown[] | undefined,
  before: readonly string[],
  after: readonly string[],
): void {
  if (existing === undefined) {
    appendTo(ops, path, undefined, [...before, ...after]);
    return;
  }
  before.forEach((item, index) => ops.push({ op: 'add', path: `${path}/${index}`, valueJson: item }));
  appendTo(ops, path, existing, after);
}

function envToAdd(container: Container, rendered: readonly RenderedTemplate[], problems: Problem[]): EnvVar[] {
  if (rendered.every((r) => r.appEnv.length === 0)) return [];
  const present = new Set((container.env ?? []).map((e) => e.name));
  const added: EnvVar[] = [];
  for (const r of rendered) {
    for (const variable of r.appEnv) {
      if (present.has(variable.name)) {
        problems.push({
          reason: 'env_already_set',
          template: r.template.name,
          message: `container "${container.name}" already sets ${variable.name}; kept its value (template "${r.template.name}")`,
        });
        continue;
      }
      present.add(variable.name);
      added.push(variable);
    }
  }
  return added;
}

export function mergeStatus(prior: InjectionStatus, rendered: readonly RenderedTemplate[]): InjectionStatus {
  const byPlacement = (r: RenderedTemplate): { init: readonly string[]; main: readonly string[] } => {
    const { containerNames, initContainerNames } = r.template;
    return r.placement === 'native' ? { init: [...initContainerNames, ...containerNames], main: [] } : { init: initContainerNames, main: containerNames };
  };
  return {
    templates: [...prior.templates, ...rendered.map((r) => ({ name: r.template.name, version: r.template.version }))],
    containers: [...prior.containers, ...rendered.flatMap((r) => byPlacement(r).main)],
    initContainers: [...prior.initContainers, ...rendered.flatMap((r) => byPlacement(r).init)],
    volumes: [...prior.volumes, ...rendered.flatMap((r) => r.template.volumeNames)],
  };
}

export interface PatchResult {
  operations: PatchOperation[];
  status: InjectionStatus;
  problems: Problem[];
}

/**
 * The JSON patch that injects already-decided, conflict-free templates.
 * Application containers are patched first, by their original index, before
 * any insertion at the head of `containers` shifts the indexes.
 */
export function buildPatch(pod: Pod, rendered: readonly RenderedTemplate[], priorStatus: InjectionStatus): PatchResult {
  const ops: PatchOperation[] = [];
  const problems: Problem[] = [];
  const spec = pod.spec;
  const mounts = rendered.flatMap((r) => r.appVolumeMounts).map(toJson);

  spec.containers.forEach((container, index) => {
    appendTo(ops, `/spec/containers/${index}/volumeMounts`, container.volumeMounts, mounts);
    appendTo(ops, `/spec/containers/${index}/env`, container.env, envToAdd(container, rendered, problems).map(toJson));
  });
  appendTo(ops, '/spec/volumes', spec.volumes, rendered.flatMap((r) => r.volumes));

  // Each template's block, by list and position; request order is kept.
  const init = { before: [] as string[], after: [] as string[] };
  const main = { before: [] as string[], after: [] as string[] };
  for (const r of rendered) {
    const position = r.template.position;
    init[position].push(...r.initContainers);
    (r.placement === 'native' ? init : main)[position].push(...r.sidecars);
  }
  insertInto(ops, '/spec/initContainers', spec.initContainers, init.before, init.after);
  insertInto(ops, '/spec/containers', spec.containers, main.before, main.after);

  const status = mergeStatus(priorStatus, rendered);
  const statusValue = formatStatusAnnotation(status);
  const annotations = pod.metadata?.annotations;
  if (pod.metadata === undefined) {
    ops.push({ op: 'add', path: '/metadata', valueJson: toJson({ annotations: { [STATUS_ANNOTATION]: statusValue } }) });
  } else if (annotations === undefined) {
    ops.push({ op: 'add', path: '/metadata/annotations', valueJson: toJson({ [STATUS_ANNOTATION]: statusValue }) });
  } else {
    const op = annotations[STATUS_ANNOTATION] === undefined ? 'add' : 'replace';
    ops.push({ op, path: STATUS_PATH, valueJson: toJson(statusValue) });
  }
  return { operations: ops, status, problems };
}
