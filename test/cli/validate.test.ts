// `sidecar-injector validate DIR`: problems name the file, the template and the field.
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertBuilt, runCli } from '../support/cli.js';
import { CLI_FIXTURES, TEMPLATES_DIR } from '../support/paths.js';
import { TempDirs } from '../support/temp.js';

jest.setTimeout(30_000);

const temps = new TempDirs();

beforeAll(() => {
  assertBuilt();
});

afterAll(async () => {
  await temps.cleanup();
});

it('validate templates → exit 0 listing the four built-ins', async () => {
  const result = await runCli(['validate', TEMPLATES_DIR]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/\b4 valid template/);
  for (const name of ['egress-logger', 'http-interceptor', 'http-prober', 'log-collector']) expect(result.stdout).toContain(name);
});

it('a template without a container name → exit 1 naming the file, the template and the field', async () => {
  const dir = join(CLI_FIXTURES, 'broken-field');
  const result = await runCli(['validate', dir]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(join(dir, 'nameless.yaml'));
  expect(result.stderr).toContain('nameless');
  expect(result.stderr).toContain('spec.containers[0].name');
});

it('invalid YAML → exit 1 naming the file and the line', async () => {
  const dir = join(CLI_FIXTURES, 'broken-yaml');
  const result = await runCli(['validate', dir]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(join(dir, 'unclosed.yaml'));
  expect(result.stderr).toMatch(/line \d+/);
});

it('one bad file among good ones fails the whole directory and names only the bad one', async () => {
  const dir = await temps.copyOfTemplates();
  await writeFile(
    join(dir, 'zz-bad-param.yaml'),
    `apiVersion: sidecar.example/v1alpha1
kind: SidecarTemplate
metadata:
  name: bad-param
spec:
  parameters:
    - name: port
      default: "eighty"
      type: integer
  containers:
    - name: bad-param
      image: docker.io/library/busybox:1.37
`,
  );
  const result = await runCli(['validate', dir]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('zz-bad-param.yaml');
  expect(result.stderr).toContain('bad-param');
  expect(result.stderr).toContain('spec.parameters[0].default');
  expect(result.stderr).not.toContain('log-collector.yaml');
});

it('two templates with the same name → exit 1 naming both files', async () => {
  const dir = await temps.copyOfTemplates();
  await writeFile(join(dir, 'log-collector-copy.yaml'), await readFile(join(TEMPLATES_DIR, 'log-collector.yaml'), 'utf8'));
  const result = await runCli(['validate', dir]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('log-collector-copy.yaml');
  expect(result.stderr).toContain('log-collector.yaml');
  expect(result.stderr).toContain('metadata.name');
});

it('a directory that does not exist → exit 1 naming it', async () => {
  const result = await runCli(['validate', '/nonexistent/templates']);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('/nonexistent/templates');
});

it('an overridable string parameter without a pattern → exit 1 naming the file, the template and the parameter', async () => {
  const dir = await temps.copyOfTemplates();
  await writeFile(
    join(dir, 'zz-open-param.yaml'),
    `apiVersion: sidecar.example/v1alpha1
kind: SidecarTemplate
metadata:
  name: open-param
spec:
  parameters:
    - name: greeting
      default: hello
      overridable: true
  containers:
    - name: open-param
      image: docker.io/library/busybox:1.37
      env: [{ name: GREETING, value: '{{ params.greeting }}' }]
`,
  );
  const result = await runCli(['validate', dir]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`${join(dir, 'zz-open-param.yaml')}: template "open-param": spec.parameters[0].pattern: is required: parameter "greeting" is overridable`);
});

it('a string parameter placed into a sh -c script → exit 0 with a warning naming the field; the built-ins warn about nothing', async () => {
  const dir = await temps.copyOfTemplates();
  await writeFile(
    join(dir, 'zz-spliced.yaml'),
    `apiVersion: sidecar.example/v1alpha1
kind: SidecarTemplate
metadata:
  name: spliced
spec:
  parameters:
    - name: logPath
      default: /var/log
      pattern: '/[A-Za-z0-9._/-]+'
      overridable: true
  containers:
    - name: spliced
      image: docker.io/library/busybox:1.37
      command: [/bin/sh, -c]
      args: ['tail -F {{ params.logPath }}/app.log']
`,
  );
  const result = await runCli(['validate', dir]);
  expect(result.code).toBe(0);
  expect(result.stderr.trim().split('\n')).toEqual([
    `warning: ${join(dir, 'zz-spliced.yaml')}: template "spliced": spec.containers[0].args[0]: parameter "logPath" is placed into a shell script: pass it as an env var and quote it ("$VAR") instead`,
  ]);
  expect(result.stdout).toMatch(/\b5 valid template/);
});

it('what the apiserver could not decode → exit 1, one line per field naming the file, the template and the field', async () => {
  const dir = await temps.make('typed');
  const file = join(dir, 'typed.yaml');
  await writeFile(
    file,
    `apiVersion: sidecar.example/v1alpha1
kind: SidecarTemplate
metadata:
  name: typed
spec:
  parameters:
    - name: port
      type: integer
      default: 99999999999999999999999
    - name: metricsPort
      type: integer
      default: 9090
  containers:
    - name: typed
      image: registry.example/typed:1
      imagePullPolice: Always
      ports:
        - containerPort: "8080"
        - containerPort: "{{ params.metricsPort }}"
      resources:
        limits:
          memory: 64 Mi
`,
  );
  const result = await runCli(['validate', dir]);
  expect(result.code).toBe(1);
  const at = `${file}: template "typed":`;
  expect(result.stderr).toContain(`${at} spec.parameters[0].default: "1e+23" is not an integer`);
  // The default is refused before anything renders; fixed, the container's fields are next.
  await writeFile(file, (await readFile(file, 'utf8')).replace('99999999999999999999999', '8080'));
  const fixed = await runCli(['validate', dir]);
  expect(fixed.code).toBe(1);
  expect(fixed.stderr.split('\n').filter((line) => line.startsWith(at)).sort()).toEqual([
    `${at} spec.containers[0].imagePullPolice: is not a known field`,
    `${at} spec.containers[0].ports[0].containerPort: must be an integer`,
    `${at} spec.containers[0].ports[1].containerPort: must be an integer (rendered from "{{ params.metricsPort }}" with the parameters' defaults; an integer field takes exactly '{{ params.NAME | int }}' of an integer parameter)`,
    `${at} spec.containers[0].resources.limits.memory: must be a quantity such as 64Mi, 0.5 or 250m`,
  ]);
});
