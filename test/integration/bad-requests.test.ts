// Every malformed call to the webhook gets a clear 4xx with a JSON error body,
// and the server keeps answering good requests afterwards (DESIGN.md: "never a crash").
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { request as httpsRequest } from 'node:https';
import { parseJson, tlsRequestOptions, type HttpResult, type RequestSpec } from '../support/http.js';
import { sample } from '../support/metrics.js';
import { podReview, type Json } from '../support/reviews.js';
import { TempDirs } from '../support/temp.js';
import { delay, waitFor } from '../support/wait.js';
import { startTestWebhook, type TestWebhook } from '../support/webhook.js';

jest.setTimeout(30_000);

const MAX_BODY = 4096;
const JSON_HEADERS = { 'content-type': 'application/json' };
const temps = new TempDirs();
let hook: TestWebhook;

beforeAll(async () => {
  hook = await startTestWebhook(temps, { flags: ['--max-body-bytes', String(MAX_BODY)] });
});

afterAll(async () => {
  await hook?.stop();
  await temps.cleanup();
});

// After every bad request, a good one must still be injected.
afterEach(async () => {
  const review = podReview();
  const answer = await hook.review(review);
  expect(answer.response.uid).toBe(review.request.uid);
  expect(answer.response.patchType).toBe('JSONPatch');
});

