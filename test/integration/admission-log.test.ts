// DESIGN.md: one structured log line per admission with uid, namespace, pod
// name or generateName, templates injected, outcome and duration.
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import jsonpatch from 'fast-json-patch';
import { decodePatch, exampleReview, podReview, STATUS_ANNOTATION } from '../support/reviews.js';
import { TempDirs } from '../support/temp.js';
import { waitFor } from '../support/wait.js';
import { startTestWebhook, type TestWebhook } from '../support/webhook.js';

jest.setTimeout(30_000);

const temps = new TempDirs();
let hook: TestWebhook;

beforeAll(async () => {
  hook = await startTestWebhook(temps);
});

afterAll(async () => {
  await hook?.stop();
  await temps.cleanup();
});

function admissionLines(uid: string): Array<Record<string, unknown>> {
  return hook.logs.withMessage('admission').filter((entry) => entry['uid'] === uid);
}

async function theLineFor(uid: string): Promise<Record<string, unknown>> {
  const lines = await waitFor(`the admission log line of ${uid}`, () => {
    const found = admissionLines(uid);
    return found.length > 0 ? found : undefined;
  });
  expect(lines).toHaveLength(1);
  return lines[0] as Record<string, unknown>;
}

it('logs one "admission" line for an injection, with the pod generateName', async () => {
  const review = exampleReview();
  await hook.review(review);
  const line = await theLineFor(review.request.uid);
  expect(line).toMatchObject({
    level: 'info',
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    namespace: 'shop',
    pod: 'web-7d4b9c6f5-',
    templates: ['log-collector'],
    outcome: 'injected',
  });
  expect(typeof line['durationMs']).toBe('number');
  expect(line['durationMs']).toBeGreaterThanOrEqual(0);
  expect(line['durationMs']).toBeLessThan(30_000);
  // Never the whole pod at info level.
  const text = JSON.stringify(line);
  expect(text).not.toContain('kube-api-access');
  expect(text).not.toContain('nginx');
});

it('logs the pod name when the pod has one', async () => {
  const review = podReview();
  review.request.object.metadata.name = 'named-pod';
  review.request.name = 'named-pod';
  await hook.review(review);
  expect(await theLineFor(review.request.uid)).toMatchObject({ pod: 'named-pod', outcome: 'injected' });
});

it('logs skipped admissions with their reason and no templates', async () => {
  const review = podReview({ inject: null });
  await hook.review(review);
  const line = await theLineFor(review.request.uid);
  expect(line).toMatchObject({ uid: review.request.uid, namespace: 'shop', pod: 'web-7d4b9c6f5-', outcome: 'skipped' });
  expect(typeof line['reason']).toBe('string');
  expect(line['templates'] ?? []).toEqual([]);
});

it('writes exactly one line per admission under concurrent requests', async () => {
  const reviews = Array.from({ length: 8 }, () => podReview());
  await Promise.all(reviews.map((review) => hook.review(review)));
  for (const review of reviews) {
    expect(await theLineFor(review.request.uid)).toMatchObject({ outcome: 'injected', templates: ['log-collector'] });
  }
});

it('a status record the pod does not bear out: injected anyway, a short warning, the detail in the log line', async () => {
  const review = podReview();
  review.request.object.metadata.annotations[STATUS_ANNOTATION] = JSON.stringify({
    templates: [{ name: 'log-collector', version: '2.0.0' }],
    initContainers: ['log-collector'],
    volumes: ['shared-logs'],
  });
  const answer = await hook.review(review);
  expect(answer.response.warnings).toEqual(['sidecar-injector: sidecar.example/status names containers or volumes the pod lacks; discarded']);
  for (const warning of answer.response.warnings as string[]) expect(warning.length).toBeLessThanOrEqual(120);
  expect(decodePatch(answer.response.patch)).toContainEqual(expect.objectContaining({ op: 'add', path: '/spec/initContainers' }));
  expect(await theLineFor(review.request.uid)).toMatchObject({
    outcome: 'injected',
    templates: ['log-collector'],
    problems: ['invalid_status'],
    problemDetails: ['invalid_status: init container "log-collector" is not in the pod'],
  });
});

it('a reinvocation that completes a container added after the injection is logged as already injected, with what it completed', async () => {
  const first = podReview();
  const injected = jsonpatch.applyPatch(first.request.object, decodePatch((await hook.review(first)).response.patch), true, false).newDocument;
  injected.spec.containers.push({ name: 'added-by-another-webhook', image: 'registry.example/other:1' });
  const again = podReview();
  again.request.object = injected;
  const answer = await hook.review(again);
  const patched = jsonpatch.applyPatch(structuredClone(injected), decodePatch(answer.response.patch), true, false).newDocument;
  const added = patched.spec.containers.find((c: { name: string }) => c.name === 'added-by-another-webhook');
  expect(added.volumeMounts).toEqual([{ name: 'shared-logs', mountPath: '/var/log/app' }]);
  expect(await theLineFor(again.request.uid)).toMatchObject({ outcome: 'skipped', reason: 'already_injected', completed: ['log-collector'] });
});
