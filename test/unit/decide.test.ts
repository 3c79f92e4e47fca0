import { beforeAll, describe, expect, it } from '@jest/globals';
import { decideInjection, type AdmissionFacts, type InjectionSettings, type SkipReason } from '../../src/inject/decide.js';
import type { Pod } from '../../src/inject/kube-types.js';
import type { TemplateSet } from '../../src/templates/model.js';
import { builtInTemplates, setOf, templateDocument } from '../support/templates.js';

let templates: TemplateSet;
beforeAll(async () => {
  templates = await builtInTemplates();
});

const STATUS = JSON.stringify({ templates: [{ name: 'log-collector', version: '1.0.0' }], containers: [], initContainers: ['log-collector'], volumes: ['shared-logs'] });

/** A pod; `injected` gives it what STATUS records (log-collector as a native sidecar, its volume). */
function pod(annotations?: Record<string, string>, injected = false): Pod {
  const spec: Pod['spec'] = { containers: [{ name: 'app' }] };
  if (injected) {
    spec.initContainers = [{ name: 'log-collector' }];
    spec.volumes = [{ name: 'shared-logs' }];
  }
  return { metadata: { generateName: 'web-', ...(annotations ? { annotations } : {}) }, spec };
}

interface Row {
  name: string;
  facts?: Partial<AdmissionFacts>;
  annotations?: Record<string, string>;
  settings?: Partial<InjectionSettings>;
  namespaceDefaults?: string[];
  namespaceOptedIn?: boolean;
  /** The pod has what STATUS records. */
  injected?: boolean;
  /** A skip reason, or the list of injected template names. */
  expect: SkipReason | string[];
  problems?: string[];
}

