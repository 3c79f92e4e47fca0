// The helm CLI built from the Go module proxy (test/chart/helm/build.sh) and
// the chart under test, for the chart checks (test/chart) and the helm
// scenarios on the real control plane (test/e2e/helm.test.ts).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../../support/paths.js';
import { run, type RunResult } from '../../support/run-program.js';

export const CHART_DIR = join(ROOT, 'charts', 'sidecar-injector');
export const CI_VALUES_DIR = join(CHART_DIR, 'ci');
export const BUILD_SCRIPT = join(ROOT, 'test', 'chart', 'helm', 'build.sh');

export { run, type RunResult } from '../../support/run-program.js';

let helmPath: Promise<string> | undefined;

/** The helm binary: HELM_BIN, or build.sh's (a no-op when up to date; a cold build takes a few minutes). */
export function ensureHelm(): Promise<string> {
  helmPath ??= (async () => {
    if (process.env['HELM_BIN']) return process.env['HELM_BIN'];
    const result = await run('bash', [BUILD_SCRIPT], { timeoutMs: 900_000 });
    const path = result.stdout.trim().split('\n').pop() ?? '';
    if (result.code !== 0 || path === '') throw new Error(`${BUILD_SCRIPT} failed (exit ${result.code}):\n${result.stderr}`);
    return path;
  })();
  return helmPath;
}

/** `helm ...args` with a clean helm environment (no user repos, plugins or kubeconfig unless passed). */
export async function helm(args: readonly string[], options: { timeoutMs?: number; kubeconfig?: string } = {}): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['KUBECONFIG'];
  for (const name of Object.keys(env)) if (name.startsWith('HELM_')) delete env[name];
  if (options.kubeconfig) env['KUBECONFIG'] = options.kubeconfig;
  return run(await ensureHelm(), args, { timeoutMs: options.timeoutMs ?? 60_000, env });
}

/** The values files of the CI matrix, charts/sidecar-injector/ci/*-values.yaml, by file name. */
export function ciValuesFiles(): string[] {
  return readdirSync(CI_VALUES_DIR)
    .filter((name) => name.endsWith('-values.yaml'))
    .sort();
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  valuesFiles?: readonly string[];
  set?: readonly string[];
  extraArgs?: readonly string[];
}

/** `helm template`; a non-zero exit is an error carrying helm's stderr. */
export async function renderChart(options: RenderOptions = {}): Promise<string> {
  const result = await helm(templateArgs(options));
  if (result.code !== 0) throw new Error(`helm template failed (exit ${result.code}): ${result.stderr}`);
  return result.stdout;
}

export function templateArgs(options: RenderOptions): string[] {
  return [
    'template',
    options.release ?? 'sidecar-injector',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'sidecar-injector',
    ...(options.valuesFiles ?? []).flatMap((file) => ['--values', file]),
    ...(options.set ?? []).flatMap((value) => ['--set', value]),
    ...(options.extraArgs ?? []),
  ];
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** The objects of a multi-document YAML stream (empty documents dropped). */
export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML from helm: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

export function findObject(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}
