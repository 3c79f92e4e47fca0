// The webhook the way users run it: the image built from the Dockerfile, the
// chart installed with its defaults (self-managed certificates, 2 replicas,
// a PDB, failurePolicy Fail), the apiserver calling it through its Service.
// Then the moments that hurt users, each under a steady stream of pod
// creations that ask for injection: a webhook pod deleted, a rolling update,
// a SIGTERM to a webhook process, and certificates renewed and their CA
// rolled over. Each drill prints how many creations failed and how many
// stored pods lack their sidecars; both must be 0.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createHash, X509Certificate } from 'node:crypto';
import { CHART_DIR } from '../chart/support/helm.js';
import { delay, waitFor } from '../support/wait.js';
import type { ControlPlane } from './harness/control-plane.js';
import { installChart, RELEASE_NAMESPACE, type InstalledChart } from './harness/in-cluster-chart.js';
import type { ClusterNode } from './harness/node.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { containerNames, initContainerNames, type Kube } from './support/kube.js';
import { describeLoad, PodLoad, type LoadOptions, type LoadReport } from './support/pod-load.js';

jest.setTimeout(240_000);

const SELECTOR = 'app.kubernetes.io/name=sidecar-injector';
const LOAD: Omit<LoadOptions, 'namespace'> = {
  perSecond: 12,
  durationMs: 60_000,
  templates: 'log-collector',
  expectedContainers: ['log-collector'],
};

let env: E2eEnvironment | undefined;
let kube: Kube;
let cp: ControlPlane;
let node: ClusterNode;
let chart: InstalledChart;
let load: PodLoad;

beforeAll(async () => {
  env = await E2eEnvironment.start({ node: true });
  kube = env.kube;
  cp = env.controlPlane;
  node = env.node as ClusterNode;
  chart = await installChart(cp.kubeconfigPath, node);
  load = new PodLoad(cp);
  env.onStop(async () => load.close());
}, 900_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 240_000);

interface WebhookPod {
  name: string;
  uid: string;
  ready: boolean;
  restarts: number;
  lastExitCode: number | undefined;
  /** When the previous run of the container ended (whole seconds). */
  lastFinishedAt: Date | undefined;
  podTemplateHash: string;
}

async function webhookPods(): Promise<WebhookPod[]> {
  const pods = await kube.core.listNamespacedPod({ namespace: RELEASE_NAMESPACE, labelSelector: SELECTOR });
  return pods.items
    .filter((p) => p.metadata?.deletionTimestamp === undefined && !p.metadata?.name?.endsWith('-test'))
    .map((p) => {
      const status = p.status?.containerStatuses?.find((c) => c.name === 'sidecar-injector');
      return {
        name: p.metadata?.name ?? '',
        uid: p.metadata?.uid ?? '',
        ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        restarts: status?.restartCount ?? 0,
        lastExitCode: status?.lastState?.terminated?.exitCode,
        lastFinishedAt: status?.lastState?.terminated?.finishedAt,
        podTemplateHash: p.metadata?.labels?.['pod-template-hash'] ?? '',
      };
    });
}

/** Two ready replicas of one pod template, nothing else running: the state every drill starts from and returns to. */
function settled(): Promise<WebhookPod[]> {
  return waitFor(
    'two ready webhook replicas of one pod template',
    async () => {
      const pods = await webhookPods();
      return pods.length === 2 && pods.every((p) => p.ready) && new Set(pods.map((p) => p.podTemplateHash)).size === 1 ? pods : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 1000 },
  );
}

async function drill(name: string, action: () => Promise<void>, durationMs = LOAD.durationMs): Promise<LoadReport> {
  await settled();
  const namespace = await kube.createNamespace('drill');
  const report = await load.run({ ...LOAD, durationMs, namespace }, { afterMs: 10_000, action });
  process.stdout.write(`${describeLoad(name, report)}\n`);
  // Thousands of pending pods would only slow the next drill's scheduler.
  await kube.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  return report;
}

function expectNoHarm(report: LoadReport): void {
  expect(report.started).toBeGreaterThanOrEqual((LOAD.perSecond * LOAD.durationMs) / 1000);
  expect(Object.fromEntries(report.failures)).toEqual({});
  expect(report.uninjected).toEqual([]);
  expect(report.created).toBe(report.started);
}

/** The PID, on this host, of the webhook process of a pod (the container's init process). */
async function webhookPid(pod: string): Promise<number> {
  const ps = await node.crictl(['ps', '--name', '^sidecar-injector$', '--label', `io.kubernetes.pod.name=${pod}`, '-q']);
  const id = ps.stdout.trim().split('\n')[0];
  if (ps.code !== 0 || !id) throw new Error(`no running webhook container in ${pod}: ${ps.stderr}`);
  const inspect = await node.crictl(['inspect', id]);
  return (JSON.parse(inspect.stdout) as { info: { pid: number } }).info.pid;
}

