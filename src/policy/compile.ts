// Compiles a template to a MutatingAdmissionPolicy (admissionregistration.k8s.io/v1)
// and its binding: CEL that builds, in the apiserver, the JSON patch the
// webhook sends for a pod that asks for that template (docs/policy-mode.md).
// Pure: the templates come in, the objects go out.
import { formatStatusAnnotation, overrideAnnotation, STATUS_ANNOTATION } from '../inject/annotations.js';
import { mergeStatus } from '../inject/patch.js';
import type { RenderedTemplate } from '../inject/render.js';
import type { CompiledTemplate, TemplateSet } from '../templates/model.js';
import type { Compiled, PlaceholderRef } from '../templates/placeholders.js';
import type { LabelSelector } from '../util/label-selector.js';
import { celCompiled, celString, celStrings } from './cel.js';
import { translatePattern } from './pattern.js';
import { refusalsOf } from './refusals.js';
import { requestVariables } from './request.js';

export const POLICY_API_VERSION = 'admissionregistration.k8s.io/v1';

/** Namespaces the chart's webhook configuration never sends (and so never injects). */
export const EXCLUDED_NAMESPACES = ['kube-system', 'kube-node-lease', 'kube-public'];

export interface PolicyOptions {
  /** As the webhook's --default-templates: for inject=true and opted-in namespaces without their own list. */
  defaultTemplates: readonly string[];
}

export type TemplatePolicy =
  | { template: string; ok: true; objects: [Record<string, unknown>, Record<string, unknown>] }
  | { template: string; ok: false; reasons: string[] };

const POD = 'object';
const ANNOTATIONS = `${POD}.metadata.?annotations.orValue({})`;

export function policyName(template: string): string {
  return `sidecar-injector.${template}`;
}

/** The record the webhook writes when this template alone is injected (native sidecars on). */
export function statusRecordOf(template: CompiledTemplate): string {
  const rendered = { template, placement: template.mode === 'native' ? 'native' : 'regular' } as RenderedTemplate;
  return formatStatusAnnotation(mergeStatus({ templates: [], containers: [], initContainers: [], volumes: [] }, [rendered]));
}

function labelSelectorCel(selector: LabelSelector, labels: string): string {
  const terms: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) terms.push(`(${celString(key)} in ${labels} && ${labels}[${celString(key)}] == ${celString(value)})`);
  for (const r of selector.matchExpressions ?? []) {
    const has = `${celString(r.key)} in ${labels}`;
    const among = `${labels}[${celString(r.key)}] in ${celStrings(r.values ?? [])}`;
    if (r.operator === 'In') terms.push(`(${has} && ${among})`);
    else if (r.operator === 'NotIn') terms.push(`(!(${has}) || !(${among}))`);
    else if (r.operator === 'Exists') terms.push(has);
    else terms.push(`!(${has})`);
  }
  return terms.length === 0 ? 'true' : terms.join(' && ');
}

/** inject/authorize.ts in CEL: the pod's namespace (by name or labels) and service account. */
function authorizationCel(template: CompiledTemplate): string {
  const { namespaces, namespaceSelector, serviceAccounts } = template.access;
  const terms: string[] = [];
  if (namespaces !== undefined || namespaceSelector !== undefined) {
    const allowed: string[] = [];
    if (namespaces !== undefined) allowed.push(`request.namespace in ${celStrings([...namespaces])}`);
    if (namespaceSelector !== undefined) allowed.push(`(${labelSelectorCel(namespaceSelector, 'namespaceObject.metadata.?labels.orValue({})')})`);
    terms.push(`(${allowed.join(' || ')})`);
  }
  if (serviceAccounts !== undefined) {
    const account = `${POD}.spec.?serviceAccountName.orValue('default')`;
    const list = celStrings([...serviceAccounts]);
    terms.push(`(${account} in ${list} || (request.namespace + '/' + ${account}) in ${list})`);
  }
  return terms.length === 0 ? 'true' : terms.join(' && ');
}

const paramVariable = (index: number): string => `param${index}`;

