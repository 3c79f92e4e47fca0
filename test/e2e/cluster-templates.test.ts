// Templates from the cluster: the SidecarTemplate CRD of deploy/crds on a real
// kube-apiserver, resources created, edited, broken, fixed and deleted while
// one webhook process keeps running. Every assertion is on what the apiserver
// stored or returned (pods, the resources' status, kubectl output).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parse } from 'yaml';
import { CORE_V1_SCHEMAS } from '../../src/templates/kube-schema/core-v1.js';
import { coreSchemaSubset } from '../support/core-schema-subset.js';
import { send } from '../support/http.js';
import { TEMPLATES_DIR } from '../support/paths.js';
import type { ServeProcess } from '../support/serve-process.js';
import { waitFor } from '../support/wait.js';
import {
  hasContainer,
  installCrd,
  readTemplate,
  sidecarTemplate,
  table,
  waitForInjection,
  waitForValid,
} from './support/cluster-templates.js';
import { kubernetesRelease } from './harness/control-plane.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { mutateUrl, registerWebhook, waitUntilCalled } from './support/injector.js';
import {
  asked,
  container,
  containerNames,
  envValue,
  injectionStatus,
  podManifest,
  type Kube,
} from './support/kube.js';

jest.setTimeout(120_000);

let env: E2eEnvironment | undefined;
let kube: Kube;
let injector: ServeProcess;
let namespace: string;
/** How long each change took to be in force (ms), for the README. */
const inForceAfter: Record<string, number> = {};

/** The `audit-tail` template at a version, greeting with `greeting`. */
function auditTail(version: string, greeting: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return sidecarTemplate('audit-tail', {
    version,
    description: 'Prints a greeting (test template).',
    containers: [{ name: 'audit-tail', image: 'registry.example/audit-tail:1', env: [{ name: 'GREETING', value: greeting }, { name: 'POD_NAMESPACE', value: '{{ pod.namespace }}' }] }],
    ...extra,
  });
}

const versionOf = (template: string) => (pod: { metadata?: { annotations?: Record<string, string> } }) =>
  injectionStatus(pod)?.templates.find((t) => t.name === template)?.version;

/** Creates a pod asking for `templates` with kubectl and returns what the apiserver stored. */
async function createPod(name: string, templates: string) {
  const result = await kube.apply(podManifest({ name, namespace, annotations: asked(templates) }));
  expect(result).toMatchObject({ code: 0 });
  return { pod: await kube.readPod(namespace, name), stderr: result.stderr };
}

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  // Started before the CRD exists: readiness must wait, and the watch must recover.
  injector = await env.startRegisteredInjector({ failurePolicy: 'Fail' });
  namespace = await kube.createNamespace('e2e-sct');
}, 180_000);

afterAll(async () => {
  await stopEnvironment(env);
  if (Object.keys(inForceAfter).length > 0) console.log(`SidecarTemplate changes in force after (ms): ${JSON.stringify(inForceAfter)}`);
}, 60_000);