// The truth table of the decision: every input that matters, and its reason.
const rows: Row[] = [
  { name: 'UPDATE is not mutated', facts: { operation: 'UPDATE' }, annotations: { 'sidecar.example/inject': 'log-collector' }, expect: 'not_a_pod_create' },
  { name: 'DELETE is not mutated', facts: { operation: 'DELETE' }, expect: 'not_a_pod_create' },
  { name: 'CONNECT (exec) is not mutated', facts: { operation: 'CONNECT', subResource: 'exec' }, expect: 'not_a_pod_create' },
  { name: 'pods/binding subresource', facts: { subResource: 'binding' }, annotations: { 'sidecar.example/inject': 'log-collector' }, expect: 'not_a_pod_create' },
  { name: 'other resource', facts: { resource: { group: 'apps', version: 'v1', resource: 'deployments' } }, expect: 'not_a_pod_create' },
  { name: 'core resource that is not pods', facts: { resource: { group: '', version: 'v1', resource: 'configmaps' } }, expect: 'not_a_pod_create' },
  { name: 'no object', facts: { pod: undefined }, expect: 'not_a_pod_create' },
  { name: 'no annotation, no defaults', expect: 'not_requested' },
  { name: 'no annotation, global defaults', settings: { defaultTemplates: ['http-prober'] }, expect: ['http-prober'] },
  { name: 'no annotation, namespace defaults beat global', settings: { defaultTemplates: ['http-prober'] }, namespaceDefaults: ['log-collector'], expect: ['log-collector'] },
  { name: 'no annotation, namespace known and not opted in', settings: { defaultTemplates: ['http-prober'] }, namespaceOptedIn: false, expect: 'not_requested' },
  { name: 'no annotation, namespace opted in', namespaceOptedIn: true, namespaceDefaults: ['log-collector'], expect: ['log-collector'] },
  { name: 'explicit list in a namespace not opted in', namespaceOptedIn: false, annotations: { 'sidecar.example/inject': 'log-collector' }, expect: ['log-collector'] },
  { name: 'true in a namespace not opted in', namespaceOptedIn: false, annotations: { 'sidecar.example/inject': 'true' }, settings: { defaultTemplates: ['http-prober'] }, expect: ['http-prober'] },
  { name: 'opt out', annotations: { 'sidecar.example/inject': 'false' }, namespaceDefaults: ['log-collector'], expect: 'opted_out' },
  { name: 'opt out, any case', annotations: { 'sidecar.example/inject': 'False' }, namespaceDefaults: ['log-collector'], expect: 'opted_out' },
  { name: 'true without defaults', annotations: { 'sidecar.example/inject': 'true' }, expect: 'no_default_templates', problems: ['no_default_templates'] },
  { name: 'true with defaults', annotations: { 'sidecar.example/inject': 'true' }, namespaceDefaults: ['egress-logger'], expect: ['egress-logger'] },
  { name: 'empty list', annotations: { 'sidecar.example/inject': ' , ' }, expect: 'not_requested' },
  { name: 'list, deduplicated and trimmed', annotations: { 'sidecar.example/inject': 'http-prober, log-collector,http-prober' }, expect: ['http-prober', 'log-collector'] },
  { name: 'already injected', annotations: { 'sidecar.example/inject': 'log-collector', 'sidecar.example/status': STATUS }, injected: true, expect: 'already_injected' },
  { name: 'already injected, the rest refused', annotations: { 'sidecar.example/inject': 'log-collector,nope', 'sidecar.example/status': STATUS }, injected: true, expect: 'already_injected', problems: ['unknown_template'] },
  // The record is believed only as far as the pod bears it out.
  { name: 'a record of what the pod lacks', annotations: { 'sidecar.example/inject': 'log-collector', 'sidecar.example/status': STATUS }, expect: ['log-collector'], problems: ['invalid_status'] },
  {
    name: 'a record naming a template without its containers',
    annotations: { 'sidecar.example/inject': 'log-collector', 'sidecar.example/status': '{"templates":[{"name":"log-collector","version":"2.0.0"}]}' },
    expect: ['log-collector'],
    problems: ['invalid_status'],
  },
  {
    name: 'a record listing only what the application has',
    annotations: { 'sidecar.example/inject': 'log-collector', 'sidecar.example/status': '{"templates":[{"name":"log-collector","version":"2.0.0"}],"containers":["app"]}' },
    expect: ['log-collector'],
    problems: ['invalid_status'],
  },
  { name: 'a malformed record', annotations: { 'sidecar.example/inject': 'log-collector', 'sidecar.example/status': '{"templates":' }, expect: ['log-collector'], problems: ['invalid_status'] },
  { name: 'a record of a template not loaded, borne out', annotations: { 'sidecar.example/inject': 'log-collector', 'sidecar.example/status': '{"templates":[{"name":"gone"}],"containers":["app"]}' }, expect: ['log-collector'] },
  { name: 'only unknown names', annotations: { 'sidecar.example/inject': 'nope' }, expect: 'nothing_injectable', problems: ['unknown_template'] },
  { name: 'bad override only', annotations: { 'sidecar.example/inject': 'http-prober', 'sidecar.example/http-prober.port': 'http' }, expect: 'nothing_injectable', problems: ['invalid_parameter'] },
  { name: 'good override', annotations: { 'sidecar.example/inject': 'http-prober', 'sidecar.example/http-prober.port': '9000' }, expect: ['http-prober'] },
  { name: 'override of another template is not read', annotations: { 'sidecar.example/inject': 'log-collector', 'sidecar.example/http-prober.port': 'x' }, expect: ['log-collector'] },
];

describe('decideInjection truth table', () => {
  it.each(rows)('$name', (row) => {
    const facts: AdmissionFacts = {
      operation: 'CREATE',
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      pod: pod(row.annotations, row.injected),
      ...row.facts,
    };
    const settings: InjectionSettings = { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true, ...row.settings };
    const decision = decideInjection(facts, templates, settings, { defaultTemplates: row.namespaceDefaults, optedIn: row.namespaceOptedIn });
    if (Array.isArray(row.expect)) {
      expect(decision.kind).toBe('inject');
      if (decision.kind === 'inject') expect(decision.rendered.map((r) => r.template.name)).toEqual(row.expect);
    } else {
      expect(decision).toMatchObject({ kind: 'skip', reason: row.expect });
    }
    expect(decision.problems.map((p) => p.reason)).toEqual(row.problems ?? []);
  });

  it('does not mutate its input', () => {
    const input = pod({ 'sidecar.example/inject': 'log-collector,egress-logger,http-prober' });
    const copy = structuredClone(input);
    decideInjection(
      { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'shop', pod: input },
      templates,
      { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true },
      { defaultTemplates: undefined },
    );
    expect(input).toEqual(copy);
  });

  it('renders controller-made pods with request.namespace and generateName', () => {
    const custom = setOf(
      templateDocument('echo', { containers: [{ name: 'echo', image: 'x', env: [{ name: 'WHO', value: '{{ pod.name }}@{{ pod.namespace }}' }] }] }),
    );
    const decision = decideInjection(
      { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'from-request', pod: pod({ 'sidecar.example/inject': 'echo' }) },
      custom,
      { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true },
      { defaultTemplates: undefined },
    );
    expect(decision.kind).toBe('inject');
    const sidecar = decision.kind === 'inject' ? decision.rendered[0]?.sidecars[0] : undefined;
    const env = (JSON.parse(sidecar ?? '{}') as { env?: unknown }).env;
    expect(env).toEqual([{ name: 'WHO', value: 'web-@from-request' }]);
  });
});

