// End to end against a real kube-apiserver (control plane only): the pod the
// apiserver stores when a second mutating webhook adds an application
// container after the injector (reinvocationPolicy IfNeeded), and when the
// pod is created with a sidecar.example/status record of its own.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { ServeProcess } from '../support/serve-process.js';
import { waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { admissionsFor, type AdmissionLogLine } from './support/injector.js';
import {
  asked,
  container,
  containerNames,
  countNames,
  envValue,
  initContainerNames,
  injectionStatus,
  podManifest,
  STATUS_ANNOTATION,
  uniqueSuffix,
  volumeNames,
  type Kube,
} from './support/kube.js';
import { SECOND_WEBHOOK_NAMESPACE_LABEL, secondWebhookConfiguration, startSecondWebhook } from './support/second-webhook.js';

jest.setTimeout(120_000);

let env: E2eEnvironment | undefined;
let kube: Kube;
let injector: ServeProcess;

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  injector = await env.startRegisteredInjector({ failurePolicy: 'Fail', reinvocationPolicy: 'IfNeeded' });
}, 180_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

/** The injector's log lines for one pod once there are at least `count` (dry runs left out). */
function callsFor(namespace: string, pod: string, count: number): Promise<AdmissionLogLine[]> {
  return waitFor(
    `${count} admission log lines of the injector for ${namespace}/${pod}`,
    () => {
      const lines = admissionsFor(injector, namespace, pod).filter((l) => !l.dryRun);
      return lines.length >= count ? lines : undefined;
    },
    { timeoutMs: 5_000 },
  );
}

const ADDED = 'added-by-webhook';
const PROXY = 'http://127.0.0.1:15001';

describe('reinvocation: a second webhook adds an application container after the injector', () => {
  let namespace: string;

  beforeAll(async () => {
    const e = env as E2eEnvironment;
    const second = await startSecondWebhook({ addContainer: { name: ADDED, image: 'registry.example/agent:1.0' } });
    // "zz-…" sorts after "sidecar-injector": the apiserver calls the injector first.
    const name = `zz-second-webhook-${uniqueSuffix()}`;
    e.onStop(async () => {
      await kube.kubectl(['delete', 'mutatingwebhookconfiguration', name, '--ignore-not-found']);
      await second.close();
    });
    await kube.mustApply(secondWebhookConfiguration(name, second.url, second.caPem));
    namespace = await kube.createNamespace('e2e-reinvoke', { labels: { [SECOND_WEBHOOK_NAMESPACE_LABEL]: 'enabled' } });
    await waitFor(
      'the apiserver to call the second webhook',
      async () => {
        await kube.apply(podManifest({ name: 'probe', namespace }), ['--dry-run=server']);
        return second.calls.some((c) => c.namespace === namespace) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  });

  // Every built-in template that adds something to the application's containers.
  const cases = [
    {
      template: 'log-collector',
      check: (added: ReturnType<typeof container>) =>
        expect(added?.volumeMounts?.filter((m) => m.mountPath === '/var/log/app')).toEqual([{ name: 'shared-logs', mountPath: '/var/log/app' }]),
    },
    {
      template: 'egress-logger',
      check: (added: ReturnType<typeof container>) => {
        for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'EGRESS_LOGGER_URL']) expect({ name, value: envValue(added, name) }).toEqual({ name, value: PROXY });
        expect(envValue(added, 'NO_PROXY')).toBe('localhost,127.0.0.1,.svc,.cluster.local');
      },
    },
    {
      template: 'http-interceptor',
      check: (added: ReturnType<typeof container>) => expect(envValue(added, 'HTTP_INTERCEPTOR_URL')).toBe('http://localhost:7979'),
    },
  ];

  it.each(cases)('$template: the added container has its mounts and env, once; the sidecar and the record as injected', async ({ template, check }) => {
    const name = `with-${template}`;
    expect(await kube.apply(podManifest({ name, namespace, annotations: asked(template) }))).toMatchObject({ code: 0 });

    const pod = await kube.readPod(namespace, name);
    expect(containerNames(pod)).toEqual(['app', ADDED]);
    expect(initContainerNames(pod)).toEqual([template]);
    const added = container(pod, ADDED);
    check(added);
    // The same as the application container that was there in the first round, and nothing twice.
    expect(added?.env ?? []).toEqual(container(pod, 'app')?.env ?? []);
    expect(Object.values(countNames((added?.volumeMounts ?? []).map((m) => m.mountPath))).every((n) => n === 1)).toBe(true);
    expect(injectionStatus(pod)?.templates.map((t) => t.name)).toEqual([template]);
    expect(JSON.parse(pod.metadata?.annotations?.[STATUS_ANNOTATION] ?? '{}')).toMatchObject({ containers: [], initContainers: [template] });

    // Measured at the injector: the first call injected, the reinvocation completed the new container.
    const calls = await callsFor(namespace, name, 2);
    expect(calls[0]).toMatchObject({ outcome: 'injected', templates: [template] });
    expect(calls[1]).toMatchObject({ outcome: 'skipped', reason: 'already_injected', completed: [template] });
  });
});

