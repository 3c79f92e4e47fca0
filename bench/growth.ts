/**
 * `npm run bench:growth` (and the end of `npm run bench`): how the cost of an
 * admission and the resident memory grow with the work. For each row the
 * real `node dist/main.js serve` starts afresh (127.0.0.1, certificates of
 * its own CA, logging at info to /dev/null), answers one verified review,
 * a warm-up, then a fixed number of admissions of the row's body at a fixed
 * concurrency; the server's CPU time (/proc/<pid>/stat) before and after
 * gives CPU µs per admission, /proc/<pid>/status its VmRSS and its /metrics
 * the V8 heap in use, both read after a full GC (bench/gc-on-signal.mjs) once
 * ready and again after the admissions.
 *
 * Rows: the pod grows (1, 10, 50 application containers; its env padded to
 * a 100 KB and a 1 MB AdmissionReview), the templates a pod asks for (1, 3,
 * 10 of 10 loaded; pods of one ReplicaSet, then each pod its own so the
 * plan memo misses), the templates loaded (3, 100, 1,000; the pod asks for
 * 3), the namespaces the informer holds (10, 1,000, 10,000, listed by a
 * stand-in apiserver, bench/fake-apiserver.ts: these rows have API access as
 * in a cluster, the others none).
 *
 * Environment: BENCH_GROWTH_ADMISSIONS (measured admissions per row, 10,000;
 * a tenth for the 1 MB row), BENCH_GROWTH_CONNECTIONS (8), BENCH_KEEP=1
 * (keep the temp dir), BENCH_PIN=0 (let the kernel place the server and the
 * load generator; by default they run on separate cores, bench/cores.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { addedContainers, bodyFor, drive, percentile, stopDriving, type BodyParts } from './drive.js';
import { serveNamespaces, type FakeApiserver } from './fake-apiserver.js';
import { generatedTemplateName, reviewBuilder, writeGeneratedTemplates, type ReviewShape } from './growth-inputs.js';
import { REQUESTED_TEMPLATES, reviewBodyParts } from './review.js';
import { collectGarbage, cpuSeconds, fmt, heapUsedBytes, loadAverage, machine, makeCertificates, MIB, rssBytes, startServe, type ServeChild } from './serve-child.js';
import { TEMPLATES_DIR } from '../test/support/paths.js';
import { envInt } from './env.js';
import { benchCores, coresLine, pinThisProcess } from './cores.js';

const ADMISSIONS = envInt('BENCH_GROWTH_ADMISSIONS', 10_000, 10);
const CONNECTIONS = envInt('BENCH_GROWTH_CONNECTIONS', 8, 1);
const KEEP = process.env['BENCH_KEEP'] === '1';
const CORES = benchCores();

interface Row {
  group: string;
  label: string;
  shape: ReviewShape;
  /** The repository's templates/, or this many generated ones. */
  templates: 'repository' | number;
  /** Containers the patch must add. */
  expect: readonly string[];
  /**
   * Namespaces the stand-in apiserver lists; the process then has API access
   * as the chart runs it (namespace and SidecarTemplate informers). None: no
   * API access, as in the other rows.
   */
  namespaces?: number;
  admissions: number;
}

const generated = (count: number): string[] => Array.from({ length: count }, (_, i) => generatedTemplateName(i + 1));
const DEFAULT_ASK = REQUESTED_TEMPLATES.join(',');
const onePod = (inject: string, containers = 1, targetBytes = 0): ReviewShape => ({ containers, targetBytes, inject });

