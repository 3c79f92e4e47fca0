// A real node for the e2e cluster: containerd 2 with runc and the CNI
// plugins, kubelet and kube-proxy (nftables mode), all built from source
// (test/e2e/node/build.sh, test/e2e/cluster/build.sh) with images assembled
// on this machine (test/e2e/node/images), so injected pods really run.
//
// Needs root. The node lives in one directory: containerd's root and state,
// kubelet's root, pod logs and CNI state are all under it. What it must change
// on the host (a bridge with the node IP, a cgroup root, sysctls that kubelet
// and forwarding need, firewall rules kubelet/kube-proxy add) is recorded in
// node.env first, and node-teardown.sh puts it back, from stop() or, if the
// test process dies, from a watchdog.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from '../../support/run-program.js';
import { ensureNodeImages } from '../node/images/build.js';
import { routeKubernetesService, startApiRelay, type ApiRelay } from './api-relay.js';
import { runBuildScript } from './build-script.js';
import { ensureControlPlaneBinaries, kubeconfig, type ControlPlane } from './control-plane.js';
import {
  cniConfList,
  containerdConfig,
  kubeletConfig,
  kubeProxyConfig,
  paths,
  type NodeLayout,
} from './node-config.js';
import { issueCert } from './pki.js';
import { Components, freePorts, startTeardownWatchdog, type ManagedProcess } from './procs.js';

export const NODE_NAME = 'e2e-node';
const BRIDGE = 'sie2e0';
const POD_CIDR = '10.244.0.0/24';
/** The bridge's own address: pods' gateway, and the node's InternalIP (never loopback, for kubelet). */
const NODE_IP = '10.244.0.1';
const CGROUP_ROOT = 'sidecar-e2e';
const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.1';
/** Where a running node records its directory, so a later start can tear down one left behind. */
const MARKER = '/run/sidecar-e2e-node';

/** Host state kubelet, kube-proxy, the bridge plugin and the harness may change; restored by the teardown. */
const SYSCTLS = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.route_localnet',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
];
/** Host paths a node may create outside its directory; those absent before it starts are removed after. */
const HOST_PATHS = ['/run/containerd', '/var/lib/cni', '/var/log/containers', '/run/xtables.lock', '/var/lib/kubelet', '/run/nri'];

const teardownScript = fileURLToPath(new URL('./node-teardown.sh', import.meta.url));
const nodeBuildScript = fileURLToPath(new URL('../node/build.sh', import.meta.url));
const defaultLog = (line: string) => process.stderr.write(`[node] ${line}\n`);

export interface NodeOptions {
  log?: (line: string) => void;
  /** Keep the node's directory (logs) after stop() (also: E2E_KEEP_WORKDIR=1). */
  keepWorkDir?: boolean;
  /** Budget for starting containerd, kubelet and kube-proxy once everything is built. Default 120 s. */
  startTimeoutMs?: number;
}

export interface ClusterNode {
  name: string;
  ip: string;
  podCidr: string;
  dir: string;
  /** unix:// endpoint of containerd's CRI, for crictl. */
  criEndpoint: string;
  pids: { containerd: number; kubelet: number; kubeProxy: number };
  logs: { containerd: string; kubelet: string; kubeProxy: string };
  /** The images imported into containerd. */
  images: string[];
  /** Resolves (with a message and log tails) if a component dies before stop(). */
  died: Promise<string>;
  /** Imports an OCI image archive into containerd, pinned (never garbage-collected). */
  importImage(archive: string): Promise<void>;
  /** crictl against the node's containerd; never throws on a non-zero exit. */
  crictl(args: readonly string[]): Promise<RunResult>;
  /** Removes every pod, container, mount, device, cgroup and firewall rule of the node. Idempotent. */
  stop(): Promise<void>;
}

let runtimeBinPromise: Promise<string> | undefined;

/** Builds (or finds) containerd, runc, crictl and the CNI plugins; E2E_NODE_RUNTIME_BIN_DIR points at prebuilt ones. */
export function ensureNodeRuntime(log: (line: string) => void = defaultLog): Promise<string> {
  runtimeBinPromise ??= (async () => process.env['E2E_NODE_RUNTIME_BIN_DIR'] || runBuildScript(nodeBuildScript, log))().catch(
    (err: unknown) => {
      runtimeBinPromise = undefined;
      throw err;
    },
  );
  return runtimeBinPromise;
}

