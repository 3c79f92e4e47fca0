// The companion ValidatingAdmissionPolicies (src/policy/validating.ts): the
// objects, and the shortening of a warning to the webhook's 120 characters,
// computed ahead for every length of the value read from the pod and checked
// here against the webhook's own fitted(). The CEL itself is evaluated by the
// real apiserver in test/e2e/policy-warnings.test.ts, against the webhook's
// warnings and denials.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { expendable, fitted } from '../../src/inject/problems.js';
import { compilePolicies, EXCLUDED_NAMESPACES } from '../../src/policy/compile.js';
import { keptLengths } from '../../src/policy/problem-text.js';
import { compileValidatingPolicies, NO_DEFAULTS_POLICY, REQUEST_POLICY } from '../../src/policy/validating.js';
import { builtInTemplates } from '../support/templates.js';

interface Policy {
  kind: string;
  metadata: { name: string };
  spec: {
    failurePolicy?: string;
    validationActions?: string[];
    variables?: Array<{ name: string; expression: string }>;
    validations?: Array<{ expression: string; messageExpression: string; reason?: string }>;
    matchResources?: { namespaceSelector: { matchExpressions: Array<{ values: string[] }> } };
  };
}

const strings = (parts: string[]): TemplateStringsArray => Object.assign([...parts], { raw: [...parts] });
const clip = (text: string, kept: number): string => {
  const chars = [...text];
  return chars.length <= kept ? text : kept <= 0 ? '' : `${chars.slice(0, kept - 1).join('')}…`;
};

describe('keptLengths: what fitted() keeps of each value', () => {
  it('rebuilds fitted()\'s text for any literals and values, expendable or not', () => {
    const value = fc.record({ text: fc.string({ unit: 'grapheme', maxLength: 160 }), spare: fc.boolean() });
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 4 }), fc.array(value, { maxLength: 3 }), (literals, drawn) => {
        const parts = literals.slice(0, drawn.length + 1);
        while (parts.length < drawn.length + 1) parts.push(' ');
        const values = drawn.slice(0, parts.length - 1);
        const expected = fitted(strings(parts), ...values.map((v) => (v.spare ? expendable(v.text) : v.text))).text;
        const literalLength = parts.reduce((n, p) => n + [...p].length, 0);
        const kept = keptLengths(literalLength, values.map((v) => [...v.text].length), values.map((v) => v.spare));
        const rebuilt = parts.reduce((out, p, i) => out + p + (i < values.length ? clip(values[i]?.text ?? '', kept[i] ?? 0) : ''), '');
        expect(rebuilt).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('no longer depends on a value\'s length past the budget (the table the CEL indexes ends there)', () => {
    const literal = 'unknown template "" (known: )'.length;
    const budget = 120 - 'sidecar-injector: '.length - literal;
    const names = 'log-collector, egress-logger, http-prober, http-interceptor';
    const at = (length: number): number[] => keptLengths(literal, [length, names.length], [false, true]);
    for (const length of [budget + 1, budget + 2, 500, 100_000]) expect(at(length)).toEqual(at(budget + 1));
  });
});

describe('compileValidatingPolicies on the built-in templates', () => {
  it('gives each template that compiles a ValidatingAdmissionPolicy and a binding, besides those of names that are no template and of `true` without defaults', async () => {
    const templates = await builtInTemplates();
    const objects = compileValidatingPolicies(templates, { defaultTemplates: [], onProblem: 'warn' }) as unknown as Policy[];
    const perTemplate = [...templates.templates.keys()].map((t) => `sidecar-injector.${t}`);
    const kinds = (names: string[]): string[] => names.flatMap((n) => [`ValidatingAdmissionPolicy/${n}`, `ValidatingAdmissionPolicyBinding/${n}`]);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(kinds([REQUEST_POLICY, NO_DEFAULTS_POLICY, ...perTemplate]));
    // With --default-templates, `true` always has defaults: no policy for it.
    const withDefaults = compileValidatingPolicies(templates, { defaultTemplates: ['log-collector'], onProblem: 'warn' }) as unknown as Policy[];
    expect(withDefaults.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(kinds([REQUEST_POLICY, ...perTemplate]));
    for (const binding of objects.filter((o) => o.kind.endsWith('Binding'))) {
      expect(binding.spec.validationActions).toEqual(['Warn']);
      expect(binding.spec.matchResources?.namespaceSelector.matchExpressions[0]?.values).toEqual(EXCLUDED_NAMESPACES);
    }
  });

  it('reads the pod with the mutating policy\'s own variables (the request, the parameters, the record)', async () => {
    const templates = await builtInTemplates();
    const mutating = compilePolicies(templates, { defaultTemplates: [] });
    const validating = compileValidatingPolicies(templates, { defaultTemplates: [], onProblem: 'warn' }) as unknown as Policy[];
    for (const compiled of mutating) {
      if (!compiled.ok) throw new Error(compiled.reasons.join('; '));
      const policy = validating.find((o) => o.kind === 'ValidatingAdmissionPolicy' && o.metadata.name === `sidecar-injector.${compiled.template}`);
      const variables = (compiled.objects[0]['spec'] as { variables: unknown[] }).variables;
      expect(policy?.spec.variables?.slice(0, variables.length)).toEqual(variables);
    }
  });

  it('warns with an Ignore failure policy, and with deny refuses with 403 Forbidden and the webhook\'s prefix, failing closed', async () => {
    const templates = await builtInTemplates();
    const warn = compileValidatingPolicies(templates, { defaultTemplates: [], onProblem: 'warn' }) as unknown as Policy[];
    const deny = compileValidatingPolicies(templates, { defaultTemplates: [], onProblem: 'deny' }) as unknown as Policy[];
    for (const policy of warn.filter((o) => o.kind === 'ValidatingAdmissionPolicy')) {
      expect(policy.spec.failurePolicy).toBe('Ignore');
      for (const v of policy.spec.validations ?? []) {
        expect(v.reason).toBeUndefined();
        expect(v.messageExpression.startsWith('"sidecar-injector: " + ')).toBe(true);
      }
    }
    // `true` without defaults is only ever a warning (the webhook never denies it).
    const denying = (o: Policy): boolean => o.metadata.name !== NO_DEFAULTS_POLICY;
    for (const policy of deny.filter((o) => o.kind === 'ValidatingAdmissionPolicy' && denying(o))) {
      expect(policy.spec.failurePolicy).toBe('Fail');
      for (const v of policy.spec.validations ?? []) {
        expect(v.reason).toBe('Forbidden');
        expect(v.messageExpression.startsWith('"sidecar injection refused: " + ')).toBe(true);
      }
    }
    for (const binding of deny.filter((o) => o.kind.endsWith('Binding'))) expect(binding.spec.validationActions).toEqual([denying(binding) ? 'Deny' : 'Warn']);
  });
});
