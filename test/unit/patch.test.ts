import { beforeAll, describe, expect, it } from '@jest/globals';
import { escapePointer } from '../../src/inject/patch.js';
import jsonpatch from 'fast-json-patch';
import type { InjectionSettings } from '../../src/inject/decide.js';
import { planInjection, type InjectionOutcome } from '../../src/inject/plan.js';
import type { Container, Pod } from '../../src/inject/kube-types.js';
import type { TemplateSet } from '../../src/templates/model.js';
import { builtInTemplates, setOf, templateDocument } from '../support/templates.js';

// The patch rules need both placements, whatever the built-in templates use:
// a regular container after the app with a shared volume, and a native
// sidecar before it with env for the app.
const ruleTemplates = setOf(
  templateDocument('shipper', {
    mode: 'regular',
    position: 'after',
    volumes: [{ name: 'shared-logs', emptyDir: {} }],
    appContainers: { volumeMounts: [{ name: 'shared-logs', mountPath: '/var/log/app' }] },
    containers: [{ name: 'shipper', image: 'registry.example/shipper:1' }],
  }),
  templateDocument('proxy', {
    mode: 'native',
    position: 'before',
    appContainers: { env: ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'PROXY_URL'].map((name) => ({ name, value: 'x' })) },
    containers: [{ name: 'proxy', image: 'registry.example/proxy:1' }],
  }),
);

let templates: TemplateSet;
beforeAll(async () => {
  templates = await builtInTemplates();
});

function operations(pod: Pod) {
  const outcome = planInjection(
    { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'ns', pod },
    ruleTemplates,
    { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true },
    { defaultTemplates: undefined },
  );
  if (outcome.result !== 'injected') throw new Error(`expected an injection, got ${outcome.result}`);
  return (JSON.parse(outcome.patch) as Array<{ op: string; path: string }>).map((o) => `${o.op} ${o.path}`);
}

describe('patch operations', () => {
  it('escapes ~ and / in JSON pointer segments (RFC 6901)', () => {
    expect(escapePointer('sidecar.example/status')).toBe('sidecar.example~1status');
    expect(escapePointer('a~b/c')).toBe('a~0b~1c');
  });

  it('adds missing arrays whole and patches only what is needed', () => {
    const pod: Pod = { metadata: { annotations: { 'sidecar.example/inject': 'shipper' } }, spec: { containers: [{ name: 'app' }] } };
    expect(operations(pod)).toEqual([
      'add /spec/containers/0/volumeMounts',
      'add /spec/volumes',
      'add /spec/containers/-',
      'add /metadata/annotations/sidecar.example~1status',
    ]);
  });

  it('appends with /- to existing arrays and inserts native sidecars at the head; app init containers get only what runs before them', () => {
    const pod: Pod = {
      metadata: { annotations: { 'sidecar.example/inject': 'proxy,shipper' } },
      spec: {
        containers: [{ name: 'app', env: [{ name: 'A' }], volumeMounts: [{ name: 'v', mountPath: '/v' }] }],
        initContainers: [{ name: 'setup' }],
        volumes: [{ name: 'v' }],
      },
    };
    expect(operations(pod)).toEqual([
      'add /spec/containers/0/volumeMounts/-',
      'add /spec/containers/0/env/-',
      'add /spec/containers/0/env/-',
      'add /spec/containers/0/env/-',
      'add /spec/containers/0/env/-',
      // proxy is native and before "setup": its env; shipper (regular, after) starts after it: not its mount.
      'add /spec/initContainers/0/env',
      'add /spec/volumes/-',
      'add /spec/initContainers/0',
      'add /spec/containers/-',
      'add /metadata/annotations/sidecar.example~1status',
    ]);
  });

  it('adds /metadata/annotations whole when the pod has none', () => {
    const pod: Pod = { metadata: {}, spec: { containers: [{ name: 'app' }] } };
    const outcome = planInjection(
      { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'ns', pod },
      templates,
      { onProblem: 'warn', defaultTemplates: ['http-prober'], nativeSidecars: true },
      { defaultTemplates: undefined },
    );
    expect(outcome.result === 'injected' && (JSON.parse(outcome.patch) as unknown[]).at(-1)).toMatchObject({ op: 'add', path: '/metadata/annotations' });
  });
});

const CREATE = { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'ns' } as const;
const warn = { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true } as const;

function planFor(pod: Pod, settings: InjectionSettings = warn): InjectionOutcome {
  return planInjection({ ...CREATE, pod }, ruleTemplates, settings, { defaultTemplates: undefined });
}

function applied(pod: Pod, outcome: InjectionOutcome): Pod {
  if (outcome.result === 'denied' || outcome.patch === undefined) return pod;
  return jsonpatch.applyPatch(structuredClone(pod), JSON.parse(outcome.patch) as jsonpatch.Operation[], true, false).newDocument;
}

const env = (c: Container | undefined): string[] => (c?.env ?? []).map((e) => e.name);
const mounts = (c: Container | undefined): string[] => (c?.volumeMounts ?? []).map((m) => `${m.name}:${m.mountPath}`);
const PROXY_ENV = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'PROXY_URL'];

/** Round 1 as the apiserver would store it so far: the pod asked for both templates, injected. */
function injectedPod(settings: InjectionSettings = warn): Pod {
  const asked: Pod = { metadata: { name: 'web', annotations: { 'sidecar.example/inject': 'proxy,shipper' } }, spec: { containers: [{ name: 'app' }] } };
  const first = planFor(asked, settings);
  expect(first.result).toBe('injected');
  return applied(asked, first);
}

