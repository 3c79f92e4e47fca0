// The reconciler of missed injections (--reconcile-missed): pods created while
// the webhook was down under failurePolicy Ignore are stored without their
// sidecars; the reconciler reports them and, in delete mode, evicts them so
// their controller recreates them through the webhook. Everything here is
// the chart's: the MutatingWebhookConfiguration the apiserver selects by, the
// reconciler's flags (excluded namespaces, Lease) and its RBAC — the
// reconcilers run as the chart's ServiceAccount. Control plane only: pods
// stay Pending (a test marks one Running and Ready to put it under a
// PodDisruptionBudget); timings are shortened by flags.
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { findObject, parseObjects, renderChart } from '../chart/support/helm.js';
import type { ServeProcess } from '../support/serve-process.js';
import { delay, waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { serviceAccountKubeconfig } from './support/helm.js';
import { admissionsFor, mutateUrl, waitUntilCalled } from './support/injector.js';
import { containerNames, initContainerNames, INJECT_ANNOTATION, podManifest, podTemplate, uniqueSuffix, type Kube } from './support/kube.js';
import { metricValue } from './support/metrics.js';

jest.setTimeout(90_000);

let env: E2eEnvironment | undefined;
let kube: Kube;
let webhook: ServeProcess;
let releaseNamespace: string;
let skippedNamespace: string;
let reconcilerKubeconfig: string;
let chartFlags: string[];
let lease: string;

const asked = { [INJECT_ANNOTATION]: 'log-collector' };
const namesOf = (pod: k8s.V1Pod) => ({ containers: containerNames(pod), initContainers: initContainerNames(pod) });
const UNINJECTED = { containers: ['app'], initContainers: [] };
const INJECTED = { containers: ['app'], initContainers: ['log-collector'] };

const EVICTED = 'sidecar_injector_missed_injection_evictions_total{result="evicted"}';
const BLOCKED = 'sidecar_injector_missed_injection_evictions_total{result="blocked"}';
const MISSED = 'sidecar_injector_missed_injections';
const GIVEN_UP = 'sidecar_injector_missed_injection_given_up_controllers';
const LEADER = 'sidecar_injector_reconciler_leader';

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  releaseNamespace = await kube.createNamespace('injector');
  skippedNamespace = await kube.createNamespace('skipped');
  webhook = await env.startInjector(['--cluster-templates=false', '--shutdown-delay=0']);
  const objects = parseObjects(
    await renderChart({
      release: 'si',
      namespace: releaseNamespace,
      set: [
        `webhook.url=${mutateUrl(webhook.port)}`,
        'webhook.failurePolicy=Ignore',
        'certificates.mode=provided',
        'certificates.provided.secretName=unused',
        `certificates.provided.caBundle=${Buffer.from(webhook.ca).toString('base64')}`,
        `webhook.excludeNamespaces={${skippedNamespace}}`,
        'config.reconcileMissed=delete',
        'config.clusterTemplates=false',
      ],
    }),
  );
  const installed = objects.filter(
    (o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'MutatingWebhookConfiguration'].includes(o.kind) && o.metadata.annotations?.['helm.sh/hook'] === undefined,
  );
  for (const object of installed) await kube.mustApply(object);
  const deployment = findObject(objects, 'Deployment');
  const args = ((deployment['spec'] as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec.containers[0] as { args: string[] }).args;
  chartFlags = args.filter((a) => /^--(namespace|events|event-interval|reconcile-[a-z-]+)=/.test(a));
  lease = (chartFlags.find((a) => a.startsWith('--reconcile-lease=')) ?? '').split('=')[1] as string;
  reconcilerKubeconfig = await serviceAccountKubeconfig(kube, env.temps, releaseNamespace, 'si-sidecar-injector');
  await waitUntilCalled(kube, webhook, await kube.createNamespace('warmup'));
}, 180_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

/** A reconciler as the chart runs it (its flags, its ServiceAccount), with short timings; not registered with the apiserver. */
function startReconciler(mode: 'report' | 'delete'): Promise<ServeProcess> {
  return (env as E2eEnvironment).startInjector([
    '--cluster-templates=false',
    '--shutdown-delay=0',
    ...chartFlags,
    `--reconcile-missed=${mode}`,
    '--kubeconfig',
    reconcilerKubeconfig,
    '--reconcile-backoff=1',
    '--reconcile-backoff-max=4',
    '--reconcile-attempts=3',
    '--reconcile-lease-duration=4',
  ]);
}

/** SIGTERM, as in a rollout: a leader releases its Lease on the way out. */
async function stop(serve: ServeProcess): Promise<void> {
  process.kill(serve.pid, 'SIGTERM');
  expect(await serve.waitForExit(30_000)).toEqual({ code: 0, signal: null });
}

/** Reconcilers stopped and namespaces deleted after each test, whatever happened: the next test's reconcilers watch every namespace. */
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  if (webhook.child.exitCode !== null || webhook.child.signalCode !== null) await webhookUp();
}, 90_000);

