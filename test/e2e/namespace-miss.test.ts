// A pod created right after its namespace, before the webhook's namespace
// informer has seen it. To make "before" certain, the webhook reaches the
// apiserver through a proxy (support/api-proxy.ts) that holds back everything
// its namespace watch receives: the informer lists once, then learns of no new
// namespace until the test releases the watch. Without the cache-miss read
// the pod below would be judged without its namespace's label and default
// templates, and stored without sidecars.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { send } from '../support/http.js';
import type { ServeProcess } from '../support/serve-process.js';
import { waitFor } from '../support/wait.js';
import { namespaceRead, namespaceWatch, startApiProxy, type ApiProxy, type Hold } from './support/api-proxy.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { admissionsFor, mutateUrl, registerWebhook, startInjector, waitUntilCalled, type AdmissionLogLine } from './support/injector.js';
import { containerNames, initContainerNames, injectionStatus, INJECT_ANNOTATION, podManifest, uniqueSuffix, type Kube } from './support/kube.js';
import { metricValue } from './support/metrics.js';
import { INJECTION_LABEL } from './support/webhook-configuration.js';

jest.setTimeout(120_000);

let env: E2eEnvironment | undefined;
let kube: Kube;
let proxy: ApiProxy;
let watch: Hold;
let injector: ServeProcess;

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  proxy = await startApiProxy(env.temps, env.controlPlane.kubeconfigPath);
  env.onStop(() => proxy.close());
  // Held before the webhook starts: its informer's first list passes, its watch delivers nothing.
  watch = proxy.hold(namespaceWatch);
  // No --default-templates: a pod judged without its namespace gets nothing.
  const serve = await startInjector(env.temps, proxy.kubeconfigPath, ['--no-cluster-templates']);
  injector = serve;
  env.onStop(() => serve.kill());
  await waitFor('the webhook to be ready (its namespace informer listed)', async () =>
    (await send(serve, { path: '/readyz' })).status === 200 ? true : undefined,
  );
  await registerWebhook(kube, { url: mutateUrl(serve.port), caBundlePem: serve.ca, failurePolicy: 'Fail' });
  await waitUntilCalled(kube, serve, await kube.createNamespace('warmup'));
}, 180_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

/** A namespace opted in by label whose default templates (annotation) are `templates`; not waited for. */
async function createOptedInNamespace(prefix: string, templates: string): Promise<string> {
  const name = `${prefix}-${uniqueSuffix()}`;
  await kube.core.createNamespace({ body: { metadata: { name, labels: { [INJECTION_LABEL]: 'enabled' }, annotations: { [INJECT_ANNOTATION]: templates } } } });
  return name;
}

/**
 * Creates an unannotated pod. The apiserver's ServiceAccount admission
 * plugin, which runs before webhooks, waits up to ~2 s for the namespace's
 * `default` ServiceAccount and refuses the pod if kube-controller-manager has
 * not made it by then; only that refusal is retried.
 */
async function createPlainPod(namespace: string, name: string): Promise<{ pod?: k8s.V1Pod; error?: string }> {
  const body = podManifest({ name, namespace }) as k8s.V1Pod;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return { pod: await kube.core.createNamespacedPod({ namespace, body }) };
    } catch (error) {
      const message = statusMessage(error);
      if (!message.includes('error looking up service account') || Date.now() > deadline) return { error: message };
    }
  }
}

/** The message of the Status the apiserver answered with. */
function statusMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body !== 'string') return String(error);
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}

/** The webhook's admission log lines about a pod, once there is one (the log is written in batches). */
function admissionLog(namespace: string, pod: string): Promise<AdmissionLogLine[]> {
  return waitFor(`the admission log line of ${namespace}/${pod}`, () => {
    const lines = admissionsFor(injector, namespace, pod);
    return lines.length > 0 ? lines : undefined;
  });
}

async function namespaceReads(result: string): Promise<number> {
  return metricValue(injector, `sidecar_injector_namespace_reads_total{result="${result}"}`);
}

