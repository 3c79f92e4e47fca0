// The chart's `mode` on the real kube-apiserver (control plane only): every
// object of the `policy` and `both` renderings passes a server-side dry run,
// and one release goes webhook → policy → both. In `webhook` mode (the
// webhook.url override and a local `serve` process, as in helm.test.ts) the
// pods below are created by server dry run and kept as the reference; in
// `policy` mode, with that process stopped and the webhook configuration gone,
// the apiserver stores the same pods; in `both`, with the process running
// again, still the same pods: one log-collector, one status record, although
// the webhook was called (and, beside a second webhook, called again). A pod
// whose override fails its pattern gets the webhook's warning in webhook
// mode, the validating policies' in policy mode, and the webhook's alone,
// once, in both.
// Not on 1.30 (e2e-oldest): it has no MutatingAdmissionPolicy.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { CHART_DIR, parseObjects, renderChart } from '../chart/support/helm.js';
import { freePort } from '../support/http.js';
import type { ServeProcess } from '../support/serve-process.js';
import { waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { installArgs, mustHelm, serviceAccountKubeconfig, testHookPod } from './support/helm.js';
import { admissionsFor, mutateUrl, waitUntilCalled } from './support/injector.js';
import { APP_IMAGE, INJECT_ANNOTATION, podManifest, STATUS_ANNOTATION, uniqueSuffix, type Kube } from './support/kube.js';
import { SECOND_WEBHOOK_NAMESPACE_LABEL, secondWebhookConfiguration, startSecondWebhook, type SecondWebhook } from './support/second-webhook.js';

jest.setTimeout(180_000);

let env: E2eEnvironment | undefined;
let kube: Kube;

const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' };
const RELEASE = 'mig';
const FULLNAME = 'mig-sidecar-injector';
const POLICIES = ['egress-logger', 'http-interceptor', 'http-prober', 'log-collector'].map((t) => `sidecar-injector.${t}`);

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
}, 900_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

describe('server-side dry run of every object of the policy and both renderings', () => {
  it.each(['policy', 'both'])('mode %s: the apiserver accepts every object', async (mode) => {
    const namespace = await kube.createNamespace(`render-${mode}`, { labels: RESTRICTED });
    const objects = parseObjects(await renderChart({ release: 'r', namespace, set: [`mode=${mode}`] }));
    expect(objects.filter((o) => o.kind === 'MutatingAdmissionPolicy').map((o) => o.metadata.name).sort()).toEqual(POLICIES);
    for (const sa of objects.filter((o) => o.kind === 'ServiceAccount')) await kube.mustApply(sa);
    const result = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout.trim().split('\n')).toHaveLength(objects.length);
  });
});

/** The stored pod without what differs on every creation (as in policy-mode.test.ts). */
function comparable(stdout: string): string {
  const object = JSON.parse(stdout) as { metadata: Record<string, unknown> };
  for (const field of ['uid', 'creationTimestamp', 'resourceVersion', 'managedFields']) delete object.metadata[field];
  return JSON.stringify(object).replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-*');
}

