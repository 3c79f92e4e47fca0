// The plan memo on the server: pods of one template reuse a plan, and a
// template reload is never answered from a plan of the old set.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sample } from '../support/metrics.js';
import { decodePatch, podReview, type Json } from '../support/reviews.js';
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

async function lookups(result: 'hit' | 'miss'): Promise<number> {
  const text = await hook.webhook.metrics.registry.metrics();
  return sample(text, 'sidecar_injector_plan_cache_lookups_total', { result }) ?? 0;
}

function collectorImage(response: Json): string | undefined {
  // A native sidecar: the example pod has no init containers, so it comes within the whole added array.
  const added = decodePatch(response.response.patch)
    .flatMap((op: Json) => (Array.isArray(op.value) ? op.value : [op.value]))
    .find((value: Json) => value?.name === 'log-collector');
  return added?.image;
}

describe('plan cache', () => {
  it('answers a second pod of the same template from the memo, with the same patch', async () => {
    const [hits, misses] = [await lookups('hit'), await lookups('miss')];
    const first = await hook.review(podReview());
    const second = await hook.review(podReview());
    expect(second.response.patch).toBe(first.response.patch);
    expect(second.response.uid).not.toBe(first.response.uid);
    expect(await lookups('miss')).toBe(misses + 1);
    expect(await lookups('hit')).toBe(hits + 1);
  });

  it('never serves a plan of the previous template set after a reload', async () => {
    expect(collectorImage(await hook.review(podReview()))).toBe('docker.io/library/busybox:1.37');
    const file = join(hook.templatesDir, 'log-collector.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('docker.io/library/busybox:1.37', 'registry.example/busybox:2'));
    await waitFor('the new template to be in force', async () =>
      collectorImage(await hook.review(podReview())) === 'registry.example/busybox:2' ? true : undefined,
    );
  });
});
