// Policy mode against a real kube-apiserver (control plane only): every pod
// below is created (server-side dry run) twice, first with the webhook
// registered, then with the webhook's configuration deleted and only the
// MutatingAdmissionPolicies of `sidecar-injector policy` applied, and the two
// pods the apiserver returns must be the same bytes once the fields that
// differ on every creation are set aside (docs/policy-mode.md "The proof").
// Real Deployments too (their ReplicaSets' pods), and the golden cases with
// their own templates or settings, each group by a webhook of its own.
// Not on 1.30 (e2e-oldest): it has no MutatingAdmissionPolicy.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { run } from '../support/run-program.js';
import { DIST_MAIN, ROOT } from '../support/paths.js';
import { waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { CONFIGURATION_NAME } from './support/injector.js';
import { APP_IMAGE, INJECT_ANNOTATION, STATUS_ANNOTATION, uniqueSuffix, type Kube } from './support/kube.js';
import { SECOND_WEBHOOK_NAMESPACE_LABEL, secondWebhookConfiguration, startSecondWebhook } from './support/second-webhook.js';

jest.setTimeout(300_000);

type Manifest = Record<string, unknown>;

interface Case {
  name: string;
  manifest: () => Manifest;
  /** Whether the webhook injects (so an equality of two untouched pods is not mistaken for a proof of injection). */
  injects: boolean;
  /** A documented difference: the policies leave this pod untouched. */
  differs?: boolean;
}

const BUILT_IN = ['log-collector', 'egress-logger', 'http-prober', 'http-interceptor'];
/** Valid overrides of every overridable parameter of each template. */
const GOOD_OVERRIDES: Record<string, Record<string, string>> = {
  'log-collector': { logPath: '/logs/app' },
  'egress-logger': { port: '15002' },
  'http-prober': { port: '9090', path: '/ready?full=1', interval: '5' },
  'http-interceptor': { port: '7000', upstream: 'http://upstream.example:8080/base' },
  'team-agent': { port: '9200', dataPath: '/data', level: 'debug' },
};
/** One override that fails its pattern: the webhook leaves the template out (warn mode). */
const BAD_OVERRIDES: Record<string, Record<string, string>> = {
  'log-collector': { logPath: 'relative/path' },
  'egress-logger': { port: 'eighty' },
  'http-prober': { interval: '0' },
  'http-interceptor': { upstream: 'ftp://nope' },
  'team-agent': { port: 'x9' },
};

const overrides = (template: string, values: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(values).map(([param, value]) => [`sidecar.example/${template}.${param}`, value]));

interface PodShape {
  name?: string;
  generateName?: string;
  namespace: string;
  annotations?: Record<string, string>;
  serviceAccountName?: string;
  containers?: Manifest[];
  initContainers?: Manifest[];
  volumes?: Manifest[];
}

/** Two application containers (one sets an env var egress-logger also sets) and an init container of the application. */
function pod(shape: PodShape): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: shape.name, generateName: shape.generateName, namespace: shape.namespace, annotations: shape.annotations },
    spec: {
      serviceAccountName: shape.serviceAccountName,
      initContainers: shape.initContainers ?? [{ name: 'setup', image: APP_IMAGE }],
      containers: shape.containers ?? [
        { name: 'app', image: APP_IMAGE, ports: [{ containerPort: 8080 }] },
        { name: 'worker', image: APP_IMAGE, env: [{ name: 'HTTP_PROXY', value: 'http://proxy.example:3128' }] },
      ],
      volumes: shape.volumes,
    },
  };
}

/** The stored pod without what differs on every creation: uid, times, versions, generated names. */
function comparable(stdout: string): string {
  const object = JSON.parse(stdout) as { metadata: Record<string, unknown> };
  for (const field of ['uid', 'creationTimestamp', 'resourceVersion', 'managedFields']) delete object.metadata[field];
  if (object.metadata['generateName'] !== undefined) delete object.metadata['name'];
  // The ServiceAccount admission plugin names the token volume with a random suffix.
  return JSON.stringify(object).replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-*');
}

interface GoldenSpec {
  operation?: string;
  subResource?: string;
  settings?: unknown;
  namespaceDefaults?: string[];
  namespaceLabels?: Record<string, string>;
}

interface GoldenCase {
  name: string;
  dir: string;
  spec: GoldenSpec;
  input: Manifest & { metadata: Record<string, unknown> };
  /** Whether the webhook's pod has a record (expected.yaml). */
  recorded: boolean;
  namespace: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

const GOLDEN_DIR = join(ROOT, 'test', 'golden');
const readYaml = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;

/**
 * Every golden case (docs/patch-rules.md). A namespace with default templates
 * is opted in (the golden runner trusts the webhook configuration's selectors
 * there).
 */
const ALL_GOLDEN: GoldenCase[] = readdirSync(GOLDEN_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(GOLDEN_DIR, entry.name, 'input.yaml')))
  .map((entry) => {
    const dir = join(GOLDEN_DIR, entry.name);
    const spec = existsSync(join(dir, 'case.yaml')) ? readYaml<GoldenSpec>(join(dir, 'case.yaml')) : {};
    return { name: entry.name, dir, spec };
  })
  .map(({ name, dir, spec }) => {
    const expected = readYaml<{ metadata: { annotations?: Record<string, string> } }>(join(dir, 'expected.yaml'));
    const defaults = spec.namespaceDefaults;
    return {
      name,
      dir,
      spec,
      input: readYaml<GoldenCase['input']>(join(dir, 'input.yaml')),
      recorded: expected.metadata.annotations?.[STATUS_ANNOTATION] !== undefined,
      namespace: {
        labels: spec.namespaceLabels ?? (defaults === undefined ? undefined : { 'sidecar.example/injection': 'enabled' }),
        annotations: defaults === undefined ? undefined : { [INJECT_ANNOTATION]: defaults.join(',') },
      },
    };
  });