describe('a status record is checked, not trusted', () => {
  it('a pod created with a hand-written record naming log-collector gets log-collector, a warning of at most 120 characters, and a true record', async () => {
    const namespace = await kube.createNamespace('e2e-forged');
    const forged = JSON.stringify({ templates: [{ name: 'log-collector', version: '2.0.0' }], initContainers: ['log-collector'], volumes: ['shared-logs'] });
    const result = await kube.apply(podManifest({ name: 'forged', namespace, annotations: { ...asked('log-collector'), [STATUS_ANNOTATION]: forged } }));
    expect(result.code).toBe(0);
    const warnings = result.stderr.split('\n').filter((l) => l.startsWith('Warning: '));
    expect(warnings).toEqual(['Warning: sidecar-injector: sidecar.example/status names containers or volumes the pod lacks; discarded']);
    for (const warning of warnings) expect(warning.slice('Warning: '.length).length).toBeLessThanOrEqual(120);

    const pod = await kube.readPod(namespace, 'forged');
    expect(initContainerNames(pod)).toEqual(['log-collector']);
    expect(countNames(volumeNames(pod))['shared-logs']).toBe(1);
    expect(container(pod, 'app')?.volumeMounts?.some((m) => m.name === 'shared-logs' && m.mountPath === '/var/log/app')).toBe(true);
    expect(JSON.parse(pod.metadata?.annotations?.[STATUS_ANNOTATION] ?? '{}')).toEqual({
      templates: [{ name: 'log-collector', version: '2.0.0' }],
      containers: [],
      initContainers: ['log-collector'],
      volumes: ['shared-logs'],
    });
    const [call] = await callsFor(namespace, 'forged', 1);
    expect(call).toMatchObject({ outcome: 'injected', problems: ['invalid_status'], problemDetails: ['invalid_status: init container "log-collector" is not in the pod'] });
  });

  it('a malformed record is replaced when the template is injected, and removed when nothing is', async () => {
    const namespace = await kube.createNamespace('e2e-malformed');
    const malformed = '{"templates":[{"name":"log-collector"';
    const injected = await kube.apply(podManifest({ name: 'replaced', namespace, annotations: { ...asked('log-collector'), [STATUS_ANNOTATION]: malformed } }));
    expect(injected.code).toBe(0);
    expect(injected.stderr).toContain('Warning: sidecar-injector: sidecar.example/status is not valid JSON; discarded');
    const pod = await kube.readPod(namespace, 'replaced');
    expect(initContainerNames(pod)).toEqual(['log-collector']);
    expect(injectionStatus(pod)?.templates.map((t) => t.name)).toEqual(['log-collector']);

    const nothing = await kube.apply(podManifest({ name: 'removed', namespace, annotations: { ...asked('no-such-template'), [STATUS_ANNOTATION]: malformed } }));
    expect(nothing.code).toBe(0);
    expect(nothing.stderr).toContain('sidecar.example/status is not valid JSON; discarded');
    const untouched = await kube.readPod(namespace, 'removed');
    expect(initContainerNames(untouched)).toEqual([]);
    expect(untouched.metadata?.annotations?.[STATUS_ANNOTATION]).toBeUndefined();
  });
});
