// `sidecar-injector explain` (and `inject --explain`): per pod template, what
// would be injected and why not, in words a user can act on.
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { assertBuilt, runCli, type CliResult } from '../support/cli.js';
import { EXAMPLES_DIR, ROOT, TEMPLATES_DIR } from '../support/paths.js';

jest.setTimeout(30_000);

beforeAll(() => {
  assertBuilt();
});

const deployment = (own: Record<string, string>, podTemplate: Record<string, string>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', annotations: own },
  spec: {
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' }, annotations: podTemplate }, spec: { containers: [{ name: 'app', image: 'x', env: [{ name: 'HTTP_PROXY', value: 'mine' }] }] } },
  },
});

function explain(args: string[], input: unknown[]): Promise<CliResult> {
  return runCli(['explain', '--templates-dir', TEMPLATES_DIR, '-f', '-', ...args], { input: input.map((o) => stringify(o)).join('---\n') });
}

describe('explain -f', () => {
  it('names each injected template with what it adds, and each refused one with the reason', async () => {
    const result = await explain([], [deployment({}, { 'sidecar.example/inject': 'log-collector,egress-logger,log-colector', 'sidecar.example/log-collector.logPath': '/logs' })]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe('Deployment/web (namespace shop): injected: log-collector, egress-logger');
    expect(lines).toContain(
      '  log-collector: injected (version 2.0.0): native sidecars (initContainers, restartPolicy Always) log-collector; volumes shared-logs; mounts into the app containers: shared-logs at /logs; parameters logPath=/logs',
    );
    expect(lines.find((l) => l.startsWith('  egress-logger: injected'))).toContain('native sidecars');
    expect(lines).toContain('  log-colector: not injected: unknown template "log-colector" (known: egress-logger, http-interceptor, http-prober, log-collector)');
    expect(lines).toContain('  note: container "app" already sets HTTP_PROXY; kept its value (template "egress-logger")');
  });

  it('names regular containers as such (--no-native-sidecars places native templates as regular containers)', async () => {
    const result = await explain(['--no-native-sidecars'], [deployment({}, { 'sidecar.example/inject': 'log-collector', 'sidecar.example/log-collector.logPath': '/logs' })]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toContain(
      '  log-collector: injected (version 2.0.0): containers log-collector; volumes shared-logs; mounts into the app containers: shared-logs at /logs; parameters logPath=/logs',
    );
  });

  it('warns when the annotation is on the Deployment instead of its pod template', async () => {
    const result = await explain([], [deployment({ 'sidecar.example/inject': 'log-collector' }, {})]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Deployment/web (namespace shop): not injected: the pod has no sidecar.example/inject annotation');
    expect(result.stdout).toContain(
      '  warning: sidecar.example/inject has no effect; move it to spec.template.metadata.annotations (on Deployment "web": its pods copy the annotations of spec.template, not the Deployment\'s)',
    );
  });

  it('uses the namespace labels given: opt-in defaults and template namespace selectors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'explain-'));
    try {
      writeFileSync(
        join(dir, 'audit.yaml'),
        stringify({
          apiVersion: 'sidecar.example/v1alpha1',
          kind: 'SidecarTemplate',
          metadata: { name: 'audit' },
          spec: { allowedNamespaceSelector: { matchLabels: { team: 'payments' } }, containers: [{ name: 'audit', image: 'x' }] },
        }),
      );
      const unannotated = deployment({}, {});
      const run = (labels: string) =>
        runCli(['explain', '--templates-dir', dir, '-f', '-', '--namespace-labels', labels, '--namespace-templates', 'audit'], {
          input: stringify(unannotated),
        });
      const outside = await run('sidecar.example/injection=enabled');
      expect(outside.stdout).toContain('not injected: no requested template can be injected');
      expect(outside.stdout).toContain(
        '  audit: not injected: template "audit" not allowed in namespace "shop"; allowed: labelled team=payments',
      );
      const inside = await run('sidecar.example/injection=enabled,team=payments');
      expect(inside.stdout).toContain('Deployment/web (namespace shop): injected: audit');
      const notOptedIn = await run('team=payments');
      expect(notOptedIn.stdout).toContain('not injected: the pod has no sidecar.example/inject annotation');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 and says "refused" when --on-problem=deny would refuse the pod; inject --explain is the same command', async () => {
    const input = [deployment({}, { 'sidecar.example/inject': 'log-colector' })];
    const result = await explain(['--on-problem', 'deny'], input);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Deployment/web (namespace shop): refused: the apiserver would reject the pod (--on-problem=deny)');
    const viaInject = await runCli(['inject', '--explain', '--templates-dir', TEMPLATES_DIR, '-f', '-', '--on-problem', 'deny'], {
      input: stringify(input[0]),
    });
    expect(viaInject).toMatchObject({ code: 1, stdout: result.stdout });
  });

  it('a bad --namespace-labels value is a one-line error', async () => {
    const result = await explain(['--namespace-labels', 'novalue'], [deployment({}, {})]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--namespace-labels: "novalue" is not KEY=VALUE');
  });
});

describe('inject -f', () => {
  it('warns on stderr when the annotation is on the Deployment instead of its pod template', async () => {
    const result = await runCli(['inject', '--templates-dir', TEMPLATES_DIR, '-f', '-'], { input: stringify(deployment({ 'sidecar.example/inject': 'log-collector' }, {})) });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Warning: sidecar.example/inject has no effect; move it to spec.template.metadata.annotations (on Deployment "web"');
  });
});

describe('the docs/command-line.md example', () => {
  it('prints exactly what docs/command-line.md shows for examples/explain.yaml', async () => {
    const readme = readFileSync(join(ROOT, 'docs', 'command-line.md'), 'utf8');
    const shown = readme.split('$ node dist/main.js explain -f examples/explain.yaml\n')[1]?.split('```')[0];
    const result = await runCli(['explain', '--templates-dir', TEMPLATES_DIR, '-f', join(EXAMPLES_DIR, 'explain.yaml')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(shown);
  });
});

describe('what policy mode would do, beside the webhook', () => {
  const verdict = (stdout: string): string | undefined => stdout.split('\n').find((l) => l.startsWith('  policy mode: '));

  it('the same for a pod asking for one template, naming its policy', async () => {
    const result = await explain([], [deployment({}, { 'sidecar.example/inject': 'http-prober' })]);
    expect(verdict(result.stdout)).toBe('  policy mode: the same, by sidecar-injector.http-prober');
  });

  it('leaves alone a pod asking for several known templates, an unknown name not counting', async () => {
    const several = await explain([], [deployment({}, { 'sidecar.example/inject': 'log-collector,egress-logger,log-colector' })]);
    expect(verdict(several.stdout)).toBe(
      '  policy mode: leaves the pod alone: it asks for several templates (log-collector, egress-logger), and each policy injects only a pod that asks for its template alone',
    );
    const oneKnown = await explain([], [deployment({}, { 'sidecar.example/inject': 'log-collector,log-colector' })]);
    expect(verdict(oneKnown.stdout)).toBe('  policy mode: the same, by sidecar-injector.log-collector');
  });

  it('names a template policy refuses to compile, with its reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'explain-policy-'));
    try {
      writeFileSync(
        join(dir, 'sized.yaml'),
        stringify({
          apiVersion: 'sidecar.example/v1alpha1',
          kind: 'SidecarTemplate',
          metadata: { name: 'sized' },
          spec: {
            parameters: [{ name: 'memory', default: '64Mi', overridable: true, pattern: '^[0-9]+Mi$' }],
            containers: [{ name: 'sized', image: 'x', resources: { limits: { memory: '{{ params.memory }}' } } }],
          },
        }),
      );
      const result = await runCli(['explain', '--templates-dir', dir, '-f', '-'], { input: stringify(deployment({}, { 'sidecar.example/inject': 'sized' })) });
      expect(result.stdout).toContain('Deployment/web (namespace shop): injected: sized');
      expect(verdict(result.stdout)).toMatch(/^ {2}policy mode: "sized" is not compiled \(sidecar-injector policy refuses it\): containers\.0\.resources\.limits\.memory: an overridable parameter in a quantity/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves alone a pod whose status record is not the policy\'s own', async () => {
    const result = await explain([], [deployment({}, { 'sidecar.example/inject': 'log-collector', 'sidecar.example/status': '{"templates":[]}' })]);
    expect(verdict(result.stdout)).toBe('  policy mode: leaves the pod alone: its sidecar.example/status is not the record of "log-collector" alone');
  });

  it('says policies inject native sidecars where --no-native-sidecars makes the webhook add regular containers', async () => {
    const result = await explain(['--no-native-sidecars'], [deployment({}, { 'sidecar.example/inject': 'log-collector' })]);
    expect(verdict(result.stdout)).toBe(
      '  policy mode: injects "log-collector" as a native sidecar (an init container with restartPolicy Always), as policies always do, where --native-sidecars=false makes the webhook add a regular container',
    );
  });

  it('the same when nothing is asked for', async () => {
    const result = await explain([], [deployment({}, { 'sidecar.example/inject': 'false' })]);
    expect(verdict(result.stdout)).toBe('  policy mode: the same (nothing asked for)');
  });
});