function placeholderCel(template: CompiledTemplate): (ref: PlaceholderRef) => string {
  const names = [...template.parameters.keys()];
  return (ref) => {
    if (ref.scope === 'params') return `variables.${paramVariable(names.indexOf(ref.field))}`;
    if (ref.scope === 'template') return celString(ref.field === 'name' ? template.name : template.version);
    switch (ref.field) {
      case 'name':
        return `${POD}.metadata.?name.orValue(${POD}.metadata.?generateName.orValue(''))`;
      case 'generateName':
        return `${POD}.metadata.?generateName.orValue('')`;
      case 'namespace':
        return 'request.namespace';
      default:
        return `${POD}.spec.?serviceAccountName.orValue('default')`;
    }
  };
}

/** One variable per parameter (the override or the default) and whether every override is acceptable. */
function parameterVariables(template: CompiledTemplate): { variables: Array<{ name: string; expression: string }>; valid: string } {
  const variables: Array<{ name: string; expression: string }> = [];
  const checks: string[] = [];
  [...template.parameters.values()].forEach((parameter, index) => {
    const name = paramVariable(index);
    if (!parameter.overridable) {
      // An override of a parameter that is not overridable is ignored (with a warning) by the webhook.
      variables.push({ name, expression: celString(parameter.default) });
      return;
    }
    const key = celString(overrideAnnotation(template.name, parameter.name));
    variables.push({ name, expression: `${ANNOTATIONS}[?${key}].orValue(${celString(parameter.default)})` });
    const translated = translatePattern(parameter.patternSource);
    if (!translated.ok) throw new Error('unreachable: refusals are checked first');
    let check = `variables.${name}.matches(${celString(translated.re2)})`;
    // As decide.ts: an integer override must be a 32-bit integer; the size guard keeps int() from overflowing.
    if (parameter.type === 'integer') {
      check += ` && variables.${name}.matches('^-?[0-9]+$') && size(variables.${name}) <= 11 && int(variables.${name}) >= -2147483648 && int(variables.${name}) <= 2147483647`;
    }
    checks.push(`(!(${key} in ${ANNOTATIONS}) || (${check}))`);
  });
  return { variables, valid: checks.length === 0 ? 'true' : checks.join(' && ') };
}

const list = (items: readonly string[]): string => `[${items.join(', ')}]`;

/**
 * patch.ts's appendTo in CEL: one `/-` add per item when the list exists, the
 * whole list when it does not (an add to `/-` of a missing array fails).
 */
function appendCel(path: string, existing: string, items: string): string {
  return `(has(${existing}) ? ${items}.map(item, JSONPatch{op: "add", path: ${path} + "/-", value: item}) : (size(${items}) > 0 ? [JSONPatch{op: "add", path: ${path}, value: ${items}}] : []))`;
}

/**
 * The mounts and env of the template for each application container of
 * `listPath` (those not named in `skip`), by original index: what a container
 * already mounts at the path or sets keeps (patch.ts: on a first injection the
 * conflict checks make this filter a no-op; on completion it is the rule).
 */
function applicationOps(listPath: 'containers' | 'initContainers', skip: readonly string[], hasMounts: boolean, hasEnv: boolean): string {
  const per: string[] = [];
  const path = `"/spec/${listPath}/" + string(i)`;
  if (hasMounts) {
    const missing = 'variables.appMounts.filter(m, !c.?volumeMounts.orValue([]).exists(x, x.mountPath == m.mountPath))';
    per.push(appendCel(`${path} + "/volumeMounts"`, 'c.volumeMounts', missing));
  }
  if (hasEnv) {
    const missing = 'variables.appEnv.filter(e, !c.?env.orValue([]).exists(x, x.name == e.name))';
    per.push(appendCel(`${path} + "/env"`, 'c.env', missing));
  }
  if (per.length === 0) return '[]';
  const source = listPath === 'containers' ? `${POD}.spec.containers` : `${POD}.spec.?initContainers.orValue([])`;
  const skipped = skip.length === 0 ? '' : `c.name in ${celStrings(skip)} ? [] : `;
  return `${source}.transformList(i, c, ${skipped}${per.join(' + ')}).flatten()`;
}

