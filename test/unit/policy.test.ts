// The policy compiler (src/policy): what it emits for each template, what it
// refuses, and the two translations that decide whom a policy injects (the
// override patterns and the inject annotation), checked against the webhook's
// own reading. The CEL itself is evaluated by the real apiserver in
// test/e2e/policy-mode.test.ts, against the webhook's pods.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseInjectAnnotation, STATUS_ANNOTATION } from '../../src/inject/annotations.js';
import { planInjection } from '../../src/inject/plan.js';
import { compilePolicies, EXCLUDED_NAMESPACES, policyName, statusRecordOf } from '../../src/policy/compile.js';
import { translatePattern } from '../../src/policy/pattern.js';
import { itemPattern } from '../../src/policy/request.js';
import { builtInTemplates, setOf, templateDocument } from '../support/templates.js';

interface PolicyObject {
  metadata: { name: string; annotations: Record<string, string> };
  spec: { matchConstraints: { resourceRules: unknown[] }; mutations: unknown[] };
}
interface BindingObject {
  spec: { matchResources: { namespaceSelector: { matchExpressions: unknown[] } } };
}

/** An RE2 pattern of ours as a JavaScript one: only the \x{…} escapes differ in what we emit. */
const asJs = (re2: string): RegExp => new RegExp(re2.replace(/\\x\{([0-9A-Fa-f]+)\}/g, '\\u{$1}'), 'u');

