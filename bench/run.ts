/**
 * `npm run bench`: load POST /mutate of the real `sidecar-injector serve`
 * process with a realistic AdmissionReview and compare it, in the same run,
 * with two reference servers:
 *
 *   ceiling   node:https, fixed response, body drained but not parsed
 *   minimal   node:https, body read + JSON.parse, fixed patch, uid echoed
 *   injector  node dist/main.js serve (logging at info, one line per admission)
 *   quiet     the same at --log-level warn: the difference is the log line's cost
 *
 * Each server is its own child process; autocannon runs here. Targets are
 * measured alternately, round after round, and the median per target is
 * reported, with the injector/minimal ratio of each round (its spread).
 * Server CPU time comes from /proc/<pid>/stat.
 *
 * Environment: BENCH_DURATION (s per measured run, 6), BENCH_ROUNDS (5),
 * BENCH_CONNECTIONS (32), BENCH_WARMUP (s per target, 3), BENCH_PIN (1: on
 * a machine of 2 cores or more with taskset, the servers run on the last core
 * and this process, the load generator, on the first, so a server never
 * shares its core with the load and the rounds spread far less; 0: let the
 * kernel place them), BENCH_CPU_PROF=1
 * (run the injector under --cpu-prof and print its hottest functions; the
 * figures of such a run are not comparable), BENCH_PERF=1 (the minimal handler
 * and the injector run with --perf-basic-prof, and after the rounds one more
 * run of each under Linux perf prints their CPU per request side by side, by
 * where it goes: bench/perf-compare.ts), BENCH_INJECTOR_LOG_LEVEL (info;
 * e.g. warn to see what the per-admission log line costs), BENCH_KEEP=1 (keep
 * the temp dir: certificates, the injector's log, the CPU profile).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDevices, measureDevices } from './devices.js';
import { drive, percentile, stopDriving, type DriveResult } from './drive.js';
import { formatComparison, perfAvailable, perRequestByArea, recordWhile, removePerfMap } from './perf-compare.js';
import { summarizeFile } from './profile-top.js';
import { INJECT_ANNOTATION, REQUESTED_TEMPLATES, reviewBodyParts } from './review.js';
import { envInt } from './env.js';
import { benchCores, coresLine, pinnedNode, pinThisProcess } from './cores.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = join(ROOT, 'bench');

// More, shorter rounds rather than a few long ones: a burst of other work on the
// shared machine then spoils one round's ratio, and the median sets it aside.
const DURATION = envInt('BENCH_DURATION', 6, 1);
const ROUNDS = envInt('BENCH_ROUNDS', 5, 1);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 32, 1);
const WARMUP = envInt('BENCH_WARMUP', 3, 0);
const PROFILE = process.env['BENCH_CPU_PROF'] === '1';
const PERF = process.env['BENCH_PERF'] === '1';
// The product logs one line per admission at info; another level only to see what logging costs.
const INJECTOR_LOG_LEVEL = process.env['BENCH_INJECTOR_LOG_LEVEL'] || 'info';
const KEEP = process.env['BENCH_KEEP'] === '1' || PROFILE;
const TARGET_RATIO = 0.8;

type TargetName = 'ceiling' | 'minimal' | 'injector' | 'quiet';
// `quiet` is the injector again at --log-level warn: the difference is what the admission line costs.
const TARGETS: readonly TargetName[] = ['ceiling', 'minimal', 'injector', 'quiet'];
const LABELS: Record<TargetName, string> = {
  quiet: 'sidecar-injector POST /mutate, --log-level warn (no admission line)',
  ceiling: 'ceiling: node:https, fixed response, body not parsed',
  minimal: 'minimal handler: JSON.parse + fixed patch',
  injector: `sidecar-injector POST /mutate (${INJECTOR_LOG_LEVEL === 'info' ? 'info logging on' : `log level ${INJECTOR_LOG_LEVEL}`})`,
};

// ---------------------------------------------------------------- processes

interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  port: number;
  stderr: string;
  exited: boolean;
  exit: Promise<void>;
}

const children = new Set<Child>();

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
  // Nothing from the caller's shell or from tsx may change what the servers run.
  delete env['NODE_OPTIONS'];
  for (const key of Object.keys(env)) if (key.startsWith('SIDECAR_INJECTOR_')) delete env[key];
  return env;
}

const PINNED = benchCores();

function startChild(name: string, args: string[], port: number, stdout: number | 'ignore'): Child {
  const [command, argv] = pinnedNode(PINNED?.serverCpu, args);
  const proc = spawn(command, argv, { cwd: ROOT, env: childEnv(), stdio: ['ignore', stdout, 'pipe'] });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${process.execPath}`);
  const child: Child = { name, proc, pid: proc.pid, port, stderr: '', exited: false, exit: Promise.resolve() };
  child.exit = new Promise((done) => {
    proc.once('exit', () => {
      child.exited = true;
      children.delete(child);
      done();
    });
  });
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (text: string) => {
    child.stderr = (child.stderr + text).slice(-4000);
  });
  children.add(child);
  return child;
}

async function stopChild(child: Child, graceMs = 8000): Promise<void> {
  if (child.exited) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    if (!child.exited) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }, graceMs);
  await child.exit;
  clearTimeout(timer);
}

async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c)));
}

process.on('exit', () => {
  // Last resort (an uncaught error, process.exit elsewhere): nothing may outlive the benchmark.
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

// ---------------------------------------------------------------- HTTPS

let caCert: Buffer | undefined;

function call(port: number, method: string, path: string, body?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: caCert,
        agent: false,
        timeout: 5000,
        headers: body ? { 'content-type': 'application/json', 'content-length': body.length } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
        res.on('error', fail);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', fail);
    req.end(body);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

async function waitReady(child: Child, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exited) throw new Error(`${child.name} exited during startup:\n${child.stderr}`);
    try {
      const res = await call(child.port, 'GET', '/healthz');
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${child.name} not ready on port ${child.port} after ${timeoutMs} ms (${last}):\n${child.stderr}`);
}

// ---------------------------------------------------------------- measures

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* Linux default */
}