function rows(): Row[] {
  const repo = { templates: 'repository' as const, expect: REQUESTED_TEMPLATES, admissions: ADMISSIONS };
  return [
    { group: 'pod', label: '1 container', shape: onePod(DEFAULT_ASK), ...repo },
    { group: 'pod', label: '10 containers', shape: onePod(DEFAULT_ASK, 10), ...repo },
    { group: 'pod', label: '50 containers', shape: onePod(DEFAULT_ASK, 50), ...repo },
    { group: 'pod', label: '1 container, env to 100 KB', shape: onePod(DEFAULT_ASK, 1, 100 * 1024), ...repo },
    { group: 'pod', label: '1 container, env to 1 MB', shape: onePod(DEFAULT_ASK, 1, 1024 * 1024), ...repo, admissions: Math.max(10, Math.round(ADMISSIONS / 10)) },
    ...[false, true].flatMap((distinctPods) =>
      [1, 3, 10].map((asked) => ({
        group: 'templates asked',
        label: `${asked} of 10 loaded${distinctPods ? ', each pod its own (memo misses)' : ''}`,
        shape: { ...onePod(generated(asked).join(',')), distinctPods },
        templates: 10,
        expect: generated(asked),
        admissions: ADMISSIONS,
      })),
    ),
    ...[3, 100, 1000].map((loaded) => ({
      group: 'templates loaded',
      label: `${fmt(loaded)} (pod asks for 3)`,
      shape: onePod(generated(3).join(',')),
      templates: loaded,
      expect: generated(3),
      admissions: ADMISSIONS,
    })),
    ...[10, 1000, 10_000].map((namespaces) => ({
      group: 'namespaces in the informer',
      label: fmt(namespaces),
      shape: onePod(DEFAULT_ASK),
      ...repo,
      namespaces,
    })),
  ];
}

export interface GrowthResult {
  row: Row;
  bodyBytes: number;
  readySeconds: number;
  admissions: number;
  cpuUs: number;
  p50: number;
  p99: number;
  rssReady: number;
  rssAfter: number;
  heapReady: number;
  heapAfter: number;
  /** Share of plan lookups the memo answered (all admissions of the process). */
  memoHits: number;
  failures: number;
}

async function measureRow(row: Row, work: string, certDir: string, templateDirs: Map<number, string>): Promise<GrowthResult> {
  let templatesDir = TEMPLATES_DIR;
  if (row.templates !== 'repository') {
    const count = row.templates;
    templatesDir = templateDirs.get(count) ?? join(work, `templates-${count}`);
    if (!templateDirs.has(count)) {
      writeGeneratedTemplates(templatesDir, count);
      templateDirs.set(count, templatesDir);
    }
  }
  let api: FakeApiserver | undefined;
  const flags: string[] = [];
  if (row.namespaces !== undefined) {
    // The pod's namespace first, so admission finds it in the informer's cache.
    const names = ['shop', ...Array.from({ length: row.namespaces - 1 }, (_, i) => `ns-${String(i + 1).padStart(5, '0')}`)];
    api = await serveNamespaces(mkdtempSync(join(work, 'api-')), names);
    flags.push('--kubeconfig', api.kubeconfigPath);
  }
  const body: BodyParts = reviewBodyParts(reviewBuilder(row.shape));
  let server: ServeChild | undefined;
  try {
    server = await startServe({ certDir, templatesDir, flags, gcOnSignal: true, cpu: CORES?.serverCpu });
    await collectGarbage(server);
    const rssReady = rssBytes(server.pid);
    const heapReady = await heapUsedBytes(server);
    const first = await server.post('/mutate', bodyFor(body, 0));
    if (first.status !== 200) throw new Error(`${row.label}: HTTP ${first.status}: ${first.body.slice(0, 500)}`);
    const added = addedContainers(first.body);
    const missing = row.expect.filter((name) => !added.includes(name));
    if (missing.length > 0) throw new Error(`${row.label}: the patch lacks ${missing.join(', ')} (added: ${added.join(', ') || 'none'})`);

    await drive({ port: server.port, body, connections: CONNECTIONS, amount: Math.max(50, Math.round(row.admissions / 5)) });
    const latencies: number[] = [];
    const cpuBefore = cpuSeconds(server.pid);
    const result = await drive({ port: server.port, body, connections: CONNECTIONS, amount: row.admissions, onResponse: (ms) => latencies.push(ms) });
    const cpu = cpuSeconds(server.pid) - cpuBefore;
    const memo = await planMemoLookups(server);
    await collectGarbage(server);
    const rssAfter = rssBytes(server.pid);
    const heapAfter = await heapUsedBytes(server);
    if (server.exited()) throw new Error(`${row.label}: serve exited under load:\n${server.stderr()}`);
    const sorted = Float64Array.from(latencies).sort();
    return {
      row,
      bodyBytes: body.size,
      readySeconds: server.readyAfterMs / 1000,
      admissions: result.requests,
      cpuUs: result.requests > 0 ? (cpu * 1e6) / result.requests : Number.NaN,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      rssReady,
      rssAfter,
      heapReady,
      heapAfter,
      memoHits: memo.hit / Math.max(1, memo.hit + memo.miss),
      failures: result.non2xx + result.errors + result.timeouts,
    };
  } finally {
    await server?.stop();
    await api?.close();
  }
}

