/**
 * `npm run bench:cluster`: what injection adds to `create pod` in a real
 * cluster, through the path users run: the e2e cluster with its node, the
 * chart installed with its defaults from the image built from the Dockerfile,
 * the kube-apiserver calling the webhook through its Service (kube-proxy).
 *
 * The same pods, asking for log-collector, are created in three states, in
 * rotating blocks, by 1, 10 and 50 concurrent creators (the pods never
 * schedule): no injection (the chart's MutatingWebhookConfigurations deleted,
 * kept aside), the webhook registered (created again, caBundle included), and
 * policy mode (no webhook configuration; the chart's own templates, read from
 * its ConfigMap, compiled by `sidecar-injector policy` and applied: the
 * apiserver injects in-process). Each block starts once a server dry run
 * shows the apiserver injecting or not, after a few uncounted pods. Prints
 * the median and p99 of each and what each mode adds. Needs root (the node),
 * like the e2e suite.
 *
 * Environment: BENCH_PODS (pods per block, shared by its creators; 300),
 * BENCH_ROUNDS (3).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installChart } from '../test/e2e/harness/in-cluster-chart.js';
import type { ClusterNode } from '../test/e2e/harness/node.js';
import { E2eEnvironment } from '../test/e2e/support/environment.js';
import { INJECT_ANNOTATION, podManifest, type Kube } from '../test/e2e/support/kube.js';
import { PodLoad } from '../test/e2e/support/pod-load.js';
import { envInt } from './env.js';

const PODS = envInt('BENCH_PODS', 300, 1);
const ROUNDS = envInt('BENCH_ROUNDS', 3, 1);
const CREATORS = [1, 10, 50];
const STATES = ['no injection', 'webhook registered', 'policy mode'] as const;
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

/**
 * What `sidecar-injector policy` prints for the templates the chart installed
 * (its ConfigMap, one file per key): the policies that inject what its webhook does.
 */
async function compiledPolicies(kube: Kube, chartNamespace: string): Promise<string> {
  const got = await kube.kubectl(['get', 'configmaps', '--namespace', chartNamespace, '-o', 'json']);
  if (got.code !== 0) throw new Error(got.stderr);
  const items = (JSON.parse(got.stdout) as { items: Array<{ metadata: { name: string }; data?: Record<string, string> }> }).items;
  const templates = items.find((item) => item.metadata.name.endsWith('-templates'));
  if (templates?.data === undefined) throw new Error(`no templates ConfigMap in ${chartNamespace}`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-policy-'));
  try {
    for (const [file, text] of Object.entries(templates.data)) writeFileSync(join(dir, file), text);
    const main = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'dist', 'main.js');
    return execFileSync(process.execPath, [main, 'policy', '--templates-dir', dir], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function mustKubectl(kube: Kube, args: string[], input?: string): Promise<void> {
  const result = await kube.kubectl(args, input === undefined ? {} : { input });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
}

/** Leaves `from` for `to`: the webhook configurations and the policies each present only in their own state. */
async function setState(kube: Kube, namespace: string, from: State, to: State, saved: Array<Record<string, unknown>>, policies: string): Promise<void> {
  if (from === 'webhook registered') {
    for (const configuration of saved) {
      await mustKubectl(kube, ['delete', 'mutatingwebhookconfiguration', String((configuration['metadata'] as { name: string }).name)]);
    }
  }
  if (from === 'policy mode') await mustKubectl(kube, ['delete', '-f', '-'], policies);
  if (to === 'webhook registered') for (const configuration of saved) await mustKubectl(kube, ['create', '-f', '-'], JSON.stringify(configuration));
  if (to === 'policy mode') await mustKubectl(kube, ['create', '-f', '-'], policies);
  const want = to !== 'no injection';
  const deadline = Date.now() + 30_000;
  while ((await injectsNow(kube, namespace)) !== want) {
    if (Date.now() > deadline) throw new Error(`the apiserver did not see "${to}" within 30 s`);
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
    const policies = await compiledPolicies(env.kube, chart.namespace);
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
      // Each round starts with the state the last one ended in, so the order rotates.
      const order: State[] = [...STATES.slice(STATES.indexOf(state)), ...STATES.slice(0, STATES.indexOf(state))];
      for (const next of round % 2 === 0 ? order : [order[0]!, ...order.slice(1).reverse()]) {
        if (next !== state) await setState(env.kube, namespace, state, next, saved, policies);
        state = next;
        // Uncounted: new connections from the apiserver, the webhook's JIT (or the policies' CEL) after a pause.
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
    if (state !== 'webhook registered') await setState(env.kube, namespace, state, 'webhook registered', saved, policies);
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
      console.log(`${''.padEnd(20)}added at the median: webhook ${((medians[1] ?? 0) - (medians[0] ?? 0)).toFixed(1)} ms, policy mode ${((medians[2] ?? 0) - (medians[0] ?? 0)).toFixed(1)} ms`);
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