describe('overrides that pass their pattern but would not decode', () => {
  const typed = setOf(
    templateDocument('typed', {
      parameters: [
        { name: 'replicas', type: 'integer', default: 1, overridable: true },
        { name: 'memory', default: '64Mi', pattern: '[0-9]+ ?[KMG]i', overridable: true },
      ],
      containers: [
        { name: 'typed', image: 'x', args: ['{{ params.replicas }}'], ports: [{ containerPort: '{{ params.replicas | int }}' }], resources: { limits: { memory: '{{ params.memory }}' } } },
      ],
    }),
  );
  const decide = (annotations: Record<string, string>) =>
    decideInjection(
      { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'shop', pod: pod({ 'sidecar.example/inject': 'typed', ...annotations }) },
      typed,
      { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true },
      { defaultTemplates: undefined },
    );

  it('refuses an integer override past int32 that the default pattern [0-9]+ admits', () => {
    const decision = decide({ 'sidecar.example/typed.replicas': '2147483648' });
    expect(decision).toMatchObject({ kind: 'skip', reason: 'nothing_injectable' });
    expect(decision.problems.map((p) => p.message)).toEqual(['sidecar.example/typed.replicas="2147483648" is not a 32-bit integer; template not injected']);
  });

  it('refuses a string override that renders a field the apiserver cannot decode', () => {
    const decision = decide({ 'sidecar.example/typed.memory': '64 Mi' });
    expect(decision).toMatchObject({ kind: 'skip', reason: 'nothing_injectable' });
    expect(decision.problems.map((p) => [p.reason, p.message, p.detail])).toEqual([
      [
        'invalid_parameter',
        'overrides make spec.containers[0].resources.limits.memory invalid; template not injected',
        'spec.containers[0].resources.limits.memory must be a quantity such as 64Mi, 0.5 or 250m',
      ],
    ]);
  });

  it('renders valid overrides as typed values', () => {
    const decision = decide({ 'sidecar.example/typed.replicas': '2147483647', 'sidecar.example/typed.memory': '128Mi' });
    expect(decision.kind).toBe('inject');
    const sidecar = JSON.parse(decision.kind === 'inject' ? (decision.rendered[0]?.sidecars[0] ?? '{}') : '{}') as Record<string, unknown>;
    expect(sidecar).toMatchObject({ ports: [{ containerPort: 2147483647 }], resources: { limits: { memory: '128Mi' } } });
  });
});

describe('namespaceInfoFrom', () => {
  it('reads the opt-in label and the default list annotation', async () => {
    const { namespaceInfoFrom } = await import('../../src/inject/namespace.js');
    expect(namespaceInfoFrom(undefined)).toEqual({ defaultTemplates: undefined });
    expect(namespaceInfoFrom({ labels: { 'sidecar.example/injection': 'enabled' }, annotations: { 'sidecar.example/inject': 'a, b' } })).toEqual({
      optedIn: true,
      defaultTemplates: ['a', 'b'],
      labels: { 'sidecar.example/injection': 'enabled' },
    });
    expect(namespaceInfoFrom({ labels: { 'sidecar.example/injection': 'disabled' }, annotations: {} })).toEqual({
      optedIn: false,
      defaultTemplates: undefined,
      labels: { 'sidecar.example/injection': 'disabled' },
    });
  });
});
