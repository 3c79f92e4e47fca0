// The chart's `mode` without a cluster: which objects each mode renders, the
// committed compilation of the default templates (files/admission-policies.yaml)
// staying what `npm run generate:policies` writes and what
// `sidecar-injector policy` prints (with `--on-problem` config.onProblem in
// mode policy: its validating policies report problems as the webhook would;
// without in mode both, where the webhook reports them), the refusals
// (changed templates without policy.manifests, Kubernetes older than 1.36,
// settings the policies cannot honour) and NOTES.txt. The policy renderings are not in ci/*-values.yaml:
// test/e2e/helm.test.ts dry-runs those on 1.30 too, which has no
// MutatingAdmissionPolicy; test/e2e/helm-policy-mode.test.ts dry-runs them
// on 1.37 instead.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { generatePolicies, POLICIES_FILE, VALUES_FILE } from '../../scripts/generate-policies.js';
import { DIST_MAIN, TEMPLATES_DIR } from '../support/paths.js';
import { CHART_DIR, helm, parseObjects, renderChart, run, templateArgs, type K8sObject, type RenderOptions } from './support/helm.js';

jest.setTimeout(60_000);

type Json = Record<string, unknown>;
const POLICY_KINDS = ['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding'];
const VALIDATING_KINDS = ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];
const ADMISSION_KINDS = [...POLICY_KINDS, ...VALIDATING_KINDS];
/** The helm test hook's objects, rendered in every mode: the apiserver injects its dry-run pod either way. */
const TEST_HOOK = ['Pod/sidecar-injector-test', 'Role/sidecar-injector-test', 'RoleBinding/sidecar-injector-test', 'ServiceAccount/sidecar-injector-test'];

let work: string;
/** `sidecar-injector policy --templates-dir templates` output files: without --on-problem, with warn, with deny. */
const cli = { mutating: '', warn: '', deny: '' };

/** What `sidecar-injector policy` prints for these arguments, written to a file. */
async function printPolicies(file: string, args: readonly string[]): Promise<string> {
  const printed = await run(process.execPath, [DIST_MAIN, 'policy', '--templates-dir', TEMPLATES_DIR, ...args]);
  if (printed.code !== 0) throw new Error(`sidecar-injector policy failed: ${printed.stderr}`);
  const path = join(work, file);
  writeFileSync(path, printed.stdout);
  return path;
}

