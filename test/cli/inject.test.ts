// `sidecar-injector inject`: the offline path must inject exactly what the
// webhook would, for every workload kind, idempotently.
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { assertBuilt, runCli, type CliResult } from '../support/cli.js';
import { CLI_FIXTURES, EXAMPLES_DIR, TEMPLATES_DIR } from '../support/paths.js';
import { STATUS_ANNOTATION, type Json } from '../support/reviews.js';

jest.setTimeout(30_000);

const FIXTURES = CLI_FIXTURES;
const DEPLOYMENT = join(EXAMPLES_DIR, 'deployment.yaml');
const WORKLOADS = join(FIXTURES, 'workloads.yaml');

beforeAll(() => {
  assertBuilt();
});

function inject(args: string[], input?: string): Promise<CliResult> {
  return runCli(['inject', '--templates-dir', TEMPLATES_DIR, ...args], input === undefined ? {} : { input });
}

function ok(result: CliResult): string {
  if (result.code !== 0) throw new Error(`exit ${result.code}\nstderr: ${result.stderr}`);
  return result.stdout;
}

function documents(text: string): Json[] {
  return parseAllDocuments(text).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJS();
  });
}

const names = (items: Json[] | undefined): string[] => (items ?? []).map((item: Json) => item.name);

/** The pod template of a workload, or the pod itself. */
function podOf(object: Json): Json {
  switch (object.kind) {
    case 'Pod':
      return object;
    case 'CronJob':
      return object.spec.jobTemplate.spec.template;
    default:
      return object.spec.template;
  }
}

/** log-collector is a native sidecar: an init container with restartPolicy Always, the app containers get the mount. */
function expectLogCollectorIn(pod: Json, appContainers: string[]): void {
  expect(names(pod.spec.containers)).toEqual(appContainers);
  expect(names(pod.spec.initContainers)).toEqual(['log-collector']);
  expect(pod.spec.initContainers[0].restartPolicy).toBe('Always');
  expect(names(pod.spec.volumes)).toEqual(['shared-logs']);
  for (const container of [...pod.spec.containers, ...pod.spec.initContainers]) {
    expect(container.volumeMounts).toContainEqual(expect.objectContaining({ name: 'shared-logs', mountPath: '/var/log/app' }));
  }
  const status = JSON.parse(pod.metadata.annotations[STATUS_ANNOTATION]);
  expect(status.templates.map((t: Json) => t.name)).toEqual(['log-collector']);
  expect(status.initContainers).toEqual(['log-collector']);
}

describe('inject -f examples/deployment.yaml', () => {
  let output: string;
  let deployment: Json;
  const original = parse(readFileSync(DEPLOYMENT, 'utf8'));

  beforeAll(async () => {
    output = ok(await inject(['-f', DEPLOYMENT]));
    const docs = documents(output);
    expect(docs).toHaveLength(1);
    deployment = docs[0];
  });

  it('injects both sidecars, the shared volume and the mounts into the pod template', () => {
    const pod = deployment.spec.template;
    // Both are native sidecars: init containers with restartPolicy Always, the app container stays alone.
    expect(names(pod.spec.containers)).toEqual(['web']);
    expect(names(pod.spec.initContainers)).toEqual(['log-collector', 'http-prober']);
    expect(pod.spec.initContainers.map((c: Json) => c.restartPolicy)).toEqual(['Always', 'Always']);
    expect(names(pod.spec.volumes)).toEqual(['shared-logs']);
    const web = pod.spec.containers[0];
    expect(web.volumeMounts).toEqual([{ name: 'shared-logs', mountPath: '/var/log/app' }]);
    const collector = pod.spec.initContainers[0];
    expect(collector.volumeMounts).toEqual([{ name: 'shared-logs', mountPath: '/var/log/app', readOnly: true }]);
    const prober = pod.spec.initContainers[1];
    expect(prober.env).toContainEqual({ name: 'TARGET_URL', value: 'http://localhost:8080/healthz' });
  });

  it('records what it injected in the status annotation', () => {
    const status = JSON.parse(deployment.spec.template.metadata.annotations[STATUS_ANNOTATION]);
    expect(status.templates.map((t: Json) => t.name)).toEqual(['log-collector', 'http-prober']);
    expect(status.containers).toEqual([]);
    expect(status.initContainers).toEqual(['log-collector', 'http-prober']);
    expect(status.volumes).toEqual(['shared-logs']);
  });

  it('keeps the pod template labels and annotations and adds no generateName', () => {
    const metadata = deployment.spec.template.metadata;
    expect(metadata.labels).toEqual(original.spec.template.metadata.labels);
    expect(metadata).not.toHaveProperty('generateName');
    expect(metadata).not.toHaveProperty('name');
    const { [STATUS_ANNOTATION]: _status, ...annotations } = metadata.annotations;
    expect(annotations).toEqual(original.spec.template.metadata.annotations);
    expect(output).not.toContain('generateName');
  });

  it('leaves the Deployment itself unchanged', () => {
    expect(deployment.apiVersion).toBe(original.apiVersion);
    expect(deployment.kind).toBe(original.kind);
    expect(deployment.metadata).toEqual(original.metadata);
    const { template: _t, ...spec } = deployment.spec;
    const { template: _o, ...originalSpec } = original.spec;
    expect(spec).toEqual(originalSpec);
  });

  it('gives identical output when run on its own output (idempotent)', async () => {
    expect(ok(await inject(['-f', '-'], output))).toBe(output);
  });

  it('reads the same input from stdin with -f -', async () => {
    expect(ok(await inject(['-f', '-'], readFileSync(DEPLOYMENT, 'utf8')))).toBe(output);
  });
});

