import { describe, expect, it } from '@jest/globals';
import { authorizeTemplate, type Workload } from '../../src/inject/authorize.js';
import { compileTemplate, formatProblem } from '../../src/templates/compile.js';
import type { CompiledTemplate } from '../../src/templates/model.js';
import { matchesLabelSelector, type LabelSelector } from '../../src/util/label-selector.js';
import { templateDocument } from '../support/templates.js';

function compiled(spec: Record<string, unknown>): CompiledTemplate {
  const result = compileTemplate(templateDocument('t', spec), 'test.yaml');
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.template;
}

const workload = (over: Partial<Workload> = {}): Workload => ({ namespace: 'shop', namespaceLabels: {}, serviceAccount: 'default', ...over });

describe('label selectors', () => {
  const cases: Array<[string, LabelSelector, Record<string, string>, boolean]> = [
    ['empty selector matches everything', {}, {}, true],
    ['matchLabels equal', { matchLabels: { team: 'a' } }, { team: 'a', x: 'y' }, true],
    ['matchLabels differ', { matchLabels: { team: 'a' } }, { team: 'b' }, false],
    ['matchLabels missing', { matchLabels: { team: 'a' } }, {}, false],
    ['In holds', { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'stage'] }] }, { env: 'stage' }, true],
    ['In fails on a missing label', { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] }, {}, false],
    ['NotIn holds on a missing label', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, {}, true],
    ['NotIn fails on a listed value', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, { env: 'dev' }, false],
    ['Exists', { matchExpressions: [{ key: 'env', operator: 'Exists' }] }, { env: '' }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, { env: 'x' }, false],
    [
      'matchLabels and expressions are ANDed',
      { matchLabels: { team: 'a' }, matchExpressions: [{ key: 'env', operator: 'Exists' }] },
      { team: 'a' },
      false,
    ],
  ];
  it.each(cases)('%s', (_name, selector, labels, expected) => {
    expect(matchesLabelSelector(selector, labels)).toBe(expected);
  });
});

describe('per-template authorization', () => {
  it('an unrestricted, unprivileged template is allowed everywhere', () => {
    expect(authorizeTemplate(compiled({}), workload({ namespaceLabels: undefined }))).toBeUndefined();
  });

  it('names and the selector are alternatives', () => {
    const template = compiled({ allowedNamespaces: ['billing'], allowedNamespaceSelector: { matchLabels: { team: 'payments' } } });
    expect(authorizeTemplate(template, workload({ namespace: 'billing' }))).toBeUndefined();
    expect(authorizeTemplate(template, workload({ namespaceLabels: { team: 'payments' } }))).toBeUndefined();
    expect(authorizeTemplate(template, workload())).toMatchObject({
      reason: 'namespace_not_allowed',
      message: 'template "t" not allowed in namespace "shop"; allowed: billing or labelled team=payments',
    });
  });

  it('a selector cannot match when the namespace labels are unknown, and the message says so', () => {
    const template = compiled({ allowedNamespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] } });
    const refusal = authorizeTemplate(template, workload({ namespaceLabels: undefined }));
    expect(refusal?.reason).toBe('namespace_not_allowed');
    // The warning says which namespaces are allowed; why the selector could not match is in the detail (log, Event).
    expect(refusal?.message).toBe('template "t" not allowed in namespace "shop"; allowed: labelled team');
    expect(refusal?.detail).toBe('the labels of the namespace are not known to the webhook');
  });

  it('service accounts: a bare name in any allowed namespace, or namespace/name', () => {
    const template = compiled({ allowedServiceAccounts: ['collector', 'shop/api'] });
    expect(authorizeTemplate(template, workload({ namespace: 'any', serviceAccount: 'collector' }))).toBeUndefined();
    expect(authorizeTemplate(template, workload({ serviceAccount: 'api' }))).toBeUndefined();
    expect(authorizeTemplate(template, workload({ namespace: 'other', serviceAccount: 'api' }))).toMatchObject({
      reason: 'service_account_not_allowed',
      message: 'template "t" not allowed for service account "other/api"; allowed: collector, shop/api',
    });
  });

  it('a namespace refusal comes before the service account check', () => {
    const template = compiled({ allowedNamespaces: ['billing'], allowedServiceAccounts: ['x'] });
    expect(authorizeTemplate(template, workload())?.reason).toBe('namespace_not_allowed');
  });

  const privilegedSpecs: Array<[string, Record<string, unknown>, string]> = [
    ['a hostPath volume', { volumes: [{ name: 'host', hostPath: { path: '/var/log' } }] }, 'hostPath volume "host"'],
    ['a privileged container', { containers: [{ name: 'p', image: 'i', securityContext: { privileged: true } }] }, 'container "p" is privileged'],
    ['added capabilities', { containers: [{ name: 'p', image: 'i', securityContext: { capabilities: { add: ['NET_ADMIN'] } } }] }, 'container "p" adds capabilities NET_ADMIN'],
    ['a host port', { initContainers: [{ name: 'p', image: 'i', ports: [{ containerPort: 80, hostPort: 80 }] }] }, 'container "p" uses a hostPort'],
  ];
  it.each(privilegedSpecs)('%s makes a template privileged, refused without an allow-list and allowed in a listed namespace', (_name, spec, reason) => {
    const open = compiled(spec);
    expect(open.privileged).toEqual([reason]);
    expect(authorizeTemplate(open, workload())).toMatchObject({ reason: 'privileged_not_allowed' });
    const listed = compiled({ ...spec, allowedNamespaces: ['platform'] });
    expect(authorizeTemplate(listed, workload({ namespace: 'platform' }))).toBeUndefined();
    expect(authorizeTemplate(listed, workload())).toMatchObject({ reason: 'privileged_not_allowed' });
  });

  it('dropping capabilities or privileged: false is not privileged', () => {
    const template = compiled({
      containers: [{ name: 'p', image: 'i', securityContext: { privileged: false, capabilities: { drop: ['ALL'], add: [] } } }],
    });
    expect(template.privileged).toEqual([]);
  });
});

describe('validation of the authorization fields', () => {
  const problems = (spec: Record<string, unknown>): string[] => {
    const result = compileTemplate(templateDocument('t', spec), 'test.yaml');
    return result.ok ? [] : result.problems.map(formatProblem);
  };
  it('rejects In without values, Exists with values, unknown operators and malformed service accounts', () => {
    expect(problems({ allowedNamespaceSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } })).toEqual([
      'test.yaml: template "t": spec.allowedNamespaceSelector.matchExpressions[0].values: must not be empty for In',
    ]);
    expect(problems({ allowedNamespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } })).toEqual([
      'test.yaml: template "t": spec.allowedNamespaceSelector.matchExpressions[0].values: must be empty for Exists',
    ]);
    expect(problems({ allowedNamespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Gt' }] } })[0]).toContain(
      'spec.allowedNamespaceSelector.matchExpressions[0].operator',
    );
    expect(problems({ allowedServiceAccounts: ['Bad_Name'] })[0]).toContain('spec.allowedServiceAccounts[0]');
  });
});