beforeAll(async () => {
  await helm(['version', '--short']);
  work = mkdtempSync(join(tmpdir(), 'chart-policy-'));
  cli.mutating = await printPolicies('mutating.yaml', []);
  cli.warn = await printPolicies('warn.yaml', ['--on-problem', 'warn']);
  cli.deny = await printPolicies('deny.yaml', ['--on-problem', 'deny']);
}, 900_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

const render = async (options: RenderOptions): Promise<K8sObject[]> => parseObjects(await renderChart(options));
const names = (objects: readonly K8sObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
const refusal = async (options: RenderOptions): Promise<string> => {
  const result = await helm(templateArgs(options));
  expect(result.code).not.toBe(0);
  return result.stderr;
};
/** An object as `sidecar-injector policy` prints it, without what the chart adds (its labels, its namespace exclusions). */
const asPrinted = (object: K8sObject): Json => {
  const copy = structuredClone(object) as unknown as Json & { metadata: Json; spec: Json };
  copy.metadata['labels'] = Object.fromEntries(Object.entries(object.metadata.labels ?? {}).filter(([k]) => k === 'app.kubernetes.io/managed-by' || k.startsWith('sidecar.example/')));
  delete (copy.spec['matchResources'] as Json | undefined)?.['namespaceSelector'];
  return copy;
};
/** Helm groups the documents of a file by kind: compared in one order. */
const comparable = (objects: readonly K8sObject[]): Json[] =>
  [...objects].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`)).map(asPrinted);

describe('the committed compilation of the default templates', () => {
  it('is what npm run generate:policies writes', () => {
    const committed = readFileSync(POLICIES_FILE, 'utf8');
    expect(generatePolicies(readFileSync(VALUES_FILE, 'utf8')) === committed ? 'up to date' : 'differs: run npm run generate:policies').toBe('up to date');
  });

  it.each([
    ['policy', 'warn', 'warn'],
    ['policy', 'deny', 'deny'],
    ['both', 'warn', 'mutating'],
    ['both', 'deny', 'mutating'],
  ] as const)('renders, in mode %s with config.onProblem=%s, exactly what sidecar-injector policy prints for templates/ (%s; plus the chart\'s labels and exclusions)', async (mode, onProblem, output) => {
    const rendered = (await render({ set: [`mode=${mode}`, `config.onProblem=${onProblem}`] })).filter((o) => ADMISSION_KINDS.includes(o.kind));
    const printed = parseObjects(readFileSync(cli[output], 'utf8'));
    expect(new Set(printed.map((o) => o.kind))).toEqual(new Set(output === 'mutating' ? POLICY_KINDS : ADMISSION_KINDS));
    expect(comparable(rendered)).toEqual(comparable(printed));
    for (const o of rendered) expect(o.metadata.labels).toMatchObject({ 'app.kubernetes.io/instance': 'sidecar-injector', 'app.kubernetes.io/managed-by': 'sidecar-injector' });
  });

  it('is refused when sidecarTemplates or config.defaultTemplates were changed, and policy.manifests is what is rendered then', async () => {
    const values = parse(readFileSync(VALUES_FILE, 'utf8')) as { sidecarTemplates: Record<string, string> };
    const changed = join(work, 'changed-values.yaml');
    const text = (values.sidecarTemplates['log-collector.yaml'] ?? '').replace('busybox:1.37', 'busybox:1.36');
    writeFileSync(changed, JSON.stringify({ sidecarTemplates: { 'log-collector.yaml': text } }));
    for (const options of [{ valuesFiles: [changed] }, { set: ['config.defaultTemplates={log-collector}'] }]) {
      for (const mode of ['policy', 'both']) {
        const stderr = await refusal({ ...options, set: [...(options.set ?? []), `mode=${mode}`] });
        expect(stderr).toContain(`mode=${mode}: sidecarTemplates or config.defaultTemplates differ from the chart's defaults`);
        expect(stderr).toContain('--on-problem warn > policies.yaml, then --set-file policy.manifests=policies.yaml');
      }
    }
    // Unchanged values hash as the generator recorded (sprig's sha256sum and node's agree).
    expect(names(await render({ set: ['mode=policy'] })).length).toBeGreaterThan(0);

    const own = await printPolicies('own.yaml', ['--default-templates', 'log-collector', '--on-problem', 'warn']);
    const rendered = (await render({ set: ['mode=policy', 'config.defaultTemplates={log-collector}'], extraArgs: ['--set-file', `policy.manifests=${own}`] })).filter((o) =>
      ADMISSION_KINDS.includes(o.kind),
    );
    expect(comparable(rendered)).toEqual(comparable(parseObjects(readFileSync(own, 'utf8'))));
  });

  it('policy.manifests in mode policy must report problems as config.onProblem says; in mode both its validating policies are left out (the webhook reports)', async () => {
    const withManifests = (file: string, ...set: string[]): RenderOptions => ({ set: ['mode=policy', ...set], extraArgs: ['--set-file', `policy.manifests=${file}`] });
    expect(await refusal(withManifests(cli.mutating))).toContain(
      "mode=policy with config.onProblem=warn: policy.manifests must hold what `sidecar-injector policy --on-problem warn` prints, whose validating policies report problems as the webhook would",
    );
    expect(await refusal(withManifests(cli.warn, 'config.onProblem=deny'))).toContain('mode=policy with config.onProblem=deny: policy.manifests must hold what `sidecar-injector policy --on-problem deny` prints');
    expect(await refusal(withManifests(cli.deny))).toContain('mode=policy with config.onProblem=warn');
    expect(comparable((await render(withManifests(cli.deny, 'config.onProblem=deny'))).filter((o) => ADMISSION_KINDS.includes(o.kind)))).toEqual(comparable(parseObjects(readFileSync(cli.deny, 'utf8'))));
    const both = (await render({ set: ['mode=both'], extraArgs: ['--set-file', `policy.manifests=${cli.deny}`] })).filter((o) => ADMISSION_KINDS.includes(o.kind));
    expect(comparable(both)).toEqual(comparable(parseObjects(readFileSync(cli.mutating, 'utf8'))));
  });

  it('policy.manifests in mode both must be of the templates the webhook serves (sidecarTemplates), by name and version', async () => {
    const bumped = join(work, 'bumped.yaml');
    writeFileSync(bumped, readFileSync(cli.mutating, 'utf8').replace(/template-version: 2\.0\.0/g, 'template-version: 2.0.1'));
    expect(await refusal({ set: ['mode=both'], extraArgs: ['--set-file', `policy.manifests=${bumped}`] })).toContain(
      'mode=both: policy.manifests has template "egress-logger" version "2.0.1", sidecarTemplates version "2.0.0": the policies and the webhook would inject different things',
    );
    const extraDir = join(work, 'extra-templates');
    cpSync(TEMPLATES_DIR, extraDir, { recursive: true });
    writeFileSync(join(extraDir, 'extra.yaml'), 'apiVersion: sidecar.example/v1alpha1\nkind: SidecarTemplate\nmetadata: {name: extra}\nspec: {version: "1.0.0", containers: [{name: extra, image: "registry.example/extra:1"}]}\n');
    const extra = join(work, 'extra.yaml');
    const printed = await run(process.execPath, [DIST_MAIN, 'policy', '--templates-dir', extraDir]);
    writeFileSync(extra, printed.stdout);
    expect(await refusal({ set: ['mode=both'], extraArgs: ['--set-file', `policy.manifests=${extra}`] })).toContain('mode=both: policy.manifests has template "extra" version "1.0.0", sidecarTemplates has no such template');
    // In mode policy sidecarTemplates is not used (no webhook): the manifests are the templates.
    const withValidating = join(work, 'extra-warn.yaml');
    writeFileSync(withValidating, (await run(process.execPath, [DIST_MAIN, 'policy', '--templates-dir', extraDir, '--on-problem', 'warn'])).stdout);
    expect(names(await render({ set: ['mode=policy'], extraArgs: ['--set-file', `policy.manifests=${withValidating}`] }))).toContain('MutatingAdmissionPolicy/sidecar-injector.extra');
  });

  it('policy.manifests must hold admission policies: anything else, or nothing, is refused', async () => {
    const other = join(work, 'other.yaml');
    writeFileSync(other, `${readFileSync(cli.warn, 'utf8')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n`);
    expect(await refusal({ set: ['mode=policy'], extraArgs: ['--set-file', `policy.manifests=${other}`] })).toContain('policy.manifests holds a v1 ConfigMap');
    const empty = join(work, 'empty.yaml');
    writeFileSync(empty, '---\n# nothing\n');
    expect(await refusal({ set: ['mode=policy'], extraArgs: ['--set-file', `policy.manifests=${empty}`] })).toContain('policy.manifests holds no mutating policy');
  });
});

