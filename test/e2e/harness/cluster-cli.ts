// Runs the e2e cluster by hand:
//   tsx test/e2e/harness/cluster-cli.ts up      start the control plane and a node (root needed), stay in the
//                                                foreground until Ctrl-C; --no-node: the control plane only;
//                                                --with-chart: also build the webhook's image from the
//                                                Dockerfile and `helm install` the chart with its defaults
//                                                E2E_KUBERNETES=oldest (with --no-node): the oldest minor the chart claims
//   tsx test/e2e/harness/cluster-cli.ts build   only build/locate the binaries, both releases' (e.g. a CI warm-up step)
//   tsx test/e2e/harness/cluster-cli.ts webhook [--namespace NAME] [URL] [CA-FILE]
//       print the MutatingWebhookConfiguration the chart ships, pointed at a
//       locally running webhook (default https://127.0.0.1:8443/mutate, certs/ca.crt);
//       like the chart it excludes kube-system, kube-node-lease, kube-public and
//       the webhook's own namespace (default sidecar-injector, the chart's)
//
// Ctrl-C in a terminal reaches this process directly, even via `npm run`. When
// scripting, signal this node process (or its process group): a SIGTERM sent
// only to the `npm`/`npx` wrapper was seen not to reach it (npm's `sh -c` dies first).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_OWN_NAMESPACE, webhookConfiguration } from '../support/webhook-configuration.js';
import { ensureControlPlaneBinaries, startControlPlane } from './control-plane.js';
import { ensureNodeRuntime, startNode, type ClusterNode } from './node.js';
import { ensureNodeImages } from '../node/images/build.js';
import { ensureChartImages, installChart, type InstalledChart } from './in-cluster-chart.js';

const usage = 'usage: cluster-cli.ts up [--no-node | --with-chart] [--keep-work-dir] | build | webhook [--namespace NAME] [URL] [CA-FILE]';

async function up(withNode: boolean, withChart: boolean, keepWorkDir: boolean): Promise<number> {
  const cp = await startControlPlane({ keepWorkDir, scheduler: withNode });
  let node: ClusterNode | undefined;
  let stopping = false;
  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${why}: stopping the cluster…`);
    for (const component of [node, cp]) {
      try {
        await component?.stop();
      } catch (err) {
        console.error((err as Error).message);
        code = 1;
      }
    }
    process.exit(code);
  };
  // Our own handlers, so the control plane stops in order before we exit
  // (control-plane.ts then leaves the exiting to us).
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  void cp.died.then((msg) => stop(`a component died:\n${msg}`, 1));
  if (withNode) {
    try {
      node = await startNode(cp, { keepWorkDir });
    } catch (err) {
      console.error((err as Error).message);
      await stop('the node did not start', 1);
    }
    void node?.died.then((msg) => stop(`a node component died:\n${msg}`, 1));
  }
  let chart: InstalledChart | undefined;
  if (withChart && node) {
    try {
      chart = await installChart(cp.kubeconfigPath, node);
    } catch (err) {
      console.error((err as Error).message);
      await stop('the chart did not install', 1);
    }
  }

  const what = node
    ? `etcd, kube-apiserver, kube-controller-manager, kube-scheduler; node ${node.name} (${node.ip}):
containerd, kubelet, kube-proxy, with the images ${node.images.join(', ')}`
    : 'etcd, kube-apiserver, kube-controller-manager; no node, so Pods stay Pending';
  console.log(`
Kubernetes cluster is up (${what}).
  server:     ${cp.server}
  kubeconfig: ${cp.kubeconfigPath}
  logs:       ${cp.workDir}/*.log${node ? ` ${node.dir}/*.log` : ''}
${chart ? `  chart:      release ${chart.release} in namespace ${chart.namespace}, image ${chart.image.name} (${chart.image.unpacked})
` : ''}
  export KUBECONFIG=${cp.kubeconfigPath}

Press Ctrl-C to stop.`);
  // Child processes are unref'd, so keep the event loop alive ourselves.
  setInterval(() => {}, 1 << 30);
  return new Promise<number>(() => {});
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'up':
      if (rest.includes('--no-node') && rest.includes('--with-chart')) {
        console.error('--with-chart needs the node (the webhook runs in a pod)');
        return 2;
      }
      return up(!rest.includes('--no-node'), rest.includes('--with-chart'), rest.includes('--keep-work-dir'));
    case 'build': {
      // Everything `up` and the e2e suite need: binaries, the node's images and the chart's.
      for (const release of ['newest', 'oldest'] as const) console.log((await ensureControlPlaneBinaries({ release })).binDir);
      console.log(await ensureNodeRuntime());
      for (const image of await ensureNodeImages()) console.log(image.archive);
      for (const archive of (await ensureChartImages((line) => process.stderr.write(`[chart] ${line}\n`))).archives) console.log(archive);
      return 0;
    }
    case 'webhook': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { namespace: { type: 'string', default: DEFAULT_OWN_NAMESPACE } },
        allowPositionals: true,
      });
      const [url = 'https://127.0.0.1:8443/mutate', caFile = 'certs/ca.crt'] = positionals;
      const configuration = webhookConfiguration({ url, caBundlePem: readFileSync(caFile, 'utf8'), ownNamespace: values.namespace });
      console.log(JSON.stringify(configuration, null, 2));
      return 0;
    }
    default:
      console.error(usage);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