/** sidecar_injector_plan_cache_lookups_total by result, from the process's /metrics. */
async function planMemoLookups(server: ServeChild): Promise<{ hit: number; miss: number }> {
  const text = (await server.get('/metrics')).body;
  const count = (result: string): number =>
    Number(new RegExp(`^sidecar_injector_plan_cache_lookups_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { hit: count('hit'), miss: count('miss') };
}

export function growthTable(results: readonly GrowthResult[]): string {
  const header = [
    '| what grows | row | AdmissionReview | admissions | plan memo hits | CPU / admission (µs) | p50 / p99 (ms) | ready after (s) | heap at ready / after (MiB) | RSS at ready / after (MiB) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const lines = results.map((r) => {
    const kb = r.bodyBytes >= 1024 * 1024 ? `${fmt(r.bodyBytes / MIB, 2)} MiB` : `${fmt(r.bodyBytes / 1024, 1)} KiB`;
    const failures = r.failures > 0 ? ` (${r.failures} failed)` : '';
    return (
      `| ${r.row.group} | ${r.row.label} | ${kb} | ${fmt(r.admissions)}${failures} | ${fmt(r.memoHits * 100)} % | ${fmt(r.cpuUs)} | ${fmt(r.p50, 1)} / ${fmt(r.p99, 1)} | ` +
      `${fmt(r.readySeconds, 1)} | ${fmt(r.heapReady / MIB, 1)} / ${fmt(r.heapAfter / MIB, 1)} | ${fmt(r.rssReady / MIB)} / ${fmt(r.rssAfter / MIB)} |`
    );
  });
  return [...header, ...lines].join('\n');
}

export async function runGrowth(): Promise<number> {
  const loadAtStart = loadAverage();
  console.log('\n# Cost as the work grows (bench/growth.ts)');
  console.log(`machine: ${machine()}; load average (1/5/15 min) at start: ${loadAtStart}`);
  if (CORES !== undefined) pinThisProcess(CORES.loadCpu);
  console.log(coresLine(CORES));
  console.log(
    `each row: a fresh serve process (info logging to /dev/null), one verified review, a warm-up of a fifth, ` +
      `then ${fmt(ADMISSIONS)} admissions (a tenth for 1 MB) over ${CONNECTIONS} connections; ` +
      `the same pod each time (pods of one ReplicaSet: the plan memo hits) unless a row says otherwise`,
  );
  const work = mkdtempSync(join(tmpdir(), 'sidecar-growth-'));
  workDir = work;
  const results: GrowthResult[] = [];
  try {
    const certDir = join(work, 'certs');
    await makeCertificates(certDir);
    const templateDirs = new Map<number, string>();
    for (const row of rows()) {
      const result = await measureRow(row, work, certDir, templateDirs);
      results.push(result);
      console.log(
        `  ${`${row.group}: ${row.label}`.padEnd(48)} ${fmt(result.bodyBytes).padStart(9)} B  CPU ${fmt(result.cpuUs).padStart(6)} µs/admission  ` +
          `RSS ${fmt(result.rssReady / MIB)} → ${fmt(result.rssAfter / MIB)} MiB  heap ${fmt(result.heapReady / MIB, 1)} → ${fmt(result.heapAfter / MIB, 1)} MiB  ready ${fmt(result.readySeconds, 1)} s` +
          (result.failures > 0 ? `  FAILED ${result.failures}` : ''),
      );
    }
  } finally {
    if (KEEP) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
  console.log(`\nload average at end: ${loadAverage()}\n\n--- Markdown (growth) ---\n`);
  console.log(growthTable(results));
  console.log('\n---');
  const failed = results.filter((r) => r.failures > 0);
  if (failed.length > 0) console.error(`error: failed admissions in ${failed.map((r) => `${r.row.group}: ${r.row.label}`).join('; ')}`);
  return failed.length > 0 ? 1 : 0;
}

let workDir: string | undefined;

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.on('SIGINT', () => {
    stopDriving();
    if (workDir !== undefined && !KEEP) rmSync(workDir, { recursive: true, force: true });
    process.exit(130); // serve-child's exit handler kills the server
  });
  runGrowth().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`growth benchmark failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