describe('the CRD', () => {
  it('a. /readyz waits for the first list of SidecarTemplates (503 while the CRD is missing, 200 once it is installed)', async () => {
    const before = await send(injector, { path: '/readyz' });
    expect(before.status).toBe(503);
    expect((JSON.parse(before.body) as { problems: string[] }).problems.join('\n')).toMatch(/SidecarTemplate resources not listed yet: HTTP 404.*CRD installed/);

    await installCrd(kube);
    await waitFor('/readyz to answer 200', async () => ((await send(injector, { path: '/readyz' })).status === 200 ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
  });

  it('b. stores every built-in template unchanged (nothing pruned) and the webhook finds each valid', async () => {
    const files = readdirSync(TEMPLATES_DIR).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const document = parse(readFileSync(join(TEMPLATES_DIR, file), 'utf8')) as { metadata: { name: string }; spec: Record<string, unknown> };
      const name = `copy-${document.metadata.name}`;
      await kube.mustApply({ ...document, metadata: { name } });
      expect((await readTemplate(kube, name)).spec).toEqual(document.spec);
      const stored = await waitForValid(kube, name, 'True');
      expect(stored.status?.activeVersion).toBe(document.spec['version']);
      expect(await kube.kubectl(['delete', 'sidecartemplate', name])).toMatchObject({ code: 0 });
    }
  });
});

describe('a SidecarTemplate resource, changed while the webhook runs', () => {
  it('c. a new resource is injected within seconds without a restart; kubectl get shows its mode, version and validity', async () => {
    await kube.mustApply(auditTail('1.0.0', 'hello'));
    inForceAfter['created'] = await waitForInjection(kube, namespace, 'audit-tail', hasContainer('audit-tail'));
    expect(inForceAfter['created']).toBeLessThan(10_000);

    const { pod } = await createPod('created', 'audit-tail');
    expect(containerNames(pod)).toEqual(['app', 'audit-tail']);
    expect(envValue(container(pod, 'audit-tail'), 'GREETING')).toBe('hello');
    expect(envValue(container(pod, 'audit-tail'), 'POD_NAMESPACE')).toBe(namespace);
    expect(versionOf('audit-tail')(pod)).toBe('1.0.0');
    expect(injector.child.exitCode).toBeNull();

    await waitForValid(kube, 'audit-tail', 'True');
    const listed = await kube.kubectl(['get', 'sidecartemplates']);
    expect(listed.stdout.split('\n')[0]?.split(/\s+/)).toEqual(['NAME', 'MODE', 'VERSION', 'VALID', 'ACTIVE', 'AGE']);
    expect(table(listed.stdout).find((row) => row['NAME'] === 'audit-tail')).toMatchObject({ MODE: 'regular', VERSION: '1.0.0', VALID: 'True', ACTIVE: '1.0.0' });
    const short = await kube.kubectl(['get', 'sct', 'audit-tail', '-o', 'wide']);
    expect(table(short.stdout)[0]).toMatchObject({ NAME: 'audit-tail', MESSAGE: 'the template is valid and in force' });
  });

  it('d. an edit (new env value and version) reaches the next pod', async () => {
    await kube.mustApply(auditTail('1.1.0', 'bonjour'));
    inForceAfter['edited'] = await waitForInjection(kube, namespace, 'audit-tail', (p) => versionOf('audit-tail')(p) === '1.1.0');
    const { pod } = await createPod('edited', 'audit-tail');
    expect(versionOf('audit-tail')(pod)).toBe('1.1.0');
    expect(envValue(container(pod, 'audit-tail'), 'GREETING')).toBe('bonjour');
    await waitForValid(kube, 'audit-tail', 'True');
  });

  it('e. an invalid edit the CRD accepts is reported on the status (Valid=False, the error) and the last good version stays in force', async () => {
    const broken = auditTail('1.2.0', 'hola');
    (broken['spec'] as { containers: Array<Record<string, unknown>> }).containers[0]!['volumeMounts'] = [{ name: 'nowhere', mountPath: '/data' }];
    expect(await kube.apply(broken)).toMatchObject({ code: 0 });

    const stored = await waitForValid(kube, 'audit-tail', 'False');
    const condition = stored.status?.conditions?.find((c) => c.type === 'Valid');
    expect(condition?.reason).toBe('Invalid');
    expect(condition?.message).toContain('SidecarTemplate/audit-tail: template "audit-tail": spec.containers[0].volumeMounts[0].name: mounts volume "nowhere"');
    expect(condition?.message).toContain('version 1.1.0 (generation 2) stays in force');
    expect(stored.status).toMatchObject({ observedGeneration: 3, activeGeneration: 2, activeVersion: '1.1.0' });
    const row = table((await kube.kubectl(['get', 'sidecartemplates'])).stdout).find((r) => r['NAME'] === 'audit-tail');
    expect(row).toMatchObject({ VERSION: '1.2.0', VALID: 'False', ACTIVE: '1.1.0' });

    const { pod } = await createPod('after-invalid-edit', 'audit-tail');
    expect(versionOf('audit-tail')(pod)).toBe('1.1.0');
    expect(envValue(container(pod, 'audit-tail'), 'GREETING')).toBe('bonjour');
    expect(volumeMountsOf(pod)).not.toContain('nowhere');
  });

  it('f. a replica started after the invalid edit serves the same last good version (recorded in the status)', async () => {
    const fresh = await env!.startInjector();
    try {
      await registerWebhook(kube, { url: mutateUrl(fresh.port), caBundlePem: fresh.ca, failurePolicy: 'Fail' });
      await waitUntilCalled(kube, fresh, namespace);
      const { pod } = await createPod('fresh-replica', 'audit-tail');
      expect(versionOf('audit-tail')(pod)).toBe('1.1.0');
      expect(fresh.output()).toContain('"msg":"admission"');
    } finally {
      await registerWebhook(kube, { url: mutateUrl(injector.port), caBundlePem: injector.ca, failurePolicy: 'Fail' });
      await waitUntilCalled(kube, injector, namespace);
      await fresh.kill();
    }
  });

  it('g. fixing it puts the new version in force and Valid back to True', async () => {
    await kube.mustApply(auditTail('1.3.0', 'ciao'));
    inForceAfter['fixed'] = await waitForInjection(kube, namespace, 'audit-tail', (p) => versionOf('audit-tail')(p) === '1.3.0');
    const stored = await waitForValid(kube, 'audit-tail', 'True');
    expect(stored.status).toMatchObject({ observedGeneration: 4, activeGeneration: 4, activeVersion: '1.3.0' });
    const { pod } = await createPod('fixed', 'audit-tail');
    expect(envValue(container(pod, 'audit-tail'), 'GREETING')).toBe('ciao');
  });

  it('h. deleting it makes pods asking for it get the unknown-template warning', async () => {
    expect(await kube.kubectl(['delete', 'sidecartemplate', 'audit-tail'])).toMatchObject({ code: 0 });
    inForceAfter['deleted'] = await waitForInjection(kube, namespace, 'audit-tail', (p) => !containerNames(p).includes('audit-tail'));
    const { pod, stderr } = await createPod('deleted', 'audit-tail');
    expect(stderr).toContain('unknown template "audit-tail"');
    expect(containerNames(pod)).toEqual(['app']);
  });

  it('i. a resource whose name is not a template name is reported, not served', async () => {
    await kube.mustApply({ ...auditTail('1.0.0', 'hi'), metadata: { name: 'audit.tail' } });
    const stored = await waitForValid(kube, 'audit.tail', 'False');
    expect(stored.status?.conditions?.[0]?.message).toContain('metadata.name: must match pattern');
    expect(stored.status?.activeVersion).toBeUndefined();
    expect(await kube.kubectl(['delete', 'sidecartemplate', 'audit.tail'])).toMatchObject({ code: 0 });
  });
});

describe('precedence over the templates directory', () => {
  it('j. a resource named like a file template wins (status says so); deleting it brings the file template back', async () => {
    const file = parse(readFileSync(join(TEMPLATES_DIR, 'log-collector.yaml'), 'utf8')) as { spec: { version: string; containers: Array<Record<string, unknown>> } };
    const spec = { ...file.spec, version: '2.0.0-cluster', containers: [{ ...file.spec.containers[0], image: 'registry.example/cluster-log-collector:2' }] };
    await kube.mustApply(sidecarTemplate('log-collector', spec));

    inForceAfter['shadowing'] = await waitForInjection(kube, namespace, 'log-collector', (p) => versionOf('log-collector')(p) === '2.0.0-cluster');
    const { pod } = await createPod('cluster-wins', 'log-collector');
    expect(container(pod, 'log-collector')?.image).toBe('registry.example/cluster-log-collector:2');
    const stored = await waitForValid(kube, 'log-collector', 'True');
    expect(stored.status?.conditions?.[0]?.message).toContain(`it takes precedence over the file template ${join(injector.templatesDir, 'log-collector.yaml')}`);

    expect(await kube.kubectl(['delete', 'sidecartemplate', 'log-collector'])).toMatchObject({ code: 0 });
    await waitForInjection(kube, namespace, 'log-collector', (p) => versionOf('log-collector')(p) === file.spec.version);
    const { pod: after } = await createPod('file-again', 'log-collector');
    expect(container(after, 'log-collector')?.image).toBe('docker.io/library/busybox:1.37');
  });
});

function volumeMountsOf(pod: Awaited<ReturnType<Kube['readPod']>>): string[] {
  return [...(pod.spec?.containers ?? [])].flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name));
}

