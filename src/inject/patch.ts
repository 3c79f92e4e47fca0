import { formatStatusAnnotation, STATUS_ANNOTATION, type InjectionStatus } from './annotations.js';
import type { Repair } from './decide.js';
import type { Container, EnvVar, Pod, VolumeMount } from './kube-types.js';
import { expendable, fitted, shortProblem, type Problem } from './problems.js';
import type { AppSettings, RenderedTemplate } from './render.js';

/**
 * An RFC 6902 operation whose value is already JSON text: rendered templates
 * are JSON, so the patch is assembled without re-serialising them.
 */
export type PatchOperation = { op: 'add' | 'replace'; path: string; valueJson: string } | { op: 'remove'; path: string };

/** The patch as the JSON text the apiserver receives (base64-encoded by the caller). */
export function serializePatch(operations: readonly PatchOperation[]): string {
  let out = '[';
  operations.forEach((o, i) => {
    const value = o.op === 'remove' ? '' : `,"value":${o.valueJson}`;
    out += `${i === 0 ? '' : ','}{"op":"${o.op}","path":${JSON.stringify(o.path)}${value}}`;
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

function envAlreadySet(container: Container, name: string, template: string): Problem {
  return shortProblem('env_already_set', template, fitted`container "${expendable(container.name)}" already sets ${name}; kept its value (template "${template}")`);
}

function envToAdd(container: Container, rendered: readonly AppSettings[], problems: Problem[]): EnvVar[] {
  if (rendered.every((r) => r.appEnv.length === 0)) return [];
  const present = new Set((container.env ?? []).map((e) => e.name));
  const added: EnvVar[] = [];
  for (const r of rendered) {
    for (const variable of r.appEnv) {
      if (present.has(variable.name)) {
        problems.push(envAlreadySet(container, variable.name, r.template.name));
        continue;
      }
      present.add(variable.name);
      added.push(variable);
    }
  }
  return added;
}

/**
 * What a container lacks of templates injected before it was added: the
 * mounts and env it does not have. A container that has them all is left
 * alone (as on every later round); one that lacks some gets those, and the
 * rules of a first injection hold for the rest: an env var it sets keeps its
 * value, a path it mounts from another volume is a conflict.
 */
function completionOf(
  container: Container,
  completing: readonly AppSettings[],
  taken: { mounts: Map<string, string>; env: Set<string> },
  problems: Problem[],
): { mounts: VolumeMount[]; env: EnvVar[]; templates: string[] } {
  const out = { mounts: [] as VolumeMount[], env: [] as EnvVar[], templates: [] as string[] };
  for (const settings of completing) {
    const name = settings.template.name;
    const lacksMount = settings.appVolumeMounts.some((m) => taken.mounts.get(m.mountPath) !== m.name);
    const lacksEnv = settings.appEnv.some((e) => !taken.env.has(e.name));
    if (!lacksMount && !lacksEnv) continue;
    let added = false;
    for (const mount of settings.appVolumeMounts) {
      const mounted = taken.mounts.get(mount.mountPath);
      if (mounted === mount.name) continue;
      if (mounted !== undefined) {
        problems.push(
          shortProblem('mount_path_conflict', name, fitted`container "${expendable(container.name)}" already mounts ${expendable(mount.mountPath)}; template "${name}" not mounted there`),
        );
        continue;
      }
      taken.mounts.set(mount.mountPath, mount.name);
      out.mounts.push(mount);
      added = true;
    }
    for (const variable of settings.appEnv) {
      if (taken.env.has(variable.name)) {
        problems.push(envAlreadySet(container, variable.name, name));
        continue;
      }
      taken.env.add(variable.name);
      out.env.push(variable);
      added = true;
    }
    if (added) out.templates.push(name);
  }
  return out;
}

/**
 * Patches one application container (or init container) at `path`: the
 * mounts and env of the templates injected now, and what it lacks of those
 * injected before.
 */
function patchApplicationContainer(
  ops: PatchOperation[],
  path: string,
  container: Container,
  rendered: readonly AppSettings[],
  renderedMounts: readonly string[],
  completing: readonly AppSettings[],
  problems: Problem[],
  completed: Set<string>,
): void {
  let mounts = renderedMounts;
  const env = envToAdd(container, rendered, problems);
  if (completing.length > 0) {
    const taken = {
      mounts: new Map((container.volumeMounts ?? []).map((m) => [m.mountPath, m.name])),
      env: new Set((container.env ?? []).map((e) => e.name)),
    };
    for (const r of rendered) for (const m of r.appVolumeMounts) taken.mounts.set(m.mountPath, m.name);
    for (const e of env) taken.env.add(e.name);
    const completion = completionOf(container, completing, taken, problems);
    if (completion.mounts.length > 0) mounts = [...mounts, ...completion.mounts.map(toJson)];
    env.push(...completion.env);
    for (const name of completion.templates) completed.add(name);
  }
  appendTo(ops, `${path}/volumeMounts`, container.volumeMounts, mounts);
  appendTo(ops, `${path}/env`, container.env, env.map(toJson));
}

const mountsOf = (rendered: readonly AppSettings[]): string[] => rendered.flatMap((r) => r.appVolumeMounts).map(toJson);

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
  /** Templates injected before whose mounts or env were added to containers that lacked them. */
  completed: string[];
}

/**
 * The JSON patch that injects already-decided, conflict-free templates and
 * makes the repairs decided with them. Application containers (those the
 * record does not name) and init containers are patched first, by their
 * original index, before any insertion at the head of a list shifts the
 * indexes.
 */
export function buildPatch(pod: Pod, rendered: readonly RenderedTemplate[], priorStatus: InjectionStatus, repair: Repair): PatchResult {
  const ops: PatchOperation[] = [];
  const problems: Problem[] = [];
  const completed = new Set<string>();
  const spec = pod.spec;

  const mounts = mountsOf(rendered);
  spec.containers.forEach((container, index) => {
    if (priorStatus.containers.includes(container.name)) return;
    patchApplicationContainer(ops, `/spec/containers/${index}`, container, rendered, mounts, repair.completing, problems, completed);
  });
  if (spec.initContainers !== undefined && spec.initContainers.length > 0) {
    const reaching = rendered.filter((r) => r.reachesInitContainers);
    const completing = repair.completing.filter((c) => c.reachesInitContainers);
    const initMounts = reaching.length > 0 || completing.length > 0 ? mountsOf(reaching) : undefined;
    if (initMounts !== undefined) {
      spec.initContainers.forEach((container, index) => {
        if (priorStatus.initContainers.includes(container.name)) return;
        patchApplicationContainer(ops, `/spec/initContainers/${index}`, container, reaching, initMounts, completing, problems, completed);
      });
    }
  }
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
  const annotations = pod.metadata?.annotations;
  if (rendered.length === 0) {
    // Nothing new: the record stands, or an unbelieved one goes (no record is the truth).
    if (repair.replaceRecord) ops.push({ op: 'remove', path: STATUS_PATH });
    return { operations: ops, status, problems, completed: [...completed] };
  }
  const statusValue = formatStatusAnnotation(status);
  if (pod.metadata === undefined) {
    ops.push({ op: 'add', path: '/metadata', valueJson: toJson({ annotations: { [STATUS_ANNOTATION]: statusValue } }) });
  } else if (annotations === undefined) {
    ops.push({ op: 'add', path: '/metadata/annotations', valueJson: toJson({ [STATUS_ANNOTATION]: statusValue }) });
  } else {
    const op = annotations[STATUS_ANNOTATION] === undefined ? 'add' : 'replace';
    ops.push({ op, path: STATUS_PATH, valueJson: toJson(statusValue) });
  }
  return { operations: ops, status, problems, completed: [...completed] };
}
