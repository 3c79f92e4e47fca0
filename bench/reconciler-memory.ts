// Resident memory of the webhook process with the reconciler of missed
// injections (--reconcile-missed=report), with 0, 1,000 and 10,000 pods in
// the cluster. Starts the e2e control plane (no node: the pods stay
// Pending), creates the pods with parallel requests, and at each count runs
// side by side:
//   - off:   `serve` without the reconciler (the webhook's own memory);
//   - views: `serve --reconcile-missed=report`, the reconciler as shipped
//            (StoredPodView projections, paged list, field selector);
//   - whole: the webhook plus the former cache of whole V1Pod objects
//            (bench/full-pod-cache.mjs).
// Each process is measured once its cache holds every pod and it has been
// idle for BENCH_SETTLE_MS (V8's memory reducer collects and shrinks the
// heap of an idle process): VmRSS from /proc and the V8 heap in use, three
// samples a second apart, the medians. Prints a table; not a test, nothing
// is asserted.
//
//   npm run bench:reconciler-memory        (BENCH_POD_COUNTS=0,1000,10000 BENCH_SETTLE_MS=30000)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { startControlPlane } from '../test/e2e/harness/control-plane.js';
import { freePort, send } from '../test/support/http.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const COUNTS = (process.env['BENCH_POD_COUNTS'] ?? '0,1000,10000').split(',').map(Number);
const CONCURRENCY = 48;
const SETTLE_MS = Number(process.env['BENCH_SETTLE_MS'] ?? 30_000);
const NAMESPACES = 10;

type Variant = 'off' | 'views' | 'whole';

interface Measured {
  pods: number;
  variant: Variant;
  rssMiB: number;
  heapMiB: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? NaN);
}

/** A pod as a Deployment would make it (labels, env, resources, probes, mounts); the apiserver adds the service-account volume and defaults. */
function podBody(namespace: string, index: number): V1Pod {
  const name = `app-${index}`;
  return {
    metadata: {
      name,
      namespace,
      labels: { app: `app-${index % 50}`, 'pod-template-hash': '5d9c7b8f6', tier: 'backend', 'app.kubernetes.io/part-of': 'shop' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-27T10:00:00Z', 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' },
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.example/shop/app:1.4.2',
          ports: [
            { name: 'http', containerPort: 8080 },
            { name: 'metrics', containerPort: 9090 },
          ],
          env: [
            { name: 'MODE', value: 'production' },
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'DATABASE_URL', value: 'postgres://db.shop.svc:5432/shop' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
          livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10 },
          volumeMounts: [
            { name: 'config', mountPath: '/etc/app', readOnly: true },
            { name: 'cache', mountPath: '/var/cache/app' },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'app-config' } },
        { name: 'cache', emptyDir: {} },
      ],
    },
  };
}

