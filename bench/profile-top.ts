/**
 * Summary of a V8 .cpuprofile (node --cpu-prof): the functions with the most
 * self time, and self time grouped by where the code lives (a file of the
 * project, a package under node_modules, Node's own code, GC, ...).
 *
 *   npx tsx bench/profile-top.ts FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTimeRow {
  name: string;
  where: string;
  ms: number;
  /** Share of the busy (non-idle) time. */
  percent: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  functions: SelfTimeRow[];
  areas: SelfTimeRow[];
}

/** `node_modules/<pkg>`, `node:<module>`, a path relative to the project, or the V8 pseudo-frame. */
function area(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return `node_modules/${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return url;
  const cwd = pathToFileURL(process.cwd()).href + '/';
  return url.startsWith(cwd) ? url.slice(cwd.length) : url;
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time per node from the sample stream when present (exact), else hitCount × mean interval.
  const selfUs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas && profile.samples.length === profile.timeDeltas.length) {
    for (let i = 0; i < profile.samples.length; i += 1) {
      const id = profile.samples[i] as number;
      // timeDeltas[i] is the gap before sample i; the time until the next sample belongs to sample i.
      const delta = profile.timeDeltas[i + 1] ?? 0;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, delta));
    }
  } else {
    const hits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
    const perHit = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0;
    for (const n of profile.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * perHit);
  }
  const functions = new Map<string, SelfTimeRow>();
  const areas = new Map<string, SelfTimeRow>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const where = area(frame.url, name);
    const location = frame.url === '' ? where : `${where}:${frame.lineNumber + 1}`;
    const key = `${name} ${location}`;
    const f = functions.get(key) ?? { name, where: location, ms: 0, percent: 0 };
    f.ms += us / 1000;
    functions.set(key, f);
    const a = areas.get(where) ?? { name: where, where, ms: 0, percent: 0 };
    a.ms += us / 1000;
    areas.set(where, a);
  }
  const finish = (rows: Iterable<SelfTimeRow>): SelfTimeRow[] =>
    [...rows].map((r) => ({ ...r, percent: busyUs > 0 ? (r.ms * 1000 * 100) / busyUs : 0 })).sort((a, b) => b.ms - a.ms);
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, functions: finish(functions.values()), areas: finish(areas.values()) };
}

export function formatSummary(summary: ProfileSummary, top = 25): string {
  const pct = (r: SelfTimeRow): string => `${r.percent.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms`;
  const lines = [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms (percentages are of busy time)`,
    '',
    `Top ${top} functions by self time:`,
    ...summary.functions.slice(0, top).map((r) => `  ${pct(r)}  ${r.name}  ${r.where}`),
    '',
    'Self time by area:',
    ...summary.areas.slice(0, 20).map((r) => `  ${pct(r)}  ${r.name}`),
  ];
  return lines.join('\n');
}

export function summarizeFile(file: string, top = 25): string {
  return formatSummary(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile), top);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, n] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: npx tsx bench/profile-top.ts FILE.cpuprofile [N]\n');
    process.exit(2);
  }
  process.stdout.write(`${summarizeFile(file, n === undefined ? 25 : Number(n))}\n`);
}
