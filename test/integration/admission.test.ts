// POST /mutate over real HTTPS: the AdmissionReview contract of
// ADMISSION-FACTS.md §2 as the apiserver would check it.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import jsonpatch from 'fast-json-patch';
import { Agent, request as httpsRequest } from 'node:https';
import { exampleReview, decodePatch, podReview, STATUS_ANNOTATION, type Json } from '../support/reviews.js';
import { TempDirs } from '../support/temp.js';
import { startTestWebhook, type TestWebhook } from '../support/webhook.js';

jest.setTimeout(30_000);

const temps = new TempDirs();

afterAll(async () => {
  await temps.cleanup();
});

function applyTo(object: Json, operations: Json[]): Json {
  return jsonpatch.applyPatch(structuredClone(object), operations, true, false).newDocument;
}

describe('POST /mutate with the default settings', () => {
  let hook: TestWebhook;

  beforeAll(async () => {
    hook = await startTestWebhook(temps);
  });

  afterAll(async () => {
    await hook?.stop();
  });

  it('injects log-collector into the example pod with a valid v1 AdmissionReview response', async () => {
    const review = exampleReview();
    const answer = await hook.review(review, '/mutate?timeout=10s');

    expect(answer.apiVersion).toBe('admission.k8s.io/v1');
    expect(answer.kind).toBe('AdmissionReview');
    const response = answer.response;
    expect(response.uid).toBe('705ab4f5-6393-11e8-b7cc-42010a800002');
    expect(response.allowed).toBe(true);
    expect(response.patchType).toBe('JSONPatch');
    expect(response.status).toBeUndefined();

    const operations = decodePatch(response.patch);
    expect(operations.length).toBeGreaterThan(0);
    const pod = applyTo(review.request.object, operations);
    // log-collector is a native sidecar: an init container with restartPolicy Always.
    expect(pod.spec.containers.map((c: Json) => c.name)).toEqual(['web']);
    expect(pod.spec.initContainers).toEqual([expect.objectContaining({ name: 'log-collector', restartPolicy: 'Always' })]);
    expect(pod.spec.volumes.map((v: Json) => v.name)).toEqual(['kube-api-access-x7k2p', 'shared-logs']);
    const web = pod.spec.containers[0];
    expect(web.volumeMounts).toContainEqual(expect.objectContaining({ name: 'shared-logs', mountPath: '/var/log/app' }));
    expect(JSON.parse(pod.metadata.annotations[STATUS_ANNOTATION]).templates).toEqual([
      expect.objectContaining({ name: 'log-collector' }),
    ]);
    // The rest of the pod is untouched.
    expect(pod.metadata.generateName).toBe('web-7d4b9c6f5-');
    expect(pod.spec.tolerations).toEqual(review.request.object.spec.tolerations);
  });

  it('accepts /mutate with and without the query string the apiserver appends', async () => {
    const withQuery = await hook.review(podReview({ uid: 'q-1' }), '/mutate?timeout=10s');
    const without = await hook.review(podReview({ uid: 'q-2' }), '/mutate');
    expect(withQuery.response.uid).toBe('q-1');
    expect(without.response.uid).toBe('q-2');
    expect(withQuery.response.patch).toBe(without.response.patch);
  });

  it('answers re-admission of its own output without a patch (idempotent over HTTPS)', async () => {
    const first = podReview();
    const injected = applyTo(first.request.object, decodePatch((await hook.review(first)).response.patch));
    const again = podReview();
    again.request.object = injected;
    const response = (await hook.review(again)).response;
    expect(response.allowed).toBe(true);
    expect(response).not.toHaveProperty('patch');
    expect(response).not.toHaveProperty('patchType');
  });

  describe('no-op answers carry neither patch nor patchType', () => {
    const cases: Array<[string, () => Json]> = [
      ['a pod without the inject annotation', () => podReview({ inject: null })],
      [
        'an UPDATE of a pod',
        () => {
          const review = podReview();
          review.request.operation = 'UPDATE';
          review.request.oldObject = structuredClone(review.request.object);
          review.request.options = { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1' };
          return review;
        },
      ],
      [
        'a pods/binding subresource CREATE',
        () => {
          const review = podReview();
          review.request.kind = { group: '', version: 'v1', kind: 'Binding' };
          review.request.subResource = 'binding';
          review.request.requestSubResource = 'binding';
          review.request.name = 'web-7d4b9c6f5-abcde';
          review.request.object = {
            kind: 'Binding',
            apiVersion: 'v1',
            metadata: { name: 'web-7d4b9c6f5-abcde', namespace: 'shop' },
            target: { kind: 'Node', name: 'node-1' },
          };
          return review;
        },
      ],
      [
        'a Deployment CREATE (even with the annotation on its pod template)',
        () => {
          const review = podReview();
          const pod = review.request.object;
          review.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
          review.request.resource = { group: 'apps', version: 'v1', resource: 'deployments' };
          review.request.requestKind = review.request.kind;
          review.request.requestResource = review.request.resource;
          review.request.name = 'web';
          review.request.object = {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: 'web', namespace: 'shop', annotations: pod.metadata.annotations },
            spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: pod.metadata, spec: pod.spec } },
          };
          return review;
        },
      ],
      [
        'a DELETE of a pod (object null)',
        () => {
          const review = podReview();
          review.request.operation = 'DELETE';
          review.request.oldObject = review.request.object;
          review.request.object = null;
          review.request.options = { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1' };
          return review;
        },
      ],
    ];

    it.each(cases)('%s', async (_name, build) => {
      const review = build();
      const answer = await hook.review(review);
      expect(answer.apiVersion).toBe('admission.k8s.io/v1');
      expect(answer.kind).toBe('AdmissionReview');
      expect(answer.response.uid).toBe(review.request.uid);
      expect(answer.response.allowed).toBe(true);
      expect(answer.response).not.toHaveProperty('patchType');
      expect(answer.response).not.toHaveProperty('patch');
    });
  });

  it('warns about an unknown template by name and still allows (and injects the known one)', async () => {
    const review = podReview({ inject: 'log-collector,no-such-sidecar' });
    const response = (await hook.review(review)).response;
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([expect.stringContaining('no-such-sidecar')]);
    const pod = applyTo(review.request.object, decodePatch(response.patch));
    expect(pod.spec.containers.map((c: Json) => c.name)).toEqual(['web']);
    expect(pod.spec.initContainers.map((c: Json) => c.name)).toEqual(['log-collector']);
  });

  it('warns and allows without a patch when only unknown templates are asked for', async () => {
    const response = (await hook.review(podReview({ inject: 'no-such-sidecar' }))).response;
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([expect.stringContaining('no-such-sidecar')]);
    expect(response).not.toHaveProperty('patch');
    expect(response).not.toHaveProperty('patchType');
  });

  it('answers 40 concurrent reviews, each with its own uid', async () => {
    const reviews = Array.from({ length: 40 }, () => podReview());
    const answers = await Promise.all(reviews.map((review) => hook.review(review)));
    expect(answers.map((a) => a.response.uid)).toEqual(reviews.map((r) => r.request.uid));
    expect(new Set(answers.map((a) => a.response.patch)).size).toBe(1);
  });

  it('gives a dryRun request exactly the same answer', async () => {
    const wet = (await hook.review(podReview({ uid: 'same-uid', dryRun: false }))).response;
    const dry = (await hook.review(podReview({ uid: 'same-uid', dryRun: true }))).response;
    expect(dry.patch).toBe(wet.patch);
    expect(dry).toEqual(wet);
  });
});

