// `sidecar-injector policy`: YAML for kubectl apply, and a plain refusal,
// naming the template and the reason, of what a policy cannot express.
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { assertBuilt, runCli } from '../support/cli.js';
import { TEMPLATES_DIR } from '../support/paths.js';
import { TempDirs } from '../support/temp.js';

jest.setTimeout(30_000);

const temps = new TempDirs();

beforeAll(() => {
  assertBuilt();
});

afterAll(async () => {
  await temps.cleanup();
});

const kindsAndNames = (stdout: string): string[] =>
  parseAllDocuments(stdout).map((doc) => {
    const object = doc.toJS() as { kind: string; metadata: { name: string } };
    return `${object.kind}/${object.metadata.name}`;
  });

const LOOKAHEAD = `apiVersion: sidecar.example/v1alpha1
kind: SidecarTemplate
metadata:
  name: picky
spec:
  parameters:
    - name: user
      default: bob
      pattern: '(?!root)[a-z]+'
      overridable: true
  containers:
    - name: picky
      image: registry.example/picky:1.0
      args: ['{{ params.user }}']
`;

it('policy (templates/ by default) → a policy and a binding per built-in template, exit 0', async () => {
  const result = await runCli(['policy']);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  const objects = kindsAndNames(result.stdout);
  for (const name of ['egress-logger', 'http-interceptor', 'http-prober', 'log-collector']) {
    expect(objects).toContain(`MutatingAdmissionPolicy/sidecar-injector.${name}`);
    expect(objects).toContain(`MutatingAdmissionPolicyBinding/sidecar-injector.${name}`);
  }
  expect(objects).toHaveLength(8);
});

it('policy FILE → only the templates of that file', async () => {
  const result = await runCli(['policy', join(TEMPLATES_DIR, 'http-prober.yaml')]);
  expect(result.code).toBe(0);
  expect(kindsAndNames(result.stdout)).toEqual(['MutatingAdmissionPolicy/sidecar-injector.http-prober', 'MutatingAdmissionPolicyBinding/sidecar-injector.http-prober']);
});

it('a template it cannot express → exit 1 naming the template and the reason, nothing on stdout; --allow-refused prints the others', async () => {
  const dir = await temps.copyOfTemplates();
  await writeFile(join(dir, 'picky.yaml'), LOOKAHEAD);
  const refused = await runCli(['policy', '--templates-dir', dir]);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toBe('');
  expect(refused.stderr).toContain('template "picky" cannot be compiled to a policy');
  expect(refused.stderr).toContain('parameter "user": its pattern (?!root)[a-z]+ cannot be checked alike in CEL');

  const allowed = await runCli(['policy', '--templates-dir', dir, '--allow-refused']);
  expect(allowed.code).toBe(0);
  expect(allowed.stderr).toContain('warning: template "picky"');
  expect(kindsAndNames(allowed.stdout)).toHaveLength(8);
});

it('invalid templates → exit 1 with the validation problem', async () => {
  const dir = await temps.copyOfTemplates();
  await writeFile(join(dir, 'broken.yaml'), LOOKAHEAD.replace('image: registry.example/picky:1.0', 'imagePullPolice: Always'));
  const result = await runCli(['policy', '--templates-dir', dir]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('picky');
});
