// A real, throwaway Kubernetes control plane for e2e tests: etcd,
// kube-apiserver, kube-controller-manager and (on request) kube-scheduler,
// built from source by test/e2e/cluster/build.sh, listening on 127.0.0.1
// only. Without a node (node.ts) Pods stay Pending and tests assert on stored
// objects; with one they run. E2E_KUBERNETES=oldest swaps in the
// kube-apiserver and kube-controller-manager of the oldest minor the chart
// claims (build.sh oldest), for the files that need no node.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuildScript } from './build-script.js';
import { createCA, createRsaKeyPairPem, issueCert, type CertAuthority } from './pki.js';
import {
  Components,
  freePorts,
  isPortFree,
  signalGroup,
  sleep,
  startWatchdog,
  terminate,
} from './procs.js';

export interface ControlPlaneBinaries {
  binDir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubelet: string;
  kubeProxy: string;
  /** For the chart's `helm test` image (registry.k8s.io/kubectl). */
  kubectl: string;
}

export interface StartOptions {
  /** Where certs, kubeconfigs, etcd data and logs go. Default: a new temp dir, removed by stop(). */
  workDir?: string;
  /** Progress lines (build output, startup steps). Default: stderr. */
  log?: (line: string) => void;
  /** Appended to the kube-apiserver command line (later flags win). */
  extraApiServerFlags?: string[];
  /** Appended to the kube-controller-manager command line (later flags win). */
  extraControllerManagerFlags?: string[];
  /** Keep an auto-created workDir after stop() (also: E2E_KEEP_WORKDIR=1). */
  keepWorkDir?: boolean;
  /** Budget for the whole startup once binaries exist. Default 120 s. */
  startTimeoutMs?: number;
  /** Also run kube-scheduler (needed once a node can run the pods). */
  scheduler?: boolean;
}

export interface ControlPlane {
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  caPem: string;
  /** The cluster CA with its key, e.g. to issue a webhook serving cert the apiserver trusts. */
  ca: CertAuthority;
  /** Admin client cert (CN=admin, O=system:masters) for direct HTTPS calls. */
  adminCertPem: string;
  adminKeyPem: string;
  workDir: string;
  pids: { etcd: number; kubeApiserver: number; kubeControllerManager: number; kubeScheduler?: number };
  ports: { etcdClient: number; etcdPeer: number; apiserver: number; controllerManager: number; scheduler: number };
  logs: { etcd: string; kubeApiserver: string; kubeControllerManager: string; kubeScheduler?: string };
  /** GET a path of the apiserver as the admin (e.g. to wait for a node), never throwing on a status. */
  get(path: string): Promise<{ status: number; body: string }>;
  /** Resolves (with a message and log tail) if a component dies before stop(). */
  died: Promise<string>;
  /** Stops the scheduler, kcm, apiserver, etcd (in that order) and checks their ports are free. Idempotent. */
  stop(): Promise<void>;
}

const GRACE_MS = 10_000;
const defaultLog = (line: string) => process.stderr.write(`[control-plane] ${line}\n`);
const buildScript = fileURLToPath(new URL('../cluster/build.sh', import.meta.url));

/**
 * Which Kubernetes the control plane runs: `newest` (test/e2e/cluster/go.mod,
 * the default) or `oldest`, the oldest minor the chart's kubeVersion claims
 * (test/e2e/cluster/oldest/go.mod): its kube-apiserver and
 * kube-controller-manager with the newest build's etcd. There is no node
 * for `oldest` (kubelet and kube-scheduler may not be newer than the apiserver).
 */
export type KubernetesRelease = 'newest' | 'oldest';

/** The release E2E_KUBERNETES asks for (unset: newest). */
export function kubernetesRelease(): KubernetesRelease {
  const value = process.env['E2E_KUBERNETES'] ?? '';
  if (value === '' || value === 'newest') return 'newest';
  if (value === 'oldest') return 'oldest';
  throw new Error(`E2E_KUBERNETES must be "newest" (the default) or "oldest", not "${value}"`);
}

const binariesPromises = new Map<KubernetesRelease, Promise<ControlPlaneBinaries>>();

/**
 * Builds (or finds) the control-plane binaries of a release (default: the one
 * E2E_KUBERNETES asks for). E2E_CONTROL_PLANE_BIN_DIR points at prebuilt
 * newest ones; otherwise build.sh runs (a no-op when up to date).
 */
export function ensureControlPlaneBinaries(
  opts: { log?: (line: string) => void; release?: KubernetesRelease } = {},
): Promise<ControlPlaneBinaries> {
  const release = opts.release ?? kubernetesRelease();
  const log = opts.log ?? defaultLog;
  let promise = binariesPromises.get(release);
  if (!promise) {
    promise = (release === 'oldest' ? locateOrBuildOldest(log) : locateOrBuild(log)).catch((err) => {
      binariesPromises.delete(release); // let a later call retry
      throw err;
    });
    binariesPromises.set(release, promise);
  }
  return promise;
}

