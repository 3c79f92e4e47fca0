// The companion ValidatingAdmissionPolicies: the webhook's warnings (and, with
// --on-problem=deny, its denials) for what the MutatingAdmissionPolicies left
// out. Validation runs after every mutation, so each policy reads the pod as
// the mutating policies left it, with their own variables (the request, the
// parameters, the record), and reports the problem decide.ts would have found,
// in its words (docs/policy-mode.md, "Warnings and denials"). Pure.
import { ANNOTATION_PREFIX, INJECT_ANNOTATION, overrideAnnotation } from '../inject/annotations.js';
import { expendable } from '../inject/problems.js';
import type { CompiledTemplate, TemplateSet } from '../templates/model.js';
import { formatLabelSelector } from '../util/label-selector.js';
import { authorizationCel } from './authorization.js';
import { ANNOTATIONS, celString, celStrings, POD } from './cel.js';
import { bindingOf, compilePolicies, POD_CREATE_CONSTRAINTS, POLICY_API_VERSION, policyName, statusRecordOf, type PolicyOptions } from './compile.js';
import { overrideChecks } from './parameters.js';
import { conflictCel, reachesInitContainers } from './patch-ops.js';
import { celValue, fittedCel, type ProblemTextCel } from './problem-text.js';
import { DEFAULTS, OPT_OUT, requestVariables, SOME_NAME, W } from './request.js';

export type OnProblem = 'warn' | 'deny';

/** The policy of the problems that belong to no template (unknown names). */
export const REQUEST_POLICY = 'sidecar-injector';

/** The policy of `inject: true` with no default templates: a warning in both modes. */
export const NO_DEFAULTS_POLICY = 'sidecar-injector-no-defaults';

/** How many of a kind of problem one pod gets reported (the webhook reports every one; each is a validation here). */
export const REPORTED_PER_KIND = 3;