const goldenCase = (name: string): GoldenCase => {
  const found = ALL_GOLDEN.find((g) => g.name === name);
  if (found === undefined) throw new Error(`no golden case ${name}`);
  return found;
};
const isCreate = (g: GoldenCase): boolean => (g.spec.operation ?? 'CREATE') === 'CREATE' && g.spec.subResource === undefined;
/** The golden cases the apiserver can be asked as they are: a pod CREATE, the built-in templates, the webhook's default settings. */
const GOLDEN = ALL_GOLDEN.filter((g) => isCreate(g) && g.spec.settings === undefined && !existsSync(join(g.dir, 'templates')));

/**
 * The golden cases with their own templates or settings that policy mode
 * serves: each group runs with a webhook of its own (the built-in templates,
 * the cases' own, the settings) and then with the policies compiled from the
 * same templates with the same --default-templates.
 */
interface GoldenGroup {
  cases: string[];
  /** The golden cases whose templates/ directory is added to the built-in templates. */
  templatesOf: string[];
  defaultTemplates?: string;
}
const GOLDEN_GROUPS: GoldenGroup[] = [
  {
    cases: ['namespace-not-allowed', 'privileged-template-allowed-namespace', 'regular-sidecar-after-app', 'inject-true-uses-defaults'],
    templatesOf: ['namespace-not-allowed', 'privileged-template-allowed-namespace', 'regular-sidecar-after-app'],
    defaultTemplates: 'http-prober',
  },
  { cases: ['namespace-selector-allows', 'namespace-defaults-win-over-global'], templatesOf: ['namespace-selector-allows'], defaultTemplates: 'log-collector' },
  { cases: ['service-account-not-allowed'], templatesOf: ['service-account-not-allowed'] },
];
/**
 * The golden cases with settings of their own, --on-problem=deny or
 * --native-sidecars=false: run with the webhook's default settings in the
 * main comparison (the mutating policies store what that webhook stores), and
 * by a webhook with their own settings (the built-in templates and
 * privileged-template-refused's), then by the policies of `policy
 * --on-problem deny` (the companion validating policies refuse as the
 * webhook). `injects`: with the default settings.
 */
const GOLDEN_OWN_SETTINGS = new Map<string, { injects: boolean }>([
  ['container-name-conflict-denies', { injects: false }],
  ['unknown-template-denies', { injects: true }],
  // By design: policy refuses its template; the webhook refuses the pod.
  ['privileged-template-refused', { injects: false }],
  // By design: the policies always inject native sidecars.
  ['native-disabled-falls-back-to-regular', { injects: true }],
]);
const OWN_SETTINGS_FLAGS = ['--on-problem', 'deny', '--native-sidecars=false'];
/**
 * An UPDATE and a subresource, which neither the webhook configuration nor
 * the policies' bindings match (CREATE of pods only): sent as what they are,
 * to a real pod created (from their input) with neither injector.
 */
const GOLDEN_NOT_CREATE = ALL_GOLDEN.filter((g) => !isCreate(g)).map((g) => g.name);
const notCreatePods = { webhook: new Map<string, string>(), policy: new Map<string, string>() };
const NOT_CREATE_ARGS: Record<string, string[]> = {
  'update-is-not-mutated': ['annotate', 'pod', 'web-1', 'example.com/touched=yes'],
  'subresource-is-not-mutated': [
    'patch',
    'pod',
    'web-1',
    '--subresource=ephemeralcontainers',
    '--type=strategic',
    '-p',
    JSON.stringify({ spec: { ephemeralContainers: [{ name: 'debugger', image: APP_IMAGE }] } }),
  ],
};

async function runNotCreate(into: Map<string, string>): Promise<void> {
  for (const name of GOLDEN_NOT_CREATE) {
    const result = await kube.kubectl([...(NOT_CREATE_ARGS[name] ?? []), '-n', ns.notCreate, '--dry-run=server', '-o', 'json']);
    into.set(name, result.code === 0 ? comparable(result.stdout) : `${REFUSED}: ${result.stderr}`);
  }
}

/** The pods of the golden groups, and of GOLDEN_OWN_SETTINGS's own webhook and policies. */
const groupWebhookPods = new Map<string, string>();
const groupPolicyPods = new Map<string, string>();
const settingsWebhookRaw = new Map<string, string>();
const settingsPolicyRaw = new Map<string, string>();

const SEVERAL = 'asks for several known templates';
const FOREIGN_RECORD = 'carries a status record other than the policy\'s own';
/** Golden cases the policies leave as sent where the webhook changes them, by design (docs/policy-mode.md), and why. */
const GOLDEN_DIFFERS = new Map<string, string>([
  ['append-to-existing-arrays', SEVERAL],
  ['multiple-app-containers', SEVERAL],
  ['parameter-override', SEVERAL],
  ['parameter-override-invalid', SEVERAL],
  ['reinvocation-adds-only-missing', SEVERAL],
  ['reinvocation-completes-added-containers', SEVERAL],
  ['three-templates-together', SEVERAL],
  ['invalid-status-annotation', FOREIGN_RECORD],
  ['invalid-status-removed-when-nothing-injected', FOREIGN_RECORD],
  ['status-record-is-not-an-opt-out', FOREIGN_RECORD],
  ['status-record-not-borne-out', FOREIGN_RECORD],
]);

