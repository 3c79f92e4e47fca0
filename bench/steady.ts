/**
 * `npm run bench:steady`: the real `node dist/main.js serve` at a fixed rate
 * of admissions for a long while. Every 10 s its resident memory (VmRSS of
 * /proc/<pid>/status) is sampled; latencies are kept per 30-s window. At the
 * end it prints the p50/p99 of each window, the RSS slope (least squares,
 * MiB per minute, over the samples after the warm-up, and over the second
 * half of the run) and the largest RSS
 * against half of the chart's memory limit (resources.limits.memory of
 * charts/sidecar-injector/values.yaml). It prints; it asserts nothing.
 *
 * The process runs as the chart runs it: logging each admission at info
 * (to /dev/null here) and, unless BENCH_STEADY_NAMESPACES=0, with API access
 * (a stand-in apiserver listing that many namespaces and no
 * SidecarTemplates: bench/fake-apiserver.ts). Each request is the benchmark's
 * pod (bench/review.ts) with its own uid.
 *
 * Environment: BENCH_STEADY_SECONDS (600), BENCH_STEADY_RATE (admissions per
 * second, 500), BENCH_STEADY_CONNECTIONS (16), BENCH_STEADY_WARMUP (seconds
 * left out of the slope, 60), BENCH_STEADY_NAMESPACES (100).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { addedContainers, bodyFor, drive, percentile, stopDriving } from './drive.js';
import { serveNamespaces, type FakeApiserver } from './fake-apiserver.js';
import { REQUESTED_TEMPLATES, reviewBodyParts } from './review.js';
import { cpuSeconds, fmt, loadAverage, machine, makeCertificates, MIB, rssBytes, startServe, type ServeChild } from './serve-child.js';
import { ROOT, TEMPLATES_DIR } from '../test/support/paths.js';
import { envInt } from './env.js';

const SECONDS = envInt('BENCH_STEADY_SECONDS', 600, 10);
const RATE = envInt('BENCH_STEADY_RATE', 500, 1);
const CONNECTIONS = envInt('BENCH_STEADY_CONNECTIONS', 16, 1);
const WARMUP = envInt('BENCH_STEADY_WARMUP', 60, 0);
const NAMESPACES = envInt('BENCH_STEADY_NAMESPACES', 100, 0);
const SAMPLE_MS = 10_000;
const WINDOW_MS = 30_000;

/** resources.limits.memory of the chart's values, in bytes. */
function chartMemoryLimit(): { text: string; bytes: number } {
  const values = parse(readFileSync(join(ROOT, 'charts', 'sidecar-injector', 'values.yaml'), 'utf8')) as {
    resources?: { limits?: { memory?: unknown } };
  };
  const text = String(values.resources?.limits?.memory ?? '');
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text);
  if (match === null) throw new Error(`resources.limits.memory of the chart is not a quantity this benchmark reads: "${text}"`);
  const units: Record<string, number> = { '': 1, Ki: 1024, Mi: MIB, Gi: 1024 * MIB, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return { text, bytes: Number(match[1]) * (units[match[2] ?? ''] as number) };
}

/** Slope of the least-squares line through (x, y). */
export function leastSquaresSlope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - meanX) * (p.y - meanY);
    den += (p.x - meanX) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

interface Sample {
  seconds: number;
  rss: number;
}