describe('one release: webhook, then policy with no webhook running, then both', () => {
  const ns = { release: '', plain: '', optedIn: '', reinvoke: '' };
  let port: number;
  let injector: ServeProcess | undefined;
  let second: SecondWebhook;
  /** Pods the apiserver stored in webhook mode, by case. */
  const reference = new Map<string, string>();
  /** kubectl's warnings for the pod with a bad override, in webhook mode. */
  let webhookWarnings: string[] = [];
  const BAD_OVERRIDE = 'does not match /[A-Za-z0-9._/-]+; template not injected';
  const badOverride = (): Record<string, unknown> =>
    podManifest({ name: 'bad', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'log-collector', 'sidecar.example/log-collector.logPath': 'relative/path' } });
  const warningsOf = (stderr: string): string[] => stderr.split('\n').filter((line) => line.startsWith('Warning:'));

  interface Case {
    name: string;
    manifest: () => Record<string, unknown>;
    /** Left alone by the policies by design (docs/policy-mode.md): compared in webhook and both modes only. */
    severalTemplates?: boolean;
  }
  const cases: Case[] = [
    { name: 'asks for log-collector', manifest: () => podManifest({ name: 'asks', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'log-collector' } }) },
    { name: 'gets the opted-in namespace default', manifest: () => podManifest({ name: 'default', namespace: ns.optedIn }) },
    {
      name: 'asks for http-prober with overrides',
      manifest: () =>
        podManifest({ name: 'prober', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'http-prober', 'sidecar.example/http-prober.port': '9090', 'sidecar.example/http-prober.interval': '5' } }),
    },
    { name: 'asks for egress-logger, and a second webhook adds a container', manifest: () => podManifest({ name: 'again', namespace: ns.reinvoke, annotations: { [INJECT_ANNOTATION]: 'egress-logger' } }) },
    { name: 'asks for log-collector, and a second webhook adds a container', manifest: () => podManifest({ name: 'again2', namespace: ns.reinvoke, annotations: { [INJECT_ANNOTATION]: 'log-collector' } }) },
    { name: 'asks for two templates', severalTemplates: true, manifest: () => podManifest({ name: 'two', namespace: ns.plain, annotations: { [INJECT_ANNOTATION]: 'log-collector,http-prober' } }) },
  ];

  async function dryRun(manifest: Record<string, unknown>): Promise<string> {
    const result = await kube.kubectl(['create', '-f', '-', '--dry-run=server', '-o', 'json'], { input: JSON.stringify(manifest) });
    if (result.code !== 0) throw new Error(`the dry run was refused: ${result.stderr}`);
    return result.stdout;
  }

  /** The process the chart's Deployment would run, with its flags and its ServiceAccount's token. */
  async function startChartWebhook(): Promise<ServeProcess> {
    const deployment = await kube.apps.readNamespacedDeployment({ name: FULLNAME, namespace: ns.release });
    const container = deployment.spec?.template.spec?.containers[0];
    const local = new Set(['--port', '--templates-dir', '--host']);
    const args = (container?.args ?? []).filter((a) => a !== 'serve' && !local.has(a.split('=')[0] ?? ''));
    const kubeconfig = await serviceAccountKubeconfig(kube, env!.temps, ns.release, deployment.spec?.template.spec?.serviceAccountName ?? '');
    const serve = await env!.startInjector([...args, '--kubeconfig', kubeconfig], { port, selfManagedCertificates: true });
    await waitUntilCalled(kube, serve, ns.plain);
    return serve;
  }

  const objectNames = async (kinds: string, namespaced: boolean): Promise<string[]> => {
    const result = await kube.kubectl(['get', kinds, ...(namespaced ? ['--namespace', ns.release] : []), '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name']);
    expect(result).toMatchObject({ code: 0 });
    return result.stdout.split('\n').filter(Boolean).sort();
  };

  beforeAll(async () => {
    ns.release = await kube.createNamespace('policy-release');
    ns.plain = await kube.createNamespace('policy-app');
    ns.optedIn = await kube.createOptedInNamespace('policy-optin', 'log-collector');
    ns.reinvoke = await kube.createNamespace('policy-again', { labels: { [SECOND_WEBHOOK_NAMESPACE_LABEL]: 'enabled' } });
    second = await startSecondWebhook({ addContainer: { name: 'added-by-webhook', image: APP_IMAGE } });
    const secondName = `zz-second-webhook-${uniqueSuffix()}`;
    env!.onStop(async () => {
      await kube.kubectl(['delete', 'mutatingwebhookconfiguration', secondName, '--ignore-not-found']);
      await second.close();
    });
    await kube.mustApply(secondWebhookConfiguration(secondName, second.url, second.caPem));

    port = await freePort();
    await mustHelm(kube, installArgs(RELEASE, ns.release, [`webhook.url=${mutateUrl(port)}`]));
    injector = await startChartWebhook();
    await waitFor('the second webhook to be called', async () => ((await dryRun(cases[3]!.manifest())).includes('added-by-webhook') ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    for (const c of cases) reference.set(c.name, comparable(await dryRun(c.manifest())));
    webhookWarnings = warningsOf((await kube.kubectl(['create', '-f', '-', '--dry-run=server', '-o', 'name'], { input: JSON.stringify(badOverride()) })).stderr);
  }, 300_000);

  it('webhook mode injects every case (the reference), and warns about the bad override', () => {
    for (const c of cases) expect({ case: c.name, injected: JSON.parse(reference.get(c.name)!).metadata.annotations[STATUS_ANNOTATION] !== undefined }).toEqual({ case: c.name, injected: true });
    expect(webhookWarnings).toHaveLength(1);
    expect(webhookWarnings[0]).toContain(BAD_OVERRIDE);
  });

  it('policy mode: no Deployment, Service, certificates or webhook configuration, and with no webhook process the pods are stored as in webhook mode', async () => {
    await injector!.kill();
    injector = undefined;
    await mustHelm(kube, ['upgrade', RELEASE, CHART_DIR, '--namespace', ns.release, '--reuse-values', '--set', 'mode=policy']);

    // The helm test hook's ServiceAccount stays (its Role is in tests.namespace): the apiserver injects its dry-run pod.
    expect(await objectNames('deployment,service,configmap,secret,poddisruptionbudget,networkpolicy,role,rolebinding,serviceaccount', true)).toEqual([`serviceaccount/${FULLNAME}-test`]);
    expect(await objectNames('mutatingwebhookconfigurations,clusterroles,clusterrolebindings', false)).toEqual([]);
    expect(await objectNames('mutatingadmissionpolicies', false)).toEqual(POLICIES.map((p) => `mutatingadmissionpolicy.admissionregistration.k8s.io/${p}`));
    expect(await objectNames('mutatingadmissionpolicybindings', false)).toHaveLength(POLICIES.length);

    // The apiserver drops the webhook configuration and loads the policies through informers.
    const first = cases[0]!;
    await waitFor(
      'the apiserver to inject through the policies alone',
      async () => {
        const result = await kube.kubectl(['create', '-f', '-', '--dry-run=server', '-o', 'json'], { input: JSON.stringify(first.manifest()) });
        return result.code === 0 && comparable(result.stdout) === reference.get(first.name) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    for (const c of cases.filter((c) => !c.severalTemplates)) expect({ case: c.name, pod: comparable(await dryRun(c.manifest())) }).toEqual({ case: c.name, pod: reference.get(c.name) });

    // config.onProblem=warn: the chart's validating policies warn as the webhook did, behind the apiserver's prefix.
    const bad = await kube.kubectl(['create', '-f', '-', '--dry-run=server', '-o', 'name'], { input: JSON.stringify(badOverride()) });
    expect(bad.code).toBe(0);
    const warnings = warningsOf(bad.stderr);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ValidatingAdmissionPolicy 'sidecar-injector\.log-collector'/);
    expect(warnings[0]).toContain(webhookWarnings[0]!.replace(/^Warning: /, ''));
  });

  it("policy mode: the helm test hook's command passes as its ServiceAccount (there is no kubelet to run its pod)", async () => {
    const pod = await testHookPod(kube, RELEASE, ns.release);
    const spec = pod['spec'] as { serviceAccountName: string; containers: Array<{ args: string[] }> };
    const passed = await kube.kubectl([`--as=system:serviceaccount:${ns.release}:${spec.serviceAccountName}`, ...(spec.containers[0]?.args ?? [])]);
    expect(passed).toMatchObject({ code: 0, stdout: 'sidecar log-collector injected\n' });
  });

  it('both: the webhook is called again, and every pod is stored as in webhook mode: one sidecar, one record', async () => {
    await mustHelm(kube, ['upgrade', RELEASE, CHART_DIR, '--namespace', ns.release, '--reuse-values', '--set', 'mode=both']);
    expect(await objectNames('mutatingadmissionpolicies', false)).toHaveLength(POLICIES.length);
    injector = await startChartWebhook();

    for (const c of cases) {
      const stored = await dryRun(c.manifest());
      expect({ case: c.name, pod: comparable(stored) }).toEqual({ case: c.name, pod: reference.get(c.name) });
      const pod = JSON.parse(stored) as k8s.V1Pod;
      const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((x) => x.name);
      expect({ case: c.name, duplicates: all.filter((n, i) => all.indexOf(n) !== i) }).toEqual({ case: c.name, duplicates: [] });
      const meta = c.manifest()['metadata'] as { name: string; namespace: string };
      // The process logs each admission once it has answered.
      await waitFor(`the webhook's log line for ${c.name}`, async () => (admissionsFor(injector!, meta.namespace, meta.name).length > 0 ? true : undefined), { timeoutMs: 10_000, intervalMs: 100 });
    }

    // One log-collector and one record naming it once, though the webhook saw the pod after the policy.
    const asked = JSON.parse(await dryRun(cases[0]!.manifest())) as k8s.V1Pod;
    expect(asked.spec?.initContainers?.filter((x) => x.name === 'log-collector')).toHaveLength(1);
    expect((JSON.parse(asked.metadata?.annotations?.[STATUS_ANNOTATION] ?? '{}') as { templates: Array<{ name: string }> }).templates.map((t) => t.name)).toEqual(['log-collector']);
    // The webhook injected nothing for the pods a policy had injected first, and the two templates itself.
    const injectedByWebhook = (name: string, namespace: string): string[] => admissionsFor(injector!, namespace, name).flatMap((l) => l.templates ?? []);
    expect(injectedByWebhook('asks', ns.plain)).toEqual([]);
    expect(injectedByWebhook('two', ns.plain)).toEqual(['log-collector', 'http-prober']);
    // A problem is reported once, by the webhook: no validating policy in both.
    const bad = await kube.kubectl(['create', '-f', '-', '--dry-run=server', '-o', 'name'], { input: JSON.stringify(badOverride()) });
    expect(warningsOf(bad.stderr)).toEqual(webhookWarnings);
  });
});