/** The namespace of each golden case, by its labels and annotations. */
const goldenNamespaces = new Map<string, string>();
const namespaceKey = (c: GoldenCase): string => JSON.stringify(c.namespace);
const goldenNamespace = (c: GoldenCase): string => goldenNamespaces.get(namespaceKey(c)) ?? '';
const goldenManifest = (c: GoldenCase): Manifest => ({ ...c.input, metadata: { ...c.input.metadata, namespace: goldenNamespace(c) } });
const settingsCaseName = (name: string): string => `golden case ${name} with the webhook's default settings`;

let env: E2eEnvironment | undefined;
let kube: Kube;
let templatesDir: string;
const ns = { plain: '', optedIn: '', optedInNoList: '', optedInUnknown: '', listed: '', team: '', blue: '', reinvoke: '', notCreate: '' };
/** Each mode's Deployments go to their own namespaces, alike but for the name. */
const deployNs = { webhook: { plain: '', optedIn: '' }, policy: { plain: '', optedIn: '' } };
const webhookPods = new Map<string, string>();
const policyPods = new Map<string, string>();
/** The webhook's pods as the apiserver returned them, to be created again. */
const webhookRaw = new Map<string, string>();
/** Pods created with neither the webhook nor the policies. */
const plainPods = new Map<string, string>();

/** What a pod refused by the apiserver compares as: the webhook's message and the apiserver's own differ. */
const REFUSED = 'refused';
/**
 * The cases refused in both modes, and what the webhook's refusal says:
 * annotations that the record takes past 256 KiB are denied by the webhook,
 * and by the apiserver's validation once the policy added the record; an
 * invalid pod is refused by the apiserver's validation in both.
 */
const REFUSED_IN_BOTH = new Map([
  ['golden case annotation-budget-exceeded-denies', 'over the limit of 262144'],
  ['an invalid pod: a container without a name', 'spec.containers[0].name: Required value'],
]);

async function createDryRunRaw(manifest: Manifest): Promise<string> {
  const result = await kube.kubectl(['create', '-f', '-', '--dry-run=server', '-o', 'json'], { input: JSON.stringify(manifest) });
  if (result.code !== 0) return `${REFUSED}: ${result.stderr}`;
  return result.stdout;
}

const createDryRun = async (manifest: Manifest): Promise<string> => {
  const stored = await createDryRunRaw(manifest);
  return stored.startsWith(REFUSED) ? REFUSED : comparable(stored);
};