describe('POST /mutate with --on-problem deny', () => {
  let hook: TestWebhook;

  beforeAll(async () => {
    hook = await startTestWebhook(temps, { flags: ['--on-problem', 'deny'] });
  });

  afterAll(async () => {
    await hook?.stop();
  });

  it('denies a pod asking for an unknown template with 403 and a message naming it', async () => {
    const review = podReview({ inject: 'log-collector,no-such-sidecar' });
    const answer = await hook.review(review);
    const response = answer.response;
    expect(answer.apiVersion).toBe('admission.k8s.io/v1');
    expect(answer.kind).toBe('AdmissionReview');
    expect(response.uid).toBe(review.request.uid);
    expect(response.allowed).toBe(false);
    expect(response.status.code).toBe(403);
    expect(response.status.message).toContain('no-such-sidecar');
    expect(response).not.toHaveProperty('patch');
    expect(response).not.toHaveProperty('patchType');
  });

  it('still injects a pod whose request has no problem', async () => {
    const response = (await hook.review(podReview())).response;
    expect(response.allowed).toBe(true);
    expect(response.patchType).toBe('JSONPatch');
    expect(decodePatch(response.patch).length).toBeGreaterThan(0);
  });
});

describe('POST /mutate with --default-templates http-prober', () => {
  let hook: TestWebhook;

  beforeAll(async () => {
    hook = await startTestWebhook(temps, { flags: ['--default-templates', 'http-prober'] });
  });

  afterAll(async () => {
    await hook?.stop();
  });

  /** The names of the sidecars injected (the built-ins are native: init containers); the app containers stay as they were. */
  async function sidecarsAfter(inject: string | null): Promise<string[] | undefined> {
    const review = podReview({ inject });
    const response = (await hook.review(review)).response;
    expect(response.allowed).toBe(true);
    if (response.patch === undefined) {
      expect(response).not.toHaveProperty('patchType');
      return undefined;
    }
    const pod = applyTo(review.request.object, decodePatch(response.patch));
    expect(pod.spec.containers.map((c: Json) => c.name)).toEqual(['web']);
    return (pod.spec.initContainers ?? []).map((c: Json) => c.name);
  }

  it('injects the defaults into a pod without the annotation (its namespace opted in)', async () => {
    expect(await sidecarsAfter(null)).toEqual(['http-prober']);
  });

  it('injects the defaults for inject: "true"', async () => {
    expect(await sidecarsAfter('true')).toEqual(['http-prober']);
  });

  it('injects nothing for inject: "false"', async () => {
    expect(await sidecarsAfter('false')).toBeUndefined();
  });

  it('injects exactly the named templates when the pod names them', async () => {
    expect(await sidecarsAfter('log-collector')).toEqual(['log-collector']);
  });
});

