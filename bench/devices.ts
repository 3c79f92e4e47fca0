/**
 * What each speed device of the admission path saves, measured in this
 * process on the benchmark's review: the work with the device and the same
 * work done the plain way, alternated in blocks, median CPU µs per admission.
 * A device that does not save a visible share of an admission should go
 * (docs/performance.md "Speed devices").
 *
 *   plan memo        PlanCache (server/plan-cache.ts) vs planning every pod
 *   JSON text        templates rendered to JSON text from pre-serialised
 *                    constant parts (templates/placeholders.ts renderJson)
 *                    vs rendered to objects and JSON.stringify'd
 *   spliced base64   encodeReview splicing the base64 patch into the JSON
 *                    (admission/review.ts) vs JSON.stringify of the response
 *
 *   npx tsx bench/devices.ts      (npm run bench prints it after the rounds)
 */
import { pathToFileURL } from 'node:url';
import { decodeAdmissionReview } from '../src/admission/decode.js';
import { encodeReview, reviewAdmission } from '../src/admission/review.js';
import type { AdmissionFacts, InjectionSettings, NamespaceInfo } from '../src/inject/decide.js';
import type { TemplateSet } from '../src/templates/model.js';
import { PlanCache } from '../src/server/plan-cache.js';
import { loadTemplateDirectory } from '../src/templates/load-directory.js';
import { renderJson, renderValue, type RenderContext } from '../src/templates/placeholders.js';
import { REQUESTED_TEMPLATES, reviewBodyParts } from './review.js';

const BLOCKS = 7;
const PER_BLOCK = 3000;

/** Median CPU µs per call of each function, alternating them block by block. */
function compare(fns: ReadonlyArray<(i: number) => unknown>): number[] {
  const samples = fns.map(() => [] as number[]);
  for (const fn of fns) for (let i = 0; i < PER_BLOCK; i += 1) fn(i); // warm-up
  for (let block = 0; block < BLOCKS; block += 1) {
    fns.forEach((fn, k) => {
      const before = process.cpuUsage();
      for (let i = 0; i < PER_BLOCK; i += 1) fn(i);
      const used = process.cpuUsage(before);
      samples[k]!.push((used.user + used.system) / PER_BLOCK);
    });
  }
  return samples.map((s) => [...s].sort((a, b) => a - b)[Math.floor(s.length / 2)]!);
}

export interface DeviceRow {
  device: string;
  step: string;
  withUs: number;
  withoutUs: number;
}

export async function measureDevices(templatesDir: string): Promise<DeviceRow[]> {
  const loaded = await loadTemplateDirectory(templatesDir);
  if (!loaded.ok) throw new Error(`templates invalid: ${JSON.stringify(loaded.problems)}`);
  const templates = loaded.set;
  const settings: InjectionSettings = { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true };
  const namespace: NamespaceInfo = { defaultTemplates: undefined };
  const parts = reviewBodyParts();
  const bodies = Array.from({ length: 256 }, (_, i) => Buffer.concat([parts.prefix, Buffer.from(parts.uid(i)), parts.suffix]).toString());
  const cache = new PlanCache(settings, 1000);
  const memo = (facts: AdmissionFacts, set: TemplateSet, _settings: InjectionSettings, ns: NamespaceInfo) => cache.plan(facts, set, ns);

  const admit = (i: number, plan?: typeof memo) => {
    const { request, pod } = decodeAdmissionReview(bodies[i % bodies.length]!);
    return encodeReview(reviewAdmission(request, pod, { templates, settings, namespace, ...(plan ? { plan } : {}) }).response);
  };
  const [memoOn, memoOff] = compare([(i) => admit(i, memo), (i) => admit(i)]);

  const decoded = decodeAdmissionReview(bodies[0]!);
  const { response } = reviewAdmission(decoded.request, decoded.pod, { templates, settings, namespace, plan: memo });
  const [spliced, stringified] = compare([
    () => encodeReview(response),
    () => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }),
  ]);

  const compiled = REQUESTED_TEMPLATES.flatMap((name) => {
    const template = templates.templates.get(name);
    if (template === undefined) throw new Error(`template ${name} not loaded`);
    return [...template.nativeContainers, ...template.initContainers, ...template.volumes];
  });
  const context: RenderContext = {
    pod: { name: 'web-', generateName: 'web-', namespace: 'shop', serviceAccountName: 'default' },
    params: { port: '8080', path: '/healthz', logPath: '/var/log/app' },
    template: { name: 'log-collector', version: '2.0.0' },
  };
  const [asText, asObjects] = compare([
    () => compiled.map((c) => renderJson(c, context)),
    () => compiled.map((c) => JSON.stringify(renderValue(c, context))),
  ]);

  return [
    { device: 'plan memo', step: 'a whole admission: decode, plan, encode', withUs: memoOn!, withoutUs: memoOff! },
    { device: 'JSON text from pre-serialised parts', step: `rendering ${REQUESTED_TEMPLATES.join(' + ')} (a plan-cache miss)`, withUs: asText!, withoutUs: asObjects! },
    { device: 'spliced base64 patch', step: 'encoding the AdmissionReview', withUs: spliced!, withoutUs: stringified! },
  ];
}

export function formatDevices(rows: readonly DeviceRow[]): string {
  const fmt = (n: number) => n.toFixed(1);
  return [
    '| speed device | step measured | with (µs) | without (µs) | saved (µs) |',
    '|---|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.device} | ${r.step} | ${fmt(r.withUs)} | ${fmt(r.withoutUs)} | ${fmt(r.withoutUs - r.withUs)} |`),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { fileURLToPath } = await import('node:url');
  const rows = await measureDevices(fileURLToPath(new URL('../templates', import.meta.url)));
  console.log(formatDevices(rows));
}
