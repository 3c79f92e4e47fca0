// Every warning the webhook can send fits the API's guidance for admission
// warnings: 120 characters, the `sidecar-injector: ` prefix included, even
// with the longest names Kubernetes allows; what a warning leaves out is in
// the problem's detail (the admission log line's problemDetails) and in the
// workload's Event.
import { describe, expect, it } from '@jest/globals';
import { reviewAdmission, reviewInvalidPod } from '../../src/admission/review.js';
import type { AdmissionRequest } from '../../src/admission/types.js';
import type { InjectionSettings, NamespaceInfo } from '../../src/inject/decide.js';
import type { Pod } from '../../src/inject/kube-types.js';
import { planInjection, type InjectionOutcome } from '../../src/inject/plan.js';
import { DENIABLE_REASONS, describeProblem, expendable, fitted, problemDetail, problemToWarning, WARNING_LIMIT, type Problem, type ProblemReason } from '../../src/inject/problems.js';
import { injectionEvent } from '../../src/inject/workload-event.js';
import { setOf, templateDocument } from '../support/templates.js';

const chars = (text: string): number => [...text].length;

/** A DNS label of exactly `length` characters (the longest names Kubernetes allows are 63). */
const label = (stem: string, length = 63): string => `${stem}-${'x'.repeat(length)}`.slice(0, length);

const TEMPLATE = label('platform-egress-request-logger', 40);
const CONTAINER = label('egress-request-logger-sidecar');
const VOLUME = label('egress-request-logger-spool');
const NAMESPACE = label('payments-settlement-reconciliation-eu-west');
const SERVICE_ACCOUNT = label('settlement-batch-runner', 253 - 64);
const MOUNT_PATH = `/var/lib/${'deeply-nested-spool/'.repeat(12)}requests`;
const ENV = `EGRESS_REQUEST_LOGGER_${'UPSTREAM_'.repeat(10)}URL`;
// Parameter names are free of a length limit in the template schema; the
// annotation key's name part (<template>.<param>) is at most 63 for the apiserver.
const PARAM = label('upstreamTimeoutSeconds', 62 - TEMPLATE.length).replace(/-/g, '_');
const KEY = `sidecar.example/${TEMPLATE}.${PARAM}`;
const PATTERN = '(?:[1-9][0-9]{0,3}|[1-9][0-9]{0,3}ms|[1-9][0-9]{0,2}s|[1-9][0-9]?m)(?:,(?:[1-9][0-9]{0,3}|[1-9][0-9]{0,3}ms))*';

const templates = setOf(
  templateDocument(TEMPLATE, {
    containers: [{ name: CONTAINER, image: 'registry.example/logger:1' }],
    volumes: [{ name: VOLUME, emptyDir: {} }],
    parameters: [
      { name: PARAM, default: '30', pattern: PATTERN, overridable: true },
      { name: 'upstream', default: 'http://upstream.example', overridable: false },
    ],
    appContainers: { volumeMounts: [{ name: VOLUME, mountPath: MOUNT_PATH }], env: [{ name: ENV, value: 'x' }] },
  }),
  templateDocument(label('team-audit-tail', 50), {
    allowedNamespaces: Array.from({ length: 12 }, (_, i) => label(`tenant-${i}`, 40)),
    allowedNamespaceSelector: { matchLabels: { [`platform.example.com/${label('audit-tier', 50)}`]: label('gold', 60) } },
  }),
  templateDocument(label('account-bound-collector', 60), { allowedServiceAccounts: Array.from({ length: 8 }, (_, i) => `ns-${i}/${label('collector', 60)}`) }),
  templateDocument(label('node-log-agent-with-host-access', 60), {
    volumes: [{ name: label('host-logs', 63), hostPath: { path: '/var/log' } }],
    allowedNamespaces: [label('platform-node-agents', 63)],
  }),
  templateDocument(label('privileged-everywhere-refused', 60), { volumes: [{ name: label('host-root', 63), hostPath: { path: '/' } }] }),
);

const settings: InjectionSettings = { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true };
const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: label('settlement-batch-runner-7d4b9c6f5'), uid: 'u-1', controller: true };

function pod(annotations: Record<string, string>, containers: Pod['spec']['containers'] = [{ name: 'app', image: 'app:1' }]): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: `${label('settlement-batch-runner', 50)}-`, namespace: NAMESPACE, annotations, ownerReferences: [owner] },
    spec: { serviceAccountName: SERVICE_ACCOUNT, containers, volumes: [] },
  } as Pod;
}

function plan(p: Pod, ns: NamespaceInfo = { defaultTemplates: undefined, labels: {} }): InjectionOutcome {
  return planInjection({ operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: NAMESPACE, pod: p }, templates, settings, ns);
}

const inject = (names: string): Record<string, string> => ({ 'sidecar.example/inject': names });

