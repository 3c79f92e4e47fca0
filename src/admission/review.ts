import type { AdmissionFacts, InjectionSettings, NamespaceInfo } from '../inject/decide.js';
import { planInjection, type InjectionOutcome, type TemplateSet } from '../inject/plan.js';
import { INJECT_ANNOTATION } from '../inject/annotations.js';
import type { Pod } from '../inject/kube-types.js';
import { fitted, problemToWarning, shortProblem } from '../inject/problems.js';
import { misplacedInjectAnnotation } from '../inject/workload-annotation.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';

export interface ReviewContext {
  templates: TemplateSet;
  settings: InjectionSettings;
  namespace: NamespaceInfo;
  /** The planner; the server passes a memoising one (server/plan-cache.ts). */
  plan?: (facts: AdmissionFacts, templates: TemplateSet, settings: InjectionSettings, ns: NamespaceInfo) => InjectionOutcome;
}

// Memoised outcomes (server/plan-cache.ts) come back many times; encode each once.
const base64Patches = new WeakMap<object, string>();

function base64Of(outcome: InjectionOutcome, patch: string): string {
  let encoded = base64Patches.get(outcome);
  if (encoded === undefined) base64Patches.set(outcome, (encoded = Buffer.from(patch).toString('base64')));
  return encoded;
}

/**
 * Workloads (Deployments, Jobs…) are never mutated; they are sent only to warn
 * about an inject annotation on their own metadata (see the chart's
 * workload.sidecar.example webhook), which kubectl prints to the user.
 */
function workloadOutcome(request: AdmissionRequest): InjectionOutcome | undefined {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return undefined;
  if ((request.subResource ?? '') !== '' || request.resource.resource === 'pods') return undefined;
  const problem = misplacedInjectAnnotation(request.object, INJECT_ANNOTATION);
  if (problem === undefined) return undefined;
  return { result: 'skipped', reason: 'annotation_on_workload', problems: [problem], warnings: [problemToWarning(problem)] };
}

/**
 * A pod that is not a valid pod is let through untouched: the apiserver
 * validates it after the webhooks and rejects it naming the field, which
 * tells its author more than a failed webhook call would. Pure.
 */
export function reviewInvalidPod(request: AdmissionRequest, invalid: string): { response: AdmissionResponse; outcome: InjectionOutcome } {
  const problem = shortProblem('invalid_pod', undefined, fitted`not injected: not a valid pod (${invalid})`);
  const outcome: InjectionOutcome = { result: 'skipped', reason: 'invalid_pod', problems: [problem], warnings: [problemToWarning(problem)] };
  return { response: { uid: request.uid, allowed: true, warnings: outcome.warnings }, outcome };
}

/**
 * The AdmissionResponse for a decoded request. Pure. A dry-run request gets
 * exactly the same answer: the injector has no side effects to suppress.
 */
export function reviewAdmission(
  request: AdmissionRequest,
  pod: Pod | undefined,
  context: ReviewContext,
): { response: AdmissionResponse; outcome: InjectionOutcome } {
  const plan = context.plan ?? planInjection;
  const outcome = workloadOutcome(request) ?? plan(
    {
      operation: request.operation,
      resource: request.resource,
      subResource: request.subResource,
      // request.namespace, not the object's: controller-made pods may lack it (ADMISSION-FACTS §1).
      namespace: request.namespace ?? pod?.metadata?.namespace ?? '',
      pod,
    },
    context.templates,
    context.settings,
    context.namespace,
  );
  const response: AdmissionResponse = { uid: request.uid, allowed: outcome.result !== 'denied' };
  if (outcome.result === 'denied') {
    response.status = { code: 403, reason: 'Forbidden', message: outcome.message };
  }
  // A skipped pod may be patched too (containers completed, a bad record removed).
  if (outcome.result !== 'denied' && outcome.patch !== undefined) {
    // patchType only together with a patch: the apiserver rejects one without the other.
    response.patchType = 'JSONPatch';
    response.patch = base64Of(outcome, outcome.patch);
  }
  if (outcome.warnings.length > 0) response.warnings = outcome.warnings;
  return { response, outcome };
}

const ENVELOPE = '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":';

/**
 * The AdmissionReview JSON. The base64 patch is spliced in as it is: it never
 * needs escaping, and re-scanning kilobytes of it in JSON.stringify is the
 * largest single cost of encoding.
 */
export function encodeReview(response: AdmissionResponse): string {
  const { patch, ...rest } = response;
  if (patch === undefined) return `${ENVELOPE}${JSON.stringify(rest)}}`;
  const head = JSON.stringify(rest);
  return `${ENVELOPE}${head.slice(0, -1)},"patch":"${patch}"}}`;
}
