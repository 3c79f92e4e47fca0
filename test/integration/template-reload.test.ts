// Template hot reload as a client sees it: a new file is picked up by the
// directory watch (--reload-poll 0), a bad one keeps the last good set.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import { writeProjectedVolume } from '../support/atomic-writer.js';
import { parseJson } from '../support/http.js';
import { TEMPLATES_DIR } from '../support/paths.js';
import { sample } from '../support/metrics.js';
import { decodePatch, podReview, type Json } from '../support/reviews.js';
import { TempDirs } from '../support/temp.js';
import { waitFor } from '../support/wait.js';
import { startTestWebhook, type TestWebhook } from '../support/webhook.js';

jest.setTimeout(30_000);

const NEW_TEMPLATE = `apiVersion: sidecar.example/v1alpha1
kind: SidecarTemplate
metadata:
  name: stdout-echo
spec:
  version: "2.0.0"
  mode: regular
  position: after
  containers:
    - name: stdout-echo
      image: docker.io/library/busybox:1.37
      command: ["/bin/sh", "-c", "echo hello from {{ pod.namespace }}; sleep infinity"]
`;

const INVALID_TEMPLATE = `apiVersion: sidecar.example/v1alpha1
kind: SidecarTemplate
metadata:
  name: half-written
spec:
  containers:
    - name: Not_A_DNS_Label
      image: docker.io/library/busybox:1.37
`;

const temps = new TempDirs();
let hook: TestWebhook;

afterAll(async () => {
  await temps.cleanup();
});

/** The pod's container and init container names after the webhook's patch; undefined when nothing is injected. */
async function injected(templates: string): Promise<{ containers: string[]; initContainers: string[] } | undefined> {
  const review = podReview({ inject: templates });
  const response = (await hook.review(review)).response;
  if (response.patch === undefined) return undefined;
  const pod = jsonpatch.applyPatch(structuredClone(review.request.object), decodePatch(response.patch), true, false).newDocument;
  return { containers: pod.spec.containers.map((c: Json) => c.name), initContainers: (pod.spec.initContainers ?? []).map((c: Json) => c.name) };
}

/** The pod's container names after the webhook's patch (where the regular-mode test templates go). */
async function injectedContainers(templates: string): Promise<string[] | undefined> {
  return (await injected(templates))?.containers;
}

// log-collector is a native sidecar: an init container next to the unchanged app container.
const LOG_COLLECTOR_INJECTED = { containers: ['web'], initContainers: ['log-collector'] };

async function metrics(): Promise<string> {
  return (await hook.request({ path: '/metrics' })).body;
}