describe('the objects of each mode', () => {
  it.each(['policy', 'both'])('mode %s passes helm lint --strict', async (mode) => {
    const result = await helm(['lint', CHART_DIR, '--strict', '--quiet', '--set', `mode=${mode}`]);
    expect(result.stdout + result.stderr).not.toMatch(/\[(ERROR|WARNING)\]/);
    expect(result).toMatchObject({ code: 0 });
  });

  // Every optional webhook object turned on: policy mode must still render none of them.
  const everything = ['networkPolicy.enabled=true', 'serviceMonitor.enabled=true', 'config.reconcileMissed=delete', 'config.metricsPort=9090'];

  it('webhook (the default): the webhook and its objects, no policy', async () => {
    const objects = await render({ set: everything });
    const kinds = objects.map((o) => o.kind);
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'MutatingWebhookConfiguration', 'ClusterRole', 'PodDisruptionBudget', 'NetworkPolicy', 'ServiceMonitor']) expect(kinds).toContain(kind);
    for (const kind of POLICY_KINDS) expect(kinds).not.toContain(kind);
  });

  const TEMPLATES = ['egress-logger', 'http-interceptor', 'http-prober', 'log-collector'];
  const mutatingPolicies = TEMPLATES.flatMap((t) => POLICY_KINDS.map((kind) => `${kind}/sidecar-injector.${t}`));

  it.each(['self-managed', 'cert-manager'])('policy (certificates %s): the policies, their bindings and the helm test hook, nothing else', async (certificates) => {
    const objects = await render({ set: ['mode=policy', `certificates.mode=${certificates}`, ...everything] });
    // The validating policies: one per template, one for names that are no template, one for inject=true without defaults.
    const validating = ['sidecar-injector', 'sidecar-injector-no-defaults', ...TEMPLATES.map((t) => `sidecar-injector.${t}`)].flatMap((name) => VALIDATING_KINDS.map((kind) => `${kind}/${name}`));
    expect(names(objects)).toEqual([...mutatingPolicies, ...validating, ...TEST_HOOK].sort());
  });

  it('both: every object of webhook mode and the mutating policies (the webhook reports problems: no validating policy)', async () => {
    const webhook = names(await render({ set: everything }));
    expect(names(await render({ set: ['mode=both', ...everything] }))).toEqual([...webhook, ...mutatingPolicies].sort());
  });

  it('no mode at all is webhook: helm upgrade --reuse-values of a release made before mode existed keeps the old defaults, which lack it', async () => {
    expect(names(await render({ set: ['mode=null', 'policy=null'] }))).toEqual(names(await render({})));
    expect(names(await render({ set: ['mode=policy', 'policy=null'] }))).toContain('MutatingAdmissionPolicy/sidecar-injector.log-collector');
  });

  it('each binding skips the namespaces the webhook configuration skips: kube-*, the release namespace, webhook.excludeNamespaces', async () => {
    const excluded = ['kube-system', 'kube-node-lease', 'kube-public', 'injector', 'batch', 'legacy'];
    const policy = await render({ namespace: 'injector', set: ['mode=policy', 'webhook.excludeNamespaces={batch,legacy}'] });
    const bindings = policy.filter((o) => o.kind.endsWith('AdmissionPolicyBinding'));
    expect(bindings).toHaveLength(10);
    for (const binding of bindings) {
      expect((binding['spec'] as Json)['matchResources']).toEqual({
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded }] },
      });
    }
    const objects = await render({ namespace: 'injector', set: ['mode=both', 'webhook.excludeNamespaces={batch,legacy}'] });
    const webhooks = (objects.find((o) => o.kind === 'MutatingWebhookConfiguration')?.['webhooks'] ?? []) as Array<{ namespaceSelector: { matchExpressions: Json[] } }>;
    for (const webhook of webhooks) {
      expect(webhook.namespaceSelector.matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded });
    }
  });
});

