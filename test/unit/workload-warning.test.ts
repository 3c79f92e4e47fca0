import { describe, expect, it } from '@jest/globals';
import { reviewAdmission } from '../../src/admission/review.js';
import type { AdmissionRequest } from '../../src/admission/types.js';
import { EMPTY_TEMPLATE_SET } from '../../src/templates/template-set.js';

const INJECT = 'sidecar.example/inject';
const settings = { onProblem: 'deny' as const, defaultTemplates: [], nativeSidecars: true };

function request(kind: string, resource: string, object: Record<string, unknown>, operation = 'CREATE'): AdmissionRequest {
  return { uid: 'u', operation, resource: { group: kind === 'CronJob' || kind === 'Job' ? 'batch' : 'apps', version: 'v1', resource }, namespace: 'shop', object: { kind, ...object } };
}

const template = (annotations?: Record<string, string>) => ({ metadata: annotations === undefined ? {} : { annotations }, spec: { containers: [] } });

function review(req: AdmissionRequest) {
  return reviewAdmission(req, undefined, { templates: EMPTY_TEMPLATE_SET, settings, namespace: { defaultTemplates: undefined } });
}

describe('the inject annotation on a workload instead of its pod template', () => {
  it('is allowed unchanged, with a warning naming the right place, even under --on-problem=deny', () => {
    const { response, outcome } = review(request('Deployment', 'deployments', { metadata: { name: 'web', annotations: { [INJECT]: 'log-collector' } }, spec: { template: template() } }));
    expect(response).toEqual({
      uid: 'u',
      allowed: true,
      warnings: ['sidecar-injector: sidecar.example/inject has no effect; move it to spec.template.metadata.annotations'],
    });
    expect(outcome).toMatchObject({ result: 'skipped', reason: 'annotation_on_workload' });
    // The workload's kind and name are in the detail (the admission log line).
    expect(outcome.problems[0]?.detail).toBe('on Deployment "web": its pods copy the annotations of spec.template, not the Deployment\'s');
  });

  it('finds the pod template of a CronJob, and also warns on UPDATE', () => {
    const { response } = review(
      request('CronJob', 'cronjobs', { metadata: { name: 'nightly', annotations: { [INJECT]: 'true' } }, spec: { jobTemplate: { spec: { template: template() } } } }, 'UPDATE'),
    );
    expect(response.warnings?.[0]).toContain('move it to spec.jobTemplate.spec.template.metadata.annotations');
  });

  it('says nothing when the pod template has it too, when it is absent, or on DELETE', () => {
    const both = { metadata: { name: 'web', annotations: { [INJECT]: 'a' } }, spec: { template: template({ [INJECT]: 'a' }) } };
    expect(review(request('Deployment', 'deployments', both)).response).toEqual({ uid: 'u', allowed: true });
    const none = { metadata: { name: 'web' }, spec: { template: template() } };
    expect(review(request('StatefulSet', 'statefulsets', none)).response).toEqual({ uid: 'u', allowed: true });
    const misplaced = { metadata: { name: 'web', annotations: { [INJECT]: 'a' } }, spec: { template: template() } };
    expect(review(request('Deployment', 'deployments', misplaced, 'DELETE')).response).toEqual({ uid: 'u', allowed: true });
  });
});
