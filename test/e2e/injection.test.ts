// End to end against a real kube-apiserver + kube-controller-manager: the
// chart's MutatingWebhookConfiguration sends pods to the built webhook, and
// every assertion is on what the apiserver stored or returned.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import type { ServeProcess } from '../support/serve-process.js';
import { waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { mutateUrl, registerWebhook, waitUntilCalled } from './support/injector.js';
import {
  asked,
  container,
  containerNames,
  countNames,
  envValue,
  initContainerNames,
  injectionStatus,
  mountPaths,
  podManifest,
  podTemplate,
  STATUS_ANNOTATION,
  uniqueSuffix,
  volumeNames,
  type Kube,
} from './support/kube.js';

jest.setTimeout(120_000);

let env: E2eEnvironment | undefined;
let kube: Kube;
let injector: ServeProcess;

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  injector = await env.startRegisteredInjector({ failurePolicy: 'Fail' });
}, 180_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

describe('a pod that asks for a sidecar', () => {
  it('a. kubectl apply of a pod asking for log-collector stores the sidecar, the shared volume, the mounts and the status', async () => {
    const namespace = await kube.createNamespace('e2e-a');
    const result = await kube.apply(podManifest({ name: 'web', namespace, annotations: asked('log-collector') }));
    expect(result).toMatchObject({ code: 0 });

    const pod = await kube.readPod(namespace, 'web');
    // A native sidecar: an init container with restartPolicy Always; the app container stays alone.
    expect(containerNames(pod)).toEqual(['app']);
    expect(initContainerNames(pod)).toEqual(['log-collector']);
    expect(pod.spec?.initContainers?.[0]?.restartPolicy).toBe('Always');
    const volume = pod.spec?.volumes?.find((v) => v.name === 'shared-logs');
    expect(volume?.emptyDir).toEqual({});
    expect(mountPaths(container(pod, 'app'))).toContain('/var/log/app');
    expect(mountPaths(container(pod, 'log-collector'))).toContain('/var/log/app');
    expect(container(pod, 'app')?.volumeMounts?.find((m) => m.mountPath === '/var/log/app')?.name).toBe('shared-logs');
    expect(container(pod, 'log-collector')?.volumeMounts?.find((m) => m.mountPath === '/var/log/app')?.name).toBe('shared-logs');
    // Rendered with the request's namespace.
    expect(envValue(container(pod, 'log-collector'), 'POD_NAMESPACE')).toBe(namespace);
    expect(injectionStatus(pod)?.templates[0]?.name).toBe('log-collector');
  });
});

describe('pods created by controllers (generateName, namespace only in the request)', () => {
  it('b. the pods of a Deployment asking for egress-logger (and log-collector) get the native sidecars, the proxy env and the request namespace', async () => {
    const namespace = await kube.createNamespace('e2e-b');
    const labels = { app: `shop-${uniqueSuffix()}` };
    await kube.mustApply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'shop', namespace },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: podTemplate(labels, asked('egress-logger,log-collector')) },
    });

    const pod = await waitForControllerPod(kube, namespace, `app=${labels.app}`);
    expect(pod.metadata?.generateName).toMatch(/^shop-/);
    // Both native, position before, in the order asked for.
    expect(initContainerNames(pod)).toEqual(['egress-logger', 'log-collector']);
    expect(pod.spec?.initContainers?.map((c) => c.restartPolicy)).toEqual(['Always', 'Always']);
    expect(containerNames(pod)).toEqual(['app']);
    expect(envValue(container(pod, 'app'), 'HTTP_PROXY')).toBe('http://127.0.0.1:15001');
    // {{ pod.namespace }} rendered from the request for a pod that had only generateName.
    expect(envValue(container(pod, 'log-collector'), 'POD_NAMESPACE')).toBe(namespace);
    expect(injectionStatus(pod)?.templates.map((t) => t.name)).toEqual(['egress-logger', 'log-collector']);

    // The Deployment itself is not mutated (only pod CREATE is).
    const deployment = await kube.apps.readNamespacedDeployment({ name: 'shop', namespace });
    expect(deployment.spec?.template.spec?.initContainers ?? []).toEqual([]);
    expect(deployment.spec?.template.metadata?.annotations?.[STATUS_ANNOTATION]).toBeUndefined();
  });
});