/**
 * Each kind of problem, from real admissions with the longest realistic names. TypeScript holds this to every ProblemReason
 * but annotations_too_large, which is always a denial, never a warning (test/unit/annotation-budget.test.ts).
 */
const admissions: Record<Exclude<ProblemReason, 'annotations_too_large'>, () => InjectionOutcome> = {
  unknown_template: () => plan(pod(inject(`${TEMPLATE},${label('a-template-nobody-ever-wrote', 63)}${'-and-more'.repeat(20)}`))),
  templates_not_loaded: () => {
    const error = `/etc/sidecar-injector/templates/${label('platform-egress-request-logger', 60)}.yaml: line 12: invalid YAML: Implicit keys need to be on a single line`;
    const unloaded = { templates: new Map(), revision: 'empty', loadError: { short: error.slice(error.lastIndexOf('/') + 1), full: error } };
    return planInjection({ operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: NAMESPACE, pod: pod(inject(TEMPLATE)) }, unloaded, settings, { defaultTemplates: undefined, labels: {} });
  },
  namespace_not_allowed: () => plan(pod(inject(label('team-audit-tail', 50)))),
  service_account_not_allowed: () => plan(pod(inject(label('account-bound-collector', 60)))),
  privileged_not_allowed: () => plan(pod(inject(`${label('node-log-agent-with-host-access', 60)},${label('privileged-everywhere-refused', 60)}`))),
  invalid_parameter: () => plan(pod({ ...inject(TEMPLATE), [KEY]: `${'9'.repeat(40)}-not-a-duration-${'z'.repeat(200)}` })),
  parameter_not_overridable: () => plan(pod({ ...inject(TEMPLATE), [`sidecar.example/${TEMPLATE}.upstream`]: 'http://elsewhere.example' })),
  unknown_parameter: () => plan(pod({ ...inject(TEMPLATE), [`sidecar.example/${TEMPLATE}.${label('noSuchParameter', 62 - TEMPLATE.length).replace(/-/g, '_')}`]: '1' })),
  name_conflict: () => plan(pod(inject(TEMPLATE), [{ name: 'app', image: 'app:1' }, { name: CONTAINER, image: 'other:1' }])),
  mount_path_conflict: () => plan(pod(inject(TEMPLATE), [{ name: label('application-main-container'), image: 'app:1', volumeMounts: [{ name: 'data', mountPath: MOUNT_PATH }] }])),
  env_already_set: () => plan(pod(inject(TEMPLATE), [{ name: label('application-main-container'), image: 'app:1', env: [{ name: ENV, value: 'mine' }] }])),
  invalid_status: () =>
    plan(
      pod({
        ...inject(TEMPLATE),
        'sidecar.example/status': JSON.stringify({ templates: [{ name: TEMPLATE, version: '1' }], containers: [label('a-container-that-is-not-there')], initContainers: [], volumes: [] }),
      }),
    ),
  no_default_templates: () => plan(pod(inject('true')), { defaultTemplates: undefined, labels: {} }),
  annotation_on_workload: () => {
    const request: AdmissionRequest = {
      uid: 'u',
      operation: 'CREATE',
      resource: { group: 'batch', version: 'v1', resource: 'cronjobs' },
      namespace: NAMESPACE,
      object: { kind: 'CronJob', metadata: { name: label('nightly-settlement-reconciliation', 52), annotations: inject(TEMPLATE) }, spec: { jobTemplate: { spec: { template: { metadata: {}, spec: { containers: [] } } } } } },
    };
    return reviewAdmission(request, undefined, { templates, settings, namespace: { defaultTemplates: undefined } }).outcome;
  },
  invalid_pod: () => {
    const request: AdmissionRequest = { uid: 'u', operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: NAMESPACE };
    // A long field path the pod schema can name: a mount deep in a late ephemeral container.
    return reviewInvalidPod(request, `spec.ephemeralContainers[${'9'.repeat(12)}].volumeMounts[${'9'.repeat(12)}].mountPath is required`).outcome;
  },
};