const injectedBy = (stored: string | undefined): string[] => {
  if (stored === undefined || stored === REFUSED) return [];
  const record = (JSON.parse(stored) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.[STATUS_ANNOTATION];
  return record === undefined ? [] : (JSON.parse(record) as { templates: Array<{ name: string }> }).templates.map((t) => t.name);
};

function cases(): Case[] {
  const list: Case[] = [];
  const add = (name: string, injects: boolean, manifest: () => Manifest, differs = false): void => void list.push({ name, injects, manifest, differs });
  for (const template of BUILT_IN) {
    add(`${template}: asked by name`, true, () => pod({ name: 'asked', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: template } }));
    add(`${template}: asked with spaces and empty items`, true, () =>
      pod({ name: 'spaced', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: ` ${template} ,, ${template}` } }),
    );
    add(`${template}: a controller's pod (generateName only)`, true, () =>
      pod({ generateName: 'web-7d4b9c-', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: template } }),
    );
    add(`${template}: overrides that match their patterns`, true, () =>
      pod({ name: 'overridden', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: template, ...overrides(template, GOOD_OVERRIDES[template] ?? {}) } }),
    );
    add(`${template}: an override that fails its pattern`, false, () =>
      pod({ name: 'bad-override', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: template, ...overrides(template, BAD_OVERRIDES[template] ?? {}) } }),
    );
    add(`${template}: reinvocation after a second webhook adds a container`, true, () =>
      pod({ name: 'reinvoked', namespace: ns.reinvoke, annotations: { [INJECT_ANNOTATION]: template } }),
    );
  }
  add('opted-in namespace: its default list', true, () => pod({ name: 'plain', namespace: ns.optedIn }));
  add('opted-in namespace: inject "true"', true, () => pod({ name: 'defaults', namespace: ns.optedIn, annotations: { [INJECT_ANNOTATION]: 'true' } }));
  add('opted-in namespace: opted out with "false"', false, () => pod({ name: 'opted-out', namespace: ns.optedIn, annotations: { [INJECT_ANNOTATION]: 'false' } }));
  add('opted-in namespace: opted out with " FALSE "', false, () => pod({ name: 'opted-out-caps', namespace: ns.optedIn, annotations: { [INJECT_ANNOTATION]: ' FALSE ' } }));
  add('opted-in namespace without a default list', false, () => pod({ name: 'plain', namespace: ns.optedInNoList }));
  add('opted-in namespace: a default list with a name that is no template', true, () => pod({ name: 'plain', namespace: ns.optedInUnknown }));
  add('namespace not opted in, with a default list: inject "TRUE"', true, () => pod({ name: 'defaults', namespace: ns.listed, annotations: { [INJECT_ANNOTATION]: 'TRUE' } }));
  add('namespace not opted in, with a default list: no annotation', false, () => pod({ name: 'unasked', namespace: ns.listed }));
  add('other namespace: inject "true" and no defaults', false, () => pod({ name: 'defaults', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'true' } }));
  add('other namespace: no annotation', false, () => pod({ name: 'unasked', namespace: ns.plain }));
  add('unknown template', false, () => pod({ name: 'unknown', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'log-colector' } }));
  add('name conflict: a container named like the sidecar', false, () =>
    pod({
      name: 'container-conflict',
      namespace: ns.plain,
      annotations: { [INJECT_ANNOTATION]: 'log-collector' },
      containers: [{ name: 'app', image: APP_IMAGE }, { name: 'log-collector', image: APP_IMAGE }],
    }),
  );
  add('name conflict: a volume named like the template\'s', false, () =>
    pod({ name: 'volume-conflict', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'log-collector' }, volumes: [{ name: 'shared-logs', emptyDir: {} }] }),
  );
  add('mount path conflict: the application mounts the log path', false, () =>
    pod({
      name: 'mount-conflict',
      namespace: ns.plain,
      annotations: { [INJECT_ANNOTATION]: 'log-collector' },
      containers: [{ name: 'app', image: APP_IMAGE, volumeMounts: [{ name: 'mine', mountPath: '/var/log/app' }] }],
      volumes: [{ name: 'mine', emptyDir: {} }],
    }),
  );
  add('an invalid pod: a container without a name', false, () =>
    pod({ name: 'nameless', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'log-collector' }, containers: [{ image: APP_IMAGE }] }),
  );
  add('team-agent: allowed namespace and service account (regular containers, before)', true, () =>
    pod({ name: 'agent', namespace: ns.team, serviceAccountName: 'robot', annotations: { [INJECT_ANNOTATION]: 'team-agent' } }),
  );
  add('team-agent: overrides, and an override of a parameter that is not overridable', true, () =>
    pod({ generateName: 'agent-', namespace: ns.team, serviceAccountName: 'robot', annotations: { [INJECT_ANNOTATION]: 'team-agent', ...overrides('team-agent', GOOD_OVERRIDES['team-agent'] ?? {}) } }),
  );
  add('team-agent: an integer override that fails its pattern', false, () =>
    pod({ name: 'agent-bad', namespace: ns.team, serviceAccountName: 'robot', annotations: { [INJECT_ANNOTATION]: 'team-agent', ...overrides('team-agent', BAD_OVERRIDES['team-agent'] ?? {}) } }),
  );
  add('team-agent: an integer override with leading zeros (a 32-bit integer all the same)', true, () =>
    pod({ name: 'agent-zeros', namespace: ns.team, serviceAccountName: 'robot', annotations: { [INJECT_ANNOTATION]: 'team-agent', ...overrides('team-agent', { port: '000000009300' }) } }),
  );
  add('team-agent: an integer override that matches its pattern but is no 32-bit integer', false, () =>
    pod({ name: 'agent-huge', namespace: ns.team, serviceAccountName: 'robot', annotations: { [INJECT_ANNOTATION]: 'team-agent', ...overrides('team-agent', { port: '99999999999' }) } }),
  );
  add('team-agent: service account not allowed', false, () => pod({ name: 'agent-default-sa', namespace: ns.team, annotations: { [INJECT_ANNOTATION]: 'team-agent' } }));
  add('team-agent: namespace not allowed', false, () => pod({ name: 'agent-elsewhere', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'team-agent' } }));
  add('late-logger: namespace allowed by its labels (regular containers, after)', true, () =>
    pod({ name: 'late', namespace: ns.blue, annotations: { [INJECT_ANNOTATION]: 'late-logger' } }),
  );
  add('late-logger: namespace without the labels', false, () => pod({ name: 'late', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'late-logger' } }));
  add('the policy\'s own record, not borne out by the pod: discarded and injected', true, () =>
    pod({
      name: 'unsupported-record',
      namespace: ns.plain,
      annotations: {
        [INJECT_ANNOTATION]: 'log-collector',
        [STATUS_ANNOTATION]: JSON.stringify({ templates: [{ name: 'log-collector', version: '2.0.0' }], containers: [], initContainers: ['log-collector'], volumes: ['shared-logs'] }),
      },
    }),
  );
  for (const golden of GOLDEN) {
    const differs = GOLDEN_DIFFERS.get(golden.name);
    add(`golden case ${golden.name}${differs === undefined ? '' : ` (${differs})`}`, golden.recorded, () => goldenManifest(golden), differs !== undefined);
  }
  for (const [name, { injects }] of GOLDEN_OWN_SETTINGS) add(settingsCaseName(name), injects, () => goldenManifest(goldenCase(name)));
  add('the policy\'s own record, not borne out, and a volume conflict: the record is removed', false, () =>
    pod({
      name: 'unsupported-record-conflict',
      namespace: ns.plain,
      annotations: {
        [INJECT_ANNOTATION]: 'log-collector',
        [STATUS_ANNOTATION]: JSON.stringify({ templates: [{ name: 'log-collector', version: '2.0.0' }], containers: [], initContainers: ['log-collector'], volumes: ['shared-logs'] }),
      },
      volumes: [{ name: 'shared-logs', emptyDir: {} }],
    }),
  );
  add(
    `two templates in one pod (${SEVERAL})`,
    true,
    () => pod({ name: 'two', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'log-collector,egress-logger' } }),
    true,
  );
  add(
    `a hand-written record not borne out by the pod (${FOREIGN_RECORD})`,
    true,
    () =>
      pod({
        name: 'forged',
        namespace: ns.plain,
        annotations: { [INJECT_ANNOTATION]: 'log-collector', [STATUS_ANNOTATION]: JSON.stringify({ templates: [{ name: 'log-collector', version: '2.0.0' }], initContainers: ['log-collector'] }) },
      }),
    true,
  );
  return list;
}

interface DeploymentCase {
  name: string;
  optedIn: boolean;
  annotations: Record<string, string>;
}

