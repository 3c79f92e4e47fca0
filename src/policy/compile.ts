// Compiles a template to a MutatingAdmissionPolicy (admissionregistration.k8s.io/v1)
// and its binding: CEL that builds, in the apiserver, the JSON patch the
// webhook sends for a pod that asks for that template (docs/policy-mode.md).
// Pure: the templates come in, the objects go out.
import { formatStatusAnnotation, STATUS_ANNOTATION } from '../inject/annotations.js';
import { mergeStatus } from '../inject/patch.js';
import type { RenderedTemplate } from '../inject/render.js';
import type { CompiledTemplate, TemplateSet } from '../templates/model.js';
import type { Compiled } from '../templates/placeholders.js';
import { authorizationCel } from './authorization.js';
import { ANNOTATIONS, celCompiled, celString, POD } from './cel.js';
import { parameterVariables, placeholderCel } from './parameters.js';
import { appendCel, applicationOps, conflictCel, insertCel, list, reachesInitContainers } from './patch-ops.js';
import { refusalsOf } from './refusals.js';
import { requestVariables } from './request.js';

export const POLICY_API_VERSION = 'admissionregistration.k8s.io/v1';

/** Namespaces the chart's webhook configuration never sends (and so never injects). */
export const EXCLUDED_NAMESPACES = ['kube-system', 'kube-node-lease', 'kube-public'];

/** What every policy of this project matches: pod creations (the binding's namespaces narrow it). */
export const POD_CREATE_CONSTRAINTS = {
  resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
};

/** A policy's binding, in every namespace but the excluded ones; `settings` go between the policy's name and them. */
export function bindingOf(kind: string, name: string, labels: Record<string, string>, settings: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: POLICY_API_VERSION,
    kind,
    metadata: { name, labels },
    spec: {
      policyName: name,
      ...settings,
      matchResources: {
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: EXCLUDED_NAMESPACES }] },
      },
    },
  };
}

export interface PolicyOptions {
  /** As the webhook's --default-templates: for inject=true and opted-in namespaces without their own list. */
  defaultTemplates: readonly string[];
}

export type TemplatePolicy =
  | { template: string; ok: true; objects: [Record<string, unknown>, Record<string, unknown>] }
  | { template: string; ok: false; reasons: string[] };

export function policyName(template: string): string {
  return `sidecar-injector.${template}`;
}

/** The record the webhook writes when this template alone is injected (native sidecars on). */
export function statusRecordOf(template: CompiledTemplate): string {
  const rendered = { template, placement: template.mode === 'native' ? 'native' : 'regular' } as RenderedTemplate;
  return formatStatusAnnotation(mergeStatus({ templates: [], containers: [], initContainers: [], volumes: [] }, [rendered]));
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

  const namesIn = (of: string): string => `${POD}.spec.?${of}.orValue([]).map(x, x.?name.orValue(""))`;
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
    // The record, not borne out, with nothing injected: the webhook removes it rather than keep a record it does not believe.
    { name: 'discard', expression: `variables.asks && variables.statusRaw == ${celString(record)} && !variables.injectedBefore && !variables.inject` },
  ];
  const discard = `(variables.discard ? [JSONPatch{op: "remove", path: ${statusPath}}] : [])`;
  const otherwise = completeOps.length === 0 ? discard : `(variables.complete ? ${completeOps.join(' + ')} : ${discard})`;
  const expression = `variables.inject ? ${injectOps.join(' + ')} : ${otherwise}`;

  const name = policyName(template.name);
  const labels = { 'app.kubernetes.io/managed-by': 'sidecar-injector', 'sidecar.example/template': template.name };
  const policy = {
    apiVersion: POLICY_API_VERSION,
    kind: 'MutatingAdmissionPolicy',
    metadata: { name, labels, annotations: { 'sidecar.example/template-version': template.version } },
    spec: {
      matchConstraints: POD_CREATE_CONSTRAINTS,
      failurePolicy: 'Fail',
      // As the webhook: called again when a later mutation changed the pod; the record makes that a no-op or a completion.
      reinvocationPolicy: 'IfNeeded',
      variables,
      mutations: [{ patchType: 'JSONPatch', jsonPatch: { expression } }],
    },
  };
  const binding = bindingOf('MutatingAdmissionPolicyBinding', name, labels);
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
