// Reference for bench/reconciler-memory.ts: the webhook with the reconciler's
// former pod cache — client-node's makeInformer over whole V1Pod objects of
// every namespace, as src/kube/missed-injections.ts kept them before it kept
// views — so the benchmark can compare both caches in one run. Runs
// `serve` in this process (the same process as `node dist/main.js serve`)
// and writes {"watched":N,"heapUsed":BYTES} to stdout every second.
import { CoreV1Api, KubeConfig, makeInformer } from '@kubernetes/client-node';
import { loadConfig } from '../dist/config/config.js';
import { startWebhook } from '../dist/serve/webhook.js';

const [kubeconfig, ...serveArgs] = process.argv.slice(2);
const webhook = await startWebhook(loadConfig(['--kubeconfig', kubeconfig, ...serveArgs], {}));
const config = new KubeConfig();
config.loadFromFile(kubeconfig);
const core = config.makeApiClient(CoreV1Api);
const informer = makeInformer(config, '/api/v1/pods', () => core.listPodForAllNamespaces());
let watched = 0;
const report = () => process.stdout.write(`${JSON.stringify({ watched, heapUsed: process.memoryUsage().heapUsed })}\n`);
informer.on('add', () => (watched += 1));
informer.on('delete', () => (watched -= 1));
let stopping = false;
informer.on('error', (error) => stopping || process.stderr.write(`pod informer: ${error}\n`));
await informer.start();
report();
setInterval(report, 1_000).unref();
process.once('SIGTERM', async () => {
  stopping = true;
  await informer.stop();
  await webhook.stop();
  process.exit(0);
});