describe('a pod created right after its namespace, which the webhook\'s informer has not seen', () => {
  it('gets the namespace\'s default templates: the webhook reads the namespace on the cache miss', async () => {
    const found = await namespaceReads('found');
    const namespace = await createOptedInNamespace('fresh', 'log-collector');
    const { pod, error } = await createPlainPod(namespace, 'web');
    expect(error).toBeUndefined();

    expect(initContainerNames(pod as k8s.V1Pod)).toEqual(['log-collector']);
    expect(containerNames(pod as k8s.V1Pod)).toEqual(['app']);
    expect(injectionStatus(pod as k8s.V1Pod)?.templates.map((t) => t.name)).toEqual(['log-collector']);
    // (With reinvocationPolicy IfNeeded a second call may follow: already_injected.)
    expect((await admissionLog(namespace, 'web'))[0]?.outcome).toBe('injected');
    expect(await namespaceReads('found')).toBeGreaterThan(found);
    // The watch did carry the namespace, and the informer had not been given it.
    expect(watch.heldText()).toContain(`"name":"${namespace}"`);
  });

  it('is refused when the namespace cannot be read within 1 s and failurePolicy is Fail (the chart\'s default)', async () => {
    const namespace = await createOptedInNamespace('unreadable', 'log-collector');
    const read = proxy.hold(namespaceRead(namespace));
    try {
      const { pod, error } = await createPlainPod(namespace, 'web');
      expect(pod).toBeUndefined();
      // The message of the webhook's Status, passed on by the apiserver.
      expect(error).toBe(
        `Internal error occurred: failed calling webhook "namespace.sidecar.example": failed to call webhook: namespace "${namespace}" is not in the webhook's cache yet and could not be read: no answer from the API within 1000 ms`,
      );
      await expect(kube.podExists(namespace, 'web')).resolves.toBe(false);
      expect(await namespaceReads('timeout')).toBeGreaterThanOrEqual(1);
    } finally {
      read.release();
    }
  });

  it('is stored without sidecars when the namespace cannot be read and failurePolicy is Ignore', async () => {
    await registerWebhook(kube, { url: mutateUrl(injector.port), caBundlePem: injector.ca, failurePolicy: 'Ignore' });
    await waitForFailurePolicy('Ignore');
    const namespace = await createOptedInNamespace('unreadable-ignore', 'log-collector');
    const read = proxy.hold(namespaceRead(namespace));
    try {
      const { pod, error } = await createPlainPod(namespace, 'web');
      expect(error).toBeUndefined();
      expect(initContainerNames(pod as k8s.V1Pod)).toEqual([]);
      expect(injectionStatus(pod as k8s.V1Pod)).toBeUndefined();
      expect((await admissionLog(namespace, 'web')).map((l) => l.outcome)).toEqual(['failed']);
    } finally {
      read.release();
      await registerWebhook(kube, { url: mutateUrl(injector.port), caBundlePem: injector.ca, failurePolicy: 'Fail' });
    }
  });

  it('once the watch delivers, the namespace comes from the informer: no more reads', async () => {
    const namespace = await createOptedInNamespace('caught-up', 'log-collector');
    watch.release();
    const probe = podManifest({ name: 'probe', namespace });
    await waitFor(
      'a dry run in the namespace answered without a read',
      async () => {
        const before = await metricValue(injector, 'sidecar_injector_namespace_reads_total{result="found"}');
        const dry = await kube.apply(probe, ['--dry-run=server', '-o', 'json']);
        const after = await metricValue(injector, 'sidecar_injector_namespace_reads_total{result="found"}');
        return dry.code === 0 && after === before && initContainerNames(JSON.parse(dry.stdout) as k8s.V1Pod).includes('log-collector') ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  });
});

/** The apiserver applies a changed configuration through an informer: wait until a failed call is let through. */
async function waitForFailurePolicy(policy: 'Ignore'): Promise<void> {
  const namespace = await createOptedInNamespace('policy', 'log-collector');
  const read = proxy.hold(namespaceRead(namespace));
  try {
    await waitFor(
      `failurePolicy ${policy} in force`,
      async () => ((await kube.apply(podManifest({ name: 'probe', namespace }), ['--dry-run=server'])).code === 0 ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  } finally {
    read.release();
  }
}
