// patch.ts's rules as CEL that builds JSONPatch operations: the same
// operations, in the same order, as the webhook's patch for one template.
// Fields of the pod are read as optional (`c.?name`) even where the API
// requires them: on a pod without them a CEL error would refuse it with the
// policy's message, where the apiserver's validation names the field
// (docs/patch-rules.md, "An invalid pod is left to the apiserver").
import type { CompiledTemplate } from '../templates/model.js';
import { celStrings, POD } from './cel.js';

export const list = (items: readonly string[]): string => `[${items.join(', ')}]`;

/**
 * patch.ts's appendTo in CEL: one `/-` add per item when the list exists, the
 * whole list when it does not (an add to `/-` of a missing array fails).
 */
export function appendCel(path: string, existing: string, items: string): string {
  return `(has(${existing}) ? ${items}.map(item, JSONPatch{op: "add", path: ${path} + "/-", value: item}) : (size(${items}) > 0 ? [JSONPatch{op: "add", path: ${path}, value: ${items}}] : []))`;
}

/**
 * The mounts and env of the template for each application container of
 * `listPath` (those not named in `skip`), by original index: what a container
 * already mounts at the path or sets keeps (patch.ts: on a first injection the
 * conflict checks make this filter a no-op; on completion it is the rule).
 */
export function applicationOps(listPath: 'containers' | 'initContainers', skip: readonly string[], hasMounts: boolean, hasEnv: boolean): string {
  const per: string[] = [];
  const path = `"/spec/${listPath}/" + string(i)`;
  if (hasMounts) {
    const missing = 'variables.appMounts.filter(m, !c.?volumeMounts.orValue([]).exists(x, x.?mountPath.orValue("") == m.mountPath))';
    per.push(appendCel(`${path} + "/volumeMounts"`, 'c.volumeMounts', missing));
  }
  if (hasEnv) {
    const missing = 'variables.appEnv.filter(e, !c.?env.orValue([]).exists(x, x.?name.orValue("") == e.name))';
    per.push(appendCel(`${path} + "/env"`, 'c.env', missing));
  }
  if (per.length === 0) return '[]';
  const source = `${POD}.spec.?${listPath}.orValue([])`;
  const skipped = skip.length === 0 ? '' : `c.?name.orValue("") in ${celStrings(skip)} ? [] : `;
  return `${source}.transformList(i, c, ${skipped}${per.join(' + ')}).flatten()`;
}

/** patch.ts's insertInto: `before` at the head (by index), `after` at the tail. */
export function insertCel(listPath: 'containers' | 'initContainers', before: readonly string[], after: readonly string[]): string {
  if (before.length === 0 && after.length === 0) return '[]';
  const path = `"/spec/${listPath}"`;
  const existing = `${POD}.spec.${listPath}`;
  const whole = `[JSONPatch{op: "add", path: ${path}, value: ${list([...before, ...after])}}]`;
  const head = before.map((item, index) => `JSONPatch{op: "add", path: ${path} + "/${index}", value: ${item}}`);
  const tail = after.map((item) => `JSONPatch{op: "add", path: ${path} + "/-", value: ${item}}`);
  return `(has(${existing}) && size(${existing}) > 0 ? ${list([...head, ...tail])} : ${whole})`;
}

/** As render.ts: the application's init containers get the mounts and env only when all the template adds runs before them. */
export function reachesInitContainers(template: CompiledTemplate): boolean {
  return template.position === 'before' && (template.mode === 'native' || template.containers.length === 0);
}

/** Names every container of the pod uses: the template's must not clash with any. */
const POD_CONTAINER_NAMES = `[${['containers', 'initContainers', 'ephemeralContainers'].map((list) => `${POD}.spec.?${list}.orValue([]).map(c, c.?name.orValue(""))`).join(', ')}].flatten()`;

/** A CEL condition that holds when the template clashes with the pod (decide.ts TakenNames). */
export function conflictCel(template: CompiledTemplate): string {
  const terms: string[] = [];
  const containers = [...template.initContainerNames, ...template.containerNames];
  if (containers.length > 0) terms.push(`${POD_CONTAINER_NAMES}.exists(n, n in ${celStrings(containers)})`);
  if (template.volumeNames.length > 0) terms.push(`${POD}.spec.?volumes.orValue([]).exists(v, v.?name.orValue("") in ${celStrings(template.volumeNames)})`);
  if (template.appVolumeMounts.length > 0) {
    const mounts = (source: string): string =>
      `${source}.exists(c, c.?volumeMounts.orValue([]).exists(m, variables.appMounts.exists(a, a.mountPath == m.?mountPath.orValue(""))))`;
    terms.push(mounts(`${POD}.spec.?containers.orValue([])`));
    if (reachesInitContainers(template)) terms.push(mounts(`${POD}.spec.?initContainers.orValue([])`));
  }
  return terms.length === 0 ? 'false' : terms.join(' || ');
}