async function locateOrBuildOldest(log: (line: string) => void): Promise<ControlPlaneBinaries> {
  const newest = await ensureControlPlaneBinaries({ log, release: 'newest' });
  const binDir = await runBuildScript(buildScript, log, ['oldest']);
  const bins = {
    ...newest,
    binDir,
    kubeApiserver: join(binDir, 'kube-apiserver'),
    kubeControllerManager: join(binDir, 'kube-controller-manager'),
  };
  for (const path of [bins.kubeApiserver, bins.kubeControllerManager]) {
    if (!existsSync(path)) throw new Error(`control-plane binary missing: ${path}`);
  }
  return bins;
}

async function locateOrBuild(log: (line: string) => void): Promise<ControlPlaneBinaries> {
  const binDir = process.env['E2E_CONTROL_PLANE_BIN_DIR'] || (await runBuildScript(buildScript, log));
  const bins = {
    binDir,
    etcd: join(binDir, 'etcd'),
    kubeApiserver: join(binDir, 'kube-apiserver'),
    kubeControllerManager: join(binDir, 'kube-controller-manager'),
    kubeScheduler: join(binDir, 'kube-scheduler'),
    kubelet: join(binDir, 'kubelet'),
    kubeProxy: join(binDir, 'kube-proxy'),
    kubectl: join(binDir, 'kubectl'),
  };
  for (const path of Object.values(bins).slice(1)) {
    if (!existsSync(path)) throw new Error(`control-plane binary missing: ${path}`);
  }
  return bins;
}

// Everything started by this process, so exit/signal hooks can clean up.
interface Tracked {
  stop(): Promise<void>;
  /** Synchronous last resort for process 'exit': SIGKILL and remove temp files. */
  killNow(): void;
}
const live = new Set<Tracked>();
let exitHookInstalled = false;

function killAllNow() {
  for (const plane of live) plane.killNow();
}