describe('namespace opt-in', () => {
  it('c. an opted-in namespace gives its default templates to unannotated pods; "false" opts out; other namespaces are untouched', async () => {
    const optedIn = await kube.createOptedInNamespace('e2e-c-in', 'http-prober');
    // The webhook reads namespaces from an informer cache: wait until it has seen this one.
    await waitFor(
      'the webhook to inject the namespace default (its namespace cache caught up)',
      async () => {
        const dry = await kube.apply(podManifest({ name: 'probe', namespace: optedIn }), ['--dry-run=server', '-o', 'json']);
        return dry.code === 0 && initContainerNames(JSON.parse(dry.stdout) as k8s.V1Pod).includes('http-prober') ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    expect(await kube.apply(podManifest({ name: 'plain', namespace: optedIn }))).toMatchObject({ code: 0 });
    const plain = await kube.readPod(optedIn, 'plain');
    expect(containerNames(plain)).toEqual(['app']);
    expect(initContainerNames(plain)).toEqual(['http-prober']);
    expect(injectionStatus(plain)?.templates.map((t) => t.name)).toEqual(['http-prober']);

    expect(await kube.apply(podManifest({ name: 'opted-out', namespace: optedIn, annotations: asked('false') }))).toMatchObject({ code: 0 });
    const optedOut = await kube.readPod(optedIn, 'opted-out');
    expectUntouched(optedOut);

    const other = await kube.createNamespace('e2e-c-out', { annotations: asked('http-prober') });
    expect(await kube.apply(podManifest({ name: 'plain', namespace: other }))).toMatchObject({ code: 0 });
    expectUntouched(await kube.readPod(other, 'plain'));
  });
});

describe('native sidecars', () => {
  it('d1. a pod with its own init container gets egress-logger before it, as a native sidecar', async () => {
    const namespace = await kube.createNamespace('e2e-d');
    const initDb = { name: 'init-db', image: 'registry.example/migrate:1.0', command: ['migrate', 'up'] };
    const result = await kube.apply(podManifest({ name: 'with-init', namespace, annotations: asked('egress-logger'), initContainers: [initDb] }));
    expect(result).toMatchObject({ code: 0 });

    const pod = await kube.readPod(namespace, 'with-init');
    expect(initContainerNames(pod)).toEqual(['egress-logger', 'init-db']);
    expect(pod.spec?.initContainers?.[0]?.restartPolicy).toBe('Always');
    expect(pod.spec?.initContainers?.[1]?.restartPolicy).toBeUndefined();
    expect(containerNames(pod)).toEqual(['app']);
  });

  it('d2. the pod of a Job asking for egress-logger has the native sidecar; the Job spec is unchanged', async () => {
    const namespace = await kube.createNamespace('e2e-d-job');
    await kube.mustApply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'report', namespace },
      spec: { backoffLimit: 0, template: podTemplate({ task: 'report' }, asked('egress-logger'), 'Never') },
    });

    const pod = await waitForControllerPod(kube, namespace, 'job-name=report');
    expect(pod.metadata?.generateName).toMatch(/^report-/);
    expect(initContainerNames(pod)).toEqual(['egress-logger']);
    expect(pod.spec?.initContainers?.[0]?.restartPolicy).toBe('Always');
    expect(containerNames(pod)).toEqual(['app']);
    expect(envValue(container(pod, 'app'), 'HTTP_PROXY')).toBe('http://127.0.0.1:15001');

    const job = await kube.batch.readNamespacedJob({ name: 'report', namespace });
    expect(job.spec?.template.spec?.initContainers ?? []).toEqual([]);
    expect(job.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['app']);
    expect(job.spec?.template.spec?.containers[0]?.env ?? []).toEqual([]);
    expect(job.spec?.template.metadata?.annotations).toEqual(asked('egress-logger'));
  });
});

