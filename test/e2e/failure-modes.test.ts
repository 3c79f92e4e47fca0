// End to end, the webhook among other admission plugins and when it fails:
// reinvocation beside a second mutating webhook, the webhook down, and the
// webhook slower than timeoutSeconds. Assertions are on what the apiserver
// stored or returned (plus, for reinvocation, the calls each webhook received).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { ServeProcess } from '../support/serve-process.js';
import { waitFor } from '../support/wait.js';
import { startDelayProxy } from './support/delay-proxy.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { admissionsFor, mutateUrl, registerWebhook, waitUntilCalled } from './support/injector.js';
import {
  asked,
  container,
  containerNames,
  countNames,
  initContainerNames,
  injectionStatus,
  mountPaths,
  podManifest,
  SA_TOKEN_PATH,
  STATUS_ANNOTATION,
  uniqueSuffix,
  volumeNames,
  type Kube,
} from './support/kube.js';
import {
  SECOND_WEBHOOK_LABEL,
  SECOND_WEBHOOK_LABEL_VALUE,
  SECOND_WEBHOOK_NAMESPACE_LABEL,
  secondWebhookConfiguration,
  startSecondWebhook,
} from './support/second-webhook.js';

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

describe('reinvocation (IfNeeded) beside a second mutating webhook', () => {
  it('h. the stored pod has every injected container and volume once, the other webhook\'s label, and the injector was called twice', async () => {
    const e = env as E2eEnvironment;
    const second = await startSecondWebhook();
    // "zz-…" sorts after "sidecar-injector": the apiserver calls our webhook first.
    const secondName = `zz-second-webhook-${uniqueSuffix()}`;
    const removeSecond = async (): Promise<void> => {
      await kube.kubectl(['delete', 'mutatingwebhookconfiguration', secondName, '--ignore-not-found']);
      await second.close();
    };
    e.onStop(removeSecond);
    await kube.mustApply(secondWebhookConfiguration(secondName, second.url, second.caPem));
    try {
      const namespace = await kube.createNamespace('e2e-h', { labels: { [SECOND_WEBHOOK_NAMESPACE_LABEL]: 'enabled' } });
      await waitFor(
        'the apiserver to call the second webhook',
        async () => {
          await kube.apply(podManifest({ name: 'probe', namespace }), ['--dry-run=server']);
          return second.calls.some((c) => c.namespace === namespace) ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );

      const templates = 'log-collector,egress-logger,http-prober';
      // With a label already there, the second webhook adds its own at
      // /metadata/labels/e2e.example~1second-webhook (an escaped JSON pointer).
      const labels = { app: 'twice' };
      const result = await kube.apply(podManifest({ name: 'twice', namespace, labels, annotations: asked(templates) }));
      expect(result).toMatchObject({ code: 0 });

      const pod = await kube.readPod(namespace, 'twice');
      expect(countNames([...containerNames(pod), ...initContainerNames(pod)])).toEqual({
        app: 1,
        'log-collector': 1,
        'http-prober': 1,
        'egress-logger': 1,
      });
      const volumes = countNames(volumeNames(pod));
      expect(volumes['shared-logs']).toBe(1);
      expect(Object.values(volumes).every((n) => n === 1)).toBe(true);
      expect(injectionStatus(pod)?.templates.map((t) => t.name).sort()).toEqual(['egress-logger', 'http-prober', 'log-collector']);
      expect(pod.metadata?.labels).toEqual({ ...labels, [SECOND_WEBHOOK_LABEL]: SECOND_WEBHOOK_LABEL_VALUE });

      // Measured at the injector: its "admission" log lines for this pod (one per call).
      const calls = await waitFor(
        'the injector to log its calls for the pod',
        () => {
          const lines = admissionsFor(injector, namespace, 'twice').filter((l) => !l.dryRun);
          return lines.length >= 2 ? lines : undefined;
        },
        { timeoutMs: 5_000 },
      );
      expect(calls[0]?.outcome).toBe('injected');
      for (const reinvocation of calls.slice(1)) expect(reinvocation).toMatchObject({ outcome: 'skipped', reason: 'already_injected' });
      // Measured at the second webhook: round 1 saw the injector's sidecars without the
      // ServiceAccount token mount; round 2 (after the ServiceAccount plugin re-ran) with it.
      const secondCalls = second.calls.filter((c) => c.namespace === namespace && c.pod === 'twice');
      expect(secondCalls.length).toBeGreaterThanOrEqual(2);
      // All three are native sidecars: log-collector and egress-logger (before) as asked, http-prober (after) last.
      expect(secondCalls[0]).toMatchObject({ initContainers: ['log-collector', 'egress-logger', 'http-prober'], containers: ['app'], hadLabel: false });
      expect(secondCalls[0]?.tokenMounted).toEqual(['app']);
      expect(secondCalls[1]?.hadLabel).toBe(true);
      expect(secondCalls[1]?.tokenMounted.sort()).toEqual(['app', 'egress-logger', 'http-prober', 'log-collector']);

      // Observed on this apiserver: in round 2 the ServiceAccount admission plugin mounted
      // the token into every injected sidecar too (exactly once each).
      for (const name of ['app', 'log-collector', 'http-prober', 'egress-logger']) {
        expect({ name, tokenMounts: mountPaths(container(pod, name)).filter((p) => p === SA_TOKEN_PATH).length }).toEqual({ name, tokenMounts: 1 });
      }
    } finally {
      await removeSecond();
    }
  });
});

// The apiserver validates a pod after the mutating webhooks, so the webhook
// sees invalid pods; it lets them through untouched, and their creator reads
// the apiserver's own validation error rather than "failed calling webhook".
describe('an invalid pod (failurePolicy Fail)', () => {
  const createInvalid = async (name: string, spoil: (spec: Record<string, unknown>) => void): Promise<{ namespace: string; stderr: string }> => {
    const namespace = await kube.createNamespace('e2e-invalid');
    await waitUntilCalled(kube, injector, namespace);
    const manifest = podManifest({ name, namespace, annotations: asked('log-collector') });
    spoil(manifest['spec'] as Record<string, unknown>);
    // create, not apply: kubectl apply fails on its own on a container without its merge key.
    const result = await kube.kubectl(['create', '-f', '-'], { input: JSON.stringify(manifest) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).not.toContain('failed calling webhook');
    expect(await kube.podExists(namespace, name)).toBe(false);
    const lines = await waitFor(`the admission log line of ${name}`, () => {
      const found = admissionsFor(injector, namespace, name);
      return found.length > 0 ? found : undefined;
    });
    // Called with the invalid pod, once, and let through without a patch.
    expect(lines).toEqual([expect.objectContaining({ outcome: 'skipped', reason: 'invalid_pod', problems: ['invalid_pod'] })]);
    return { namespace, stderr: result.stderr };
  };

  it('a container without a name: spec.containers[0].name: Required value', async () => {
    const { stderr } = await createInvalid('nameless', (spec) => delete (spec['containers'] as Array<Record<string, unknown>>)[0]!['name']);
    expect(stderr).toContain('spec.containers[0].name: Required value');
  });

  it('no containers at all (sent as containers: null): spec.containers: Required value', async () => {
    const { stderr } = await createInvalid('empty', (spec) => delete spec['containers']);
    expect(stderr).toContain('spec.containers: Required value');
  });
});

describe('failurePolicy Fail with the webhook down, and timeouts', () => {
  it('i1. webhook stopped: pods that asked are refused, others are created; after a restart on the same address injection resumes', async () => {
    const e = env as E2eEnvironment;
    const namespace = await kube.createNamespace('e2e-i');

    process.kill(injector.pid, 'SIGTERM');
    expect(await injector.waitForExit(30_000)).toEqual({ code: 0, signal: null });

    const refused = await kube.apply(podManifest({ name: 'asks', namespace, annotations: asked('log-collector') }));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('failed calling webhook "pod.sidecar.example"');
    expect(await kube.podExists(namespace, 'asks')).toBe(false);

    // A pod that did not ask never reaches the webhook (namespace selector + matchConditions).
    const plain = await kube.apply(podManifest({ name: 'plain', namespace }));
    expect(plain).toMatchObject({ code: 0 });
    expect(containerNames(await kube.readPod(namespace, 'plain'))).toEqual(['app']);

    // In an opted-in namespace every pod asks implicitly, except one that opts out.
    const optedIn = await kube.createOptedInNamespace('e2e-i-in', 'log-collector');
    const implicit = await kube.apply(podManifest({ name: 'implicit', namespace: optedIn }));
    expect(implicit.code).not.toBe(0);
    expect(implicit.stderr).toContain('failed calling webhook "namespace.sidecar.example"');
    const optedOut = await kube.apply(podManifest({ name: 'opted-out', namespace: optedIn, annotations: asked('false') }));
    expect(optedOut).toMatchObject({ code: 0 });
    expect(containerNames(await kube.readPod(optedIn, 'opted-out'))).toEqual(['app']);

    injector = await e.startInjector([], { port: injector.port, certDir: injector.certDir, templatesDir: injector.templatesDir });
    await waitUntilCalled(kube, injector, namespace);
    expect(await kube.apply(podManifest({ name: 'asks', namespace, annotations: asked('log-collector') }))).toMatchObject({ code: 0 });
    const asks = await kube.readPod(namespace, 'asks');
    expect(containerNames(asks)).toEqual(['app']);
    expect(initContainerNames(asks)).toEqual(['log-collector']);
  });

  it('i2. a webhook slower than timeoutSeconds: Fail refuses with a timeout, Ignore admits the pod without sidecars', async () => {
    const e = env as E2eEnvironment;
    const namespace = await kube.createNamespace('e2e-i-slow');
    const proxy = await startDelayProxy(injector.port, 3_000);
    e.onStop(() => proxy.close());
    const viaProxy = { url: mutateUrl(proxy.port), caBundlePem: injector.ca, timeoutSeconds: 1 };
    try {
      await registerWebhook(kube, { ...viaProxy, failurePolicy: 'Fail' });
      const before = proxy.connections();
      await waitFor(
        'the apiserver to call the webhook through the delaying proxy',
        async () => {
          await kube.apply(podManifest({ name: 'probe', namespace, annotations: asked('log-collector') }), ['--dry-run=server']);
          return proxy.connections() > before ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );

      const refused = await kube.apply(podManifest({ name: 'slow', namespace, annotations: asked('log-collector') }));
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('failed calling webhook "pod.sidecar.example"');
      expect(refused.stderr).toContain('context deadline exceeded');
      expect(await kube.podExists(namespace, 'slow')).toBe(false);

      await registerWebhook(kube, { ...viaProxy, failurePolicy: 'Ignore' });
      await waitFor(
        'the apiserver to apply failurePolicy Ignore',
        async () => {
          const dry = await kube.apply(podManifest({ name: 'probe', namespace, annotations: asked('log-collector') }), ['--dry-run=server']);
          return dry.code === 0 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      const admitted = await kube.apply(podManifest({ name: 'slow', namespace, annotations: asked('log-collector') }));
      expect(admitted).toMatchObject({ code: 0 });
      const pod = await kube.readPod(namespace, 'slow');
      expect(containerNames(pod)).toEqual(['app']);
      expect(initContainerNames(pod)).toEqual([]);
      expect(volumeNames(pod)).not.toContain('shared-logs');
      expect(pod.metadata?.annotations?.[STATUS_ANNOTATION]).toBeUndefined();
    } finally {
      await proxy.close();
      await registerWebhook(kube, { url: mutateUrl(injector.port), caBundlePem: injector.ca, failurePolicy: 'Fail' });
    }
  });
});