async function must(program: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  const result = await run(program, args, { timeoutMs });
  if (result.code !== 0) throw new Error(`${program} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** A node left behind by a test process that died before its watchdog finished: tear it down first. */
async function tearDownLeftover(log: (line: string) => void): Promise<void> {
  if (!existsSync(MARKER)) return;
  const dir = readFileSync(MARKER, 'utf8').trim();
  log(`tearing down a node left behind in ${dir}`);
  const result = await run('bash', [teardownScript, dir], { timeoutMs: 180_000 });
  if (result.code !== 0) throw new Error(`could not tear down the node left in ${dir}:\n${result.stderr}`);
}

/** Facts about the host before the node changes it, in the shell syntax node-teardown.sh sources. */
async function recordHostState(dir: string, runtimeBin: string): Promise<void> {
  const sysctls: string[] = [];
  for (const key of SYSCTLS) {
    const value = (await run('sysctl', ['-n', key])).stdout.trim();
    if (value !== '') sysctls.push(`${key}=${value}`);
  }
  const tables = (await run('nft', ['list', 'tables'])).stdout
    .split('\n')
    .filter((line) => line.startsWith('table '))
    .map((line) => line.slice('table '.length).trim());
  const env = {
    CRI_SOCK: paths(dir).criSocket,
    RUNTIME_BIN: runtimeBin,
    BRIDGE,
    CGROUP_ROOT,
    CREATED_PATHS: HOST_PATHS.filter((p) => !existsSync(p)).join(' '),
    NFT_TABLES_BEFORE: tables.join('\n'),
    SYSCTLS_BEFORE: sysctls.join(' '),
  };
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    join(dir, 'node.env'),
    Object.entries(env)
      .map(([k, v]) => `${k}=${quote(v)}`)
      .join('\n') + '\n',
  );
}

/** The cgroup root kubelet requires to exist, in every v1 hierarchy (and the unified one). */
function createCgroupRoot(): void {
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    const parent = join('/sys/fs/cgroup', hierarchy);
    if (!existsSync(join(parent, 'cgroup.procs'))) continue;
    const root = join(parent, CGROUP_ROOT);
    mkdirSync(root, { recursive: true });
    if (hierarchy === 'cpuset') {
      // A v1 cpuset child starts empty and refuses tasks until given CPUs and memory nodes.
      for (const file of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(root, file), readFileSync(join(parent, file)));
    }
  }
}

export async function startNode(cp: ControlPlane, opts: NodeOptions = {}): Promise<ClusterNode> {
  const log = opts.log ?? defaultLog;
  if (process.getuid?.() !== 0) throw new Error('a node needs root (containerd, runc, mounts, network devices, cgroups)');
  await tearDownLeftover(log);

  const [cpBins, runtimeBin, images] = [
    await ensureControlPlaneBinaries({ log }),
    await ensureNodeRuntime(log),
    await ensureNodeImages({ log }),
  ];
  const cniBin = join(runtimeBin, 'cni');

  const dir = mkdtempSync(join(tmpdir(), 'sidecar-e2e-node-'));
  const p = paths(dir);
  const f = (name: string) => join(dir, name);
  const [kubelet, kubeletHealthz, proxyHealthz, proxyMetrics] = (await freePorts(4)) as [number, number, number, number];
  const layout: NodeLayout = {
    dir,
    nodeName: NODE_NAME,
    nodeIp: NODE_IP,
    podCidr: POD_CIDR,
    bridge: BRIDGE,
    cgroupRoot: CGROUP_ROOT,
    runtimeBin,
    cniBin,
    pauseImage: PAUSE_IMAGE,
    ports: { kubelet, kubeletHealthz, proxyHealthz, proxyMetrics },
  };
  const started = Date.now();

  await recordHostState(dir, runtimeBin);
  writeFileSync(f('pids'), '');
  writeFileSync(MARKER, dir);
  const watchdogPid = startTeardownWatchdog(process.pid, teardownScript, [dir], f('teardown.log'));

  const components = new Components({ dir, pidFile: f('pids'), log, startTimeoutMs: opts.startTimeoutMs ?? 120_000 });
  const start = components.start.bind(components);
  const waitFor = components.waitFor.bind(components);
  let stopping: Promise<void> | undefined;
  const keep = () => opts.keepWorkDir === true || process.env['E2E_KEEP_WORKDIR'] === '1';

  let relay: ApiRelay | undefined;
  const stop = (keepDir = keep()): Promise<void> =>
    (stopping ??= (async () => {
      components.stopping();
      await relay?.close();
      const result = await run('bash', [teardownScript, dir, ...(keepDir ? ['--keep-dir'] : [])], { timeoutMs: 180_000 });
      try {
        process.kill(-watchdogPid, 'SIGKILL');
      } catch {
        // already gone
      }
      if (result.code !== 0) throw new Error(`node teardown left things behind:\n${result.stderr}`);
      log(`node stopped and removed${keepDir ? ` (files kept in ${dir})` : ''}`);
    })());

  // A config file of its own, or crictl looks for /etc/crictl.yaml.
  writeFileSync(f('crictl.yaml'), `runtime-endpoint: unix://${p.criSocket}\nimage-endpoint: unix://${p.criSocket}\ntimeout: 20\n`);
  const crictl = (args: readonly string[]) => run(join(runtimeBin, 'crictl'), ['--config', f('crictl.yaml'), ...args], { timeoutMs: 60_000 });
  const ctr = (args: readonly string[]) => must(join(runtimeBin, 'ctr'), ['--address', p.criSocket, '--namespace', 'k8s.io', ...args], 120_000);

  try {
    // --- host: forwarding for Services, the bridge with the node IP, cgroups, mounts
    await must('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1']);
    await must('ip', ['link', 'add', 'name', BRIDGE, 'type', 'bridge']);
    await must('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
    await must('ip', ['link', 'set', BRIDGE, 'up']);
    createCgroupRoot();
    // kubelet and runc need the mounts they make under the node's directory to
    // propagate (the host's / is private here): a shared bind mount of it.
    await must('mount', ['--bind', dir, dir]);
    await must('mount', ['--make-rshared', dir]);

    // --- containerd
    for (const d of [join(dir, 'containerd'), p.cniConfDir, p.cniIpamDir, p.kubeletDir, p.podLogs]) mkdirSync(d, { recursive: true });
    writeFileSync(p.containerdConfig, containerdConfig(layout));
    writeFileSync(join(p.cniConfDir, '10-sidecar-e2e.conflist'), cniConfList(layout));
    const containerd = start('containerd', join(runtimeBin, 'containerd'), ['--config', p.containerdConfig], {
      ...process.env,
      // containerd finds its shim (containerd-shim-runc-v2) on PATH.
      PATH: `${runtimeBin}:${process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    });
    await waitFor('containerd CRI', async () => (await crictl(['info'])).code === 0);

    // Pinned images are never garbage-collected by kubelet.
    const importImage = async (archive: string) => {
      await ctr(['images', 'import', '--local', '--label', 'io.cri-containerd.pinned=pinned', archive]);
    };
    for (const image of images) await importImage(image.archive);
    log(`imported ${images.map((i) => i.name).join(', ')}`);

    // --- the apiserver, for pods
    relay = await startApiRelay(NODE_IP, Number(new URL(cp.server).port));
    await routeKubernetesService(cp.kubeconfigPath, relay);

    // --- kubelet
    const kubeletClient = issueCert(cp.ca, {
      commonName: `system:node:${NODE_NAME}`,
      organizations: ['system:nodes'],
      usage: 'client',
    });
    const kubeletServing = issueCert(cp.ca, { commonName: NODE_NAME, usage: 'server', ipAddresses: [NODE_IP], dnsNames: [NODE_NAME] });
    const files: Record<string, string> = {
      'ca.crt': cp.caPem,
      'kubelet.kubeconfig': kubeconfig(cp.server, cp.caPem, `system:node:${NODE_NAME}`, kubeletClient),
      'kubelet.crt': kubeletServing.certPem,
      'kubelet.key': kubeletServing.keyPem,
      'kube-proxy.kubeconfig': kubeconfig(cp.server, cp.caPem, 'system:kube-proxy', issueCert(cp.ca, { commonName: 'system:kube-proxy', usage: 'client' })),
      // Pods resolve nothing: there is no cluster DNS and nothing to reach outside.
      'resolv.conf': 'options ndots:1\n',
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(f(name), content, { mode: 0o600 });
    writeFileSync(
      p.kubeletConfig,
      kubeletConfig(layout, {
        kubeconfig: f('kubelet.kubeconfig'),
        clientCaFile: f('ca.crt'),
        tlsCertFile: f('kubelet.crt'),
        tlsPrivateKeyFile: f('kubelet.key'),
      }),
    );
    start('kubelet', cpBins.kubelet, [
      `--config=${p.kubeletConfig}`,
      `--kubeconfig=${f('kubelet.kubeconfig')}`,
      `--root-dir=${p.kubeletDir}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${NODE_IP}`,
    ]);
    await waitFor(`node ${NODE_NAME} Ready`, async () => {
      const r = await cp.get(`/api/v1/nodes/${NODE_NAME}`);
      if (r.status !== 200) return false;
      const node = JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } };
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });

    // --- kube-proxy
    writeFileSync(p.proxyConfig, kubeProxyConfig(layout, f('kube-proxy.kubeconfig')));
    start('kube-proxy', cpBins.kubeProxy, [`--config=${p.proxyConfig}`]);
    await waitFor('kube-proxy /healthz', async () => (await httpStatus(`http://127.0.0.1:${proxyHealthz}/healthz`)) === 200);

    log(`node ${NODE_NAME} (${NODE_IP}) ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    const proc = (name: string) => components.get(name) as ManagedProcess;
    return {
      name: NODE_NAME,
      ip: NODE_IP,
      podCidr: POD_CIDR,
      dir,
      criEndpoint: `unix://${p.criSocket}`,
      pids: { containerd: containerd.pid, kubelet: proc('kubelet').pid, kubeProxy: proc('kube-proxy').pid },
      logs: { containerd: containerd.logPath, kubelet: proc('kubelet').logPath, kubeProxy: proc('kube-proxy').logPath },
      images: images.map((i) => i.name),
      died: components.died,
      importImage,
      crictl,
      stop: () => stop(),
    };
  } catch (err) {
    await stop(true).catch((teardownError: unknown) => log((teardownError as Error).message));
    (err as Error).message += `\n(node files and logs kept in ${dir})`;
    throw err;
  }
}