/** Real Deployments (not dry runs): the pods the ReplicaSet controller creates are compared. */
const DEPLOYMENTS: DeploymentCase[] = [
  ...BUILT_IN.map((template) => ({ name: `web-${template}`, optedIn: false, annotations: { [INJECT_ANNOTATION]: template } })),
  { name: 'web-overridden', optedIn: false, annotations: { [INJECT_ANNOTATION]: 'http-prober', ...overrides('http-prober', GOOD_OVERRIDES['http-prober'] ?? {}) } },
  { name: 'web-namespace-default', optedIn: true, annotations: {} },
];
const webhookDeploymentPods = new Map<string, string>();
const policyDeploymentPods = new Map<string, string>();

function deployment(c: DeploymentCase, namespace: string): Manifest {
  const labels = { app: c.name };
  const annotations = Object.keys(c.annotations).length === 0 ? undefined : c.annotations;
  const { spec } = pod({ namespace }) as { spec: Manifest };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: c.name, namespace },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels, annotations }, spec } },
  };
}

/**
 * A Deployment's pod without what differs per creation besides comparable()'s
 * fields: its namespace (each mode has its own) and the ReplicaSet's uid in
 * ownerReferences.
 */
function comparableDeploymentPod(stored: string, namespace: string): string {
  const object = JSON.parse(stored) as { metadata: { ownerReferences?: Array<Record<string, unknown>> } };
  for (const owner of object.metadata.ownerReferences ?? []) delete owner['uid'];
  return comparable(JSON.stringify(object)).split(namespace).join('NAMESPACE');
}

/** Creates every Deployment in the mode's namespaces and keeps the pod each ReplicaSet creates. */
async function runDeployments(namespaces: { plain: string; optedIn: string }, into: Map<string, string>): Promise<void> {
  for (const c of DEPLOYMENTS) {
    await kube.mustApply(deployment(c, c.optedIn ? namespaces.optedIn : namespaces.plain));
  }
  for (const c of DEPLOYMENTS) {
    const namespace = c.optedIn ? namespaces.optedIn : namespaces.plain;
    const created = await kube.waitForPod(namespace, `app=${c.name}`);
    const stored = await kube.kubectl(['get', 'pod', '-n', namespace, created.metadata?.name ?? '', '-o', 'json']);
    expect(stored.code).toBe(0);
    into.set(c.name, comparableDeploymentPod(stored.stdout, namespace));
  }
}

/** A pod the webhook injected, as a client would create it again (kubectl replace, a copied manifest). */
function createdAgain(stored: string): Manifest {
  const object = JSON.parse(stored) as { metadata: Record<string, unknown>; status?: unknown };
  delete object.status;
  return object as Manifest;
}

async function runAll(into: Map<string, string>, raw?: Map<string, string>): Promise<void> {
  for (const c of cases()) {
    const stored = await createDryRunRaw(c.manifest());
    raw?.set(c.name, stored);
    into.set(c.name, stored.startsWith(REFUSED) ? REFUSED : comparable(stored));
  }
  // Nothing injected twice: each pod the webhook injected, created again.
  for (const template of BUILT_IN) {
    const stored = webhookRaw.get(`${template}: asked by name`);
    if (stored !== undefined) into.set(`${template}: already injected, created again`, await createDryRun(createdAgain(stored)));
  }
}

/**
 * Until a dry-run pod asking for `template` (or with the inject annotation
 * `asking`) comes back injected with it (or not): configurations reach the
 * apiserver through informers.
 */
