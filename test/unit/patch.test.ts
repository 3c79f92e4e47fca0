import { beforeAll, describe, expect, it } from '@jest/globals';
import { escapePointer } from '../../src/inject/patch.js';
import { planInjection } from '../../src/inject/plan.js';
import type { Pod } from '../../src/inject/kube-types.js';
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

  it('appends with /- to existing arrays and inserts native sidecars at the head', () => {
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
