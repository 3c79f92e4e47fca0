// DESIGN.md: one structured log line per admission with uid, namespace, pod
// name or generateName, templates injected, outcome and duration.
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import { exampleReview, podReview } from '../support/reviews.js';
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