async function waitUntilInjects(template: string, namespace: string, expected: boolean, serviceAccountName?: string, asking = template): Promise<void> {
  await waitFor(
    `a pod asking for ${asking} in ${namespace} to be ${expected ? '' : 'no longer '}injected with ${template}`,
    async () => {
      const stored = await createDryRun(pod({ name: `probe-${uniqueSuffix()}`, namespace, serviceAccountName, annotations: { [INJECT_ANNOTATION]: asking } }));
      return injectedBy(stored).includes(template) === expected ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

/** The built-in templates and those of the golden cases named, in a new directory; namespaces named in them are the test's. */
async function templatesWith(goldenCases: string[]): Promise<string> {
  const dir = await (env as E2eEnvironment).temps.copyOfTemplates();
  for (const name of goldenCases) {
    const own = join(goldenCase(name).dir, 'templates');
    for (const file of readdirSync(own)) {
      const text = await readFile(join(own, file), 'utf8');
      await writeFile(
        join(dir, file),
        text.replace('[payments]', `[${ns.blue}]`).replace('[platform]', `[${goldenNamespace(goldenCase('privileged-template-allowed-namespace'))}]`),
      );
    }
  }
  return dir;
}

/** Probes that show a group's webhook or policies in effect: a pod each of its templates injects. */
function groupProbes(group: GoldenGroup): Array<{ template: string; namespace: string; serviceAccountName?: string; asking?: string }> {
  const probes: Array<{ template: string; namespace: string; serviceAccountName?: string; asking?: string }> = [
    { template: 'log-collector', namespace: ns.plain },
    { template: 'http-prober', namespace: ns.plain },
  ];
  if (group.defaultTemplates !== undefined) probes.push({ template: group.defaultTemplates, namespace: ns.plain, asking: 'true' });
  for (const name of group.templatesOf) {
    if (name === 'namespace-not-allowed') probes.push({ template: 'restricted', namespace: ns.blue });
    if (name === 'namespace-selector-allows') probes.push({ template: 'restricted', namespace: goldenNamespace(goldenCase(name)) });
    if (name === 'service-account-not-allowed') probes.push({ template: 'restricted', namespace: ns.plain, serviceAccountName: 'auditor' });
    if (name === 'privileged-template-allowed-namespace') probes.push({ template: 'node-agent', namespace: goldenNamespace(goldenCase(name)) });
    if (name === 'regular-sidecar-after-app') probes.push({ template: 'shipper', namespace: ns.plain });
  }
  return probes;
}

async function waitForProbes(group: GoldenGroup, expected: boolean): Promise<void> {
  for (const p of groupProbes(group)) await waitUntilInjects(p.template, p.namespace, expected, p.serviceAccountName, p.asking);
}

/** A golden group: its own webhook, then the policies of the same templates and --default-templates, then neither. */
async function runGoldenGroup(group: GoldenGroup): Promise<void> {
  const dir = await templatesWith(group.templatesOf);
  const defaults = group.defaultTemplates === undefined ? [] : ['--default-templates', group.defaultTemplates];
  await (env as E2eEnvironment).startRegisteredInjector({ failurePolicy: 'Fail', reinvocationPolicy: 'IfNeeded' }, defaults, { templatesDir: dir });
  await waitForProbes(group, true);
  for (const name of group.cases) groupWebhookPods.set(name, await createDryRun(goldenManifest(goldenCase(name))));
  expect((await kube.kubectl(['delete', 'mutatingwebhookconfiguration', CONFIGURATION_NAME])).code).toBe(0);
  await waitForProbes(group, false);
  const compiled = await run('node', [DIST_MAIN, 'policy', '--templates-dir', dir, ...defaults]);
  expect(compiled).toMatchObject({ code: 0, stderr: '' });
  expect(await kube.kubectl(['apply', '-f', '-'], { input: compiled.stdout })).toMatchObject({ code: 0, stderr: '' });
  await waitForProbes(group, true);
  for (const name of group.cases) groupPolicyPods.set(name, await createDryRun(goldenManifest(goldenCase(name))));
  expect(await kube.kubectl(['delete', '-f', '-'], { input: compiled.stdout })).toMatchObject({ code: 0 });
  await waitForProbes(group, false);
}

let refusedCompile: Awaited<ReturnType<typeof run>> | undefined;
let denyingCompile: Awaited<ReturnType<typeof run>> | undefined;

/** Until a dry run of `manifest` is refused: validating policies reach the apiserver through informers. */
async function waitUntilRefused(what: string, manifest: () => Manifest): Promise<void> {
  await waitFor(what, async () => ((await createDryRun(manifest())) === REFUSED ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
}

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  ns.plain = await kube.createNamespace('policy-plain');
  ns.optedIn = await kube.createNamespace('policy-in', { labels: { 'sidecar.example/injection': 'enabled' }, annotations: { [INJECT_ANNOTATION]: 'log-collector' } });
  ns.optedInNoList = await kube.createNamespace('policy-in-nolist', { labels: { 'sidecar.example/injection': 'enabled' } });
  ns.optedInUnknown = await kube.createNamespace('policy-in-unknown', {
    labels: { 'sidecar.example/injection': 'enabled' },
    annotations: { [INJECT_ANNOTATION]: ' http-prober , not-a-template' },
  });
  ns.listed = await kube.createNamespace('policy-listed', { annotations: { [INJECT_ANNOTATION]: 'egress-logger' } });
  ns.team = await kube.createNamespace('policy-team');
  ns.blue = await kube.createNamespace('policy-blue', { labels: { team: 'blue' } });
  ns.reinvoke = await kube.createNamespace('policy-reinvoke', { labels: { [SECOND_WEBHOOK_NAMESPACE_LABEL]: 'enabled' } });
  await kube.core.createNamespacedServiceAccount({ namespace: ns.team, body: { metadata: { name: 'robot' } } });
  for (const mode of [deployNs.webhook, deployNs.policy]) {
    mode.plain = await kube.createNamespace('policy-deploy');
    mode.optedIn = await kube.createNamespace('policy-deploy-in', { labels: { 'sidecar.example/injection': 'enabled' }, annotations: { [INJECT_ANNOTATION]: 'http-interceptor' } });
  }
  const serviceAccounts = new Set<string>();
  for (const golden of ALL_GOLDEN) {
    const key = namespaceKey(golden);
    if (!goldenNamespaces.has(key)) goldenNamespaces.set(key, await kube.createNamespace('policy-golden', golden.namespace));
    const serviceAccount = (golden.input['spec'] as { serviceAccountName?: string }).serviceAccountName ?? 'default';
    const namespace = goldenNamespace(golden);
    if (serviceAccount === 'default' || serviceAccounts.has(`${namespace}/${serviceAccount}`)) continue;
    serviceAccounts.add(`${namespace}/${serviceAccount}`);
    await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } });
  }
  // The probe of service-account-not-allowed's template: one of its allowed service accounts.
  await kube.core.createNamespacedServiceAccount({ namespace: ns.plain, body: { metadata: { name: 'auditor' } } });
  // The real pod the golden cases that are no CREATE change, created with neither injector (it asks for log-collector).
  ns.notCreate = await kube.createNamespace('policy-not-create');
  const [notCreate] = GOLDEN_NOT_CREATE.map(goldenCase);
  if (notCreate !== undefined) await kube.mustApply({ ...notCreate.input, metadata: { ...notCreate.input.metadata, namespace: ns.notCreate } });

  // The built-in templates and two test templates, one of them allowed in ns.team only.
  templatesDir = await env.temps.copyOfTemplates();
  const extra = await readFile(join(ROOT, 'test/e2e/policy-mode/team-agent.yaml'), 'utf8');
  await writeFile(join(templatesDir, 'team-agent.yaml'), extra.replace('[NAMESPACE]', `[${ns.team}]`));

  // A second webhook that adds a container to pods of ns.reinvoke, registered in both modes.
  const second = await startSecondWebhook({ addContainer: { name: 'added-by-webhook', image: APP_IMAGE } });
  const secondName = `zz-second-webhook-${uniqueSuffix()}`;
  env.onStop(async () => {
    await kube.kubectl(['delete', 'mutatingwebhookconfiguration', secondName, '--ignore-not-found']);
    await second.close();
  });
  await kube.mustApply(secondWebhookConfiguration(secondName, second.url, second.caPem));

  // Webhook mode.
  await env.startRegisteredInjector({ failurePolicy: 'Fail', reinvocationPolicy: 'IfNeeded' }, [], { templatesDir });
  await waitFor('the second webhook to be called', async () => ((await createDryRun(pod({ name: 'probe', namespace: ns.reinvoke }))).includes('added-by-webhook') ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 250,
  });
  await waitUntilInjects('log-collector', ns.optedIn, true);
  await runAll(webhookPods, webhookRaw);
  await runDeployments(deployNs.webhook, webhookDeploymentPods);
  await runNotCreate(notCreatePods.webhook);

  // Policy mode: no webhook configuration, the compiled policies only.
  expect((await kube.kubectl(['delete', 'mutatingwebhookconfiguration', CONFIGURATION_NAME])).code).toBe(0);
  await waitUntilInjects('log-collector', ns.plain, false);
  const compiled = await run('node', [DIST_MAIN, 'policy', '--templates-dir', templatesDir]);
  expect(compiled).toMatchObject({ code: 0, stderr: '' });
  expect(await kube.kubectl(['apply', '-f', '-'], { input: compiled.stdout })).toMatchObject({ code: 0, stderr: '' });
  for (const template of BUILT_IN) await waitUntilInjects(template, ns.plain, true);
  await waitUntilInjects('team-agent', ns.team, true, 'robot');
  await waitUntilInjects('late-logger', ns.blue, true);
  await runAll(policyPods);
  await runDeployments(deployNs.policy, policyDeploymentPods);
  await runNotCreate(notCreatePods.policy);

  // Neither: what the apiserver stores for the pods the policies leave alone by design.
  expect(await kube.kubectl(['delete', '-f', '-'], { input: compiled.stdout })).toMatchObject({ code: 0 });
  await waitUntilInjects('log-collector', ns.plain, false);
  for (const c of cases().filter((c) => c.differs === true)) plainPods.set(c.name, await createDryRun(c.manifest()));

  for (const group of GOLDEN_GROUPS) await runGoldenGroup(group);

  // The golden cases with settings of their own: a webhook with those settings, then the policies of policy --on-problem deny.
  const settingsDir = await templatesWith(['privileged-template-refused']);
  await env.startRegisteredInjector({ failurePolicy: 'Fail', reinvocationPolicy: 'IfNeeded' }, OWN_SETTINGS_FLAGS, { templatesDir: settingsDir });
  for (const name of GOLDEN_OWN_SETTINGS.keys()) settingsWebhookRaw.set(name, await createDryRunRaw(goldenManifest(goldenCase(name))));
  refusedCompile = await run('node', [DIST_MAIN, 'policy', '--templates-dir', settingsDir]);
  expect((await kube.kubectl(['delete', 'mutatingwebhookconfiguration', CONFIGURATION_NAME])).code).toBe(0);
  await waitUntilInjects('log-collector', ns.plain, false);
  denyingCompile = await run('node', [DIST_MAIN, 'policy', '--templates-dir', settingsDir, '--allow-refused', '--on-problem', 'deny']);
  expect(denyingCompile.code).toBe(0);
  expect(await kube.kubectl(['apply', '-f', '-'], { input: denyingCompile.stdout })).toMatchObject({ code: 0, stderr: '' });
  for (const template of BUILT_IN) await waitUntilInjects(template, ns.plain, true);
  await waitUntilRefused('an unknown template to be refused', () => pod({ name: `probe-${uniqueSuffix()}`, namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'log-colector' } }));
  await waitUntilRefused('a volume conflict to be refused', () =>
    pod({ name: `probe-${uniqueSuffix()}`, namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'log-collector' }, volumes: [{ name: 'shared-logs', emptyDir: {} }] }),
  );
  for (const name of GOLDEN_OWN_SETTINGS.keys()) settingsPolicyRaw.set(name, await createDryRunRaw(goldenManifest(goldenCase(name))));
}, 600_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