async function main(): Promise<number> {
  const limit = chartMemoryLimit();
  console.log('# Steady under load (bench/steady.ts)');
  console.log(`machine: ${machine()}; load average (1/5/15 min) at start: ${loadAverage()}`);
  console.log(
    `${RATE} admissions/s for ${SECONDS} s over ${CONNECTIONS} connections; RSS every ${SAMPLE_MS / 1000} s, latency per ${WINDOW_MS / 1000}-s window; ` +
      `slope after a ${WARMUP}-s warm-up; ${NAMESPACES > 0 ? `API access, ${fmt(NAMESPACES)} namespaces listed` : 'no API access'}; ` +
      `the chart's memory limit ${limit.text} (half: ${fmt(limit.bytes / 2 / MIB)} MiB)`,
  );
  const work = mkdtempSync(join(tmpdir(), 'sidecar-steady-'));
  workDir = work;
  let api: FakeApiserver | undefined;
  let server: ServeChild | undefined;
  try {
    const certDir = join(work, 'certs');
    await makeCertificates(certDir);
    const flags: string[] = [];
    if (NAMESPACES > 0) {
      const names = ['shop', ...Array.from({ length: NAMESPACES - 1 }, (_, i) => `ns-${String(i + 1).padStart(5, '0')}`)];
      api = await serveNamespaces(mkdtempSync(join(work, 'api-')), names);
      flags.push('--kubeconfig', api.kubeconfigPath);
    }
    server = await startServe({ certDir, templatesDir: TEMPLATES_DIR, flags });
    const body = reviewBodyParts();
    const verification = await server.post('/mutate', bodyFor(body, 0));
    const added = verification.status === 200 ? addedContainers(verification.body) : [];
    if (!REQUESTED_TEMPLATES.every((name) => added.includes(name))) {
      throw new Error(`the verification review was not injected: HTTP ${verification.status} ${verification.body.slice(0, 500)}`);
    }
    console.log(`serve pid ${server.pid} ready after ${fmt(server.readyAfterMs / 1000, 1)} s, RSS ${fmt(rssBytes(server.pid) / MIB)} MiB; verified`);

    const pid = server.pid;
    const started = Date.now();
    const samples: Sample[] = [{ seconds: 0, rss: rssBytes(pid) }];
    const windows: number[][] = [];
    const lastWindow = Math.ceil((SECONDS * 1000) / WINDOW_MS) - 1;
    const cpuStart = cpuSeconds(pid);
    const sampler = setInterval(() => {
      const seconds = (Date.now() - started) / 1000;
      const sample = { seconds, rss: rssBytes(pid) };
      samples.push(sample);
      const latest = windows[windows.length - 1];
      console.log(`  ${fmt(seconds).padStart(5)} s  RSS ${fmt(sample.rss / MIB, 1).padStart(6)} MiB  window p99 so far ${fmt(latest === undefined ? Number.NaN : percentile(Float64Array.from(latest).sort(), 99), 1)} ms`);
    }, SAMPLE_MS);
    let result;
    try {
      result = await drive({
        port: server.port,
        body,
        connections: CONNECTIONS,
        seconds: SECONDS,
        overallRate: RATE,
        onResponse: (ms) => {
          // Answers to the last requests, arriving after the duration, count in the last window.
          const index = Math.min(Math.floor((Date.now() - started) / WINDOW_MS), lastWindow);
          (windows[index] ??= []).push(ms);
        },
      });
    } finally {
      clearInterval(sampler);
    }
    const cpu = cpuSeconds(pid) - cpuStart;
    samples.push({ seconds: (Date.now() - started) / 1000, rss: rssBytes(pid) });
    if (server.exited()) throw new Error(`serve exited under load:\n${server.stderr()}`);

    console.log(`\n--- Markdown (steady) ---\n`);
    console.log(
      `${fmt(result.requests)} admissions in ${fmt(result.seconds)} s (${fmt(result.requests / result.seconds)}/s of ${RATE}/s asked), ` +
        `${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts; server CPU ${fmt((cpu * 1e6) / Math.max(1, result.requests))} µs per admission ` +
        `(${fmt(cpu / result.seconds, 2)} cores); load average at end ${loadAverage()}.\n`,
    );
    console.log('| window (s) | admissions | p50 (ms) | p99 (ms) | max (ms) | RSS at its end (MiB) |');
    console.log('|---|---:|---:|---:|---:|---:|');
    windows.forEach((latencies, index) => {
      const sorted = Float64Array.from(latencies ?? []).sort();
      const end = (index + 1) * (WINDOW_MS / 1000);
      const rss = samples.filter((s) => s.seconds <= end + 1).at(-1)?.rss ?? Number.NaN;
      console.log(
        `| ${index * (WINDOW_MS / 1000)}–${Math.min(end, SECONDS)} | ${fmt(sorted.length)} | ${fmt(percentile(sorted, 50), 2)} | ${fmt(percentile(sorted, 99), 2)} | ` +
          `${fmt(sorted.at(-1) ?? Number.NaN, 1)} | ${fmt(rss / MIB, 1)} |`,
      );
    });
    const steady = samples.filter((s) => s.seconds >= WARMUP);
    const slope = leastSquaresSlope(steady.map((s) => ({ x: s.seconds / 60, y: s.rss / MIB })));
    // A rise that levels off (V8 growing into its working size) still gives the whole line a slope; the second half shows whether it goes on.
    const lateHalf = samples.filter((s) => s.seconds >= SECONDS / 2);
    const lateSlope = leastSquaresSlope(lateHalf.map((s) => ({ x: s.seconds / 60, y: s.rss / MIB })));
    const maxRss = Math.max(...samples.map((s) => s.rss));
    const first = steady[0];
    const last = steady.at(-1);
    console.log('');
    console.log(
      `RSS slope after the ${WARMUP}-s warm-up: ${fmt(slope, 3)} MiB/min over ${steady.length} samples ` +
        `(${first === undefined || last === undefined ? 'n/a' : `${fmt(first.rss / MIB, 1)} → ${fmt(last.rss / MIB, 1)} MiB`}); ` +
        `over the second half of the run: ${fmt(lateSlope, 3)} MiB/min (${lateHalf.length} samples).`,
    );
    console.log(
      `largest RSS ${fmt(maxRss / MIB, 1)} MiB: ${fmt((maxRss / limit.bytes) * 100)} % of the chart's limit ${limit.text}, ` +
        `${maxRss <= limit.bytes / 2 ? 'within' : 'ABOVE'} half of it (${fmt(limit.bytes / 2 / MIB)} MiB).`,
    );
    console.log('\n---');
    return 0;
  } finally {
    await server?.stop();
    await api?.close();
    rmSync(work, { recursive: true, force: true });
  }
}

let workDir: string | undefined;
process.on('SIGINT', () => {
  stopDriving();
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  process.exit(130); // serve-child's exit handler kills the server
});

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`steady benchmark failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