describe('templates together', () => {
  it('e. log-collector, egress-logger and http-prober on one pod pass the apiserver validation, each exactly once', async () => {
    const namespace = await kube.createNamespace('e2e-e');
    const result = await kube.apply(podManifest({ name: 'all', namespace, annotations: asked('log-collector,egress-logger,http-prober') }));
    expect(result).toMatchObject({ code: 0 });

    const pod = await kube.readPod(namespace, 'all');
    const everyContainer = [...containerNames(pod), ...initContainerNames(pod)];
    expect(countNames(everyContainer)).toEqual({ app: 1, 'log-collector': 1, 'http-prober': 1, 'egress-logger': 1 });
    // All native: log-collector and egress-logger (before) in the order asked for, http-prober (after) last.
    expect(initContainerNames(pod)).toEqual(['log-collector', 'egress-logger', 'http-prober']);
    expect(containerNames(pod)).toEqual(['app']);
    expect(countNames(volumeNames(pod))['shared-logs']).toBe(1);
    expect(injectionStatus(pod)?.templates.map((t) => t.name).sort()).toEqual(['egress-logger', 'http-prober', 'log-collector']);
  });
});

describe('dry run', () => {
  it('f. kubectl apply --dry-run=server prints the injected pod and stores nothing', async () => {
    const namespace = await kube.createNamespace('e2e-f');
    const result = await kube.apply(podManifest({ name: 'preview', namespace, annotations: asked('log-collector') }), [
      '--dry-run=server',
      '-o',
      'json',
    ]);
    expect(result).toMatchObject({ code: 0 });
    const printed = JSON.parse(result.stdout) as k8s.V1Pod;
    expect(containerNames(printed)).toEqual(['app']);
    expect(initContainerNames(printed)).toEqual(['log-collector']);
    expect(volumeNames(printed)).toContain('shared-logs');
    expect(injectionStatus(printed)?.templates[0]?.name).toBe('log-collector');

    const get = await kube.kubectl(['get', 'pod', 'preview', '-n', namespace]);
    expect(get.code).not.toBe(0);
    expect(get.stderr).toContain('NotFound');
  });
});

describe('an unknown template', () => {
  it('g1. with --on-problem=warn: kubectl shows the warning and the pod is stored with the known template', async () => {
    const namespace = await kube.createNamespace('e2e-g');
    const result = await kube.apply(podManifest({ name: 'typo', namespace, annotations: asked('log-collector,no-such-template') }));
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Warning:');
    expect(result.stderr).toContain('no-such-template');

    const pod = await kube.readPod(namespace, 'typo');
    expect(containerNames(pod)).toEqual(['app']);
    expect(initContainerNames(pod)).toEqual(['log-collector']);
    expect(injectionStatus(pod)?.templates.map((t) => t.name)).toEqual(['log-collector']);
  });

  it('g2. with --on-problem=deny: the apiserver refuses the pod with the template name and stores nothing', async () => {
    const e = env as E2eEnvironment;
    const namespace = await kube.createNamespace('e2e-g-deny');
    const denying = await e.startInjector(['--on-problem', 'deny']);
    try {
      await registerWebhook(kube, { url: mutateUrl(denying.port), caBundlePem: denying.ca, failurePolicy: 'Fail' });
      await waitUntilCalled(kube, denying, namespace);

      const result = await kube.apply(podManifest({ name: 'typo', namespace, annotations: asked('log-collector,no-such-template') }));
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('denied the request');
      expect(result.stderr).toContain('no-such-template');
      expect(await kube.podExists(namespace, 'typo')).toBe(false);
    } finally {
      await registerWebhook(kube, { url: mutateUrl(injector.port), caBundlePem: injector.ca, failurePolicy: 'Fail' });
      await waitUntilCalled(kube, injector, namespace);
      await denying.kill();
    }
  });
});

/** The first pod of a controller, with the namespace's events in the failure message. */
async function waitForControllerPod(kube: Kube, namespace: string, labelSelector: string): Promise<k8s.V1Pod> {
  try {
    return await kube.waitForPod(namespace, labelSelector);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nevents:\n${await kube.eventSummary(namespace)}`);
  }
}

/** Stored exactly as submitted: no sidecar, no added volume, no status annotation. */
function expectUntouched(pod: k8s.V1Pod): void {
  expect(containerNames(pod)).toEqual(['app']);
  expect(initContainerNames(pod)).toEqual([]);
  expect(volumeNames(pod).filter((v) => !v.startsWith('kube-api-access-'))).toEqual([]);
  expect(pod.metadata?.annotations?.[STATUS_ANNOTATION]).toBeUndefined();
}
