/**
 * `npm run bench:cluster`: what injection adds to `create pod` in a real
 * cluster, through the path users run: the e2e cluster with its node, the
 * chart installed with its defaults from the image built from the Dockerfile,
 * the kube-apiserver calling the webhook through its Service (kube-proxy).
 *
 * The same pods, asking for log-collector, are created with the webhook
 * registered and with its MutatingWebhookConfigurations deleted (kept aside
 * and created again, caBundle included), in alternating blocks, by 1, 10 and
 * 50 concurrent creators; the pods never schedule. Each block starts once the
 * apiserver is seen to (not) call the webhook, after a few uncounted pods.
 * Prints the median and p99 of each and the difference. Needs root (the
 * node), like the e2e suite.
 *
 * Environment: BENCH_PODS (pods per block, shared by its creators; 300),
 * BENCH_ROUNDS (3).
 */
import { availableParallelism, loadavg } from 'node:os';
import { installChart } from '../test/e2e/harness/in-cluster-chart.js';
import type { ClusterNode } from '../test/e2e/harness/node.js';
import { E2eEnvironment } from '../test/e2e/support/environment.js';
import { INJECT_ANNOTATION, podManifest, type Kube } from '../test/e2e/support/kube.js';
import { PodLoad } from '../test/e2e/support/pod-load.js';
import { envInt } from './env.js';

const PODS = envInt('BENCH_PODS', 300, 1);
const ROUNDS = envInt('BENCH_ROUNDS', 3, 1);
const CREATORS = [1, 10, 50];
const STATES = ['webhook not registered', 'webhook registered'] as const;
type State = (typeof STATES)[number];
const ASKING = { [INJECT_ANNOTATION]: 'log-collector' };

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/** The chart's MutatingWebhookConfigurations, as objects that can be created again. */
async function webhookConfigurations(kube: Kube): Promise<Array<Record<string, unknown>>> {
  const got = await kube.kubectl(['get', 'mutatingwebhookconfigurations', '-o', 'json']);
  if (got.code !== 0) throw new Error(got.stderr);
  const items = (JSON.parse(got.stdout) as { items: Array<{ metadata: Record<string, unknown> }> }).items;
  const ours = items.filter((item) => String(item.metadata['name']).includes('sidecar-injector'));
  if (ours.length === 0) throw new Error('the chart registered no MutatingWebhookConfiguration');
  return ours.map((item) => {
    const { name, labels, annotations } = item.metadata;
    return { ...item, metadata: { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) } };
  });
}

/** Whether the apiserver injects a pod now (a server-side dry run). */
async function injectsNow(kube: Kube, namespace: string): Promise<boolean> {
  const pod = podManifest({ name: 'probe', namespace, annotations: ASKING });
  const result = await kube.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(pod) });
  if (result.code !== 0) throw new Error(result.stderr);
  const spec = (JSON.parse(result.stdout) as { spec: { containers?: Array<{ name: string }>; initContainers?: Array<{ name: string }> } }).spec;
  return [...(spec.containers ?? []), ...(spec.initContainers ?? [])].some((c) => c.name === 'log-collector');
}