describe('compilePolicies on the built-in templates', () => {
  it('gives each template a MutatingAdmissionPolicy for pod CREATE and a binding to it, outside the control plane namespaces', async () => {
    const templates = await builtInTemplates();
    const compiled = compilePolicies(templates, { defaultTemplates: [] });
    expect(compiled.map((c) => [c.template, c.ok])).toEqual([...templates.templates.keys()].map((name) => [name, true]));
    for (const entry of compiled) {
      if (!entry.ok) throw new Error(entry.reasons.join('; '));
      const [policy, binding] = entry.objects as unknown as [PolicyObject, BindingObject];
      expect(policy).toMatchObject({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingAdmissionPolicy', metadata: { name: policyName(entry.template) } });
      expect(policy.metadata.annotations).toEqual({ 'sidecar.example/template-version': templates.templates.get(entry.template)?.version });
      expect(policy.spec.matchConstraints.resourceRules).toEqual([
        { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' },
      ]);
      expect(policy.spec).toMatchObject({ failurePolicy: 'Fail', reinvocationPolicy: 'IfNeeded' });
      expect(policy.spec.mutations).toEqual([{ patchType: 'JSONPatch', jsonPatch: { expression: expect.any(String) } }]);
      expect(binding).toMatchObject({ kind: 'MutatingAdmissionPolicyBinding', spec: { policyName: policy.metadata.name } });
      expect(binding.spec.matchResources.namespaceSelector.matchExpressions).toEqual([
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: EXCLUDED_NAMESPACES },
      ]);
    }
  });

  it('writes, for a template alone, the very record the webhook writes (the basis of "already injected" in both modes)', async () => {
    const templates = await builtInTemplates();
    for (const template of templates.templates.values()) {
      const pod = { metadata: { name: 'p', annotations: { 'sidecar.example/inject': template.name } }, spec: { containers: [{ name: 'app', image: 'a:1' }] } };
      const outcome = planInjection(
        { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'ns', pod },
        templates,
        { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true },
        { defaultTemplates: undefined },
      );
      expect(outcome.result).toBe('injected');
      const patch = JSON.parse((outcome as { patch: string }).patch) as Array<{ path: string; value: string }>;
      const record = patch.find((op) => op.path === `/metadata/annotations/${STATUS_ANNOTATION.replace('/', '~1')}`)?.value;
      expect(record).toBe(statusRecordOf(template));
    }
  });
});

describe('refusals: what a policy cannot express is refused per template, with the reason', () => {
  const refused = (document: Record<string, unknown>): string[] => {
    const compiled = compilePolicies(setOf(document, templateDocument('fine')), { defaultTemplates: [] });
    expect(compiled.find((c) => c.template === 'fine')?.ok).toBe(true);
    const entry = compiled.find((c) => c.template !== 'fine');
    return entry === undefined || entry.ok ? [] : entry.reasons;
  };

  it('an override pattern RE2 reads differently (lookahead, \\s, \\b)', () => {
    for (const pattern of ['(?!admin)[a-z]+', '[a-z]+\\s?', '\\bbob']) {
      const reasons = refused(templateDocument('t', { parameters: [{ name: 'who', default: 'bob', pattern, overridable: true }] }));
      expect(reasons).toEqual([expect.stringContaining(`parameter "who": its pattern ${pattern} cannot be checked alike in CEL`)]);
    }
  });

  it('a pattern of a parameter that cannot be overridden does not matter', () => {
    expect(refused(templateDocument('t', { parameters: [{ name: 'who', default: 'bob', pattern: '(?!x)[a-z]+' }] }))).toEqual([]);
  });

  it('an overridable parameter inside a quantity', () => {
    const reasons = refused(
      templateDocument('t', {
        parameters: [{ name: 'memory', default: '64Mi', pattern: '[0-9]+Mi', overridable: true }],
        containers: [{ name: 'c', image: 'r.example/x:1', resources: { limits: { memory: '{{ params.memory }}' } } }],
      }),
    );
    expect(reasons).toEqual([expect.stringMatching(/^containers\.0\.resources\.limits\.memory: an overridable parameter in a quantity/)]);
  });

  it('a privileged template that names no allowed namespaces', () => {
    const reasons = refused(templateDocument('t', { containers: [{ name: 'c', image: 'r.example/x:1', securityContext: { privileged: true } }] }));
    expect(reasons).toEqual([expect.stringContaining('privileged and names no allowed namespaces')]);
  });

  it('an application env var set twice', () => {
    const env = [
      { name: 'A', value: '1' },
      { name: 'A', value: '2' },
    ];
    expect(refused(templateDocument('t', { appContainers: { env } }))).toEqual([expect.stringContaining('sets A twice')]);
  });
});

describe('translatePattern: JavaScript patterns to RE2', () => {
  it('keeps the common subset and anchors it as the webhook does', () => {
    expect(translatePattern('[1-9][0-9]{0,4}')).toEqual({ ok: true, re2: '^(?:[1-9][0-9]{0,4})$' });
    expect(translatePattern('/[A-Za-z0-9._/-]+')).toEqual({ ok: true, re2: '^(?:/[A-Za-z0-9._/-]+)$' });
    expect(translatePattern('(?:a|b)\\.c\\d')).toEqual({ ok: true, re2: '^(?:(?:a|b)\\.c\\d)$' });
    expect(translatePattern('[[]')).toEqual({ ok: true, re2: '^(?:[\\[])$' });
  });

  it("rewrites '.' to JavaScript's (no line terminators), which RE2's '.' is not", () => {
    const translated = translatePattern('a.c');
    if (!translated.ok) throw new Error(translated.reason);
    const js = asJs(translated.re2);
    for (const text of ['abc', 'a\rc', 'a\u2028c', 'a\nc', 'a😀c']) expect(js.test(text)).toBe(/^(?:a.c)$/u.test(text));
  });

  it('refuses what the two engines read differently', () => {
    for (const pattern of ['(?=a)a', '(?<n>a)', '(a)\\1', '\\s', '[\\s]', '[\\b]', '\\p{L}', '\\u0041', '[]', '[^]', '[]a]']) {
      expect(translatePattern(pattern)).toMatchObject({ ok: false });
    }
  });

  it('every built-in pattern translates', async () => {
    for (const template of (await builtInTemplates()).templates.values()) {
      for (const parameter of template.parameters.values()) expect(translatePattern(parameter.patternSource)).toMatchObject({ ok: true });
    }
  });
});

describe('the inject annotation read in RE2 as the webhook reads it', () => {
  const name = 'log-collector';
  const known = [name, 'egress-logger'];
  const thisItem = asJs(itemPattern([name]));
  const otherItem = asJs(itemPattern(known.filter((k) => k !== name)));
  /** request.ts's aloneInList, as CEL's split() and matches() evaluate it. */
  const policyAsksAlone = (value: string): boolean => {
    const items = value.split(',');
    return items.some((item) => thisItem.test(item)) && !items.some((item) => otherItem.test(item));
  };
  /** What decide.ts injects for the annotation: this template, and no other known one (unknown names are warned about). */
  const webhookInjectsAlone = (value: string): boolean => {
    const request = parseInjectAnnotation(value);
    return request.kind === 'names' && request.names.includes(name) && !request.names.some((n) => n !== name && known.includes(n));
  };

  it('agrees on hand-picked values', () => {
    const cases: Array<[string, boolean]> = [
      ['log-collector', true],
      [' log-collector ', true],
      ['log-collector,', true],
      [',,log-collector, log-collector', true],
      ['log-collector,does-not-exist', true],
      ['\u00a0log-collector\ufeff', true],
      ['\u2028log-collector\t', true],
      ['log-collector,egress-logger', false],
      ['log-collectorx', false],
      ['', false],
      [',', false],
      ['log-collector\u0085', false],
    ];
    for (const [value, alone] of cases) {
      expect({ value, webhook: webhookInjectsAlone(value), policy: policyAsksAlone(value) }).toEqual({ value, webhook: alone, policy: alone });
    }
  });

  it('agrees on any list of names, separators and whitespace (JavaScript trim, not Go)', () => {
    const piece = fc.constantFrom(name, 'egress-logger', 'log', '', ',', ' ', '\t', '\n', '\u00a0', '\ufeff', '\u0085', '\u2028', '\u3000', 'x');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const value = pieces.join('');
        // "true" and "false" are read before the list, by their own patterns.
        fc.pre(!['true', 'false'].includes(value.trim().toLowerCase()));
        expect(policyAsksAlone(value)).toBe(webhookInjectsAlone(value));
      }),
      { numRuns: 2000 },
    );
  });
});
