/**
 * The real `node dist/main.js serve` as a child process of a benchmark, on
 * 127.0.0.1 with certificates of its own CA, and what /proc says about it:
 * CPU time and resident memory. Used by bench/growth.ts and bench/steady.ts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pinnedNode } from './cores.js';
import { writeTestCertificates } from '../test/support/certs.js';
import { freePort, send, type HttpResult } from '../test/support/http.js';
import { DIST_MAIN, ROOT } from '../test/support/paths.js';

export interface ServeChild {
  pid: number;
  port: number;
  /** PEM of the CA that signed the serving certificate. */
  ca: string;
  /** Milliseconds from spawn until /readyz answered 200. */
  readyAfterMs: number;
  exited(): boolean;
  /** The end of stderr, for failure messages. */
  stderr(): string;
  post(path: string, body: Buffer): Promise<HttpResult>;
  get(path: string): Promise<HttpResult>;
  /** SIGTERM by PID, SIGKILL after a grace period; resolves when it has exited. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

process.on('exit', () => {
  // Last resort (an uncaught error, process.exit elsewhere): nothing may outlive the benchmark.
  for (const child of running) if (child.pid !== undefined) killQuietly(child.pid, 'SIGKILL');
});

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/** The environment of a served child: nothing from the caller's shell or from tsx may change what it runs. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
  delete env['NODE_OPTIONS'];
  for (const key of Object.keys(env)) if (key.startsWith('SIDECAR_INJECTOR_') || key.startsWith('POD_')) delete env[key];
  return env;
}

/** A CA and a serving certificate for 127.0.0.1 in `dir`; returns the CA's PEM. */
export async function makeCertificates(dir: string): Promise<string> {
  await writeTestCertificates(dir);
  return readFileSync(join(dir, 'ca.crt'), 'utf8');
}

export interface ServeOptions {
  certDir: string;
  templatesDir: string;
  /** More flags of `serve` (e.g. --kubeconfig). */
  flags?: string[];
  /** Where the per-admission log lines go (default /dev/null: written, as in production, then dropped). */
  logFile?: string;
  readyTimeoutMs?: number;
  /** Preload bench/gc-on-signal.mjs, for collectGarbage(). */
  gcOnSignal?: boolean;
  /** Run the server on this CPU only (bench/cores.ts). */
  cpu?: number;
}

const GC_PRELOAD = join(ROOT, 'bench', 'gc-on-signal.mjs');

/** Starts `serve` and resolves once /readyz answers 200 (templates loaded, namespaces listed when it has API access). */
export async function startServe(options: ServeOptions): Promise<ServeChild> {
  if (!existsSync(DIST_MAIN)) throw new Error(`${DIST_MAIN} is missing: run npm run build first`);
  const ca = readFileSync(join(options.certDir, 'ca.crt'), 'utf8');
  const port = await freePort();
  const args = [
    ...(options.gcOnSignal === true ? ['--expose-gc', '--import', pathToFileURL(GC_PRELOAD).href] : []),
    DIST_MAIN,
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--cert-dir',
    options.certDir,
    '--templates-dir',
    options.templatesDir,
    '--reload-poll',
    '0',
    '--shutdown-delay',
    '0',
    '--shutdown-timeout',
    '2',
    ...(options.flags ?? []),
  ];
  const logFd = openSync(options.logFile ?? '/dev/null', 'a');
  const started = Date.now();
  const [command, argv] = pinnedNode(options.cpu, args);
  const proc = spawn(command, argv, { cwd: ROOT, env: childEnv(), stdio: ['ignore', logFd, 'pipe'] });
  closeSync(logFd);
  if (proc.pid === undefined) throw new Error(`could not start ${process.execPath}`);
  const pid = proc.pid;
  running.add(proc);
  let stderr = '';
  let exited = false;
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  const exit = new Promise<void>((done) =>
    proc.once('exit', () => {
      exited = true;
      running.delete(proc);
      done();
    }),
  );
  const target = { port, ca };
  const child: ServeChild = {
    pid,
    port,
    ca,
    readyAfterMs: 0,
    exited: () => exited,
    stderr: () => stderr,
    post: (path, body) =>
      send(target, { method: 'POST', path, body, headers: { 'content-type': 'application/json', 'content-length': body.length }, timeoutMs: 30_000 }),
    get: (path) => send(target, { path, timeoutMs: 10_000 }),
    stop: async () => {
      if (exited) return;
      killQuietly(pid, 'SIGTERM');
      const timer = setTimeout(() => killQuietly(pid, 'SIGKILL'), 8_000);
      await exit;
      clearTimeout(timer);
    },
  };
  const deadline = started + (options.readyTimeoutMs ?? 120_000);
  let last = '';
  while (Date.now() < deadline) {
    if (exited) throw new Error(`serve exited during startup:\n${stderr}`);
    try {
      const res = await child.get('/readyz');
      if (res.status === 200) {
        child.readyAfterMs = Date.now() - started;
        return child;
      }
      last = `HTTP ${res.status}: ${res.body.slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  await child.stop();
  throw new Error(`serve not ready after ${options.readyTimeoutMs ?? 120_000} ms (${last}):\n${stderr}`);
}

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* Linux default */
}

/** utime + stime of the whole process (all threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Resident memory (VmRSS) in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

/** A full garbage collection in a process started with gcOnSignal, so what is read next is what it retains. */
export async function collectGarbage(child: ServeChild): Promise<void> {
  process.kill(child.pid, 'SIGUSR2');
  await new Promise((done) => setTimeout(done, 500));
}

/** The V8 heap in use, from the process's own /metrics (prom-client's default metrics). */
export async function heapUsedBytes(child: ServeChild): Promise<number> {
  const res = await child.get('/metrics');
  const value = /^sidecar_injector_nodejs_heap_size_used_bytes (\S+)$/m.exec(res.body)?.[1];
  return value === undefined ? Number.NaN : Number(value);
}

export const MIB = 1024 * 1024;

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';

export function machine(): string {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU';
  return `${model}, ${availableParallelism()} cores, Node ${process.version}`;
}

export const loadAverage = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