/** utime + stime of the whole process (all threads), in seconds. */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Busy and total jiffies of the whole machine, for the CPU taken by everything else. */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

interface RunResult {
  target: TargetName;
  round: number;
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerRequest: number;
  serverCores: number;
  loadgenCores: number;
  otherCores: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

const body = reviewBodyParts();
/** Unpaced load for `seconds`, with every response's latency (ms), sorted. */
async function load(target: Child, seconds: number): Promise<{ result: DriveResult; latencies: Float64Array }> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const result = await drive({
    port: target.port,
    body,
    connections: CONNECTIONS,
    seconds,
    onResponse: (ms) => {
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count] = ms;
      count += 1;
    },
  });
  return { result, latencies: latencies.subarray(0, count).sort() };
}

async function measure(target: Child, round: number): Promise<RunResult> {
  const name = target.name as TargetName;
  const cpuBefore = processCpuSeconds(target.pid);
  const loadgenBefore = process.cpuUsage();
  const machineBefore = machineTicks();
  const wallBefore = process.hrtime.bigint();
  const { result, latencies } = await load(target, DURATION);
  const wall = Number(process.hrtime.bigint() - wallBefore) / 1e9;
  if (target.exited) throw new Error(`${target.name} exited during the run:\n${target.stderr}`);
  const cpu = processCpuSeconds(target.pid) - cpuBefore;
  const loadgen = process.cpuUsage(loadgenBefore);
  const loadgenSeconds = (loadgen.user + loadgen.system) / 1e6;
  const machineAfter = machineTicks();
  const machineBusyCores =
    ((machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total)) * availableParallelism();
  const requests = result.requests;
  const serverCores = cpu / wall;
  const loadgenCores = loadgenSeconds / wall;
  return {
    target: name,
    round,
    requests,
    seconds: result.seconds,
    rps: requests / result.seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUsPerRequest: requests > 0 ? (cpu * 1e6) / requests : Number.NaN,
    serverCores,
    loadgenCores,
    otherCores: Math.max(0, machineBusyCores - serverCores - loadgenCores),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

// ---------------------------------------------------------------- checks

interface Review {
  response?: { uid?: string; allowed?: boolean; patchType?: string; patch?: string; warnings?: string[] };
}

function verifyReview(name: string, status: number, text: string, uid: string, expectPatch: boolean): Review {
  if (status !== 200) throw new Error(`${name}: the verification request got HTTP ${status}: ${text.slice(0, 500)}`);
  const review = JSON.parse(text) as Review;
  const response = review.response;
  if (response?.allowed !== true) throw new Error(`${name}: the pod was not allowed: ${text.slice(0, 500)}`);
  if (name !== 'ceiling' && response.uid !== uid) throw new Error(`${name}: response uid ${response.uid} is not the request's ${uid}`);
  if (!expectPatch) return review;
  if (response.patchType !== 'JSONPatch' || typeof response.patch !== 'string') {
    throw new Error(`${name}: no JSONPatch in the response: ${text.slice(0, 500)}`);
  }
  const operations = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as { op: string; path: string; value?: unknown }[];
  const added = new Set<string>();
  for (const op of operations) {
    if (op.op !== 'add') continue;
    const values = op.path.endsWith('/containers') || op.path.endsWith('/initContainers') ? (op.value as unknown[]) : [op.value];
    if (!/\/(initC|c)ontainers(\/|$)/.test(op.path)) continue;
    for (const value of values) {
      const containerName = (value as { name?: unknown } | null)?.name;
      if (typeof containerName === 'string') added.add(containerName);
    }
  }
  const missing = REQUESTED_TEMPLATES.filter((t) => !added.has(t));
  if (missing.length > 0) {
    throw new Error(`${name}: the patch lacks the sidecar(s) ${missing.join(', ')} (added: ${[...added].join(', ') || 'none'})`);
  }
  return review;
}

function countLines(file: string): number {
  const data = readFileSync(file);
  let lines = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) lines += 1;
  return lines;
}

// ---------------------------------------------------------------- output

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';

function describeRun(r: RunResult): string {
  return (
    `${r.target.padEnd(8)} ${fmt(r.rps).padStart(7)} req/s  p50 ${fmt(r.p50, 2).padStart(6)} ms  p99 ${fmt(r.p99, 2).padStart(6)} ms  ` +
    `CPU ${fmt(r.cpuUsPerRequest).padStart(5)} µs/req  ` +
    `[cores: server ${fmt(r.serverCores, 2)}, load generator ${fmt(r.loadgenCores, 2)}, others ${fmt(r.otherCores, 2)}]  ` +
    `non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}`
  );
}

function machine(): string {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU';
  return `${model}, ${availableParallelism()} cores, Node ${process.version}`;
}

const loadAverage = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const machineLine = machine();
  const loadAtStart = loadAverage();
  console.log(`# sidecar-injector benchmark`);
  console.log(`machine: ${machineLine}`);
  console.log(`load average (1/5/15 min) at start: ${loadAtStart}`);
  console.log(
    `settings: ${CONNECTIONS} connections, pipelining 1, warm-up ${WARMUP} s per target, ${ROUNDS} rounds of ${DURATION} s per target, ` +
      `targets alternated (${TARGETS.join(', ')}) each round`,
  );
  if (PINNED !== undefined) pinThisProcess(PINNED.loadCpu);
  console.log(coresLine(PINNED));
  console.log(
    `request: POST /mutate, AdmissionReview of a controller-created pod, ${fmt(body.size)} bytes of JSON, ` +
      `${INJECT_ANNOTATION}: ${REQUESTED_TEMPLATES.join(',')}, a distinct uid per request`,
  );
  if (INJECTOR_LOG_LEVEL !== 'info') {
    console.log(`BENCH_INJECTOR_LOG_LEVEL=${INJECTOR_LOG_LEVEL}: the injector does not log each admission as it does in production.`);
  }
  if (PROFILE) console.log('BENCH_CPU_PROF=1: the injector runs under --cpu-prof; its figures are NOT comparable.');
  if (PERF && !perfAvailable()) {
    console.error('BENCH_PERF=1 needs Linux perf on PATH (Debian: apt-get install linux-perf)');
    return 1;
  }

  const dist = join(ROOT, 'dist', 'main.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run npm run build first`);
  const work = mkdtempSync(join(tmpdir(), 'sidecar-bench-'));
  workDir = work;
  try {
    const certDir = join(work, 'certs');
    execFileSync(process.execPath, [dist, 'certs', '--out', certDir, '--hosts', 'localhost,127.0.0.1', '--force'], {
      cwd: ROOT,
      env: childEnv(),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    caCert = readFileSync(join(certDir, 'ca.crt'));

    // The injector first: its answer to the benchmark review becomes the fixed answer of the references.
    const logFile = join(work, 'injector.log');
    const logFd = openSync(logFile, 'a');
    const profDir = join(work, 'cpuprof');
    const injectorPort = await freePort();
    const injector = startChild(
      'injector',
      [
        ...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
        ...(PERF ? ['--perf-basic-prof'] : []),
        dist,
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        String(injectorPort),
        '--cert-dir',
        certDir,
        '--templates-dir',
        join(ROOT, 'templates'),
        '--reload-poll',
        '0',
        '--log-level',
        INJECTOR_LOG_LEVEL,
        '--shutdown-timeout',
        '2',
      ],
      injectorPort,
      logFd,
    );
    closeSync(logFd);
    await waitReady(injector);
    const firstUid = body.uid(0);
    const firstBody = Buffer.concat([body.prefix, Buffer.from(firstUid), body.suffix]);
    const first = await call(injector.port, 'POST', '/mutate', firstBody);
    const review = verifyReview('injector', first.status, first.body, firstUid, true);
    const warnings = review.response?.warnings ?? [];
    console.log(
      `verified: the injector answers 200 with a ${fmt(Buffer.byteLength(first.body))}-byte AdmissionReview whose JSONPatch adds ` +
        `${REQUESTED_TEMPLATES.join(' and ')}${warnings.length > 0 ? ` (warnings: ${warnings.join('; ')})` : ''}`,
    );
    const responseFile = join(work, 'response.json');
    writeFileSync(responseFile, first.body);

    const quietPort = await freePort();
    const quiet = startChild(
      'quiet',
      [dist, 'serve', '--host', '127.0.0.1', '--port', String(quietPort), '--cert-dir', certDir, '--templates-dir', join(ROOT, 'templates'), '--reload-poll', '0', '--log-level', 'warn', '--shutdown-timeout', '2'],
      quietPort,
      'ignore',
    );
    await waitReady(quiet);
    const servers = new Map<TargetName, Child>([
      ['injector', injector],
      ['quiet', quiet],
    ]);
    for (const name of ['ceiling', 'minimal'] as const) {
      const port = await freePort();
      const child = startChild(
        name,
        [...(PERF && name === 'minimal' ? ['--perf-basic-prof'] : []), join(BENCH, `${name}.mjs`), '--port', String(port), '--cert-dir', certDir, '--response', responseFile],
        port,
        'ignore',
      );
      servers.set(name, child);
    }
    for (const name of ['ceiling', 'minimal'] as const) {
      const child = servers.get(name) as Child;
      await waitReady(child);
      const uid = body.uid(0);
      const res = await call(child.port, 'POST', '/mutate', Buffer.concat([body.prefix, Buffer.from(uid), body.suffix]));
      verifyReview(name, res.status, res.body, uid, true);
    }
    console.log(
      `servers (127.0.0.1): ceiling :${servers.get('ceiling')?.port} pid ${servers.get('ceiling')?.pid}, ` +
        `minimal :${servers.get('minimal')?.port} pid ${servers.get('minimal')?.pid}, injector :${injector.port} pid ${injector.pid}; ` +
        `injector log (one JSON line per admission): ${logFile}`,
    );

    if (WARMUP > 0) {
      for (const name of TARGETS) {
        const { result } = await load(servers.get(name) as Child, WARMUP);
        console.log(`warm-up  ${name.padEnd(8)} ${fmt(result.requests / result.seconds)} req/s`);
        await sleep(500);
      }
    }
    truncateSync(logFile, 0);

    const runs: RunResult[] = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      console.log(`round ${round}/${ROUNDS} (load average ${loadAverage()})`);
      for (const name of TARGETS) {
        const server = servers.get(name) as Child;
        const run = await measure(server, round);
        runs.push(run);
        let logNote = '';
        if (name === 'injector') {
          await sleep(300); // the log writes its gathered lines at the latest 250 ms after the first (observability/batched-lines.ts)
          const lines = countLines(logFile);
          truncateSync(logFile, 0);
          logNote = `  log lines ${fmt(lines)}`;
          if (INJECTOR_LOG_LEVEL === 'info' && lines < run.requests * 0.99) logNote += ' (FEWER than the requests: is logging on?)';
        }
        console.log(`  ${describeRun(run)}${logNote}`);
        await sleep(1000);
      }
    }
    const loadAtEnd = loadAverage();

    // -------------------------------------------------------------- summary
    const summary = new Map(
      TARGETS.map((name) => {
        const mine = runs.filter((r) => r.target === name);
        return [
          name,
          {
            rps: median(mine.map((r) => r.rps)),
            p50: median(mine.map((r) => r.p50)),
            p99: median(mine.map((r) => r.p99)),
            cpu: median(mine.map((r) => r.cpuUsPerRequest)),
            serverCores: median(mine.map((r) => r.serverCores)),
            loadgenCores: median(mine.map((r) => r.loadgenCores)),
            otherCores: median(mine.map((r) => r.otherCores)),
            non2xx: mine.reduce((s, r) => s + r.non2xx, 0),
            errors: mine.reduce((s, r) => s + r.errors + r.timeouts, 0),
          },
        ];
      }),
    );
    const get = (name: TargetName) => summary.get(name) as NonNullable<ReturnType<typeof summary.get>>;
    const inj = get('injector');
    const min = get('minimal');
    const ceil = get('ceiling');
    // The rounds alternate the targets, so each round's ratio compares servers under the same conditions:
    // the verdict is the median of those paired ratios, not the ratio of two medians from different rounds.
    const roundRatios = Array.from({ length: ROUNDS }, (_, i) => {
      const of = (name: TargetName) => runs.find((r) => r.target === name && r.round === i + 1)?.rps ?? Number.NaN;
      return of('injector') / of('minimal');
    });
    const ratio = median(roundRatios);
    const verdict = ratio >= TARGET_RATIO ? 'PASS' : 'BELOW';
    const spread = `${fmt(Math.min(...roundRatios), 2)}–${fmt(Math.max(...roundRatios), 2)}× over ${ROUNDS} rounds (${roundRatios.map((r) => fmt(r, 2)).join(', ')}); ratio of the median req/s ${fmt(inj.rps / min.rps, 2)}×`;
    const quietStats = get('quiet');
    const logLine = `the admission log line costs ${fmt(inj.cpu - quietStats.cpu)} µs of CPU per request (${fmt(inj.cpu)} with it, ${fmt(quietStats.cpu)} at --log-level warn)`;

    const table = [
      `Benchmark of \`npm run bench\` (medians of ${ROUNDS} alternated ${DURATION}-s runs per target, ${CONNECTIONS} connections, pipelining 1, HTTPS, ` +
        `${fmt(body.size)}-byte AdmissionReview of a controller-created pod asking for ${REQUESTED_TEMPLATES.join(' + ')}).`,
      `Machine: ${machineLine}; load average ${loadAtStart} at start, ${loadAtEnd} at end. The load generator (autocannon) runs on the same machine${PINNED === undefined ? '' : `, on CPU ${PINNED.loadCpu}; each server on CPU ${PINNED.serverCpu}`}.`,
      '',
      '| Server | req/s | p50 (ms) | p99 (ms) | server CPU / request (µs) | server cores busy | non-2xx | errors |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...TARGETS.map((name) => {
        const s = get(name);
        return `| ${LABELS[name]} | ${fmt(s.rps)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} | ${fmt(s.cpu)} | ${fmt(s.serverCores, 2)} | ${s.non2xx} | ${s.errors} |`;
      }),
      '',
      `| Injector relative to | req/s | CPU / request | req/s if each server had a core to itself (= 1 / CPU ratio) |`,
      '|---|---:|---:|---:|',
      `| minimal handler | ${fmt(ratio, 2)}× | ${fmt(inj.cpu / min.cpu, 2)}× | ${fmt(min.cpu / inj.cpu, 2)}× |`,
      `| ceiling | ${fmt(inj.rps / ceil.rps, 2)}× | ${fmt(inj.cpu / ceil.cpu, 2)}× | ${fmt(ceil.cpu / inj.cpu, 2)}× |`,
      '',
      `Target: /mutate ≥ ${TARGET_RATIO}× the minimal handler's req/s: **${verdict}** (median of the rounds' ratios ${fmt(ratio, 2)}×; per round ${spread}).`,
      '',
      `Logging: ${logLine}.`,
    ].join('\n');

    console.log('');
    console.log(`injector / minimal: req/s ${fmt(ratio, 2)}×, the median of the rounds' ratios (per round ${spread}), CPU per request ${fmt(inj.cpu / min.cpu, 2)}×`);
    console.log(logLine);
    console.log(`injector / ceiling: req/s ${fmt(inj.rps / ceil.rps, 2)}×, CPU per request ${fmt(inj.cpu / ceil.cpu, 2)}×`);
    console.log(
      `CPU-bound estimate (a server saturating a core of its own, load generator elsewhere): injector / minimal req/s ≈ ${fmt(min.cpu / inj.cpu, 2)}×`,
    );
    console.log(`target: /mutate >= ${TARGET_RATIO}x the minimal handler's req/s -> ${verdict} (${fmt(ratio, 2)}x; informational)`);
    console.log(
      `median cores busy during the runs: load generator ${fmt(get('ceiling').loadgenCores, 2)} / ${fmt(min.loadgenCores, 2)} / ${fmt(inj.loadgenCores, 2)}, ` +
        `other processes ${fmt(ceil.otherCores, 2)} / ${fmt(min.otherCores, 2)} / ${fmt(inj.otherCores, 2)} (ceiling / minimal / injector)`,
    );
    console.log('\n--- Markdown (for the README) ---\n');
    console.log(table);
    console.log('\n---');

    let failed = false;
    if (inj.non2xx > 0 || inj.errors > 0) {
      console.error(`error: the injector answered ${inj.non2xx} non-2xx responses and had ${inj.errors} errors/timeouts under load`);
      failed = true;
    }

    if (PERF) {
      // One more run of each under perf: where the injector's extra CPU per request goes.
      const areas = [];
      for (const name of ['minimal', 'injector'] as const) {
        const server = servers.get(name) as Child;
        const file = join(work, `perf-${name}.data`);
        const { result } = await recordWhile(server.pid, file, () => load(server, DURATION));
        areas.push(perRequestByArea(file, result.requests));
      }
      console.log(`\nWhere the CPU goes (Linux perf, cpu-clock, ${DURATION} s of load each; perf's own cost included):\n`);
      console.log(formatComparison(['minimal', 'injector'], areas[0] as Map<string, number>, areas[1] as Map<string, number>));
    }
    const pids = [...servers.values()].map((server) => server.pid);
    await stopAll();
    if (PERF) for (const pid of pids) removePerfMap(pid);
    // In this process, with the servers stopped: what each speed device of the admission path saves.
    const devices = await measureDevices(join(ROOT, 'templates'));
    console.log(`\nSpeed devices (in-process, median CPU µs per call; the injector's whole admission is ${fmt(inj.cpu)} µs above):\n`);
    console.log(formatDevices(devices));
    if (PROFILE) {
      const files = existsSync(profDir) ? readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')) : [];
      const newest = files.map((f) => join(profDir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
      if (newest === undefined) console.error(`no .cpuprofile was written to ${profDir}`);
      else console.log(`\nCPU profile of the injector (${newest}):\n${summarizeFile(newest, 30)}`);
    }
    return failed ? 1 : 0;
  } finally {
    await stopAll();
    if (KEEP) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

let interrupted = false;
let workDir: string | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: stopping the servers`);
    stopDriving();
    void stopAll().finally(() => {
      if (workDir !== undefined && !KEEP) rmSync(workDir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    if (interrupted) return;
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    await stopAll();
    process.exit(1);
  },
);
