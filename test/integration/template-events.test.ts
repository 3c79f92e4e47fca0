// A templates directory that turns invalid after start is told as an Event on
// the webhook's own Pod (named by POD_NAME, POD_NAMESPACE and POD_UID, as the
// chart's downward API sets them): the in-process webhook against a fake API
// that keeps the Events POSTed to it. Once per distinct problem set, a Normal
// Event on recovery, and none at all without the Pod's identity.
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeNamespaceApi, type FakeNamespaceApi } from '../support/fake-namespace-api.js';
import { sample } from '../support/metrics.js';
import { TempDirs } from '../support/temp.js';
import { waitFor } from '../support/wait.js';
import { startTestWebhook, type TestWebhook } from '../support/webhook.js';

jest.setTimeout(60_000);

const POD = { POD_NAME: 'si-sidecar-injector-7c9d-x2x4q', POD_NAMESPACE: 'injector', POD_UID: '5a1c1f43-7d0e-4b8e-9a57-0c7d2f7f4b10' };

const temps = new TempDirs();
let api: FakeNamespaceApi | undefined;
let hook: TestWebhook | undefined;

afterEach(async () => {
  await hook?.stop();
  await api?.close();
  hook = undefined;
  api = undefined;
});

afterAll(async () => {
  await temps.cleanup();
});

async function start(env: Record<string, string>): Promise<{ api: FakeNamespaceApi; hook: TestWebhook }> {
  api = await startFakeNamespaceApi(temps);
  hook = await startTestWebhook(temps, { flags: ['--kubeconfig', api.kubeconfigPath, '--no-cluster-templates'], env });
  const running = hook;
  await waitFor('the webhook to be ready', async () => ((await running.request({ path: '/readyz' })).status === 200 ? true : undefined));
  return { api, hook };
}

async function failedReloads(hook: TestWebhook): Promise<number> {
  return sample(await hook.webhook.metrics.registry.metrics(), 'sidecar_injector_template_reloads_total', { result: 'failure' }) ?? 0;
}

/** Rewrites the file and waits until the webhook has read it again (and failed). */
async function breakAndWait(hook: TestWebhook, file: string, text: string): Promise<void> {
  const before = await failedReloads(hook);
  await writeFile(file, text);
  await waitFor('a failed reload', async () => ((await failedReloads(hook)) > before ? true : undefined));
}

const reasons = (api: FakeNamespaceApi) => api.events.map((e) => e['reason']);

describe('template Events on the webhook Pod', () => {
  it('a Warning naming file, template and field on the Pod, once per problem set, and a Normal one when fixed', async () => {
    const { api, hook } = await start(POD);
    const file = join(hook.templatesDir, 'log-collector.yaml');
    const good = await readFile(file, 'utf8');
    const noImage = good.replace(/^( {6})image: /m, '$1imageRef: ');
    expect(noImage).not.toBe(good);

    await breakAndWait(hook, file, noImage);
    const [first] = await waitFor('the TemplatesInvalid Event', async () => (api.events.length > 0 ? api.events : undefined));
    expect(first).toMatchObject({
      metadata: { namespace: POD.POD_NAMESPACE },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: POD.POD_NAME, namespace: POD.POD_NAMESPACE, uid: POD.POD_UID },
      type: 'Warning',
      reason: 'TemplatesInvalid',
      source: { component: 'sidecar-injector' },
    });
    expect(first?.['message']).toContain('the last good set (revision ');
    expect(first?.['message']).toContain(`${file}: template "log-collector": spec.containers[0].image: is required`);

    // The same broken file read again (an editor's second write): no second Event.
    await breakAndWait(hook, file, `${noImage}\n`);
    // A different problem is a new Event.
    await breakAndWait(hook, file, noImage.replace(/^( {4}- )name: log-collector$/m, '$1name: Log_Collector'));
    await waitFor('a second TemplatesInvalid Event', async () => (api.events.length >= 2 ? true : undefined));
    expect(String(api.events[1]?.['message'])).toContain('template "log-collector": spec.containers[0]');
    expect(String(api.events[1]?.['message'])).not.toBe(String(first?.['message']));

    await writeFile(file, good);
    await waitFor('the TemplatesLoaded Event', async () => (api.events.length >= 3 ? true : undefined));
    expect(reasons(api)).toEqual(['TemplatesInvalid', 'TemplatesInvalid', 'TemplatesLoaded']);
    expect(api.events[2]).toMatchObject({ type: 'Normal', involvedObject: { kind: 'Pod', name: POD.POD_NAME } });
    expect(sample(await hook.webhook.metrics.registry.metrics(), 'sidecar_injector_events_total', { reason: 'TemplatesInvalid', result: 'created' })).toBe(2);
  });

  it('without the Pod identity (running locally) no Event is attempted and nothing fails', async () => {
    const { api, hook } = await start({});
    const file = join(hook.templatesDir, 'log-collector.yaml');
    const good = await readFile(file, 'utf8');
    await breakAndWait(hook, file, good.replace(/^( {6})image: /m, '$1imageRef: '));
    expect((await hook.request({ path: '/readyz' })).status).toBe(200);
    expect(api.events).toEqual([]);
    expect(hook.logs.entries().some((e) => String(e['msg']).startsWith('POD_NAME, POD_NAMESPACE or POD_UID not set'))).toBe(true);
  });
});
