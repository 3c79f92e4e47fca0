// /healthz, /readyz and /metrics as a kubelet and a Prometheus scraper see them.
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, parseJson, plainGet } from '../support/http.js';
import { sample } from '../support/metrics.js';
import { podReview } from '../support/reviews.js';
import { TempDirs } from '../support/temp.js';
import { waitFor } from '../support/wait.js';
import { startTestWebhook, type TestWebhook } from '../support/webhook.js';

jest.setTimeout(30_000);

const temps = new TempDirs();

afterAll(async () => {
  await temps.cleanup();
});

interface Readiness {
  status: string;
  problems: string[];
  templates: string[];
}

describe('with valid templates', () => {
  let hook: TestWebhook;
  let metricsPort: number;

  beforeAll(async () => {
    metricsPort = await freePort();
    hook = await startTestWebhook(temps, { flags: ['--metrics-port', String(metricsPort)] });
  });

  afterAll(async () => {
    await hook?.stop();
  });

  it('GET /healthz → 200', async () => {
    const result = await hook.request({ path: '/healthz' });
    expect(result.status).toBe(200);
  });

  it('GET /readyz → 200 listing the loaded templates', async () => {
    const result = await hook.request({ path: '/readyz' });
    expect(result.status).toBe(200);
    const body = parseJson<Readiness>(result);
    expect(body.templates).toEqual(['egress-logger', 'http-interceptor', 'http-prober', 'log-collector']);
    expect(body.problems).toEqual([]);
  });

  it('GET /metrics reflects the admissions made', async () => {
    // This server is private to the describe block: its counters start from zero here.
    const before = (await hook.request({ path: '/metrics' })).body;
    expect(sample(before, 'sidecar_injector_injections_total', { template: 'log-collector' }) ?? 0).toBe(0);

    for (let i = 0; i < 3; i += 1) await hook.review(podReview());
    await hook.review(podReview({ inject: null }));
    await hook.review(podReview({ inject: 'no-such-sidecar' }));
    await hook.request({ method: 'POST', path: '/mutate', headers: { 'content-type': 'application/json' }, body: '{' });

    const result = await hook.request({ path: '/metrics' });
    expect(result.status).toBe(200);
    expect(result.headers['content-type']).toMatch(/^text\/plain/);
    const text = result.body;
    expect(sample(text, 'sidecar_injector_injections_total', { template: 'log-collector' })).toBe(3);
    expect(sample(text, 'sidecar_injector_admissions_total', { result: 'injected' })).toBe(3);
    const skipped = text
      .split('\n')
      .filter((line) => line.startsWith('sidecar_injector_admissions_total{') && line.includes('result="skipped"'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    expect(skipped).toBe(2);
    expect(sample(text, 'sidecar_injector_admission_duration_seconds_count', { result: 'injected' })).toBe(3);
    expect(sample(text, 'sidecar_injector_admission_duration_seconds_bucket', { result: 'injected', le: '+Inf' })).toBe(3);
    expect(sample(text, 'sidecar_injector_problems_total', { reason: 'unknown_template' })).toBe(1);
    expect(sample(text, 'sidecar_injector_bad_requests_total', { code: 'INVALID_JSON' })).toBe(1);
    expect(sample(text, 'sidecar_injector_templates_loaded')).toBe(4);

    const notAfter = new Date(new X509Certificate(await readFile(join(hook.certDir, 'tls.crt'))).validTo).getTime() / 1000;
    expect(sample(text, 'sidecar_injector_certificate_expiry_timestamp_seconds')).toBe(notAfter);
  });

  it('serves /metrics on the plain --metrics-port, and nothing else there', async () => {
    expect(hook.webhook.metricsPort).toBe(metricsPort);
    await hook.review(podReview());
    const result = await plainGet(metricsPort, '/metrics');
    expect(result.status).toBe(200);
    expect(sample(result.body, 'sidecar_injector_injections_total', { template: 'log-collector' })).toBeGreaterThanOrEqual(1);
    expect(result.body).toContain('sidecar_injector_admission_duration_seconds_bucket');
    expect((await plainGet(metricsPort, '/mutate')).status).toBe(404);
    expect((await plainGet(metricsPort, '/readyz')).status).toBe(404);
  });
});

const BROKEN_TEMPLATE = `apiVersion: sidecar.example/v1alpha1
kind: SidecarTemplate
metadata:
  name: broken
spec:
  version: "1.0.0"
  containers:
    - image: docker.io/library/busybox:1.37
`;

const FIXED_TEMPLATE = BROKEN_TEMPLATE.replace('    - image:', '    - name: fixed\n      image:');

describe('with an invalid template at startup', () => {
  let hook: TestWebhook;

  beforeAll(async () => {
    const templatesDir = await temps.copyOfTemplates();
    await writeFile(join(templatesDir, 'broken.yaml'), BROKEN_TEMPLATE);
    hook = await startTestWebhook(temps, { templatesDir });
  });

  afterEach(async () => {
    // Whatever the state, the process is alive.
    expect((await hook.request({ path: '/healthz' })).status).toBe(200);
  });

  afterAll(async () => {
    await hook?.stop();
  });

  it('/readyz → 503 naming the file, the template and the field', async () => {
    const result = await hook.request({ path: '/readyz' });
    expect(result.status).toBe(503);
    const body = parseJson<Readiness>(result);
    expect(body.templates).toEqual([]);
    const problems = body.problems.join('\n');
    expect(problems).toContain('broken.yaml');
    expect(problems).toContain('broken');
    expect(problems).toContain('spec.containers[0].name');
  });

  it('lets pods through uninjected while not ready (with no patch)', async () => {
    const response = (await hook.review(podReview())).response;
    expect(response.allowed).toBe(true);
    expect(response).not.toHaveProperty('patch');
  });

  it('/readyz → 200 once the file is fixed (hot reload, no restart)', async () => {
    await writeFile(join(hook.templatesDir, 'broken.yaml'), FIXED_TEMPLATE);
    const body = await waitFor('/readyz to turn 200 after fixing the template', async () => {
      const result = await hook.request({ path: '/readyz' });
      return result.status === 200 ? parseJson<Readiness>(result) : undefined;
    });
    expect(body.templates).toEqual(['broken', 'egress-logger', 'http-interceptor', 'http-prober', 'log-collector']);
    const response = (await hook.review(podReview({ inject: 'broken' }))).response;
    expect(response.patchType).toBe('JSONPatch');
  });
});