describe('the schema of what a template injects is core/v1', () => {
  it('k. the stored core/v1 schema is what the newest apiserver serves (else: npm run schema:update), and holds every field the oldest claimed one serves', async () => {
    const served = await env!.controlPlane.get('/openapi/v3/api/v1');
    expect(served.status).toBe(200);
    const servedSchemas = coreSchemaSubset(JSON.parse(served.body));
    if (kubernetesRelease() === 'newest') {
      expect(servedSchemas).toEqual(CORE_V1_SCHEMAS);
    } else {
      // The oldest minor serves another core/v1 (other descriptions and
      // defaults, fewer fields); templates are checked against the newest's,
      // so nothing the oldest has may be missing from it.
      const fields = (schemas: Record<string, unknown>) =>
        Object.entries(schemas).flatMap(([name, schema]) =>
          [name, ...Object.keys((schema as { properties?: object }).properties ?? {}).map((field) => `${name}.${field}`)],
        );
      const stored = new Set(fields(CORE_V1_SCHEMAS));
      expect(fields(servedSchemas).filter((field) => !stored.has(field))).toEqual([]);
    }
  });

  it('l. kubectl apply refuses a misspelt container field, and kubectl explain documents the fields', async () => {
    const typo = auditTail('1.0.0', 'hi', {});
    (typo['spec'] as { containers: Array<Record<string, unknown>> }).containers[0]!['imagePullPolice'] = 'Always';
    const applied = await kube.apply({ ...typo, metadata: { name: 'typo' } });
    expect(applied.code).not.toBe(0);
    expect(applied.stderr).toContain('unknown field "spec.containers[0].imagePullPolice"');
    expect((await kube.kubectl(['get', 'sidecartemplate', 'typo'])).code).not.toBe(0);

    const explained = await kube.kubectl(['explain', 'sidecartemplate.spec.containers.ports.containerPort']);
    expect(explained).toMatchObject({ code: 0 });
    expect(explained.stdout).toContain('Number of port to expose');
    const spec = await kube.kubectl(['explain', 'sidecartemplate.spec']);
    for (const field of ['allowedNamespaces', 'appContainers', 'containers', 'initContainers', 'mode', 'parameters', 'position', 'volumes']) {
      expect(spec.stdout).toMatch(new RegExp(`^  ${field}\\t<[^>]+>\\n(?:  enum: .*\\n)?    \\S`, 'm'));
    }
  });

  it('m. what the CRD admits but would not decode once rendered is Valid=False, naming the field', async () => {
    const port = (value: string) =>
      sidecarTemplate('typed-port', {
        version: value.includes('| int') ? 'typed' : 'untyped',
        parameters: [{ name: 'port', type: 'integer', default: 9090 }],
        containers: [{ name: 'typed-port', image: 'registry.example/x:1', ports: [{ containerPort: value }] }],
      });
    await kube.mustApply(port('{{ params.port }}'));
    const refused = await waitForValid(kube, 'typed-port', 'False');
    expect(refused.status?.conditions?.[0]?.message).toContain('spec.containers[0].ports[0].containerPort: must be an integer (rendered from "{{ params.port }}"');

    await kube.mustApply(port('{{ params.port | int }}'));
    await waitForValid(kube, 'typed-port', 'True');
    await waitForInjection(kube, namespace, 'typed-port', (p) => versionOf('typed-port')(p) === 'typed');
    const { pod } = await createPod('typed-port', 'typed-port');
    expect(container(pod, 'typed-port')?.ports).toEqual([{ containerPort: 9090, protocol: 'TCP' }]);
    expect(await kube.kubectl(['delete', 'sidecartemplate', 'typed-port'])).toMatchObject({ code: 0 });
  });
});