describe('the chart installed with its defaults', () => {
  it('runs two ready replicas of the image built from the Dockerfile, and `helm test` passes as a real pod', async () => {
    const pods = await settled();
    expect(pods).toHaveLength(2);
    const deployment = await kube.apps.readNamespacedDeployment({ name: chart.release, namespace: RELEASE_NAMESPACE });
    expect(deployment.spec?.template.spec?.containers[0]?.image).toBe(chart.image.name);
    const test = await chart.helm(['test', chart.release, '--namespace', RELEASE_NAMESPACE]);
    expect(test.stderr).toBe('');
    expect(test).toMatchObject({ code: 0, stdout: expect.stringMatching(/Phase:\s+Succeeded/) });
  });

  it('injects a pod created with kubectl, which runs with its sidecar collecting the application\'s log', async () => {
    const namespace = await kube.createNamespace('kubectl');
    const created = await kube.kubectl([
      'run', 'app', '-n', namespace, '--image=docker.io/library/busybox:1.37',
      '--annotations=sidecar.example/inject=log-collector', '--command', '--',
      'sh', '-c', 'while :; do echo "app says hello" >> /var/log/app/app.log; sleep 1; done',
    ]);
    expect(created).toMatchObject({ code: 0 });
    const pod = await kube.waitForPodReady(namespace, 'app');
    expect(initContainerNames(pod)).toContain('log-collector');
    expect(containerNames(pod)).toEqual(['app']);
    await kube.waitForLog(namespace, 'app', 'log-collector', ['app says hello']);
  });
});

describe('drills under load: every pod that asks is created, and with its sidecars', () => {
  it('a webhook pod is deleted', async () => {
    const [victim] = await settled();
    const report = await drill('delete a webhook pod', async () => {
      const deleted = await kube.kubectl(['delete', 'pod', '-n', RELEASE_NAMESPACE, victim?.name ?? '', '--wait=false']);
      expect(deleted.code).toBe(0);
    });
    expectNoHarm(report);
    expect((await settled()).map((p) => p.uid)).not.toContain(victim?.uid);
  });

  it('`helm upgrade` changes the pod template (a rolling update)', async () => {
    const before = await settled();
    const report = await drill('rolling update', async () => {
      const upgraded = await chart.helm([
        'upgrade', chart.release, CHART_DIR, '--namespace', RELEASE_NAMESPACE,
        '--reuse-values', '--set', `podAnnotations.drill=rollout-${Date.now()}`, '--wait', '--timeout', '3m',
      ]);
      expect(upgraded.stderr).toBe('');
      expect(upgraded.code).toBe(0);
    });
    expectNoHarm(report);
    const after = await settled();
    expect(after[0]?.podTemplateHash).not.toBe(before[0]?.podTemplateHash);
  });

  it('a webhook process receives SIGTERM: it drains, exits 0 and is restarted', async () => {
    const [target] = await settled();
    let signalledAt = 0;
    const report = await drill('SIGTERM to a webhook process', async () => {
      const pid = await webhookPid(target?.name ?? '');
      signalledAt = Date.now();
      process.kill(pid, 'SIGTERM');
    });
    expectNoHarm(report);
    const restarted = await waitFor(
      `${target?.name} restarted`,
      async () => (await settled()).find((p) => p.uid === target?.uid && p.restarts > (target?.restarts ?? 0)),
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    expect(restarted.lastExitCode).toBe(0);
    // It went on serving through the chart's 10 s shutdown delay (finishedAt has whole seconds).
    const servedFor = (restarted.lastFinishedAt?.getTime() ?? 0) - signalledAt;
    process.stdout.write(`  the process exited ${(servedFor / 1000).toFixed(1)} s after SIGTERM\n`);
    expect(servedFor).toBeGreaterThanOrEqual(9_000);
  });

  it('short certificate lifetimes: the serving certificate is renewed and the CA rolled over while serving', async () => {
    // A fresh release, whose CA (made now, living 90 s) starts its rollover at
    // 60 s and finishes it after the overlap, within the drill's 90 s.
    await chart.helm(['uninstall', chart.release, '--namespace', RELEASE_NAMESPACE, '--wait']);
    await kube.kubectl(['delete', 'namespace', RELEASE_NAMESPACE, '--wait=true', '--timeout=120s']);
    chart = await installChart(cp.kubeconfigPath, node, {
      set: [
        'certificates.selfManaged.certValiditySeconds=30',
        'certificates.selfManaged.caValiditySeconds=90',
        'certificates.selfManaged.caOverlapSeconds=10',
        'certificates.selfManaged.checkIntervalSeconds=2',
      ],
    });
    const seen = { cas: new Set<string>(), leaves: new Set<string>(), bundles: new Set<string>() };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const secret = await kube.core.readNamespacedSecret({ name: `${chart.release}-certs`, namespace: RELEASE_NAMESPACE });
        const pem = (key: string) => Buffer.from(secret.data?.[key] ?? '', 'base64').toString();
        seen.cas.add(new X509Certificate(pem('ca.crt')).fingerprint256);
        seen.leaves.add(new X509Certificate(pem('tls.crt')).fingerprint256);
        const config = await kube.admissionRegistration.readMutatingWebhookConfiguration({ name: chart.release });
        seen.bundles.add(createHash('sha256').update(config.webhooks?.[0]?.clientConfig.caBundle ?? '').digest('hex'));
        await delay(1000);
      }
    })();
    const report = await drill('certificate renewal and CA rollover', () => delay(75_000), 90_000);
    sampling = false;
    await sampler;
    process.stdout.write(`  seen: ${seen.cas.size} CAs, ${seen.leaves.size} serving certificates, ${seen.bundles.size} caBundles\n`);
    expectNoHarm(report);
    expect(seen.cas.size).toBeGreaterThanOrEqual(2);
    expect(seen.leaves.size).toBeGreaterThanOrEqual(3);
    expect(seen.bundles.size).toBeGreaterThanOrEqual(2);
  });
});