describe('warnings of at most 120 characters, prefix included', () => {
  it.each(Object.entries(admissions) as Array<[ProblemReason, () => InjectionOutcome]>)('%s', (reason, admit) => {
    const outcome = admit();
    const problems = outcome.problems.filter((p) => p.reason === reason);
    expect(problems.length).toBeGreaterThan(0);
    expect(outcome.warnings.length).toBe(outcome.problems.length);
    for (const warning of outcome.warnings) {
      expect(warning.startsWith('sidecar-injector: ')).toBe(true);
      // The warning itself in the failure message, should it be too long.
      expect({ warning, fits: chars(warning) <= WARNING_LIMIT }).toEqual({ warning, fits: true });
    }
    // Nothing is lost: the workload's Event tells the whole story of the problems it reports.
    const event = injectionEvent(pod({}), NAMESPACE, outcome);
    for (const problem of problems.filter((p) => DENIABLE_REASONS.has(p.reason) || p.reason === 'no_default_templates')) {
      expect(event?.message).toContain(describeProblem(problem));
    }
  });

  it('keeps the long values whole for the log line and the Event when the warning shortened them', () => {
    const [unknown] = admissions.unknown_template().problems as [Problem];
    expect(unknown.message).toContain('…');
    const typo = `${label('a-template-nobody-ever-wrote', 63)}${'-and-more'.repeat(20)}`;
    expect(problemDetail(unknown)).toContain(typo);
    expect(describeProblem(unknown)).toBe(`unknown template "${typo}" (known: ${[...templates.templates.keys()].slice(0, 5).join(', ')})`);
    const [invalid] = admissions.invalid_parameter().problems as [Problem];
    expect(problemDetail(invalid)).toContain('z'.repeat(200));
    expect(describeProblem(invalid)).toContain(PATTERN);
    const conflict = admissions.mount_path_conflict().problems.find((p) => p.reason === 'mount_path_conflict');
    expect(describeProblem(conflict as Problem)).toContain(MOUNT_PATH);
    const refused = admissions.privileged_not_allowed().problems;
    expect(refused.map((p) => p.detail)).toEqual([expect.stringContaining(`hostPath volume "${label('host-logs', 63)}"`), expect.stringContaining('hostPath volume')]);
  });

  it('leaves a warning that fits as it is (the built-in templates, ordinary names)', async () => {
    const { builtInTemplates } = await import('../support/templates.js');
    const outcome = planInjection(
      { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'shop', pod: { metadata: { annotations: inject('log-collector,log-colector') }, spec: { containers: [{ name: 'app', image: 'a' }] } } as Pod },
      await builtInTemplates(),
      settings,
      { defaultTemplates: undefined },
    );
    expect(outcome.warnings).toEqual(['sidecar-injector: unknown template "log-colector" (known: egress-logger, http-interceptor, http-prober, log-collector)']);
    expect(outcome.problems[0]?.detail).toBeUndefined();
  });
});

describe('fitted', () => {
  it('cuts the long values to a common length, keeps short ones and the literal text whole, the same way every time', () => {
    const long = 'n'.repeat(200);
    const first = fitted`template "${long}" not injected: the pod already has a container "${'app'}"`;
    expect(first).toEqual(fitted`template "${long}" not injected: the pod already has a container "${'app'}"`);
    expect(chars(`sidecar-injector: ${first.text}`)).toBe(WARNING_LIMIT);
    expect(first.text).toMatch(/^template "n+…" not injected: the pod already has a container "app"$/);
    expect(first.unclipped).toContain(long);
    // Two long values share what is left.
    const both = fitted`template "${long}" not injected: the pod already has a container "${'c'.repeat(63)}"`;
    const [, names, containers] = /^template "(n+)…" not injected: the pod already has a container "(c+)…"$/.exec(both.text) ?? [];
    expect(names?.length).toBe(containers?.length);
    expect(chars(`sidecar-injector: ${both.text}`)).toBeGreaterThan(WARNING_LIMIT - 2);
    expect(chars(`sidecar-injector: ${both.text}`)).toBeLessThanOrEqual(WARNING_LIMIT);
    // Nothing to cut: the text as written.
    expect(fitted`template "${'a'}" not injected`).toEqual({ text: 'template "a" not injected', unclipped: undefined });
  });

  it('cuts the expendable values first (the reader\'s own namespace), so what is allowed stays whole', () => {
    const result = fitted`template "${'audit'}" not allowed in namespace "${expendable(`team-${'n'.repeat(80)}`)}"; allowed: ${'labelled team=payments'}`;
    expect(result.text).toMatch(/^template "audit" not allowed in namespace "team-n+…"; allowed: labelled team=payments$/);
    expect(chars(`sidecar-injector: ${result.text}`)).toBe(WARNING_LIMIT);
    // Down to a few characters only; then the rest are cut alike.
    const both = fitted`template "${'t'.repeat(90)}" not allowed in namespace "${expendable('n'.repeat(90))}"`;
    expect(both.text).toMatch(/^template "t+…" not allowed in namespace "n{7}…"$/);
    expect(chars(`sidecar-injector: ${both.text}`)).toBeLessThanOrEqual(WARNING_LIMIT);
  });

  it('counts characters, not UTF-16 units, and never splits one', () => {
    const result = fitted`unknown template "${'🚀'.repeat(150)}"`;
    expect(chars(`sidecar-injector: ${result.text}`)).toBeLessThanOrEqual(WARNING_LIMIT);
    expect(result.text).toMatch(/^unknown template "(?:🚀)+…"$/u);
  });

  it('guards a message that was not built to fit', () => {
    const warning = problemToWarning({ reason: 'invalid_status', template: undefined, message: 'x'.repeat(500) });
    expect(chars(warning)).toBe(WARNING_LIMIT);
    expect(warning.endsWith('…')).toBe(true);
  });
});
