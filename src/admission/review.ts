import type { InjectionSettings, NamespaceInfo } from '../inject/decide.js';
import { planInjection, type InjectionOutcome } from '../inject/plan.js';
import type { Pod } from '../inject/kube-types.js';
import type { TemplateSet } from '../templates/model.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';

export interface ReviewContext {
  templates: TemplateSet;
  settings: InjectionSettings;
  namespace: NamespaceInfo;
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
  const outcome = planInjection(
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
  if (outcome.result === 'injected') {
    // patchType only together with a patch: the apiserver rejects one without the other.
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(outcome.patch).toString('base64');
  }
  if (outcome.warnings.length > 0) response.warnings = outcome.warnings;
  return { response, outcome };
}

export function encodeReview(response: AdmissionResponse): string {
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
}
