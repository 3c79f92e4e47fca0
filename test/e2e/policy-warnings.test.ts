// The webhook's warnings and denials against the companion
// ValidatingAdmissionPolicies' (control plane only): each pod below, which the
// injector leaves a template out of for a problem, is created (server-side
// dry run) with the webhook registered, with --on-problem=warn then deny, and
// with the webhook's configuration deleted and only the output of
// `sidecar-injector policy` applied (MutatingAdmissionPolicies and the
// ValidatingAdmissionPolicies with Warn, then Deny). kubectl must print the
// same warnings, behind the apiserver's own prefix, and refuse the same pods
// with the same message (docs/policy-mode.md "Warnings and denials").
// Not on 1.30 (e2e-oldest): it has no MutatingAdmissionPolicy.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../support/run-program.js';
import { DIST_MAIN, ROOT } from '../support/paths.js';
import { waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { CONFIGURATION_NAME, mutateUrl, registerWebhook } from './support/injector.js';
import { APP_IMAGE, INJECT_ANNOTATION, STATUS_ANNOTATION, type Kube } from './support/kube.js';

jest.setTimeout(300_000);

type Manifest = Record<string, unknown>;

interface Case {
  name: string;
  manifest: () => Manifest;
  /** Whether the webhook warns (so that two silent answers are not taken for a proof). */
  warns: boolean;
  /** Whether the webhook refuses the pod with --on-problem=deny (as it warns, unless said otherwise). */
  denies?: boolean;
}

interface PodShape {
  name: string;
  namespace: string;
  annotations?: Record<string, string>;
  serviceAccountName?: string;
  containers?: Manifest[];
  volumes?: Manifest[];
}

function pod(shape: PodShape): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: shape.name, namespace: shape.namespace, annotations: shape.annotations },
    spec: {
      serviceAccountName: shape.serviceAccountName,
      containers: shape.containers ?? [{ name: 'app', image: APP_IMAGE }],
      volumes: shape.volumes,
    },
  };
}

let env: E2eEnvironment | undefined;
let kube: Kube;
const ns = { plain: '', team: '', optedIn: '' };

const asking = (template: string, more: Record<string, string> = {}): Record<string, string> => ({ [INJECT_ANNOTATION]: template, ...more });

function cases(): Case[] {
  const list: Case[] = [];
  const add = (name: string, warns: boolean, manifest: () => Manifest, denies = warns): void => void list.push({ name, warns, manifest, denies });
  add('no problem: injected, nothing to say', false, () => pod({ name: 'fine', namespace: ns.plain, annotations: asking('log-collector') }));
  add('an override that fails its pattern', true, () =>
    pod({ name: 'bad-path', namespace: ns.plain, annotations: asking('log-collector', { 'sidecar.example/log-collector.logPath': 'relative/path' }) }),
  );
  add('an override that fails its pattern, too long for the warning', true, () =>
    pod({ name: 'bad-port', namespace: ns.plain, annotations: asking('egress-logger', { 'sidecar.example/egress-logger.port': `eighty-${'x'.repeat(200)}` }) }),
  );
  add('two overrides that fail their patterns', true, () =>
    pod({
      name: 'bad-two',
      namespace: ns.plain,
      annotations: asking('http-prober', { 'sidecar.example/http-prober.interval': '0', 'sidecar.example/http-prober.port': 'http' }),
    }),
  );
  add('an integer override that matches its pattern but is no 32-bit integer', true, () =>
    pod({ name: 'agent-huge', namespace: ns.team, serviceAccountName: 'robot', annotations: asking('team-agent', { 'sidecar.example/team-agent.port': '99999999999' }) }),
  );
  add('an override of a parameter that is not overridable, and of no parameter: injected all the same', true, () =>
    pod({
      name: 'agent-ignored',
      namespace: ns.team,
      serviceAccountName: 'robot',
      annotations: asking('team-agent', { 'sidecar.example/team-agent.level': 'debug', 'sidecar.example/team-agent.colour': 'blue' }),
    }),
  );
  add('name conflict: a container named like the sidecar', true, () =>
    pod({ name: 'container-conflict', namespace: ns.plain, annotations: asking('log-collector'), containers: [{ name: 'app', image: APP_IMAGE }, { name: 'log-collector', image: APP_IMAGE }] }),
  );
  add('name conflict: a volume named like the template\'s', true, () =>
    pod({ name: 'volume-conflict', namespace: ns.plain, annotations: asking('log-collector'), volumes: [{ name: 'shared-logs', emptyDir: {} }] }),
  );
  add('mount path conflict: the application mounts the log path', true, () =>
    pod({
      name: 'mount-conflict',
      namespace: ns.plain,
      annotations: asking('log-collector'),
      containers: [{ name: 'app', image: APP_IMAGE, volumeMounts: [{ name: 'mine', mountPath: '/var/log/app' }] }],
      volumes: [{ name: 'mine', emptyDir: {} }],
    }),
  );
  add('unknown template', true, () => pod({ name: 'unknown', namespace: ns.plain, annotations: asking('log-colector') }));
  add('a known template and two unknown names, one twice and spaced', true, () =>
    pod({ name: 'unknown-two', namespace: ns.plain, annotations: asking(' log-collector, nope ,also-nope,nope') }),
  );
  add('an unknown name too long for the warning', true, () => pod({ name: 'unknown-long', namespace: ns.plain, annotations: asking(`t${'x'.repeat(130)}`) }));
  add('an opted-in namespace whose list names no template', true, () => pod({ name: 'plain', namespace: ns.optedIn }));
  add('inject "true" in a namespace without a default list, and no --default-templates: a warning only', true, () =>
    pod({ name: 'no-defaults', namespace: ns.plain, annotations: asking('true') }), false,
  );
  add('not authorized: service account', true, () => pod({ name: 'agent-default-sa', namespace: ns.team, annotations: asking('team-agent') }));
  add('not authorized: namespace', true, () => pod({ name: 'agent-elsewhere', namespace: ns.plain, annotations: asking('team-agent') }));
  add('not authorized: namespace labels', true, () => pod({ name: 'late', namespace: ns.plain, annotations: asking('late-logger') }));
  return list;
}