describe('a plain directory, files written in place or renamed in', () => {
  beforeAll(async () => {
    hook = await startTestWebhook(temps);
  });

  afterAll(async () => {
    await hook?.stop();
  });

  it('starts with the four built-in templates and no stdout-echo', async () => {
    expect(await injectedContainers('stdout-echo')).toBeUndefined();
    expect(parseJson<{ templates: string[] }>(await hook.request({ path: '/readyz' })).templates).toEqual([
      'egress-logger',
      'http-interceptor',
      'http-prober',
      'log-collector',
    ]);
  });

  it('injects a template added to the directory while running', async () => {
    // Written next to the directory, then renamed in, as kubelet does for ConfigMap volumes.
    const staging = join(hook.templatesDir, '.stdout-echo.yaml.tmp');
    await writeFile(staging, NEW_TEMPLATE);
    await rename(staging, join(hook.templatesDir, 'stdout-echo.yaml'));

    const containers = await waitFor('stdout-echo to be injected', () => injectedContainers('stdout-echo'), { timeoutMs: 15_000 });
    expect(containers).toEqual(['web', 'stdout-echo']);
    const readiness = parseJson<{ templates: string[] }>(await hook.request({ path: '/readyz' }));
    expect(readiness.templates).toContain('stdout-echo');
    expect(hook.logs.withMessage('templates loaded').some((e) => (e['templates'] as string[]).includes('stdout-echo'))).toBe(true);
  });

  it('keeps the last good set when an invalid template file appears, and says why', async () => {
    const failuresBefore = sample(await metrics(), 'sidecar_injector_template_reloads_total', { result: 'failure' }) ?? 0;
    await writeFile(join(hook.templatesDir, 'half-written.yaml'), INVALID_TEMPLATE);

    await waitFor('a failed template reload in the metrics', async () => {
      const failures = sample(await metrics(), 'sidecar_injector_template_reloads_total', { result: 'failure' }) ?? 0;
      return failures > failuresBefore ? failures : undefined;
    });

    // The set in force is the last good one: the added template still injects, the bad one does not.
    expect(await injectedContainers('stdout-echo')).toEqual(['web', 'stdout-echo']);
    expect(await injected('log-collector')).toEqual(LOG_COLLECTOR_INJECTED);
    expect(await injectedContainers('half-written')).toBeUndefined();
    const result = await hook.request({ path: '/readyz' });
    expect(result.status).toBe(200);
    expect(parseJson<{ templates: string[] }>(result).templates).toEqual([
      'egress-logger',
      'http-interceptor',
      'http-prober',
      'log-collector',
      'stdout-echo',
    ]);

    const rejected = hook.logs.withMessage('templates rejected; the last good set stays in force');
    expect(rejected.length).toBeGreaterThan(0);
    expect(JSON.stringify(rejected.at(-1))).toContain('half-written.yaml');
    expect(JSON.stringify(rejected.at(-1))).toContain('spec.containers[0].name');
  });

  it('accepts the set again once the bad file is fixed', async () => {
    await writeFile(join(hook.templatesDir, 'half-written.yaml'), INVALID_TEMPLATE.replace('Not_A_DNS_Label', 'half-written'));
    const containers = await waitFor('half-written to be injected after the fix', () => injectedContainers('half-written'));
    expect(containers).toEqual(['web', 'half-written']);
  });
});

describe('a mounted ConfigMap (kubelet swaps the ..data symlink)', () => {
  const builtIns: Record<string, string> = {};

  beforeAll(async () => {
    for (const name of ['egress-logger.yaml', 'http-interceptor.yaml', 'http-prober.yaml', 'log-collector.yaml']) {
      builtIns[name] = await readFile(join(TEMPLATES_DIR, name), 'utf8');
    }
    const templatesDir = await temps.make('configmap');
    await writeProjectedVolume(templatesDir, builtIns);
    hook = await startTestWebhook(temps, { templatesDir });
  });

  afterAll(async () => {
    await hook?.stop();
  });

  it('loads the templates through the symlinks', async () => {
    expect(await injected('log-collector')).toEqual(LOG_COLLECTOR_INJECTED);
  });

  it('picks up a ConfigMap update that adds a template', async () => {
    await writeProjectedVolume(hook.templatesDir, { ...builtIns, 'stdout-echo.yaml': NEW_TEMPLATE });
    const containers = await waitFor('stdout-echo to be injected', () => injectedContainers('stdout-echo'));
    expect(containers).toEqual(['web', 'stdout-echo']);
  });

  it('keeps the last good set when an update brings an invalid template', async () => {
    const failuresBefore = sample(await metrics(), 'sidecar_injector_template_reloads_total', { result: 'failure' }) ?? 0;
    await writeProjectedVolume(hook.templatesDir, { ...builtIns, 'stdout-echo.yaml': NEW_TEMPLATE, 'half-written.yaml': INVALID_TEMPLATE });
    await waitFor('a failed template reload in the metrics', async () => {
      const failures = sample(await metrics(), 'sidecar_injector_template_reloads_total', { result: 'failure' }) ?? 0;
      return failures > failuresBefore ? failures : undefined;
    });
    expect(await injectedContainers('stdout-echo')).toEqual(['web', 'stdout-echo']);
    expect((await hook.request({ path: '/readyz' })).status).toBe(200);
  });

  it('drops a template that an update removes', async () => {
    await writeProjectedVolume(hook.templatesDir, { 'log-collector.yaml': builtIns['log-collector.yaml'] as string });
    await waitFor('http-prober to be gone', async () => ((await injectedContainers('http-prober')) === undefined ? true : undefined));
    expect(parseJson<{ templates: string[] }>(await hook.request({ path: '/readyz' })).templates).toEqual(['log-collector']);
  });
});