describe('the pod stored in policy mode equals the pod stored in webhook mode', () => {
  const all = [
    ...cases()
      .filter((c) => c.differs !== true)
      .map((c) => ({ name: c.name, injects: c.injects })),
    ...BUILT_IN.map((template) => ({ name: `${template}: already injected, created again`, injects: true })),
  ];

  it.each(all)('$name', ({ name, injects }) => {
    const webhook = webhookPods.get(name);
    expect(webhook).toBeDefined();
    // A refusal is one of those documented, never a pod the test meant to be stored.
    if (webhook === REFUSED) expect({ name, refused: webhookRaw.get(name) }).toEqual({ name, refused: expect.stringContaining(REFUSED_IN_BOTH.get(name) ?? 'no refusal expected') });
    // The case proves what it says: the webhook did (or did not) inject.
    expect(injectedBy(webhook).length > 0).toBe(injects);
    expect(policyPods.get(name)).toBe(webhook);
  });

  it('a pod created again is left as it was: the record keeps both modes from injecting twice', () => {
    for (const template of BUILT_IN) {
      const first = webhookPods.get(`${template}: asked by name`) as string;
      const again = policyPods.get(`${template}: already injected, created again`) as string;
      expect(JSON.parse(again)).toEqual(JSON.parse(first));
    }
  });
});