async function stopIfRunning(serve: ServeProcess): Promise<void> {
  if (serve.child.exitCode === null && serve.child.signalCode === null) await stop(serve);
}

async function webhookDown(): Promise<void> {
  await stop(webhook);
}

/** The webhook back on its registered address. */
async function webhookUp(): Promise<void> {
  webhook = await (env as E2eEnvironment).startInjector(['--cluster-templates=false', '--shutdown-delay=0'], {
    port: webhook.port,
    certDir: webhook.certDir,
    templatesDir: webhook.templatesDir,
  });
  await waitUntilCalled(kube, webhook, await kube.createNamespace('warmup'));
}

async function podsOf(namespace: string, labelSelector: string): Promise<k8s.V1Pod[]> {
  return (await kube.core.listNamespacedPod({ namespace, labelSelector })).items.filter((p) => p.metadata?.deletionTimestamp === undefined);
}

async function deployment(namespace: string, name: string, replicas: number): Promise<k8s.V1Pod[]> {
  await kube.mustApply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: podTemplate({ app: name }, asked) },
  });
  return waitFor(`${replicas} pods of Deployment ${name}`, async () => {
    const pods = await podsOf(namespace, `app=${name}`);
    return pods.length === replicas ? pods : undefined;
  });
}

/** Names of the objects of `namespace` that got an Event with `reason`, each as often as it got one. */
async function eventsFor(namespace: string, reason: string): Promise<string[]> {
  return (await kube.core.listNamespacedEvent({ namespace })).items.filter((e) => e.reason === reason).map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}`).sort();
}

async function deleteNamespaces(...names: string[]): Promise<void> {
  await kube.kubectl(['delete', 'namespace', ...names, '--wait=true', '--timeout=60s']);
}

const uids = (pods: k8s.V1Pod[]) => pods.map((p) => p.metadata?.uid).sort();

describe('pods created while the webhook was down (failurePolicy Ignore)', () => {
  it('report mode counts and reports exactly the pods the webhook configuration would have sent, and evicts nothing; the apiserver sends the same ones', async () => {
    await webhookDown();
    const plain = await kube.createNamespace('e2e-plain');
    const optedIn = await kube.createOptedInNamespace('e2e-optin', 'log-collector');
    const web = await deployment(plain, 'web', 2);
    const bare = [
      { namespace: plain, name: 'bare', annotations: asked, reported: true },
      { namespace: plain, name: 'unasked', annotations: {}, reported: false },
      { namespace: optedIn, name: 'defaults', annotations: {}, reported: true },
      { namespace: optedIn, name: 'opted-out', annotations: { [INJECT_ANNOTATION]: 'false' }, reported: false },
      { namespace: releaseNamespace, name: 'own', annotations: asked, reported: false },
      { namespace: skippedNamespace, name: 'skipped', annotations: asked, reported: false },
    ];
    for (const pod of bare) await kube.mustApply(podManifest({ name: pod.name, namespace: pod.namespace, annotations: pod.annotations }));
    for (const pod of web) expect(namesOf(pod)).toEqual(UNINJECTED);

    const reporter = await startReconciler('report');
    cleanup.push(() => stopIfRunning(reporter), () => deleteNamespaces(plain, optedIn));
    await waitFor('the reporter to count 4 pods', async () => ((await metricValue(reporter, MISSED)) === 4 ? true : undefined), { timeoutMs: 30_000 });
    await waitFor('one SidecarInjectionMissed Event per reported pod', async () => ((await eventsFor(plain, 'SidecarInjectionMissed')).length === 3 ? true : undefined));
    await delay(1_500);
    expect(await eventsFor(plain, 'SidecarInjectionMissed')).toEqual(['Pod/bare', ...web.map((p) => `Pod/${p.metadata?.name}`)].sort());
    expect(await eventsFor(optedIn, 'SidecarInjectionMissed')).toEqual(['Pod/defaults']);
    for (const namespace of [releaseNamespace, skippedNamespace]) expect(await eventsFor(namespace, 'SidecarInjectionMissed')).toEqual([]);
    expect(uids(await podsOf(plain, 'app=web'))).toEqual(uids(web));
    const bareEvent = (await kube.core.listNamespacedEvent({ namespace: plain })).items.find((e) => e.involvedObject.name === 'bare');
    expect(bareEvent?.message).toBe(
      'the pod asked for log-collector but was created without them (the webhook was unreachable); it has no controller, so delete and recreate it to get them',
    );
    expect(await metricValue(reporter, EVICTED)).toBe(0);
    await stop(reporter);

    // The kube-apiserver's reading of the same configuration: with the webhook
    // up, a server dry run of each pod reaches it exactly when the reconciler reported it.
    await webhookUp();
    const tried = [];
    for (const pod of bare) {
      const name = `${pod.name}-${uniqueSuffix()}`;
      await kube.mustApply(podManifest({ name, namespace: pod.namespace, annotations: pod.annotations }), ['--dry-run=server']);
      tried.push({ ...pod, name });
    }
    // The log is written in batches: once a later admission is there, every earlier one is.
    await waitUntilCalled(kube, webhook, plain);
    expect(tried.map((pod) => ({ pod: pod.name, sent: admissionsFor(webhook, pod.namespace, pod.name).length > 0 }))).toEqual(
      tried.map((pod) => ({ pod: pod.name, sent: pod.reported })),
    );
  });

  it('delete mode evicts through the Eviction API: a PodDisruptionBudget that allows no disruption holds the pod, the eviction is retried with back-off and goes through once the budget allows it', async () => {
    await webhookDown();
    const namespace = await kube.createNamespace('e2e-pdb');
    cleanup.push(() => deleteNamespaces(namespace));
    const [pod] = await deployment(namespace, 'guarded', 1);
    const name = pod?.metadata?.name as string;
    // No node runs it: say it runs and is Ready, so the budget counts it (a Pending pod is evicted regardless of budgets).
    const status = { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } };
    expect(await kube.kubectl(['patch', 'pod', name, '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)])).toMatchObject({ code: 0 });
    await kube.mustApply({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'guarded', namespace },
      spec: { minAvailable: 1, selector: { matchLabels: { app: 'guarded' } } },
    });
    await waitFor('the budget to count the pod and allow no disruption', async () => {
      const pdb = JSON.parse((await kube.kubectl(['get', 'pdb', 'guarded', '-n', namespace, '-o', 'json'])).stdout) as { status?: { currentHealthy?: number; disruptionsAllowed?: number } };
      return pdb.status?.currentHealthy === 1 && pdb.status.disruptionsAllowed === 0 ? true : undefined;
    });
    await webhookUp();

    const reconciler = await startReconciler('delete');
    cleanup.push(() => stopIfRunning(reconciler));
    await waitFor('two evictions refused by the budget (429), the second after a back-off', async () => ((await metricValue(reconciler, BLOCKED)) >= 2 ? true : undefined), {
      timeoutMs: 30_000,
    });
    expect(uids(await podsOf(namespace, 'app=guarded'))).toEqual(uids([pod as k8s.V1Pod]));
    expect(await metricValue(reconciler, EVICTED)).toBe(0);

    expect(await kube.kubectl(['delete', 'pdb', 'guarded', '-n', namespace])).toMatchObject({ code: 0 });
    const replacement = await waitFor(
      'the retried eviction and an injected replacement',
      async () => {
        const pods = await podsOf(namespace, 'app=guarded');
        return pods.length === 1 && pods[0]?.metadata?.uid !== pod?.metadata?.uid ? pods[0] : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(namesOf(replacement)).toEqual(INJECTED);
    expect(await metricValue(reconciler, EVICTED)).toBe(1);
  });

  it('a controller whose replacements keep coming back without their sidecars gets --reconcile-attempts evictions, with growing waits, then a report and no more', async () => {
    await webhookDown(); // and down it stays: every replacement misses its sidecars too
    const namespace = await kube.createNamespace('e2e-flaky');
    cleanup.push(() => deleteNamespaces(namespace));
    await deployment(namespace, 'flaky', 1);
    const reconciler = await startReconciler('delete');
    cleanup.push(() => stopIfRunning(reconciler));
    await waitFor('the reconciler to give up on the ReplicaSet', async () => ((await metricValue(reconciler, GIVEN_UP)) === 1 ? true : undefined), { timeoutMs: 40_000 });
    expect(await metricValue(reconciler, EVICTED)).toBe(3);
    await waitFor('the Warning Event on the Deployment', async () => ((await eventsFor(namespace, 'SidecarInjectionMissedRepeatedly')).length > 0 ? true : undefined));
    const [event] = (await kube.core.listNamespacedEvent({ namespace })).items.filter((e) => e.reason === 'SidecarInjectionMissedRepeatedly');
    expect(event).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Deployment', name: 'flaky' } });
    expect(event?.message).toMatch(/^pods of ReplicaSet flaky-\w+ were evicted to be recreated with log-collector, but 3 replacements came back without them/);
    // The log is written in batches (at least every 250 ms).
    await waitFor('the give-up log line', () => (reconciler.output().includes('replacements keep coming back without their sidecars; no longer evicting the pods of this controller') ? true : undefined));

    // Longer than the longest wait (--reconcile-backoff-max=4): nothing more happens.
    await delay(5_000);
    expect(await metricValue(reconciler, EVICTED)).toBe(3);
    const [left] = await podsOf(namespace, 'app=flaky');
    expect(namesOf(left as k8s.V1Pod)).toEqual(UNINJECTED);
    expect(await metricValue(reconciler, MISSED)).toBe(1);
  });

  it('two reconcilers: one holds the Lease and alone evicts and writes Events, both count; when it stops, it releases the Lease and the other takes over', async () => {
    await webhookDown();
    const namespace = await kube.createNamespace('e2e-leader');
    cleanup.push(() => deleteNamespaces(namespace));
    const missed = await deployment(namespace, 'web', 2);
    await kube.mustApply(podManifest({ name: 'bare', namespace, annotations: asked }));
    await webhookUp();

    const candidates = await Promise.all([startReconciler('delete'), startReconciler('delete')]);
    cleanup.push(...candidates.map((c) => () => stopIfRunning(c)));
    const replaced = await waitFor(
      'Deployment web to have two injected pods, none of the missed ones',
      async () => {
        const pods = await podsOf(namespace, 'app=web');
        const fresh = pods.filter((p) => !uids(missed).includes(p.metadata?.uid));
        return fresh.length === 2 && pods.length === 2 ? fresh : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 250 },
    );
    for (const pod of replaced) expect(namesOf(pod)).toEqual(INJECTED);
    const leading = await Promise.all(candidates.map((c) => metricValue(c, LEADER)));
    expect([...leading].sort()).toEqual([0, 1]);
    const [leader, follower] = (leading[0] === 1 ? candidates : [...candidates].reverse()) as [ServeProcess, ServeProcess];
    expect(await metricValue(leader, EVICTED)).toBe(2);
    expect(await metricValue(follower, EVICTED)).toBe(0);
    // Both count the bare pod (nothing to evict, only to report); one Event per pod, from the leader.
    for (const candidate of candidates) expect(await metricValue(candidate, MISSED)).toBe(1);
    expect(await eventsFor(namespace, 'SidecarInjectionMissed')).toEqual(['Pod/bare', ...missed.map((p) => `Pod/${p.metadata?.name}`)].sort());

    const holder = async (): Promise<{ holderIdentity?: string; leaseTransitions?: number }> =>
      (JSON.parse((await kube.kubectl(['get', 'lease', lease, '-n', releaseNamespace, '-o', 'json'])).stdout) as { spec: { holderIdentity?: string; leaseTransitions?: number } }).spec;
    const before = await holder();
    expect(leader.output()).toContain(`"identity":"${before.holderIdentity}"`);
    await stop(leader);
    await waitFor('the other reconciler to lead', async () => ((await metricValue(follower, LEADER)) === 1 ? true : undefined), { timeoutMs: 20_000 });
    const after = await holder();
    expect(after.holderIdentity).not.toBe(before.holderIdentity);
    expect(follower.output()).toContain(`"identity":"${after.holderIdentity}"`);
    expect(after.leaseTransitions).toBe((before.leaseTransitions ?? 0) + 1);
  });
});
