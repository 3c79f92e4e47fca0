/**
 * Where each server's CPU goes per request, from Linux `perf` (BENCH_PERF=1 in
 * `npm run bench`): the whole process sampled on cpu-clock — V8's C++ (JSON,
 * strings, object shapes, GC), JIT-compiled JavaScript by where it lives
 * (node --perf-basic-prof names it), OpenSSL, libc and the kernel — which
 * V8's own --cpu-prof cannot show, since it sees native work only as the
 * JavaScript frame that called it. Two servers side by side, per request, so
 * the difference says where one spends more than the other.
 */
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

/** CPU time per sample: cpu-clock counts nanoseconds of the task's CPU time. */
const SAMPLE_US = 250;

export function perfAvailable(): boolean {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Samples process `pid` while `during` runs; resolves with what `during` returned once perf has written `file`. */
export async function recordWhile<T>(pid: number, file: string, during: () => Promise<T>): Promise<T> {
  const perf = spawn('perf', ['record', '--quiet', '-e', 'cpu-clock', '-c', String(SAMPLE_US * 1000), '-p', String(pid), '-o', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  perf.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Stopped by SIGINT, perf writes its file and exits 0, or dies of the signal itself.
  const exited = new Promise<number | null>((resolve) => perf.once('exit', (code, signal) => resolve(signal === 'SIGINT' ? 0 : code)));
  await new Promise((resolve) => setTimeout(resolve, 300)); // attached before the load starts
  let value: T;
  try {
    value = await during();
  } finally {
    perf.kill('SIGINT');
    await exited;
  }
  const code = await exited;
  if (code !== 0) throw new Error(`perf record exited with ${code}: ${stderr}`);
  return value;
}

/** Where a sample's symbol belongs; the first rule that matches wins. */
const AREAS: Array<[string, (dso: string, sym: string) => boolean]> = [
  ['kernel (syscalls, TCP over loopback, scheduling)', (dso) => dso.startsWith('[kernel')],
  ['OpenSSL (TLS records, AES-GCM)', (_d, sym) => /ssl|aes|gcm|EVP_|ossl_|CRYPTO_|sha\d|rsaz|BN_/i.test(sym)],
  ['V8 JSON.parse', (_d, sym) => sym.includes('JsonParser')],
  ['V8 JSON.stringify', (_d, sym) => sym.includes('JsonStringifier')],
  ['V8 garbage collection', (_d, sym) => /Scaveng|MarkCompact|Sweeper|Evacuat|ConcurrentMarking|Heap::|Heap_|MemoryAllocator/.test(sym)],
  ['V8 strings (internalise, hash, flatten, UTF-8 length)', (_d, sym) => /StringTable|Internalize|String::|StringAdd|Utf8|SeqOneByteString|StringHasher/.test(sym)],
  ['V8 property access and object shapes', (_d, sym) => /Transition|LookupIterator|IC_|_IC|KeyedLoad|KeyedStore|DescriptorArray|Map::|CreateDataProperty/.test(sym)],
  ['llhttp (HTTP parsing)', (_d, sym) => sym.startsWith('llhttp')],
  ['libc (malloc, free, memcpy)', (dso) => dso.startsWith('libc')],
];

function areaOf(dso: string, sym: string): string {
  if (sym.startsWith('JS:')) {
    const where = /(?:file:\/\/)?(\/\S+|node:\S+)/.exec(sym)?.[1] ?? '';
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1];
    if (pkg !== undefined) return `JavaScript: ${pkg}`;
    if (where.startsWith('node:')) return 'JavaScript: Node core (http, streams, tls)';
    if (where.includes('/dist/')) return 'JavaScript: sidecar-injector (dist/)';
    return 'JavaScript: other';
  }
  for (const [area, matches] of AREAS) if (matches(dso, sym)) return area;
  return dso === 'node' ? 'Node and V8 other (builtins, interpreter, runtime)' : `other (${dso})`;
}

/** CPU µs per request by area, from a perf.data file of `requests` requests. */
export function perRequestByArea(file: string, requests: number): Map<string, number> {
  const report = execFileSync('perf', ['report', '-i', file, '--stdio', '--sort', 'dso,sym', '-F', 'sample,dso,sym'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const areas = new Map<string, number>();
  for (const line of report.split('\n')) {
    const match = /^\s*(\d+)\s+(\S+(?: tid \d+\]?)?)\s+\[[.k]\]\s+(.*)$/.exec(line);
    if (match === null) continue;
    const area = areaOf(match[2] as string, (match[3] as string).trim());
    areas.set(area, (areas.get(area) ?? 0) + (Number(match[1]) * SAMPLE_US) / requests);
  }
  return areas;
}

/** A Markdown table of two servers' µs per request by area, largest difference first. */
export function formatComparison(labels: [string, string], a: Map<string, number>, b: Map<string, number>): string {
  const total = (m: Map<string, number>) => [...m.values()].reduce((s, v) => s + v, 0);
  const names = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => (b.get(y) ?? 0) - (a.get(y) ?? 0) - ((b.get(x) ?? 0) - (a.get(x) ?? 0)));
  const f = (v: number) => v.toFixed(1);
  const rows = names.map((n) => `| ${n} | ${f(a.get(n) ?? 0)} | ${f(b.get(n) ?? 0)} | ${f((b.get(n) ?? 0) - (a.get(n) ?? 0))} |`);
  return [
    `| where (perf, µs of CPU per request) | ${labels[0]} | ${labels[1]} | difference |`,
    '|---|---:|---:|---:|',
    ...rows,
    `| **total** | **${f(total(a))}** | **${f(total(b))}** | **${f(total(b) - total(a))}** |`,
  ].join('\n');
}

/** node --perf-basic-prof writes /tmp/perf-PID.map; the benchmark leaves nothing behind. */
export function removePerfMap(pid: number): void {
  rmSync(`/tmp/perf-${pid}.map`, { force: true });
}
