// A pod whose namespace the informer has not seen: the webhook (real HTTPS,
// real client-node informer) against a fake API whose namespace watch stays
// silent, so every namespace created "later" is a cache miss read with
// GET /api/v1/namespaces/NAME.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { NamespaceMetadata } from '../../src/inject/namespace.js';
import { startFakeNamespaceApi, type FakeNamespaceApi } from '../support/fake-namespace-api.js';
import { sample } from '../support/metrics.js';
import { decodePatch, podReview, type Json } from '../support/reviews.js';
import { TempDirs } from '../support/temp.js';
import { waitFor } from '../support/wait.js';
import { startTestWebhook, type TestWebhook } from '../support/webhook.js';

jest.setTimeout(30_000);

const temps = new TempDirs();
let api: FakeNamespaceApi;
let hook: TestWebhook;

const OPTED_IN: NamespaceMetadata = {
  labels: { 'sidecar.example/injection': 'enabled' },
  annotations: { 'sidecar.example/inject': 'log-collector' },
};

beforeAll(async () => {
  api = await startFakeNamespaceApi(temps);
  api.listed.set('shop', OPTED_IN);
  hook = await startTestWebhook(temps, { flags: ['--kubeconfig', api.kubeconfigPath, '--no-cluster-templates', '--no-events'] });
  await waitFor('the namespace informer to list', async () => ((await hook.request({ path: '/readyz' })).status === 200 ? true : undefined));
});

afterAll(async () => {
  await hook?.stop();
  await api?.close();
  await temps.cleanup();
});

/** The example pod without an inject annotation, in `namespace`: only the namespace can ask for sidecars. */
function unannotatedPodIn(namespace: string): Json {
  const review = podReview({ inject: null });
  review.request.namespace = namespace;
  review.request.object.metadata.namespace = namespace;
  return review;
}

function injectedNames(response: Json): string[] {
  if (response.response.patch === undefined) return [];
  return decodePatch(response.response.patch)
    .flatMap((op: Json) => (Array.isArray(op.value) ? op.value : [op.value]))
    .filter((value: Json) => typeof value?.image === 'string')
    .map((value: Json) => value.name);
}

async function namespaceReads(result: string): Promise<number> {
  return sample(await hook.webhook.metrics.registry.metrics(), 'sidecar_injector_namespace_reads_total', { result }) ?? 0;
}

async function post(review: Json): Promise<{ status: number; body: Json }> {
  const result = await hook.request({
    method: 'POST',
    path: '/mutate?timeout=10s',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(review),
  });
  return { status: result.status, body: JSON.parse(result.body) };
}

describe('the namespace of a pod', () => {
  it('comes from the informer when it has the namespace: no API read', async () => {
    const answer = await hook.review(unannotatedPodIn('shop'));
    expect(injectedNames(answer)).toEqual(['log-collector']);
    expect(api.reads('shop')).toBe(0);
  });

  it('is read from the API when the informer has not seen it: the pod gets that namespace\'s default templates', async () => {
    api.answers.set('new-shop', { kind: 'found', namespace: OPTED_IN });
    const found = await namespaceReads('found');
    const answer = await hook.review(unannotatedPodIn('new-shop'));
    expect(injectedNames(answer)).toEqual(['log-collector']);
    expect(api.reads('new-shop')).toBe(1);
    expect(await namespaceReads('found')).toBe(found + 1);
    // The namespace's labels count too: a namespace without the opt-in label gets nothing.
    api.answers.set('not-opted-in', { kind: 'found', namespace: { labels: {}, annotations: OPTED_IN.annotations } });
    const skipped = await hook.review(unannotatedPodIn('not-opted-in'));
    expect(skipped.response).toEqual({ uid: skipped.response.uid, allowed: true });
  });

  it('that does not exist is judged as unknown (the apiserver refuses the pod anyway)', async () => {
    const notFound = await namespaceReads('not_found');
    const answer = await hook.review(unannotatedPodIn('gone'));
    expect(answer.response.allowed).toBe(true);
    expect(answer.response.patch).toBeUndefined();
    expect(await namespaceReads('not_found')).toBe(notFound + 1);
  });

  it('that cannot be read within the bound fails the call with 503 NAMESPACE_UNAVAILABLE, and the read is cancelled', async () => {
    api.answers.set('slow', { kind: 'silent' });
    const timeouts = await namespaceReads('timeout');
    const { status, body } = await post(unannotatedPodIn('slow'));
    expect(status).toBe(503);
    const message = 'namespace "slow" is not in the webhook\'s cache yet and could not be read: no answer from the API within 1000 ms';
    // A metav1.Status, whose message the apiserver passes on, and the project's error shape.
    expect(body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      code: 503,
      reason: 'ServiceUnavailable',
      message,
      error: { code: 'NAMESPACE_UNAVAILABLE', message },
    });
    expect(await namespaceReads('timeout')).toBe(timeouts + 1);
    // The webhook's client went away instead of leaving the request open.
    await waitFor('the fake API to see the read abandoned', () => (api.abandoned('slow') === 1 ? true : undefined));
    const line = hook.logs.withMessage('admission').find((l) => l['namespace'] === 'slow');
    expect(line).toMatchObject({ level: 'warn', outcome: 'failed', reason: 'namespace_unavailable' });
  });

  it('that the API refuses to show fails the call the same way, with the API\'s reason', async () => {
    api.answers.set('locked', { kind: 'status', code: 403, message: 'namespaces "locked" is forbidden: User "x" cannot get resource "namespaces"' });
    const errors = await namespaceReads('error');
    const { status, body } = await post(unannotatedPodIn('locked'));
    expect(status).toBe(503);
    expect(body.error.code).toBe('NAMESPACE_UNAVAILABLE');
    expect(body.error.message).toBe(
      'namespace "locked" is not in the webhook\'s cache yet and could not be read: HTTP 403: namespaces "locked" is forbidden: User "x" cannot get resource "namespaces"',
    );
    expect(await namespaceReads('error')).toBe(errors + 1);
  });

  it('is never read for a request that is not a pod create', async () => {
    const review = unannotatedPodIn('elsewhere');
    review.request.operation = 'UPDATE';
    const answer = await hook.review(review);
    expect(answer.response.allowed).toBe(true);
    expect(api.reads('elsewhere')).toBe(0);
  });
});