async function setState(kube: Kube, namespace: string, state: State, saved: Array<Record<string, unknown>>): Promise<void> {
  for (const configuration of saved) {
    const name = String((configuration['metadata'] as { name: string }).name);
    const result =
      state === 'webhook registered'
        ? await kube.kubectl(['create', '-f', '-'], { input: JSON.stringify(configuration) })
        : await kube.kubectl(['delete', 'mutatingwebhookconfiguration', name]);
    if (result.code !== 0) throw new Error(result.stderr);
  }
  const want = state === 'webhook registered';
  const deadline = Date.now() + 30_000;
  while ((await injectsNow(kube, namespace)) !== want) {
    if (Date.now() > deadline) throw new Error(`the apiserver did not see "${state}" within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function totalCallSeconds(byWebhook: Map<string, { sum: number; count: number }>): { sum: number; count: number } {
  let sum = 0;
  let count = 0;
  for (const entry of byWebhook.values()) {
    sum += entry.sum;
    count += entry.count;
  }
  return { sum, count };
}

/** Sum and count of apiserver_admission_webhook_admission_duration_seconds per mutating webhook. */
function webhookCallSeconds(metricsText: string): Map<string, { sum: number; count: number }> {
  const sums = new Map<string, { sum: number; count: number }>();
  for (const line of metricsText.split('\n')) {
    const match = /^apiserver_admission_webhook_admission_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/.exec(line);
    if (match === null || !match[2]!.includes('type="admit"')) continue;
    const name = /name="([^"]+)"/.exec(match[2]!)?.[1] ?? '?';
    const entry = sums.get(name) ?? { sum: 0, count: 0 };
    if (match[1] === 'sum') entry.sum += Number(match[3]);
    else entry.count += Number(match[3]);
    sums.set(name, entry);
  }
  return sums;
}

async function main(): Promise<void> {
  const env = await E2eEnvironment.start({ node: true });
  try {
    const chart = await installChart(env.controlPlane.kubeconfigPath, env.node as ClusterNode);
    const load = new PodLoad(env.controlPlane);
    env.onStop(async () => load.close());
    const namespace = await env.kube.createNamespace('bench');
    const saved = await webhookConfigurations(env.kube);
    const samples = new Map<string, number[]>();
    let serial = 0;
    const create = async (count: number, creators: number, list?: number[]) =>
      Promise.all(
        Array.from({ length: creators }, async (_, c) => {
          for (let i = c; i < count; i += creators) {
            const result = await load.createPod(namespace, `pod-${serial++}`, ASKING);
            if (!result.ok) throw new Error(`creation failed: ${result.reason}`);
            list?.push(result.ms);
          }
        }),
      );
    // Where the added time goes: the apiserver's own measure of its calls to the webhook, per creator count.
    const callsBy = new Map<number, { sum: number; count: number }>();
    let state: State = 'webhook registered';
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts with the state the last one ended in, so the order alternates.
      for (const next of round % 2 === 0 ? [...STATES].reverse() : STATES) {
        if (next !== state) await setState(env.kube, namespace, next, saved);
        state = next;
        // Uncounted: new connections from the apiserver, the webhook's JIT after a pause.
        await create(20, 5);
        for (const creators of CREATORS) {
          const key = `${creators}\t${state}`;
          const list = samples.get(key) ?? [];
          samples.set(key, list);
          const before = totalCallSeconds(webhookCallSeconds((await env.controlPlane.get('/metrics')).body));
          await create(PODS, creators, list);
          const after = totalCallSeconds(webhookCallSeconds((await env.controlPlane.get('/metrics')).body));
          const calls = callsBy.get(creators) ?? { sum: 0, count: 0 };
          callsBy.set(creators, { sum: calls.sum + after.sum - before.sum, count: calls.count + after.count - before.count });
        }
      }
    }
    if (state !== 'webhook registered') await setState(env.kube, namespace, 'webhook registered', saved);
    console.log(
      `\ncreate pod through the kube-apiserver, ${chart.image.name} in the cluster (2 replicas, Service via kube-proxy);` +
        `\n${ROUNDS} rounds × ${PODS} pods per block asking for log-collector; ${availableParallelism()} CPUs, load average ${loadavg()[0]?.toFixed(2)}\n`,
    );
    console.log('creators  pods      median ms  p99 ms   state');
    for (const creators of CREATORS) {
      const medians: number[] = [];
      for (const state of STATES) {
        const sorted = [...(samples.get(`${creators}\t${state}`) ?? [])].sort((a, b) => a - b);
        medians.push(percentile(sorted, 0.5));
        console.log(
          `${String(creators).padEnd(10)}${String(sorted.length).padEnd(10)}${percentile(sorted, 0.5).toFixed(1).padStart(9)}  ${percentile(sorted, 0.99).toFixed(1).padStart(7)}   ${state}`,
        );
      }
      const calls = callsBy.get(creators);
      const mean = calls === undefined || calls.count === 0 ? Number.NaN : (calls.sum / calls.count) * 1000;
      console.log(`${''.padEnd(20)}added by injection at the median: ${((medians[1] ?? 0) - (medians[0] ?? 0)).toFixed(1)} ms`);
      console.log(`${''.padEnd(20)}the apiserver's call to the webhook: ${mean.toFixed(2)} ms on average (apiserver_admission_webhook_admission_duration_seconds)\n`);
    }
  } finally {
    await env.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  },
);