describe('what the policies cannot do is refused, not installed', () => {
  it.each(['policy', 'both'])('mode %s needs Kubernetes 1.36 (the chart itself admits 1.30)', async (mode) => {
    expect(await refusal({ set: [`mode=${mode}`], extraArgs: ['--kube-version', '1.35.4'] })).toContain(
      `mode=${mode} needs Kubernetes 1.36 or newer (MutatingAdmissionPolicy, admissionregistration.k8s.io/v1); this cluster is v1.35.4: use mode=webhook`,
    );
    expect(names(await render({ set: [`mode=${mode}`], extraArgs: ['--kube-version', '1.36.0'] }))).toContain('MutatingAdmissionPolicy/sidecar-injector.log-collector');
    expect(names(await render({ extraArgs: ['--kube-version', '1.30.0'] }))).toContain('Deployment/sidecar-injector');
  });

  it.each(['policy', 'both'])('mode %s with config.nativeSidecars=false (policies always inject native sidecars)', async (mode) => {
    expect(await refusal({ set: [`mode=${mode}`, 'config.nativeSidecars=false'] })).toContain(`mode=${mode} with config.nativeSidecars=false: the policies always inject native sidecars`);
  });

  it('the schema admits the three modes only', async () => {
    expect(await refusal({ set: ['mode=policies'] })).toMatch(/at '\/mode': value must be one of 'webhook', 'policy', 'both'/);
  });
});

describe('NOTES.txt says what was installed', () => {
  let notesChart: string;

  beforeAll(() => {
    // helm template does not render NOTES.txt: a copy of the chart renders it as a value.
    notesChart = join(work, 'chart');
    cpSync(CHART_DIR, notesChart, { recursive: true });
    const notes = join(notesChart, 'templates', 'NOTES.txt');
    writeFileSync(join(notesChart, 'templates', 'notes.yaml'), `{{- define "notes.text" -}}\n${readFileSync(notes, 'utf8')}\n{{- end -}}\nnotes: {{ include "notes.text" . | toJson }}\n`);
    renameSync(notes, join(work, 'NOTES.txt'));
  });

  const notesOf = async (set: string[]): Promise<string> => {
    const result = await helm(['template', 'r', notesChart, '--namespace', 'si', '--show-only', 'templates/notes.yaml', ...set.flatMap((s) => ['--set', s])]);
    expect(result).toMatchObject({ code: 0 });
    return (parse(result.stdout) as { notes: string }).notes;
  };

  it('per mode', async () => {
    const webhook = await notesOf([]);
    expect(webhook).toContain('installed as r-sidecar-injector in si, mode webhook.');
    expect(webhook).toContain('rollout status deployment/r-sidecar-injector');
    expect(webhook).not.toContain('MutatingAdmissionPolicies');

    const policy = await notesOf(['mode=policy']);
    expect(policy).toContain('mode policy.');
    expect(policy).toContain('MutatingAdmissionPolicies (the apiserver injects, no webhook on the way):\n  sidecar-injector.egress-logger, sidecar-injector.http-interceptor, sidecar-injector.http-prober, sidecar-injector.log-collector');
    expect(policy).toContain('skipping the namespaces kube-system,kube-node-lease,kube-public,si.');
    expect(policy).toContain('ValidatingAdmissionPolicies that warn about pods whose templates were left out for a problem\n(config.onProblem=warn)');
    expect(await notesOf(['mode=policy', 'config.onProblem=deny'])).toContain('ValidatingAdmissionPolicies that refuse pods'); 
    expect(policy).not.toMatch(/deployment\/|Certificates:/);

    const both = await notesOf(['mode=both']);
    expect(both).toContain('Both paths are active');
    expect(both).toContain('rollout status deployment/r-sidecar-injector');
    expect(both).toContain('sidecar-injector.log-collector');
    expect(both).not.toContain('ValidatingAdmissionPolicies');
  });
});