function expectError(result: HttpResult, status: number, code: string): { code: string; message: string } {
  if (result.status !== status) throw new Error(`expected HTTP ${status} ${code}, got ${result.status}: ${result.body}`);
  expect(result.headers['content-type']).toMatch(/^application\/json/);
  const body = parseJson<{ error: { code: string; message: string } }>(result);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

function post(body: string | Buffer, headers: Record<string, string | number> = JSON_HEADERS): Promise<HttpResult> {
  return hook.request({ method: 'POST', path: '/mutate?timeout=10s', headers, body });
}

function postReview(review: Json): Promise<HttpResult> {
  return post(JSON.stringify(review));
}

describe('bodies that are not a valid AdmissionReview', () => {
  it('malformed JSON → 400 INVALID_JSON', async () => {
    expectError(await post('{"apiVersion": "admission.k8s.io/v1", "kind": '), 400, 'INVALID_JSON');
  });

  it('an empty body → 400 INVALID_JSON', async () => {
    expectError(await post(''), 400, 'INVALID_JSON');
  });

  it('a JSON array → 400 NOT_AN_ADMISSION_REVIEW', async () => {
    expectError(await post('[]'), 400, 'NOT_AN_ADMISSION_REVIEW');
  });

  it('apiVersion admission.k8s.io/v1beta1 → 400 NOT_AN_ADMISSION_REVIEW naming the version', async () => {
    const review = podReview();
    review.apiVersion = 'admission.k8s.io/v1beta1';
    const error = expectError(await postReview(review), 400, 'NOT_AN_ADMISSION_REVIEW');
    expect(error.message).toContain('admission.k8s.io/v1beta1');
  });

  it('a wrong kind → 400 NOT_AN_ADMISSION_REVIEW', async () => {
    const review = podReview();
    review.kind = 'Pod';
    expectError(await postReview(review), 400, 'NOT_AN_ADMISSION_REVIEW');
  });

  it('no request → 400 MISSING_REQUEST', async () => {
    const review = podReview();
    delete review.request;
    expectError(await postReview(review), 400, 'MISSING_REQUEST');
  });

  it('request: null → 400 MISSING_REQUEST', async () => {
    const review = podReview();
    review.request = null;
    expectError(await postReview(review), 400, 'MISSING_REQUEST');
  });

  it('no request.uid → 400 MISSING_UID', async () => {
    const review = podReview();
    delete review.request.uid;
    expectError(await postReview(review), 400, 'MISSING_UID');
  });

  it('an empty request.uid → 400 MISSING_UID', async () => {
    const review = podReview({ uid: '' });
    expectError(await postReview(review), 400, 'MISSING_UID');
  });

  it('a pod CREATE without an object → 400 INVALID_REQUEST', async () => {
    const review = podReview();
    review.request.object = null;
    expectError(await postReview(review), 400, 'INVALID_REQUEST');
  });

  it('operation not a string → 400 INVALID_REQUEST', async () => {
    const review = podReview();
    review.request.operation = 1;
    expectError(await postReview(review), 400, 'INVALID_REQUEST');
  });

  it('no request.resource → 400 INVALID_REQUEST', async () => {
    const review = podReview();
    delete review.request.resource;
    expectError(await postReview(review), 400, 'INVALID_REQUEST');
  });
});

// A sound review of a pod that is not a valid pod: allowed untouched with a
// warning, so the apiserver's validation (after the webhooks) names the field
// instead of the creator reading "failed calling webhook".
describe('a well-formed review of an invalid pod', () => {
  const invalidPods: Array<[string, (pod: Json) => void, string]> = [
    ['a container without a name', (pod) => delete pod.spec.containers[0].name, 'spec.containers[0].name is required'],
    ['a container whose name is empty (how the apiserver sends a missing one)', (pod) => (pod.spec.containers[0].name = ''), 'spec.containers[0].name must not be empty'],
    ['containers: null (how the apiserver sends a pod without containers)', (pod) => (pod.spec.containers = null), 'spec.containers must be array'],
    ['containers not an array', (pod) => (pod.spec.containers = 'web'), 'spec.containers must be array'],
    ['a container that is not an object', (pod) => (pod.spec.containers = ['web']), 'spec.containers[0] must be object'],
    ['an annotation value that is not a string', (pod) => (pod.metadata.annotations['sidecar.example/inject'] = ['log-collector']), 'metadata.annotations'],
  ];

  it.each(invalidPods)('%s → allowed, no patch, a warning naming the field, logged and counted as invalid_pod', async (_name, spoil, field) => {
    const metricsBefore = (await hook.request({ path: '/metrics' })).body;
    const counted = (text: string): number => sample(text, 'sidecar_injector_admissions_total', { result: 'skipped', reason: 'invalid_pod' }) ?? 0;
    const review = podReview();
    spoil(review.request.object);
    const result = await postReview(review);
    expect(result.status).toBe(200);
    const { response } = parseJson<{ response: Json }>(result);
    expect(response.uid).toBe(review.request.uid);
    expect(response.allowed).toBe(true);
    expect(response.patch).toBeUndefined();
    expect(response.patchType).toBeUndefined();
    expect(response.warnings).toHaveLength(1);
    const [warning] = response.warnings as [string];
    expect(warning).toMatch(/^sidecar-injector: not injected: not a valid pod \(/);
    expect(warning).toContain(field);
    expect([...warning].length).toBeLessThanOrEqual(120);
    const line = await waitFor('the admission log line', () => hook.logs.entries().find((entry) => entry['uid'] === review.request.uid));
    expect(line).toMatchObject({ outcome: 'skipped', reason: 'invalid_pod', problems: ['invalid_pod'] });
    const metricsAfter = (await hook.request({ path: '/metrics' })).body;
    expect(counted(metricsAfter) - counted(metricsBefore)).toBe(1);
    expect(sample(metricsAfter, 'sidecar_injector_problems_total', { reason: 'invalid_pod' })).toBeGreaterThan(0);
  });
});

describe('wrong method, content type or path', () => {
  it.each(['GET', 'PUT', 'DELETE'])('%s /mutate → 405 with Allow: POST', async (method) => {
    const spec: RequestSpec = { method, path: '/mutate' };
    if (method === 'PUT') Object.assign(spec, { headers: JSON_HEADERS, body: JSON.stringify(podReview()) });
    const result = await hook.request(spec);
    expectError(result, 405, 'METHOD_NOT_ALLOWED');
    expect(result.headers['allow']).toBe('POST');
  });

  it('Content-Type text/plain → 415', async () => {
    expectError(await post(JSON.stringify(podReview()), { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('no Content-Type → 415', async () => {
    expectError(await post(JSON.stringify(podReview()), {}), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('application/json with a charset is accepted', async () => {
    const result = await post(JSON.stringify(podReview()), { 'content-type': 'application/json; charset=utf-8' });
    expect(result.status).toBe(200);
  });

  it('an unknown path → 404 JSON', async () => {
    expectError(await hook.request({ path: '/no-such-endpoint' }), 404, 'NOT_FOUND');
  });

  it('POST to an unknown path → 404 JSON', async () => {
    expectError(await hook.request({ method: 'POST', path: '/mutate/extra', headers: JSON_HEADERS, body: '{}' }), 404, 'NOT_FOUND');
  });
});

/**
 * Streams a body in chunks until the server answers (or all is sent); the
 * server may answer and close before the client has finished writing.
 */
function streamBody(options: {
  headers: Record<string, string | number>;
  chunks: Buffer[];
  pauseMs: number;
}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpsRequest(
      tlsRequestOptions(hook, { method: 'POST', path: '/mutate', headers: options.headers }),
      (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') });
          req.destroy();
        });
        res.on('error', reject);
      },
    );
    // Writing after the server has closed fails with EPIPE/ECONNRESET; only an error before any answer counts.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.flushHeaders();
    void (async () => {
      for (const chunk of options.chunks) {
        if (answered || req.destroyed) return;
        req.write(chunk);
        await delay(options.pauseMs);
      }
      if (!answered && !req.destroyed) req.end();
    })();
  });
}

describe('bodies over --max-body-bytes', () => {
  it('a declared Content-Length over the limit → 413 before the body is sent', async () => {
    // Only the headers go out: the server must answer from Content-Length alone.
    const result = await streamBody({
      headers: { ...JSON_HEADERS, 'content-length': MAX_BODY + 1 },
      chunks: [],
      pauseMs: 0,
    });
    expectError(result, 413, 'BODY_TOO_LARGE');
  });

  it('a chunked body without Content-Length that grows over the limit → 413', async () => {
    const chunk = Buffer.from(`{"padding":"${'x'.repeat(1000)}",`);
    const result = await streamBody({
      headers: { ...JSON_HEADERS, 'transfer-encoding': 'chunked' },
      chunks: Array.from({ length: 20 }, () => chunk),
      pauseMs: 20,
    });
    expectError(result, 413, 'BODY_TOO_LARGE');
  });

  it('a review just under the limit is still answered', async () => {
    const review = podReview();
    const base = JSON.stringify(review).length;
    review.request.object.metadata.labels.padding = 'x'.repeat(MAX_BODY - base - 40);
    const body = JSON.stringify(review);
    expect(body.length).toBeLessThanOrEqual(MAX_BODY);
    const result = await post(body);
    expect(result.status).toBe(200);
  });
});

describe('clients that go away', () => {
  it('a client that aborts mid-body does not crash the server', async () => {
    const full = Buffer.from(JSON.stringify(podReview()));
    const before = hook.logs.entries().length;
    await new Promise<void>((resolve) => {
      const req = httpsRequest(
        tlsRequestOptions(hook, { method: 'POST', path: '/mutate', headers: { ...JSON_HEADERS, 'content-length': full.length } }),
      );
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(full.subarray(0, full.length >> 1), () => {
        // Give the server time to start reading, then vanish.
        setTimeout(() => req.destroy(), 100);
      });
    });
    // The server noticed (or at least survived); the afterEach proves it still answers.
    await waitFor('the server to stay up after the abort', async () => ((await hook.request({ path: '/healthz' })).status === 200 ? true : undefined));
    expect(hook.logs.entries().slice(before).filter((e) => e['level'] === 'error' || e['level'] === 'fatal')).toEqual([]);
  });

  it('many aborted requests in a row leave the server serving', async () => {
    const full = Buffer.from(JSON.stringify(podReview()));
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        new Promise<void>((resolve) => {
          const req = httpsRequest(
            tlsRequestOptions(hook, { method: 'POST', path: '/mutate', headers: { ...JSON_HEADERS, 'content-length': full.length } }),
          );
          req.on('error', () => resolve());
          req.on('close', () => resolve());
          req.write(full.subarray(0, 100 * (i + 1)), () => setTimeout(() => req.destroy(), 20));
        }),
      ),
    );
    expect((await hook.request({ path: '/healthz' })).status).toBe(200);
  });
});