interface Answer {
  /** What kubectl printed as `Warning: ...`, in order. */
  warnings: string[];
  /** The refusal's text from `sidecar injection refused: ` on, or undefined when the pod was stored. */
  refusal: string | undefined;
  /** The templates the stored pod's record names. */
  injected: string[];
}

const REFUSED = 'sidecar injection refused: ';

async function create(manifest: Manifest): Promise<Answer> {
  const result = await kube.kubectl(['create', '-f', '-', '--dry-run=server', '-o', 'json'], { input: JSON.stringify(manifest) });
  const lines = result.stderr.split('\n');
  const warnings = lines.filter((line) => line.startsWith('Warning: ')).map((line) => line.slice('Warning: '.length));
  if (result.code !== 0) {
    const at = result.stderr.indexOf(REFUSED);
    return { warnings, refusal: at < 0 ? `unexpected: ${result.stderr}` : result.stderr.slice(at).trimEnd(), injected: [] };
  }
  const record = (JSON.parse(result.stdout) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.[STATUS_ANNOTATION];
  const injected = record === undefined ? [] : (JSON.parse(record) as { templates: Array<{ name: string }> }).templates.map((t) => t.name);
  return { warnings, refusal: undefined, injected };
}

async function runAll(): Promise<Map<string, Answer>> {
  const answers = new Map<string, Answer>();
  for (const c of cases()) answers.set(c.name, await create(c.manifest()));
  return answers;
}

/** What kubectl prints before a Warn action's message (dispatcher.go in the apiserver). */
const POLICY_WARNING = /^Validation failed for ValidatingAdmissionPolicy '([^']+)' with binding '([^']+)': /;

/**
 * Until probes are answered as `expected` (configurations and policies reach
 * the apiserver through informers): a name that is no template, and a
 * template of one policy (not allowed in ns.plain).
 */
async function waitUntil(what: string, expected: (answer: Answer) => boolean): Promise<void> {
  for (const request of ['log-colector', 'team-agent']) {
    await waitFor(`${what} (${request})`, async () => (expected(await create(pod({ name: 'probe', namespace: ns.plain, annotations: asking(request) }))) ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
  }
}

const answers = { webhookWarn: new Map<string, Answer>(), webhookDeny: new Map<string, Answer>(), policyWarn: new Map<string, Answer>(), policyDeny: new Map<string, Answer>() };

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  ns.plain = await kube.createNamespace('warn-plain');
  ns.team = await kube.createNamespace('warn-team');
  ns.optedIn = await kube.createNamespace('warn-in', { labels: { 'sidecar.example/injection': 'enabled' }, annotations: { [INJECT_ANNOTATION]: 'not-a-template' } });
  await kube.core.createNamespacedServiceAccount({ namespace: ns.team, body: { metadata: { name: 'robot' } } });

  // The built-in templates and the two test templates of the policy-mode test.
  const templatesDir = await env.temps.copyOfTemplates();
  const extra = await readFile(join(ROOT, 'test/e2e/policy-mode/team-agent.yaml'), 'utf8');
  await writeFile(join(templatesDir, 'team-agent.yaml'), extra.replace('[NAMESPACE]', `[${ns.team}]`));

  // Webhook mode, warn then deny (a second process; the configuration is pointed at it).
  const registration = { failurePolicy: 'Fail' as const, reinvocationPolicy: 'IfNeeded' as const };
  await env.startRegisteredInjector(registration, [], { templatesDir });
  await waitUntil('the webhook to warn', (a) => a.warnings.length > 0);
  answers.webhookWarn = await runAll();
  const denying = await env.startInjector(['--on-problem=deny'], { templatesDir });
  await registerWebhook(kube, { url: mutateUrl(denying.port), caBundlePem: denying.ca, ...registration });
  await waitUntil('the webhook to deny', (a) => a.refusal !== undefined);
  answers.webhookDeny = await runAll();

  // Policy mode: no webhook configuration, the compiled policies only.
  expect((await kube.kubectl(['delete', 'mutatingwebhookconfiguration', CONFIGURATION_NAME])).code).toBe(0);
  const apply = async (onProblem: string): Promise<void> => {
    const compiled = await run('node', [DIST_MAIN, 'policy', '--templates-dir', templatesDir, '--on-problem', onProblem]);
    expect(compiled).toMatchObject({ code: 0, stderr: '' });
    expect(await kube.kubectl(['apply', '-f', '-'], { input: compiled.stdout })).toMatchObject({ code: 0, stderr: '' });
  };
  await apply('warn');
  await waitUntil('the policies to warn', (a) => a.warnings.some((w) => POLICY_WARNING.test(w)) && a.refusal === undefined);
  // Every mutating policy in place too (the probe asked for no template that exists).
  await waitFor('the mutating policies to inject', async () => ((await create(pod({ name: 'probe', namespace: ns.team, serviceAccountName: 'robot', annotations: asking('team-agent') }))).injected.length > 0 ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 250,
  });
  answers.policyWarn = await runAll();
  await apply('deny');
  await waitUntil('the policies to deny', (a) => a.refusal !== undefined);
  answers.policyDeny = await runAll();
}, 600_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

/** A policy's warning without the apiserver's prefix; the policy it came from must be one of ours. */
function unprefixed(warning: string): string {
  const match = POLICY_WARNING.exec(warning);
  expect(match?.[1]).toMatch(/^sidecar-injector(\.|-no-defaults$|$)/);
  expect(match?.[2]).toBe(match?.[1]);
  return warning.slice(match?.[0].length ?? 0);
}

describe('with --on-problem=warn, the policies warn as the webhook does', () => {
  it.each(cases())('$name', ({ name, warns }) => {
    const webhook = answers.webhookWarn.get(name);
    const policy = answers.policyWarn.get(name);
    expect(webhook?.refusal).toBeUndefined();
    expect(policy?.refusal).toBeUndefined();
    expect((webhook?.warnings.length ?? 0) > 0).toBe(warns);
    // The same pod is stored (or not) with the same template.
    expect(policy?.injected).toEqual(webhook?.injected);
    // Each policy warns on its own: the order across policies is the apiserver's.
    expect([...(policy?.warnings ?? [])].map(unprefixed).sort()).toEqual([...(webhook?.warnings ?? [])].sort());
  });
});

describe('with --on-problem=deny, the policies refuse the pods the webhook refuses', () => {
  it.each(cases())('$name', ({ name, denies }) => {
    const webhook = answers.webhookDeny.get(name);
    const policy = answers.policyDeny.get(name);
    expect(webhook?.refusal !== undefined).toBe(denies);
    expect(policy?.refusal !== undefined).toBe(denies);
    if (webhook?.refusal === undefined || policy?.refusal === undefined) {
      // Stored: the same pod, and the same warnings (a problem never denied).
      expect(policy?.injected).toEqual(webhook?.injected);
      expect([...(policy?.warnings ?? [])].map(unprefixed).sort()).toEqual([...(webhook?.warnings ?? [])].sort());
      return;
    }
    // The webhook names every problem of the pod in one message, a policy the first it finds.
    const problem = policy.refusal.slice(REFUSED.length);
    expect(problem).not.toBe('');
    expect(webhook.refusal.slice(REFUSED.length).split('; ').some((part, i, parts) => parts.slice(i).join('; ').startsWith(problem))).toBe(true);
    if (!/two|and of no parameter|two unknown/.test(name)) expect(policy.refusal).toBe(webhook.refusal);
  });
});