/** patch.ts's insertInto: `before` at the head (by index), `after` at the tail. */
function insertCel(listPath: 'containers' | 'initContainers', before: readonly string[], after: readonly string[]): string {
  if (before.length === 0 && after.length === 0) return '[]';
  const path = `"/spec/${listPath}"`;
  const existing = `${POD}.spec.${listPath}`;
  const whole = `[JSONPatch{op: "add", path: ${path}, value: ${list([...before, ...after])}}]`;
  const head = before.map((item, index) => `JSONPatch{op: "add", path: ${path} + "/${index}", value: ${item}}`);
  const tail = after.map((item) => `JSONPatch{op: "add", path: ${path} + "/-", value: ${item}}`);
  return `(has(${existing}) && size(${existing}) > 0 ? ${list([...head, ...tail])} : ${whole})`;
}

function reachesInitContainers(template: CompiledTemplate): boolean {
  return template.position === 'before' && (template.mode === 'native' || template.containers.length === 0);
}

/** Names every container of the pod uses: the template's must not clash with any. */
const POD_CONTAINER_NAMES = `(${POD}.spec.containers.map(c, c.name) + ${POD}.spec.?initContainers.orValue([]).map(c, c.name) + ${POD}.spec.?ephemeralContainers.orValue([]).map(c, c.name))`;

function conflictCel(template: CompiledTemplate): string {
  const terms: string[] = [];
  const containers = [...template.initContainerNames, ...template.containerNames];
  if (containers.length > 0) terms.push(`${POD_CONTAINER_NAMES}.exists(n, n in ${celStrings(containers)})`);
  if (template.volumeNames.length > 0) terms.push(`${POD}.spec.?volumes.orValue([]).exists(v, v.name in ${celStrings(template.volumeNames)})`);
  if (template.appVolumeMounts.length > 0) {
    const mounts = (source: string): string =>
      `${source}.exists(c, c.?volumeMounts.orValue([]).exists(m, variables.appMounts.exists(a, a.mountPath == m.mountPath)))`;
    terms.push(mounts(`${POD}.spec.containers`));
    if (reachesInitContainers(template)) terms.push(mounts(`${POD}.spec.?initContainers.orValue([])`));
  }
  return terms.length === 0 ? 'false' : terms.join(' || ');
}