describe('native sidecars', () => {
  let native: TestWebhook;
  let regular: TestWebhook;

  beforeAll(async () => {
    native = await startTestWebhook(temps);
    regular = await startTestWebhook(temps, { flags: ['--no-native-sidecars'] });
  });

  afterAll(async () => {
    await Promise.all([native?.stop(), regular?.stop()]);
  });

  it('injects egress-logger as an init container with restartPolicy Always by default', async () => {
    const review = podReview({ inject: 'egress-logger' });
    const pod = applyTo(review.request.object, decodePatch((await native.review(review)).response.patch));
    expect(pod.spec.initContainers).toEqual([expect.objectContaining({ name: 'egress-logger', restartPolicy: 'Always' })]);
    expect(pod.spec.containers.map((c: Json) => c.name)).toEqual(['web']);
    expect(pod.spec.containers[0].env).toContainEqual({ name: 'HTTP_PROXY', value: 'http://127.0.0.1:15001' });
  });

  it('injects it as a regular container with --no-native-sidecars', async () => {
    const review = podReview({ inject: 'egress-logger' });
    const pod = applyTo(review.request.object, decodePatch((await regular.review(review)).response.patch));
    expect(pod.spec.initContainers ?? []).toEqual([]);
    const names = pod.spec.containers.map((c: Json) => c.name);
    expect(names).toContain('egress-logger');
    expect(pod.spec.containers.find((c: Json) => c.name === 'egress-logger')).not.toHaveProperty('restartPolicy');
  });
});

describe('keep-alive connections, as the apiserver uses them', () => {
  let hook: TestWebhook;

  beforeAll(async () => {
    hook = await startTestWebhook(temps);
  });

  afterAll(async () => {
    await hook?.stop();
  });

  it('answers several reviews in a row on one connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    try {
      for (let i = 0; i < 5; i += 1) {
        const review = podReview();
        const body = JSON.stringify(review);
        const answer = await new Promise<Json>((resolve, reject) => {
          const req = httpsRequest(
            {
              host: '127.0.0.1',
              port: hook.port,
              ca: hook.ca,
              agent,
              method: 'POST',
              path: '/mutate?timeout=10s',
              headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
            },
            (res) => {
              sockets.add(res.socket);
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (text += chunk));
              res.on('end', () => resolve({ status: res.statusCode, review: JSON.parse(text) }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
        expect(answer.status).toBe(200);
        expect(answer.review.response.uid).toBe(review.request.uid);
        expect(answer.review.response.patchType).toBe('JSONPatch');
      }
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});