describe('reinvocation after another webhook added containers', () => {
  it('an application container added after the injection gets the mounts and env of the injected templates, and nothing else changes', () => {
    const pod = injectedPod();
    pod.spec.containers.push({ name: 'added', image: 'registry.example/added:1' });
    const again = planFor(pod);
    expect(again).toMatchObject({ result: 'skipped', reason: 'already_injected', completed: ['proxy', 'shipper'], warnings: [] });
    const stored = applied(pod, again);
    const added = stored.spec.containers.find((c) => c.name === 'added');
    expect(mounts(added)).toEqual(['shared-logs:/var/log/app']);
    expect(env(added)).toEqual(PROXY_ENV);
    // The injected sidecars are not application containers; the record stands as it was.
    expect(stored.spec.containers.find((c) => c.name === 'shipper')).toEqual(pod.spec.containers.find((c) => c.name === 'shipper'));
    expect(stored.spec.initContainers).toEqual(pod.spec.initContainers);
    expect(stored.metadata.annotations).toEqual(pod.metadata.annotations);
    expect(stored.spec.volumes).toEqual(pod.spec.volumes);
    // A third round finds nothing to do.
    expect(planFor(stored)).toMatchObject({ result: 'skipped', reason: 'already_injected' });
    expect(planFor(stored)).not.toHaveProperty('patch');
  });

  it('an added application init container gets what runs before it (a native sidecar placed before), not what starts after it', () => {
    const pod = injectedPod();
    pod.spec.initContainers?.push({ name: 'migrate' });
    const stored = applied(pod, planFor(pod));
    const migrate = stored.spec.initContainers?.find((c) => c.name === 'migrate');
    expect(env(migrate)).toEqual(PROXY_ENV);
    expect(mounts(migrate)).toEqual([]);

    // With --native-sidecars=false the proxy is a regular container: init containers run before it.
    const regular = { ...warn, nativeSidecars: false };
    const podWithRegular = injectedPod(regular);
    podWithRegular.spec.initContainers = [{ name: 'migrate' }];
    expect(planFor(podWithRegular, regular)).not.toHaveProperty('patch');
  });

  it('what an added container already has is left as it is: no duplicate, its env value kept (warned), a path it mounts from another volume is a conflict', () => {
    const pod = injectedPod();
    pod.spec.containers.push(
      { name: 'complete', env: PROXY_ENV.map((name) => ({ name, value: 'mine' })), volumeMounts: [{ name: 'shared-logs', mountPath: '/var/log/app' }] },
      { name: 'partial', env: [{ name: 'HTTP_PROXY', value: 'mine' }], volumeMounts: [{ name: 'other', mountPath: '/var/log/app' }] },
    );
    const again = planFor(pod);
    const stored = applied(pod, again);
    expect(stored.spec.containers.find((c) => c.name === 'complete')).toEqual(pod.spec.containers.find((c) => c.name === 'complete'));
    const partial = stored.spec.containers.find((c) => c.name === 'partial');
    expect(env(partial)).toEqual(PROXY_ENV);
    expect(partial?.env?.[0]).toEqual({ name: 'HTTP_PROXY', value: 'mine' });
    expect(mounts(partial)).toEqual(['other:/var/log/app']);
    expect(again.problems.map((p) => p.reason).sort()).toEqual(['env_already_set', 'mount_path_conflict']);
    // Under deny the conflict refuses the pod, as it would have on the first round.
    expect(planFor(pod, { ...warn, onProblem: 'deny' })).toMatchObject({ result: 'denied', reason: 'mount_path_conflict' });
  });

  it('a template loaded at another version than recorded is not completed: what that version added is not known', () => {
    const pod = injectedPod();
    const annotations = pod.metadata.annotations ?? {};
    const status = JSON.parse(annotations['sidecar.example/status'] ?? '{}') as { templates: Array<{ version: string }> };
    for (const t of status.templates) t.version = 'older';
    annotations['sidecar.example/status'] = JSON.stringify(status);
    pod.spec.containers.push({ name: 'added' });
    expect(planFor(pod)).toMatchObject({ result: 'skipped', reason: 'already_injected' });
    expect(planFor(pod)).not.toHaveProperty('patch');
  });
});

describe('a status record the pod does not bear out', () => {
  it('is replaced when the templates are injected, and removed when nothing is', () => {
    const record = '{"templates":[{"name":"shipper","version":"x"}],"containers":["shipper"],"volumes":["shared-logs"]}';
    const forged: Pod = { metadata: { annotations: { 'sidecar.example/inject': 'shipper', 'sidecar.example/status': record } }, spec: { containers: [{ name: 'app' }] } };
    const outcome = planFor(forged);
    expect(outcome).toMatchObject({ result: 'injected', templates: ['shipper'] });
    expect(outcome.problems.map((p) => p.reason)).toEqual(['invalid_status']);
    expect(outcome.warnings[0]?.length).toBeLessThanOrEqual(120);
    expect(outcome.problems[0]?.detail).toBe('container "shipper" is not in the pod');
    const stored = applied(forged, outcome);
    expect(JSON.parse(stored.metadata.annotations?.['sidecar.example/status'] ?? '{}')).toMatchObject({ templates: [{ name: 'shipper' }], containers: ['shipper'] });

    // Nothing injectable (the pod has a container of that name): the record goes, and nothing else changes.
    const clash: Pod = { ...forged, spec: { containers: [{ name: 'app' }, { name: 'shipper' }] } };
    clash.metadata = { annotations: { 'sidecar.example/inject': 'shipper', 'sidecar.example/status': '{not json' } };
    const skipped = planFor(clash);
    expect(skipped).toMatchObject({ result: 'skipped', reason: 'nothing_injectable' });
    expect(skipped.problems.map((p) => p.reason)).toEqual(['invalid_status', 'name_conflict']);
    expect(applied(clash, skipped)).toEqual({ ...clash, metadata: { annotations: { 'sidecar.example/inject': 'shipper' } } });
  });
});
