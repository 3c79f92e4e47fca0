// Runs the e2e control plane by hand:
//   tsx test/e2e/harness/cluster-cli.ts up      start it and stay in the foreground until Ctrl-C
//   tsx test/e2e/harness/cluster-cli.ts build   only build/locate the binaries (e.g. a CI warm-up step)
//   tsx test/e2e/harness/cluster-cli.ts webhook [URL] [CA-FILE]
//       print the MutatingWebhookConfiguration the chart ships, pointed at a
//       locally running webhook (default https://127.0.0.1:8443/mutate, certs/ca.crt)
//
// Ctrl-C in a terminal reaches this process directly, even via `npm run`. When
// scripting, signal this node process (or its process group): a SIGTERM sent
// only to the `npm`/`npx` wrapper was seen not to reach it (npm's `sh -c` dies first).
import { readFileSync } from 'node:fs';
import { webhookConfiguration } from '../support/webhook-configuration.js';
import { ensureControlPlaneBinaries, startControlPlane } from './control-plane.js';

const usage = 'usage: cluster-cli.ts up [--keep-work-dir] | build | webhook [URL] [CA-FILE]';

async function up(keepWorkDir: boolean): Promise<number> {
  const cp = await startControlPlane({ keepWorkDir });
  let stopping = false;
  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${why}: stopping the control plane…`);
    try {
      await cp.stop();
    } catch (err) {
      console.error((err as Error).message);
      code = 1;
    }
    process.exit(code);
  };
  // Our own handlers, so the control plane stops in order before we exit
  // (control-plane.ts then leaves the exiting to us).
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  void cp.died.then((msg) => stop(`a component died:\n${msg}`, 1));

  console.log(`
Kubernetes control plane is up (etcd, kube-apiserver, kube-controller-manager; no scheduler/kubelet,
so Pods stay Pending).
  server:     ${cp.server}
  kubeconfig: ${cp.kubeconfigPath}
  logs:       ${cp.workDir}/*.log

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
      return up(rest.includes('--keep-work-dir'));
    case 'build': {
      const bins = await ensureControlPlaneBinaries();
      console.log(bins.binDir);
      return 0;
    }
    case 'webhook': {
      const [url = 'https://127.0.0.1:8443/mutate', caFile = 'certs/ca.crt'] = rest;
      console.log(JSON.stringify(webhookConfiguration({ url, caBundlePem: readFileSync(caFile, 'utf8') }), null, 2));
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