function onSignal(signal: NodeJS.Signals) {
  // If the embedding program has its own handler (e.g. cluster-cli), it stops
  // things in its own order (a node before the control plane) and decides
  // when to exit; otherwise mimic the default: stop, then die.
  if (process.listeners(signal).some((l) => l !== onSignal)) return;
  void Promise.allSettled([...live].map((p) => p.stop())).finally(() => {
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

function track(plane: Tracked) {
  if (!exitHookInstalled) {
    // 'exit' handlers must be synchronous, so this path can only SIGKILL.
    process.on('exit', killAllNow);
    exitHookInstalled = true;
  }
  if (live.size === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  live.add(plane);
}

function untrack(plane: Tracked) {
  live.delete(plane);
  if (live.size === 0) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface TlsClient {
  ca: string;
  cert: string;
  key: string;
  /** The scheduler serves /healthz with a self-signed certificate of its own. */
  rejectUnauthorized?: boolean;
}

function get(url: string, tls?: TlsClient): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const doRequest = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = doRequest(url, { method: 'GET', timeout: 5000, ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** A kubeconfig for `user`, authenticated by a client certificate from the cluster CA. */
export function kubeconfig(server: string, caPem: string, user: string, client: { certPem: string; keyPem: string }): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(caPem)}
users:
- name: ${user}
  user:
    client-certificate-data: ${b64(client.certPem)}
    client-key-data: ${b64(client.keyPem)}
contexts:
- name: e2e
  context:
    cluster: e2e
    user: ${user}
current-context: e2e
`;
}

export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? defaultLog;
  const release = kubernetesRelease();
  if (release === 'oldest' && opts.scheduler) {
    throw new Error(
      'E2E_KUBERNETES=oldest runs a control plane without a node: the files whose pods must run use the newest release only',
    );
  }
  const bins = await ensureControlPlaneBinaries({ log, release });

  const ownsWorkDir = !opts.workDir;
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'sidecar-e2e-cp-'));
  mkdirSync(workDir, { recursive: true });
  const f = (name: string) => join(workDir, name);
  const started = Date.now();

  const [etcdClient, etcdPeer, apiserver, controllerManager, scheduler] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const ports = { etcdClient, etcdPeer, apiserver, controllerManager, scheduler };
  const server = `https://127.0.0.1:${apiserver}`;

  // --- PKI -----------------------------------------------------------------
  const ca = createCA();
  const serving = issueCert(ca, {
    commonName: 'kube-apiserver',
    usage: 'server',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    // 10.0.0.1 is the "kubernetes" Service IP (first IP of the service range).
    ipAddresses: ['127.0.0.1', '10.0.0.1'],
  });
  const admin = issueCert(ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' });
  const kcmClient = issueCert(ca, { commonName: 'system:kube-controller-manager', usage: 'client' });
  const schedulerClient = issueCert(ca, { commonName: 'system:kube-scheduler', usage: 'client' });
  // The apiserver's identity towards kubelets (logs, exec, port-forward).
  const kubeletClient = issueCert(ca, {
    commonName: 'kube-apiserver-kubelet-client',
    organizations: ['system:masters'],
    usage: 'client',
  });
  const sa = createRsaKeyPairPem();
  const files: Record<string, string> = {
    'ca.crt': ca.certPem,
    'ca.key': ca.keyPem,
    'apiserver.crt': serving.certPem,
    'apiserver.key': serving.keyPem,
    'sa.pub': sa.publicKeyPem,
    'sa.key': sa.privateKeyPem,
    'admin.kubeconfig': kubeconfig(server, ca.certPem, 'admin', admin),
    'kcm.kubeconfig': kubeconfig(server, ca.certPem, 'system:kube-controller-manager', kcmClient),
    'scheduler.kubeconfig': kubeconfig(server, ca.certPem, 'system:kube-scheduler', schedulerClient),
    'kubelet-client.crt': kubeletClient.certPem,
    'kubelet-client.key': kubeletClient.keyPem,
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(f(name), content, { mode: 0o600 });
  const adminTls: TlsClient = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };

  // --- processes -------------------------------------------------------------
  let stopping: Promise<void> | undefined;
  let failedToStart = false; // keep the workDir (logs) for a post-mortem
  const removeWorkDir = () =>
    ownsWorkDir && !failedToStart && !opts.keepWorkDir && process.env['E2E_KEEP_WORKDIR'] !== '1';
  // Covers deaths that skip our hooks; see startWatchdog.
  const pidFile = f('pids');
  writeFileSync(pidFile, '');
  const components = new Components({ dir: workDir, pidFile, log, startTimeoutMs: opts.startTimeoutMs ?? 120_000 });
  const { procs } = components;
  const start = components.start.bind(components);
  const waitFor = components.waitFor.bind(components);
  const watchdogPid = startWatchdog(process.pid, pidFile, removeWorkDir() ? workDir : undefined);
  const stopWatchdog = () => {
    try {
      process.kill(-watchdogPid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const plane: Tracked = {
    stop: () => (stopping ??= stopAll()),
    killNow: () => {
      stopWatchdog();
      for (const p of procs) signalGroup(p, 'SIGKILL');
      if (removeWorkDir()) rmSync(workDir, { recursive: true, force: true, maxRetries: 3 });
    },
  };

  async function stopAll(): Promise<void> {
    components.stopping();
    // Reverse start order: scheduler, kcm, apiserver, etcd (the apiserver drains against a live etcd).
    for (const p of [...procs].reverse()) {
      const how = await terminate(p, GRACE_MS);
      if (how !== 'gone') log(`stopped ${p.name} (pid ${p.pid}, ${how})`);
    }
    stopWatchdog();
    untrack(plane);
    const busy: number[] = [];
    for (const port of Object.values(ports)) {
      let free = await isPortFree(port);
      for (let i = 0; !free && i < 20; i++) {
        await sleep(250);
        free = await isPortFree(port);
      }
      if (!free) busy.push(port);
    }
    if (busy.length > 0) throw new Error(`control plane stopped but ports still in use: ${busy.join(', ')}`);
    if (removeWorkDir()) rmSync(workDir, { recursive: true, force: true });
  }

  track(plane);
  try {
    const etcdData = f('etcd-data');
    start('etcd', bins.etcd, [
      `--data-dir=${etcdData}`,
      `--listen-client-url=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-url=http://127.0.0.1:${etcdPeer}`,
    ]);
    await waitFor('etcd /health', async () => {
      const r = await get(`http://127.0.0.1:${etcdClient}/health`);
      return r.status === 200 && r.body.includes('"health":"true"');
    });

    // Admission webhooks with clientConfig.url https://127.0.0.1:PORT need no
    // extra flag: no egress selector is configured, and Go's proxy-from-
    // environment never proxies loopback addresses.
    start('kube-apiserver', bins.kubeApiserver, [
      '--advertise-address=127.0.0.1',
      '--bind-address=127.0.0.1',
      `--secure-port=${apiserver}`,
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=Node,RBAC',
      `--client-ca-file=${f('ca.crt')}`,
      `--tls-cert-file=${f('apiserver.crt')}`,
      `--tls-private-key-file=${f('apiserver.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${f('sa.pub')}`,
      `--service-account-signing-key-file=${f('sa.key')}`,
      '--allow-privileged=true',
      // Required with a loopback advertise address: otherwise the apiserver
      // exits with "cannot use public IP 127.0.0.1 with endpoint reconciler"
      // (Endpoints may not hold loopback IPs). Nothing here needs the
      // "kubernetes" Service's endpoints.
      '--endpoint-reconciler-type=none',
      // Never fall back to writing self-signed certs under /var/run/kubernetes.
      `--cert-dir=${f('apiserver-certs')}`,
      // Reaching a node's kubelet (kubectl logs/exec): by its InternalIP (the
      // node name does not resolve), verified against the cluster CA.
      `--kubelet-client-certificate=${f('kubelet-client.crt')}`,
      `--kubelet-client-key=${f('kubelet-client.key')}`,
      `--kubelet-certificate-authority=${f('ca.crt')}`,
      '--kubelet-preferred-address-types=InternalIP',
      ...(opts.extraApiServerFlags ?? []),
    ]);
    await waitFor('kube-apiserver /readyz', async () => {
      const r = await get(`${server}/readyz`, adminTls);
      return r.status === 200;
    });

    start('kube-controller-manager', bins.kubeControllerManager, [
      `--kubeconfig=${f('kcm.kubeconfig')}`,
      `--authentication-kubeconfig=${f('kcm.kubeconfig')}`,
      `--authorization-kubeconfig=${f('kcm.kubeconfig')}`,
      // There is no front proxy (no --requestheader-* on the apiserver), so
      // don't look up its CA from kube-system/extension-apiserver-authentication;
      // that lookup only logs "missing content for CA bundle" errors forever.
      '--authentication-skip-lookup=true',
      '--bind-address=127.0.0.1',
      `--secure-port=${controllerManager}`,
      `--cert-dir=${f('kcm-certs')}`,
      '--leader-elect=false',
      // Each controller acts as its own ServiceAccount, as in a real cluster
      // (a webhook sees Pods created by system:serviceaccount:kube-system:
      // replicaset-controller etc.). Costs ~5 s of kcm startup.
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${f('sa.key')}`,
      `--root-ca-file=${f('ca.crt')}`,
      `--cluster-signing-cert-file=${f('ca.crt')}`,
      `--cluster-signing-key-file=${f('ca.key')}`,
      '--controllers=*',
      ...(opts.extraControllerManagerFlags ?? []),
    ]);
    // The serviceaccount controller creating default/default proves kcm is
    // up and authorised; Pod creation also needs that ServiceAccount.
    await waitFor('the default ServiceAccount (created by kube-controller-manager)', async () => {
      const r = await get(`${server}/api/v1/namespaces/default/serviceaccounts/default`, adminTls);
      return r.status === 200;
    });

    if (opts.scheduler) {
      start('kube-scheduler', bins.kubeScheduler, [
        `--kubeconfig=${f('scheduler.kubeconfig')}`,
        `--authentication-kubeconfig=${f('scheduler.kubeconfig')}`,
        `--authorization-kubeconfig=${f('scheduler.kubeconfig')}`,
        '--authentication-skip-lookup=true',
        '--bind-address=127.0.0.1',
        `--secure-port=${scheduler}`,
        `--cert-dir=${f('scheduler-certs')}`,
        '--leader-elect=false',
      ]);
      await waitFor('kube-scheduler /healthz', async () => {
        const r = await get(`https://127.0.0.1:${scheduler}/healthz`, { ...adminTls, rejectUnauthorized: false });
        return r.status === 200;
      });
    }
  } catch (err) {
    failedToStart = true;
    await plane.stop().catch(() => {});
    (err as Error).message += `\n(control-plane files and logs kept in ${workDir})`;
    throw err;
  }
  // Which Kubernetes answered, in the output of every file (E2E_KUBERNETES).
  const version = await get(`${server}/version`, adminTls);
  const gitVersion = version.status === 200 ? (JSON.parse(version.body) as { gitVersion?: string }).gitVersion : undefined;
  log(`control plane ready in ${((Date.now() - started) / 1000).toFixed(1)}s at ${server} (Kubernetes ${gitVersion ?? '?'})`);

  const proc = (name: string) => {
    const p = components.get(name);
    if (!p) throw new Error(`internal: ${name} not started`);
    return p;
  };
  const [etcd, api, kcm] = [proc('etcd'), proc('kube-apiserver'), proc('kube-controller-manager')];
  const sched = components.get('kube-scheduler');
  return {
    kubeconfigPath: f('admin.kubeconfig'),
    server,
    caPem: ca.certPem,
    ca,
    adminCertPem: admin.certPem,
    adminKeyPem: admin.keyPem,
    workDir,
    pids: { etcd: etcd.pid, kubeApiserver: api.pid, kubeControllerManager: kcm.pid, kubeScheduler: sched?.pid },
    ports,
    logs: {
      etcd: etcd.logPath,
      kubeApiserver: api.logPath,
      kubeControllerManager: kcm.logPath,
      kubeScheduler: sched?.logPath,
    },
    get: (path: string) => get(`${server}${path}`, adminTls),
    died: components.died,
    stop: plane.stop,
  };
}
