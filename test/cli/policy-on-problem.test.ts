// `sidecar-injector policy --on-problem warn|deny`: the companion
// ValidatingAdmissionPolicies printed after the mutating policies, their
// bindings warning or denying as the webhook's --on-problem would; without the
// flag, the mutating policies only.
import { beforeAll, expect, it, jest } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { assertBuilt, runCli } from '../support/cli.js';
import { TEMPLATES_DIR } from '../support/paths.js';

jest.setTimeout(30_000);

beforeAll(() => {
  assertBuilt();
});

interface Printed {
  kind: string;
  metadata: { name: string };
  spec: { validationActions?: string[] };
}

const printed = (stdout: string): Printed[] => parseAllDocuments(stdout).map((doc) => doc.toJS() as Printed);
const TEMPLATES = ['egress-logger', 'http-interceptor', 'http-prober', 'log-collector'];

it.each([
  ['warn', 'Warn'],
  ['deny', 'Deny'],
])('--on-problem %s → the mutating policies, then a validating policy per template and for unknown names, bound with %s', async (onProblem, action) => {
  const result = await runCli(['policy', '--templates-dir', TEMPLATES_DIR, '--on-problem', onProblem]);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  const objects = printed(result.stdout);
  expect(objects.slice(0, 8).every((o) => o.kind.startsWith('MutatingAdmissionPolicy'))).toBe(true);
  const validating = objects.slice(8).filter((o) => o.kind === 'ValidatingAdmissionPolicy').map((o) => o.metadata.name);
  expect(validating.sort()).toEqual(['sidecar-injector', 'sidecar-injector-no-defaults', ...TEMPLATES.map((t) => `sidecar-injector.${t}`)].sort());
  for (const binding of objects.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding')) {
    // `inject: true` with no default templates is only ever a warning, as with the webhook.
    expect(binding.spec.validationActions).toEqual([binding.metadata.name === 'sidecar-injector-no-defaults' ? 'Warn' : action]);
  }
});

it('no --on-problem → the mutating policies only', async () => {
  const result = await runCli(['policy', '--templates-dir', TEMPLATES_DIR]);
  expect(result.code).toBe(0);
  expect(printed(result.stdout).map((o) => o.kind).filter((k) => k.startsWith('Validating'))).toEqual([]);
});

it('--on-problem other than warn or deny → exit 1, nothing printed', async () => {
  const result = await runCli(['policy', '--templates-dir', TEMPLATES_DIR, '--on-problem', 'ignore']);
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toContain('--on-problem must be warn or deny');
});