/** The policy and binding of one template the refusals let through. */
function compileOne(template: CompiledTemplate, known: readonly string[], options: PolicyOptions): [Record<string, unknown>, Record<string, unknown>] {
  const ref = placeholderCel(template);
  const cel = (items: readonly Compiled[]): string[] => items.map((c) => celCompiled(c, ref));
  const native = template.mode === 'native';
  const record = statusRecordOf(template);
  const parsedRecord = JSON.parse(record) as { containers: string[]; initContainers: string[]; volumes: string[] };
  const hasMounts = template.appVolumeMounts.length > 0;
  const hasEnv = template.appEnv.length > 0;
  const reaches = reachesInitContainers(template);
  const params = parameterVariables(template);

  const appOps = (skipContainers: readonly string[], skipInit: readonly string[]): string[] => [
    applicationOps('containers', skipContainers, hasMounts, hasEnv),
    ...(reaches ? [applicationOps('initContainers', skipInit, hasMounts, hasEnv)] : []),
  ];
  const sidecars = cel(native ? template.nativeContainers : template.containers);
  const init = { before: [] as string[], after: [] as string[] };
  const main = { before: [] as string[], after: [] as string[] };
  init[template.position].push(...cel(template.initContainers));
  (native ? init : main)[template.position].push(...sidecars);
  const statusPath = `"/metadata/annotations/" + jsonpatch.escapeKey(${celString(STATUS_ANNOTATION)})`;
  const statusOp =
    `(has(${POD}.metadata.annotations) ? [JSONPatch{op: variables.statusRaw == "" ? "add" : "replace", path: ${statusPath}, value: ${celString(record)}}]` +
    ` : [JSONPatch{op: "add", path: "/metadata/annotations", value: {${celString(STATUS_ANNOTATION)}: ${celString(record)}}}])`;
  const injectOps = [
    ...appOps([], []),
    appendCel('"/spec/volumes"', `${POD}.spec.volumes`, list(cel(template.volumes))),
    insertCel('initContainers', init.before, init.after),
    insertCel('containers', main.before, main.after),
    statusOp,
  ].filter((ops) => ops !== '[]');
  const completeOps = hasMounts || hasEnv ? appOps(parsedRecord.containers, parsedRecord.initContainers).filter((ops) => ops !== '[]') : [];

  const namesIn = (of: string): string => `${POD}.spec.?${of}.orValue([]).map(x, x.name)`;
  const borneOut = [
    ...parsedRecord.containers.map((n) => `${celString(n)} in ${namesIn('containers')}`),
    ...parsedRecord.initContainers.map((n) => `${celString(n)} in ${namesIn('initContainers')}`),
    ...parsedRecord.volumes.map((n) => `${celString(n)} in ${namesIn('volumes')}`),
  ];
  const variables = [
    ...requestVariables(template.name, known, options.defaultTemplates),
    ...params.variables,
    { name: 'appMounts', expression: list(cel(template.appVolumeMounts)) },
    { name: 'appEnv', expression: list(cel(template.appEnv)) },
    { name: 'statusRaw', expression: `${ANNOTATIONS}[?${celString(STATUS_ANNOTATION)}].orValue("")` },
    // The record this policy writes, borne out by the pod: injected before (status-record.ts believes it).
    { name: 'injectedBefore', expression: `variables.statusRaw == ${celString(record)} && ${borneOut.length === 0 ? 'true' : borneOut.join(' && ')}` },
    { name: 'paramsValid', expression: params.valid },
    {
      name: 'inject',
      expression: `variables.asks && (variables.statusRaw == "" || (variables.statusRaw == ${celString(record)} && !variables.injectedBefore)) && variables.paramsValid && (${authorizationCel(template)}) && !(${conflictCel(template)})`,
    },
    { name: 'complete', expression: `variables.asks && variables.injectedBefore && variables.paramsValid` },
  ];
  const expression = `variables.inject ? ${injectOps.join(' + ')} : ${completeOps.length === 0 ? '[]' : `(variables.complete ? ${completeOps.join(' + ')} : [])`}`;

  const name = policyName(template.name);
  const labels = { 'app.kubernetes.io/managed-by': 'sidecar-injector', 'sidecar.example/template': template.name };
  const policy = {
    apiVersion: POLICY_API_VERSION,
    kind: 'MutatingAdmissionPolicy',
    metadata: { name, labels, annotations: { 'sidecar.example/template-version': template.version } },
    spec: {
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
      },
      failurePolicy: 'Fail',
      // As the webhook: called again when a later mutation changed the pod; the record makes that a no-op or a completion.
      reinvocationPolicy: 'IfNeeded',
      variables,
      mutations: [{ patchType: 'JSONPatch', jsonPatch: { expression } }],
    },
  };
  const binding = {
    apiVersion: POLICY_API_VERSION,
    kind: 'MutatingAdmissionPolicyBinding',
    metadata: { name, labels },
    spec: {
      policyName: name,
      matchResources: {
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: EXCLUDED_NAMESPACES }] },
      },
    },
  };
  return [policy, binding];
}

/** Per template, its policy and binding, or why it has none. Refusals are per template: the others still compile. */
export function compilePolicies(templates: TemplateSet, options: PolicyOptions): TemplatePolicy[] {
  const known = [...templates.templates.keys()];
  return [...templates.templates.values()].map((template) => {
    const reasons = refusalsOf(template);
    if (reasons.length > 0) return { template: template.name, ok: false, reasons };
    return { template: template.name, ok: true, objects: compileOne(template, known, options) };
  });
}