describe('a Deployment\'s pod, created by the ReplicaSet controller, is stored in policy mode as in webhook mode', () => {
  it.each(DEPLOYMENTS)('$name', ({ name }) => {
    const webhook = webhookDeploymentPods.get(name);
    expect(webhook).toBeDefined();
    expect(injectedBy(webhook).length).toBeGreaterThan(0);
    expect(policyDeploymentPods.get(name)).toBe(webhook);
  });
});

describe('golden cases with their own templates or --default-templates: the policies store the pod as the webhook', () => {
  it.each(GOLDEN_GROUPS.flatMap((group) => group.cases))('golden case %s', (name) => {
    const webhook = groupWebhookPods.get(name);
    expect(webhook).toBeDefined();
    expect(webhook).not.toBe(REFUSED);
    expect(injectedBy(webhook).length > 0).toBe(goldenCase(name).recorded);
    expect(groupPolicyPods.get(name)).toBe(webhook);
  });
});

describe('golden cases with --on-problem=deny or --native-sidecars=false (docs/policy-mode.md)', () => {
  const names = (list: Array<{ name: string }> | undefined): string[] => (list ?? []).map((c) => c.name);
  /** What a refusal says after the webhook's or the apiserver's own preamble. */
  const refusal = (raw: string | undefined): string | undefined => /sidecar injection refused: .*/.exec(raw ?? '')?.[0];

  it.each(['container-name-conflict-denies', 'unknown-template-denies'])(
    '%s: refused by the webhook with --on-problem=deny and by the policies of policy --on-problem deny, with the same text',
    (name) => {
      const webhook = settingsWebhookRaw.get(name);
      expect(webhook).toMatch(new RegExp(`^${REFUSED}: .*denied the request`, 's'));
      expect(refusal(webhook)).toBeDefined();
      expect(settingsPolicyRaw.get(name)).toMatch(new RegExp(`^${REFUSED}: `));
      expect(refusal(settingsPolicyRaw.get(name))).toBe(refusal(webhook));
    },
  );

  it('privileged-template-refused (by design): policy refuses to compile the template, with its reason; the webhook with --on-problem=deny refuses the pod; with no policy for the template the pod is stored as sent', () => {
    expect(refusedCompile).toMatchObject({ code: 1, stdout: '' });
    expect(refusedCompile?.stderr).toContain('template "node-agent" cannot be compiled to a policy');
    expect(denyingCompile?.stderr).toContain('template "node-agent" cannot be compiled to a policy');
    expect(settingsWebhookRaw.get('privileged-template-refused')).toMatch(new RegExp(`^${REFUSED}: .*denied the request`, 's'));
    const policy = settingsPolicyRaw.get('privileged-template-refused');
    expect(policy).not.toMatch(new RegExp(`^${REFUSED}`));
    expect(injectedBy(policy)).toEqual([]);
    expect(policy).not.toContain('"name":"node-agent"');
  });

  it('native-disabled-falls-back-to-regular (by design): the webhook with --native-sidecars=false adds a regular container; the policies a native sidecar', () => {
    const webhook = JSON.parse(settingsWebhookRaw.get('native-disabled-falls-back-to-regular') ?? 'null') as { spec: { containers: Array<{ name: string }>; initContainers?: Array<{ name: string }> } };
    expect(names(webhook.spec.containers)).toContain('egress-logger');
    expect(names(webhook.spec.initContainers)).not.toContain('egress-logger');
    const policy = JSON.parse(settingsPolicyRaw.get('native-disabled-falls-back-to-regular') ?? 'null') as { spec: { containers: Array<{ name: string }>; initContainers?: Array<{ name: string; restartPolicy?: string }> } };
    expect(names(policy.spec.containers)).not.toContain('egress-logger');
    expect(policy.spec.initContainers?.find((c) => c.name === 'egress-logger')?.restartPolicy).toBe('Always');
  });
});

describe('golden cases that are no pod CREATE: neither mode changes the pod', () => {
  it.each(GOLDEN_NOT_CREATE)('golden case %s', (name) => {
    const webhook = notCreatePods.webhook.get(name);
    expect(webhook).toBeDefined();
    expect(webhook).not.toMatch(new RegExp(`^${REFUSED}`));
    // The operation took effect, and injected nothing though the pod asks for log-collector.
    const stored = JSON.parse(webhook ?? '{}') as { metadata: { annotations?: Record<string, string> }; spec: { ephemeralContainers?: Array<{ name: string }> } };
    if (name === 'update-is-not-mutated') expect(stored.metadata.annotations?.['example.com/touched']).toBe('yes');
    else expect((stored.spec.ephemeralContainers ?? []).map((c) => c.name)).toEqual(['debugger']);
    expect(injectedBy(webhook)).toEqual([]);
    expect(notCreatePods.policy.get(name)).toBe(webhook);
  });
});

describe('every golden case is accounted for', () => {
  it('compared in the main comparison, in a group, with its own settings, or as no pod CREATE', () => {
    const covered = [...GOLDEN.map((g) => g.name), ...GOLDEN_GROUPS.flatMap((group) => group.cases), ...GOLDEN_OWN_SETTINGS.keys(), ...GOLDEN_NOT_CREATE];
    expect(covered.sort()).toEqual(ALL_GOLDEN.map((g) => g.name).sort());
    expect(GOLDEN_NOT_CREATE.sort()).toEqual(['subresource-is-not-mutated', 'update-is-not-mutated']);
  });
});

describe('where policy mode differs by design (docs/policy-mode.md)', () => {
  it.each(cases().filter((c) => c.differs === true))('$name: the webhook changes the pod, the policies leave it as with no injector at all', ({ name }) => {
    const plain = plainPods.get(name);
    expect(plain).toBeDefined();
    expect(webhookPods.get(name)).not.toBe(plain);
    expect(policyPods.get(name)).toBe(plain);
  });
});
