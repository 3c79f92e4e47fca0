// The reconciler of missed injections (--reconcile-missed): pods created while
// the webhook was down under failurePolicy Ignore are stored without their
// sidecars; the reconciler reports them and, in delete mode, has their
// controller recreate them through the webhook.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import type { ServeProcess } from '../support/serve-process.js';
import { delay, waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { waitUntilCalled } from './support/injector.js';
import { containerNames, initContainerNames, INJECT_ANNOTATION, podManifest, podTemplate, type Kube } from './support/kube.js';
import { metricValue } from './support/metrics.js';

jest.setTimeout(180_000);

let env: E2eEnvironment | undefined;
let kube: Kube;
let injector: ServeProcess;

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  injector = await env.startRegisteredInjector({ failurePolicy: 'Ignore' }, ['--cluster-templates=false']);
}, 180_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

const asked = { [INJECT_ANNOTATION]: 'log-collector' };

/** The pod's containers and init containers: log-collector, when injected, is a native sidecar (an init container). */
const namesOf = (pod: k8s.V1Pod) => ({ containers: containerNames(pod), initContainers: initContainerNames(pod) });
const UNINJECTED = { containers: ['app'], initContainers: [] };
const INJECTED = { containers: ['app'], initContainers: ['log-collector'] };

async function podsOf(namespace: string, labelSelector: string): Promise<k8s.V1Pod[]> {
  return (await kube.core.listNamespacedPod({ namespace, labelSelector })).items;
}

describe('pods created while the webhook was down (failurePolicy Ignore)', () => {
  it('l. are stored without sidecars; report mode counts them and leaves them; delete mode has their ReplicaSet recreate them injected; a pod without a controller is only reported', async () => {
    const e = env as E2eEnvironment;
    const namespace = await kube.createNamespace('e2e-l');
    process.kill(injector.pid, 'SIGTERM');
    expect(await injector.waitForExit(30_000)).toEqual({ code: 0, signal: null });

    await kube.mustApply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: podTemplate({ app: 'web' }, asked) },
    });
    await kube.mustApply(podManifest({ name: 'bare', namespace, annotations: asked, labels: { app: 'bare' } }));
    await kube.mustApply(podManifest({ name: 'unasked', namespace, labels: { app: 'unasked' } }));
    const missed = await waitFor('two uninjected pods of Deployment web', async () => {
      const pods = await podsOf(namespace, 'app=web');
      return pods.length === 2 ? pods : undefined;
    });
    for (const pod of missed) expect(namesOf(pod)).toEqual(UNINJECTED);
    const missedUids = missed.map((p) => p.metadata?.uid);

    // Report mode, on a process the apiserver does not call: counts, writes Events, deletes nothing.
    const reporter = await e.startInjector(['--cluster-templates=false', '--reconcile-missed', 'report']);
    await waitFor('the reporter to count the 3 pods', async () =>
      (await metricValue(reporter, 'sidecar_injector_missed_injections')) === 3 ? true : undefined,
    );
    await delay(1_500);
    expect((await podsOf(namespace, 'app=web')).map((p) => p.metadata?.uid).sort()).toEqual([...missedUids].sort());
    const reported = (await kube.core.listNamespacedEvent({ namespace })).items.filter((ev) => ev.reason === 'SidecarInjectionMissed');
    expect(reported.find((ev) => ev.involvedObject.name === 'bare')?.message).toBe(
      'the pod asked for log-collector but was created without them (the webhook was unreachable); it has no controller, so delete and recreate it to get them',
    );
    expect(reported.find((ev) => ev.involvedObject.name === missed[0]?.metadata?.name)?.message).toContain(
      'delete it so its ReplicaSet recreates it injected (or run the webhook with --reconcile-missed=delete)',
    );
    await reporter.kill();

    // The webhook is back, on its registered address, with delete mode.
    injector = await e.startInjector(['--cluster-templates=false', '--reconcile-missed', 'delete'], {
      port: injector.port,
      certDir: injector.certDir,
      templatesDir: injector.templatesDir,
    });
    await waitUntilCalled(kube, injector, namespace);
    const replaced = await waitFor(
      'Deployment web to have two injected pods, none of the missed ones',
      async () => {
        const pods = (await podsOf(namespace, 'app=web')).filter((p) => p.metadata?.deletionTimestamp === undefined);
        const fresh = pods.filter((p) => !missedUids.includes(p.metadata?.uid));
        return fresh.length === 2 && pods.length === 2 ? fresh : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    for (const pod of replaced) expect(namesOf(pod)).toEqual(INJECTED);
    expect(await metricValue(injector, 'sidecar_injector_missed_injection_deletions_total{result="deleted"}')).toBe(2);
    // Nothing to do for the bare pod but report it; the unasked pod is no concern.
    expect(namesOf(await kube.readPod(namespace, 'bare'))).toEqual(UNINJECTED);
    expect(await metricValue(injector, 'sidecar_injector_missed_injections')).toBe(1);
    expect(await kube.podExists(namespace, 'unasked')).toBe(true);
  });
});