/** As decide.ts listNames. */
const MAX_LISTED = 5;
function listNames(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown}, …` : shown || 'none';
}

interface Validation {
  /** Holds when the problem is there. */
  problem: string;
  text: ProblemTextCel;
  /** describeProblem's detail, given with a denial only. */
  detail?: string;
}

type Variable = { name: string; expression: string };

function validationOf(v: Validation, onProblem: OnProblem): Record<string, unknown> {
  const message =
    onProblem === 'warn'
      ? v.text.warning
      : `"sidecar injection refused: " + ${v.text.whole}${v.detail === undefined ? '' : ` + ${celString(` (${v.detail})`)}`}`;
  // As the webhook's denial: 403 Forbidden (the apiserver's default for a policy is 422 Invalid).
  return { expression: `!(${v.problem})`, messageExpression: message, ...(onProblem === 'deny' ? { reason: 'Forbidden' } : {}) };
}

function policyObjects(name: string, labels: Record<string, string>, variables: Variable[], validations: Validation[], onProblem: OnProblem): Array<Record<string, unknown>> {
  const policy = {
    apiVersion: POLICY_API_VERSION,
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name, labels },
    spec: {
      matchConstraints: POD_CREATE_CONSTRAINTS,
      // A warning that cannot be evaluated must not refuse a pod the mutating policies handled; a denial, as the webhook's failurePolicy.
      failurePolicy: onProblem === 'warn' ? 'Ignore' : 'Fail',
      variables,
      validations: validations.map((v) => validationOf(v, onProblem)),
    },
  };
  const binding = bindingOf('ValidatingAdmissionPolicyBinding', name, labels, { validationActions: [onProblem === 'warn' ? 'Warn' : 'Deny'] });
  return [policy, binding];
}

/** authorize.ts's refusals: the namespace first, then the service account. */
function authorizationValidations(template: CompiledTemplate, reached: string): { validations: Validation[]; allowed: string } {
  const { namespaces, namespaceSelector, serviceAccounts } = template.access;
  const name = template.name;
  const nsAllowed = authorizationCel({ ...template, access: { ...template.access, serviceAccounts: undefined } });
  const saAllowed = authorizationCel({ ...template, access: { namespaces: undefined, namespaceSelector: undefined, serviceAccounts } });
  const validations: Validation[] = [];
  const namespace = celValue('request.namespace', true);
  if (namespaces !== undefined || namespaceSelector !== undefined) {
    const allowed = [
      ...(namespaces === undefined ? [] : [[...namespaces].join(', ') || '(no namespace)']),
      ...(namespaceSelector === undefined ? [] : [`labelled ${formatLabelSelector(namespaceSelector)}`]),
    ].join(' or ');
    const privileged = template.privileged.length > 0;
    validations.push({
      problem: `${reached} && !(${nsAllowed})`,
      text: privileged
        ? fittedCel`privileged template "${name}" not allowed in namespace "${namespace}"; allowed: ${allowed}`
        : fittedCel`template "${name}" not allowed in namespace "${namespace}"; allowed: ${allowed}`,
      ...(privileged ? { detail: `privileged: ${template.privileged.join('; ')}` } : {}),
    });
  }
  if (serviceAccounts !== undefined) {
    const account = celValue(`request.namespace + "/" + ${POD}.spec.?serviceAccountName.orValue("default")`, true);
    validations.push({
      problem: `${reached} && (${nsAllowed}) && !(${saAllowed})`,
      text: fittedCel`template "${name}" not allowed for service account "${account}"; allowed: ${[...serviceAccounts].join(', ')}`,
    });
  }
  return { validations, allowed: `(${nsAllowed}) && (${saAllowed})` };
}

/** decide.ts resolveParameters: overrides of parameters that are not overridable, that fail their checks, and of no parameter. */
function parameterValidations(template: CompiledTemplate, considered: string, notInjected: string): Validation[] {
  const validations: Validation[] = [];
  [...template.parameters.values()].forEach((parameter, index) => {
    const key = overrideAnnotation(template.name, parameter.name);
    const present = `${celString(key)} in ${ANNOTATIONS}`;
    if (!parameter.overridable) {
      validations.push({ problem: `${considered} && ${present}`, text: fittedCel`${key} ignored: the parameter is not overridable` });
      return;
    }
    const value = celValue(`${ANNOTATIONS}[${celString(key)}]`, true);
    const checks = overrideChecks(parameter, index);
    validations.push({
      problem: `${notInjected} && ${present} && !(${checks.pattern})`,
      text: fittedCel`${key}="${value}" does not match ${parameter.patternSource}; template not injected`,
    });
    if (checks.int32 !== undefined) {
      validations.push({
        problem: `${notInjected} && ${present} && (${checks.pattern}) && !(${checks.int32})`,
        text: fittedCel`${key}="${value}" is not a 32-bit integer; template not injected`,
      });
    }
  });
  for (let i = 0; i < REPORTED_PER_KIND; i += 1) {
    validations.push({
      problem: `${considered} && size(variables.unknownParameters) > ${i}`,
      text: fittedCel`${celValue(`variables.unknownParameters[${i}]`)} ignored: the template has no such parameter`,
    });
  }
  return validations;
}

/** decide.ts TakenNames.conflictOf: the first container name, else volume name, else application mount path the pod already has. */
function conflictValidations(template: CompiledTemplate, reached: string): Validation[] {
  const name = template.name;
  const only = (names: Partial<Pick<CompiledTemplate, 'initContainerNames' | 'containerNames' | 'volumeNames' | 'appVolumeMounts'>>): string =>
    conflictCel({ ...template, initContainerNames: [], containerNames: [], volumeNames: [], appVolumeMounts: [], ...names });
  const validations: Validation[] = [];
  const containers = [...template.initContainerNames, ...template.containerNames];
  const containerConflict = only({ containerNames: containers });
  const volumeConflict = only({ volumeNames: template.volumeNames });
  const chain = (names: readonly string[], conflictOfName: (n: string) => string, text: (n: string) => ProblemTextCel): ProblemTextCel => {
    const pick = (of: (t: ProblemTextCel) => string): string =>
      names.slice(0, -1).reduceRight((rest, n) => `(${conflictOfName(n)} ? ${of(text(n))} : ${rest})`, of(text(names[names.length - 1] ?? '')));
    return { warning: pick((t) => t.warning), whole: pick((t) => t.whole) };
  };
  if (containers.length > 0) {
    validations.push({
      problem: `${reached} && (${containerConflict})`,
      text: chain(containers, (n) => only({ containerNames: [n] }), (n) => fittedCel`template "${name}" not injected: the pod already has a container "${n}"`),
    });
  }
  if (template.volumeNames.length > 0) {
    validations.push({
      problem: `${reached} && !(${containerConflict}) && (${volumeConflict})`,
      text: chain(template.volumeNames, (n) => only({ volumeNames: [n] }), (n) => fittedCel`template "${name}" not injected: the pod already has a volume "${n}"`),
    });
  }
  if (template.appVolumeMounts.length > 0) {
    const lists = ['containers', ...(reachesInitContainers(template) ? ['initContainers'] : [])];
    const mounted = lists.map((l) => `${POD}.spec.?${l}.orValue([]).exists(c, c.?volumeMounts.orValue([]).exists(m, m.?mountPath.orValue("") == a.mountPath))`).join(' || ');
    const path = celValue(`variables.appMounts.filter(a, ${mounted})[0].mountPath`, true);
    validations.push({
      problem: `${reached} && !(${containerConflict}) && !(${volumeConflict}) && (${only({ appVolumeMounts: template.appVolumeMounts })})`,
      text: fittedCel`template "${name}" not injected: an application container already mounts ${path}`,
    });
  }
  return validations;
}

/** The validating policy and binding of one template: its problems for a pod that asks for it alone. */
function templatePolicy(template: CompiledTemplate, mutatingVariables: Variable[], onProblem: OnProblem): Array<Record<string, unknown>> {
  const record = statusRecordOf(template);
  // After the mutating policies: no record means this template was not injected; its own record, that it was (now or before).
  const notInjected = 'variables.asks && variables.statusRaw == ""';
  const injectedOrNot = `variables.asks && (variables.statusRaw == "" || variables.statusRaw == ${celString(record)})`;
  const authorization = authorizationValidations(template, notInjected);
  const authorized = `(${authorization.allowed})`;
  const parameterNames = [...template.parameters.keys()].map((p) => overrideAnnotation(template.name, p));
  const prefix = `${ANNOTATION_PREFIX}${template.name}.`;
  const variables = [
    ...mutatingVariables,
    {
      name: 'unknownParameters',
      expression: `${ANNOTATIONS}.filter(k, k.startsWith(${celString(prefix)}) && !(k in ${celStrings(parameterNames)}))`,
    },
  ];
  const validations = [
    ...authorization.validations,
    ...parameterValidations(template, `${injectedOrNot} && ${authorized}`, `${notInjected} && ${authorized}`),
    ...conflictValidations(template, `${notInjected} && ${authorized} && variables.paramsValid`),
  ];
  const labels = { 'app.kubernetes.io/managed-by': 'sidecar-injector', 'sidecar.example/template': template.name };
  return policyObjects(policyName(template.name), labels, variables, validations, onProblem);
}

/** The names a pod asks for, trimmed, as decide.ts requestedTemplates reads them: its list, else its namespace's, else the defaults. */
function requestPolicy(known: readonly string[], options: PolicyOptions, onProblem: OnProblem): Array<Record<string, unknown>> {
  // The mutating policies' own reading of the pod's and the namespace's annotation and label.
  const read = ['request', 'namespaceRequest', 'namespaceOptedIn'];
  const isNames = (v: string): string => `(${v}.matches(${celString(SOME_NAME)}) && !${v}.matches(${celString(OPT_OUT)}) && !${v}.matches(${celString(DEFAULTS)}))`;
  const defaults = celString(options.defaultTemplates.join(','));
  // An item without what trim() removes: from its first character that is not whitespace to its last.
  const trimmed = `[^${W}](?s:.*[^${W}])?`;
  const variables: Variable[] = [
    ...requestVariables(REQUEST_POLICY, known, options.defaultTemplates).filter((v) => read.includes(v.name)),
    {
      name: 'requested',
      expression:
        `variables.request.matches(${celString(OPT_OUT)}) ? "" : ${isNames('variables.request')} ? variables.request : ` +
        `(variables.request.matches(${celString(DEFAULTS)}) || variables.namespaceOptedIn) ? (${isNames('variables.namespaceRequest')} ? variables.namespaceRequest : ${defaults}) : ""`,
    },
    {
      name: 'unknownRequested',
      expression: `variables.requested.split(",").map(item, item.find(${celString(trimmed)})).filter(n, n != "" && !(n in ${celStrings(known)}))`,
    },
    // Each name once, in the order asked (the webhook's Set).
    { name: 'unknown', expression: 'variables.unknownRequested.transformList(i, n, variables.unknownRequested.indexOf(n) == i, n)' },
  ];
  const names = listNames(known);
  const validations: Validation[] = [];
  for (let i = 0; i < REPORTED_PER_KIND; i += 1) {
    validations.push({
      problem: `size(variables.unknown) > ${i}`,
      text: fittedCel`unknown template "${celValue(`variables.unknown[${i}]`)}" (known: ${expendable(names)})`,
    });
  }
  return policyObjects(REQUEST_POLICY, { 'app.kubernetes.io/managed-by': 'sidecar-injector' }, variables, validations, onProblem);
}

/**
 * decide.ts requestedTemplates: `true` where there are no defaults, neither the
 * namespace's list nor --default-templates. Never a denial (not in
 * DENIABLE_REASONS): a policy of its own that only warns, also with deny.
 */
function noDefaultsPolicy(known: readonly string[], options: PolicyOptions): Array<Record<string, unknown>> {
  if (options.defaultTemplates.length > 0) return [];
  const read = ['request', 'namespaceRequest'];
  const isNames = (v: string): string => `(${v}.matches(${celString(SOME_NAME)}) && !${v}.matches(${celString(OPT_OUT)}) && !${v}.matches(${celString(DEFAULTS)}))`;
  const validation: Validation = {
    problem: `variables.request.matches(${celString(DEFAULTS)}) && !${isNames('variables.namespaceRequest')}`,
    text: fittedCel`${INJECT_ANNOTATION}=true but namespace "${celValue('request.namespace', true)}" has no default templates`,
  };
  const variables = requestVariables(NO_DEFAULTS_POLICY, known, options.defaultTemplates).filter((v) => read.includes(v.name));
  return policyObjects(NO_DEFAULTS_POLICY, { 'app.kubernetes.io/managed-by': 'sidecar-injector' }, variables, [validation], 'warn');
}

/**
 * The companion ValidatingAdmissionPolicies and bindings of the templates
 * that compile to mutating policies: one per template, one for names that
 * are no template, and one for `true` with no defaults (when there are none).
 */
export function compileValidatingPolicies(templates: TemplateSet, options: PolicyOptions & { onProblem: OnProblem }): Array<Record<string, unknown>> {
  const known = [...templates.templates.keys()];
  const objects = compilePolicies(templates, options).flatMap((compiled) => {
    if (!compiled.ok) return [];
    const template = templates.templates.get(compiled.template);
    if (template === undefined) return [];
    const spec = compiled.objects[0]['spec'] as { variables: Variable[] };
    return templatePolicy(template, spec.variables, options.onProblem);
  });
  return [...requestPolicy(known, options, options.onProblem), ...noDefaultsPolicy(known, options), ...objects];
}