async function createPods(core: CoreV1Api, from: number, to: number): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < to; i = next++) {
      const namespace = `bench-${i % NAMESPACES}`;
      await core.createNamespacedPod({ namespace, body: podBody(namespace, i) });
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  process.stderr.write(`[bench] created pods ${from}..${to - 1} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

interface Running {
  variant: Variant;
  child: ChildProcess;
  /** Pods in its cache, when it says. */
  watched: () => Promise<number | undefined>;
  heapUsed: () => Promise<number>;
  stop: () => Promise<void>;
}

function start(variant: Variant, kubeconfig: string, port: number, certDir: string): Running {
  const serve = ['--host', '127.0.0.1', '--port', String(port), '--cert-dir', certDir, '--create-certs', '--templates-dir', join(ROOT, 'templates')];
  const common = [...serve, '--cluster-templates=false', '--events=false', '--log-level=warn', '--reload-poll=0', '--namespace=bench-injector', '--shutdown-delay=0'];
  let lastWatched: number | undefined;
  let lastHeapUsed = NaN;
  const child =
    variant === 'whole'
      ? spawn(process.execPath, [join(ROOT, 'bench', 'full-pod-cache.mjs'), kubeconfig, ...common], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, [join(ROOT, 'dist', 'main.js'), 'serve', '--kubeconfig', kubeconfig, ...common, `--reconcile-missed=${variant === 'views' ? 'report' : 'off'}`], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      const match = /^\{"watched":(\d+),"heapUsed":(\d+)\}$/.exec(line.trim());
      if (match) [lastWatched, lastHeapUsed] = [Number(match[1]), Number(match[2])];
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const metric = async (name: string): Promise<number | undefined> => {
    try {
      const text = (await send({ port, ca: readFileSync(join(certDir, 'ca.crt'), 'utf8') }, { path: '/metrics', timeoutMs: 5_000 })).body;
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    } catch {
      return undefined;
    }
  };
  return {
    variant,
    child,
    watched: async () => (variant === 'whole' ? lastWatched : variant === 'off' ? undefined : metric('sidecar_injector_reconciler_watched_pods')),
    heapUsed: async () => (variant === 'whole' ? lastHeapUsed : ((await metric('sidecar_injector_nodejs_heap_size_used_bytes')) ?? NaN)),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

async function measure(kubeconfig: string, pods: number): Promise<Measured[]> {
  const dirs: string[] = [];
  const running: Running[] = [];
  try {
    for (const variant of ['off', 'views', 'whole'] as const) {
      const certDir = mkdtempSync(join(tmpdir(), 'bench-reconciler-'));
      dirs.push(certDir);
      running.push(start(variant, kubeconfig, await freePort(), certDir));
    }
    const deadline = Date.now() + 300_000;
    for (const r of running.filter((x) => x.variant !== 'off')) {
      while ((await r.watched()) !== pods) {
        if (Date.now() > deadline) throw new Error(`${r.variant}: its cache did not reach ${pods} pods`);
        if (r.child.exitCode !== null) throw new Error(`${r.variant} exited with ${r.child.exitCode}`);
        await sleep(500);
      }
    }
    await sleep(SETTLE_MS);
    const results: Measured[] = [];
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[1] as number;
    for (const r of running) {
      const rss: number[] = [];
      const heap: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        rss.push(rssKiB(r.child.pid as number));
        heap.push(await r.heapUsed());
        await sleep(1_000);
      }
      results.push({ pods, variant: r.variant, rssMiB: median(rss) / 1024, heapMiB: median(heap) / 2 ** 20 });
    }
    return results;
  } finally {
    await Promise.all(running.map((r) => r.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const controlPlane = await startControlPlane({ log: (line) => process.stderr.write(`[control-plane] ${line}\n`) });
  try {
    const config = new KubeConfig();
    config.loadFromFile(controlPlane.kubeconfigPath);
    const core = config.makeApiClient(CoreV1Api);
    for (let i = 0; i < NAMESPACES; i += 1) await core.createNamespace({ body: { metadata: { name: `bench-${i}` } } });
    await core.createNamespace({ body: { metadata: { name: 'bench-injector' } } });
    // The ServiceAccount admission plugin refuses pods until each namespace's default ServiceAccount exists.
    for (let i = 0; i < NAMESPACES; i += 1) {
      for (;;) {
        try {
          await core.readNamespacedServiceAccount({ name: 'default', namespace: `bench-${i}` });
          break;
        } catch {
          await sleep(200);
        }
      }
    }
    const sample = JSON.stringify((await core.createNamespacedPod({ namespace: 'bench-injector', body: podBody('bench-injector', 0) })) ?? {});
    await core.deleteNamespacedPod({ name: 'app-0', namespace: 'bench-injector' });
    process.stderr.write(`[bench] a stored pod is ${(sample.length / 1024).toFixed(1)} KiB of JSON\n`);
    const results: Measured[] = [];
    let created = 0;
    for (const pods of COUNTS) {
      if (pods > created) await createPods(core, created, pods);
      created = Math.max(created, pods);
      results.push(...(await measure(controlPlane.kubeconfigPath, pods)));
      process.stderr.write(`[bench] measured with ${pods} pods\n`);
    }
    const of = (pods: number, variant: Variant) => results.find((r) => r.pods === pods && r.variant === variant) as Measured;
    const cell = (pods: number, variant: Variant) => `${of(pods, variant).rssMiB.toFixed(0)} (${of(pods, variant).heapMiB.toFixed(0)})`;
    const lines = [
      `Webhook process memory, MiB: resident (VmRSS) and, in parentheses, V8 heap in use; settled ${SETTLE_MS / 1000} s;`,
      `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load ${loadavg()[0]?.toFixed(1)}`,
      '',
      '| pods | reconciler off | views (shipped) | whole V1Pods (former) | RSS views − off | RSS whole − off |',
      '|---:|---:|---:|---:|---:|---:|',
      ...COUNTS.map((pods) => {
        const [off, views, whole] = [of(pods, 'off').rssMiB, of(pods, 'views').rssMiB, of(pods, 'whole').rssMiB];
        return `| ${pods.toLocaleString('en-US')} | ${cell(pods, 'off')} | ${cell(pods, 'views')} | ${cell(pods, 'whole')} | ${(views - off).toFixed(0)} | ${(whole - off).toFixed(0)} |`;
      }),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await controlPlane.stop();
  }
}

await main();
