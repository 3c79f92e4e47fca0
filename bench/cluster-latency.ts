/**
 * `npm run bench:cluster`: what injection adds to `create pod` in a real
 * cluster, through the path users run: the e2e cluster with its node, the
 * chart installed with its defaults from the image built from the Dockerfile,
 * the kube-apiserver calling the webhook through its Service (kube-proxy).
 *
 * The same pods are created with and without the inject annotation (without
 * it, the webhook configuration's matchConditions keep the apiserver from
 * calling the webhook at all), in alternating blocks, by 1 and by 10
 * concurrent creators; the pods never schedule. Prints the median and p99 of
 * each and the difference. Needs root (the node), like the e2e suite.
 *
 * Environment: BENCH_PODS (pods per variant, creator count and round; 100),
 * BENCH_ROUNDS (3).
 */
import { availableParallelism, loadavg } from 'node:os';
import { installChart } from '../test/e2e/harness/in-cluster-chart.js';
import type { ClusterNode } from '../test/e2e/harness/node.js';
import { E2eEnvironment } from '../test/e2e/support/environment.js';
import { INJECT_ANNOTATION } from '../test/e2e/support/kube.js';
import { PodLoad } from '../test/e2e/support/pod-load.js';

const PODS = Number(process.env['BENCH_PODS'] ?? 100);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const CREATORS = [1, 10];
const VARIANTS = { 'not asking (webhook not called)': {}, 'asking for log-collector': { [INJECT_ANNOTATION]: 'log-collector' } };

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const env = await E2eEnvironment.start({ node: true });
  try {
    const chart = await installChart(env.controlPlane.kubeconfigPath, env.node as ClusterNode);
    const load = new PodLoad(env.controlPlane);
    env.onStop(async () => load.close());
    const namespace = await env.kube.createNamespace('bench');
    const samples = new Map<string, number[]>();
    let serial = 0;
    // Warm-up: connections, the apiserver's webhook client, the webhook's JIT.
    for (let i = 0; i < 50; i++) await load.createPod(namespace, `warmup-${i}`, VARIANTS['asking for log-collector']);
    for (let round = 0; round < ROUNDS; round++) {
      for (const creators of CREATORS) {
        for (const [variant, annotations] of Object.entries(VARIANTS)) {
          const key = `${creators}\t${variant}`;
          const list = samples.get(key) ?? [];
          samples.set(key, list);
          await Promise.all(
            Array.from({ length: creators }, async () => {
              for (let i = 0; i < PODS; i++) {
                const result = await load.createPod(namespace, `pod-${serial++}`, annotations);
                if (!result.ok) throw new Error(`creation failed: ${result.reason}`);
                list.push(result.ms);
              }
            }),
          );
        }
      }
    }
    console.log(
      `\ncreate pod through the kube-apiserver, ${chart.image.name} in the cluster (2 replicas, Service via kube-proxy);` +
        `\n${ROUNDS} rounds × ${PODS} pods per creator; ${availableParallelism()} CPUs, load average ${loadavg()[0]?.toFixed(2)}\n`,
    );
    console.log('creators  pods      median ms  p99 ms   variant');
    for (const creators of CREATORS) {
      const medians: number[] = [];
      for (const variant of Object.keys(VARIANTS)) {
        const sorted = [...(samples.get(`${creators}\t${variant}`) ?? [])].sort((a, b) => a - b);
        medians.push(percentile(sorted, 0.5));
        console.log(
          `${String(creators).padEnd(10)}${String(sorted.length).padEnd(10)}${percentile(sorted, 0.5).toFixed(1).padStart(9)}  ${percentile(sorted, 0.99).toFixed(1).padStart(7)}   ${variant}`,
        );
      }
      console.log(`${''.padEnd(20)}added by injection at the median: ${((medians[1] ?? 0) - (medians[0] ?? 0)).toFixed(1)} ms\n`);
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