describe('inject -f - with every workload kind in one multi-document stream', () => {
  let input: string;
  let output: string;
  let docs: Json[];

  beforeAll(async () => {
    input = readFileSync(WORKLOADS, 'utf8');
    const result = await inject(['-f', '-'], input);
    output = ok(result);
    expect(result.stderr).toBe('');
    docs = documents(output);
  });

  it('keeps every document, in order', () => {
    expect(docs.map((d) => d.kind)).toEqual(['Pod', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'ConfigMap', 'List']);
  });

  it.each([
    ['Pod', ['app']],
    ['StatefulSet', ['db']],
    ['DaemonSet', ['agent']],
    ['ReplicaSet', ['frontend']],
    ['Job', ['migrate']],
    ['CronJob', ['report']],
  ])('injects the %s pod', (kind, apps) => {
    const object = docs.find((d) => d.kind === kind);
    expectLogCollectorIn(podOf(object), apps);
  });

  it('keeps the name of a bare Pod and adds no generateName anywhere', () => {
    expect(docs[0].metadata.name).toBe('single');
    expect(output).not.toContain('generateName');
  });

  it('passes a ConfigMap through unchanged (even with the annotation)', () => {
    const original = documents(input).find((d) => d.kind === 'ConfigMap');
    expect(docs.find((d) => d.kind === 'ConfigMap')).toEqual(original);
  });

  it('injects every item of a List', () => {
    const list = docs.find((d) => d.kind === 'List');
    expect(list.items.map((i: Json) => i.kind)).toEqual(['Deployment', 'Pod']);
    expectLogCollectorIn(podOf(list.items[0]), ['listed']);
    expectLogCollectorIn(podOf(list.items[1]), ['app']);
  });

  it('gives identical output when run on its own output (idempotent)', async () => {
    expect(ok(await inject(['-f', '-'], output))).toBe(output);
  });

  it('renders {{ pod.namespace }} from the object, else from --namespace', async () => {
    const namespaced = documents(ok(await inject(['-f', WORKLOADS, '--namespace', 'tenant-a'])));
    const podNamespace = (object: Json): string =>
      podOf(object).spec.initContainers.find((c: Json) => c.name === 'log-collector').env.find((e: Json) => e.name === 'POD_NAMESPACE').value;
    expect(podNamespace(namespaced.find((d) => d.kind === 'Pod'))).toBe('shop');
    expect(podNamespace(namespaced.find((d) => d.kind === 'DaemonSet'))).toBe('kube-tools');
    expect(podNamespace(namespaced.find((d) => d.kind === 'StatefulSet'))).toBe('tenant-a');
    expect(podNamespace(docs.find((d) => d.kind === 'StatefulSet'))).toBe('default');
  });

  it('reads the same file with -f FILE', async () => {
    expect(ok(await inject(['-f', WORKLOADS]))).toBe(output);
  });
});

describe('problems', () => {
  const typo = join(FIXTURES, 'unknown-template.yaml');

  it('an unknown template → exit 0, a Warning on stderr naming it, the known template injected', async () => {
    const result = await inject(['-f', typo]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^Warning: .*log-colector/m);
    const [deployment] = documents(result.stdout);
    expect(names(deployment.spec.template.spec.containers)).toEqual(['app']);
    expect(names(deployment.spec.template.spec.initContainers)).toEqual(['log-collector']);
  });

  it('an unknown template with --on-problem deny → exit 1 with the message', async () => {
    const result = await inject(['-f', typo, '--on-problem', 'deny']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('log-colector');
    expect(result.stderr).toMatch(/Deployment\/typo/);
  });

  it('a missing input file → exit 1 with a one-line message naming it, not a stack trace', async () => {
    const result = await inject(['-f', join(FIXTURES, 'does-not-exist.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('does-not-exist.yaml');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('invalid YAML input → exit 1 saying so', async () => {
    const result = await inject(['-f', '-'], 'kind: Pod\nspec: [unclosed\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/invalid YAML/);
  });

  it('no -f → exit 1 with usage', async () => {
    const result = await inject([]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('-f');
  });
});
