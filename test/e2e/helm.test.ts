// The chart against the real kube-apiserver of the e2e harness: every object
// of every ci/*-values.yaml rendering passes a server-side dry run (in a
// namespace enforcing the `restricted` Pod Security Standard), and a
// `helm install` with the out-of-cluster `webhook.url` override sends pods to
// the webhook running locally — with the rendered Deployment's flags, as the
// chart's ServiceAccount, in the default self-managed certificate mode —
// through upgrade and uninstall.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import type { ServeProcess } from '../support/serve-process.js';
import { waitFor } from '../support/wait.js';
import { CHART_DIR, CI_VALUES_DIR, ciValuesFiles, parseObjects, renderChart } from '../chart/support/helm.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { installArgs, installStandInCrds, mustHelm, serviceAccountKubeconfig, testHookPod } from './support/helm.js';
import { freePort } from '../support/http.js';
import { admissionsFor, mutateUrl, waitUntilCalled } from './support/injector.js';
import { caBundles, readCertificateSecret, servedFingerprint } from './support/self-managed.js';
import {
  containerNames,
  initContainerNames,
  injectionStatus,
  INJECT_ANNOTATION,
  podManifest,
  podTemplate,
  uniqueSuffix,
  volumeNames,
  type Kube,
} from './support/kube.js';

jest.setTimeout(120_000);

let env: E2eEnvironment | undefined;
let kube: Kube;

/** The pod's containers and init containers; log-collector, a native sidecar, is an init container. */
const namesOf = (pod: k8s.V1Pod) => ({ containers: containerNames(pod), initContainers: initContainerNames(pod) });
const WITH_LOG_COLLECTOR = { containers: ['app'], initContainers: ['log-collector'] };
const UNINJECTED = { containers: ['app'], initContainers: [] };

const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
};

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  await installStandInCrds(kube);
}, 900_000); // includes building helm on a cold cache

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

describe('server-side dry run of every rendered object', () => {
  it.each(ciValuesFiles())('%s: the apiserver accepts every object', async (file) => {
    const namespace = await kube.createNamespace(file.replace(/-values\.yaml$/, '').slice(0, 40), { labels: RESTRICTED });
    const objects = parseObjects(await renderChart({ release: 'r', namespace, valuesFiles: [join(CI_VALUES_DIR, file)] }));
    // The dry run stores nothing, so the helm test Pod's ServiceAccount lookup
    // needs the ServiceAccounts to exist for real first.
    for (const sa of objects.filter((o) => o.kind === 'ServiceAccount')) await kube.mustApply(sa);

    const result = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' }); // also: no PodSecurity warning
    const accepted = result.stdout.trim().split('\n');
    expect(accepted).toHaveLength(objects.length);
    for (const line of accepted) expect(line).toMatch(/ \(server dry run\)$/);
  });
});

describe('helm install with webhook.url pointing at the local webhook', () => {
  let injector: ServeProcess;
  let releaseNamespace: string;
  const release = 'si';
  const configurationName = 'si-sidecar-injector';

  beforeAll(async () => {
    releaseNamespace = await kube.createNamespace('sidecar-injector');
    const port = await freePort();
    // The chart's defaults (self-managed certificates, cluster templates,
    // events) plus the reconciler in report mode, pointed at a local port.
    await mustHelm(kube, installArgs(release, releaseNamespace, [`webhook.url=${mutateUrl(port)}`, 'config.reconcileMissed=report']));
    // The process the Deployment would run: its args, its ServiceAccount's
    // token — so the chart's RBAC is what the webhook gets, nothing more.
    const deployment = await kube.apps.readNamespacedDeployment({ name: configurationName, namespace: releaseNamespace });
    const container = deployment.spec?.template.spec?.containers[0];
    const local = new Set(['--port', '--templates-dir', '--host']);
    const args = (container?.args ?? []).filter((a) => a !== 'serve' && !local.has(a.split('=')[0] ?? ''));
    const kubeconfig = await serviceAccountKubeconfig(kube, env!.temps, releaseNamespace, deployment.spec?.template.spec?.serviceAccountName ?? '');
    injector = await env!.startInjector([...args, '--kubeconfig', kubeconfig], { port, selfManagedCertificates: true });
    await waitUntilCalled(kube, injector, await kube.createNamespace('helm-warmup'));
  }, 180_000);

  it('installed the release objects', async () => {
    const list = await kube.kubectl(['get', 'deployment,service,configmap,serviceaccount,pdb', '--namespace', releaseNamespace, '-o', 'name']);
    expect(list.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        'deployment.apps/si-sidecar-injector',
        'service/si-sidecar-injector',
        'configmap/si-sidecar-injector-templates',
        'serviceaccount/si-sidecar-injector',
        'poddisruptionbudget.policy/si-sidecar-injector',
      ]),
    );
    const mwc = await kube.admissionRegistration.readMutatingWebhookConfiguration({ name: configurationName });
    expect(mwc.webhooks?.map((w) => [w.name, w.clientConfig.url])).toEqual([
      ['namespace.sidecar.example', mutateUrl(injector.port)],
      ['pod.sidecar.example', mutateUrl(injector.port)],
      ['workload.sidecar.example', mutateUrl(injector.port)],
    ]);
  });

  it('an annotated pod comes back injected: the stored pod has the sidecar, the volume and the status', async () => {
    const namespace = await kube.createNamespace('helm-app');
    const result = await kube.apply(podManifest({ name: 'web', namespace, annotations: { [INJECT_ANNOTATION]: 'log-collector' } }));
    expect(result).toMatchObject({ code: 0 });
    const pod = await kube.readPod(namespace, 'web');
    expect(namesOf(pod)).toEqual(WITH_LOG_COLLECTOR);
    expect(pod.spec?.initContainers?.[0]?.restartPolicy).toBe('Always');
    expect(volumeNames(pod)).toContain('shared-logs');
    expect(injectionStatus(pod)?.templates.map((t) => t.name)).toEqual(['log-collector']);
  });

  it('an unannotated pod of an opted-in namespace is injected with the namespace defaults', async () => {
    const namespace = await kube.createOptedInNamespace('helm-optin', 'log-collector');
    expect(await kube.apply(podManifest({ name: 'web', namespace }))).toMatchObject({ code: 0 });
    expect(namesOf(await kube.readPod(namespace, 'web'))).toEqual(WITH_LOG_COLLECTOR);
  });

  it('pods of the release namespace never reach the webhook', async () => {
    const name = `own-${uniqueSuffix()}`;
    const result = await kube.apply(podManifest({ name, namespace: releaseNamespace, annotations: { [INJECT_ANNOTATION]: 'log-collector' } }), ['--dry-run=server', '-o', 'json']);
    expect(result).toMatchObject({ code: 0 });
    expect(namesOf(JSON.parse(result.stdout) as k8s.V1Pod)).toEqual(UNINJECTED);
    expect(admissionsFor(injector, releaseNamespace, name)).toEqual([]);
  });

  it("the helm test hook's command passes with the test ServiceAccount's permissions, and fails when the sidecar is missing", async () => {
    const pod = await testHookPod(kube, release, releaseNamespace);
    const spec = pod['spec'] as { serviceAccountName: string; containers: Array<{ args: string[] }> };
    const args = spec.containers[0]?.args ?? [];
    // What the Pod runs (kubectl in the image, in-cluster credentials), run here as its ServiceAccount.
    const as = `--as=system:serviceaccount:${releaseNamespace}:${spec.serviceAccountName}`;
    const passed = await kube.kubectl([as, ...args]);
    expect(passed).toMatchObject({ code: 0, stdout: 'sidecar log-collector injected\n' });

    const unknown = args.map((a) => a.replace('sidecar.example/inject=log-collector', 'sidecar.example/inject=log-colector'));
    const failed = await kube.kubectl([as, ...unknown]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/sidecar log-collector is not in the dry-run answer/);

    const elsewhere = await kube.kubectl([as, ...args.map((a) => (a === '--namespace=default' ? '--namespace=kube-public' : a))]);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/forbidden/);
  });

  it('self-managed certificates: the Secret holds the served certificate and every webhook trusts its CA', async () => {
    const secret = await readCertificateSecret(kube, releaseNamespace, 'si-sidecar-injector-certs');
    expect(await servedFingerprint(injector.port)).toBe(secret.leaf);
    const bundles = await caBundles(kube, configurationName);
    expect(Object.keys(bundles)).toEqual(['namespace.sidecar.example', 'pod.sidecar.example', 'workload.sidecar.example']);
    for (const bundle of Object.values(bundles)) expect(bundle).toContain(secret.ca);
  });

  it('a SidecarTemplate resource is served and its status written, and a skipped Deployment gets an Event, under the chart\'s RBAC', async () => {
    await kube.mustApply({
      apiVersion: 'sidecar.example/v1alpha1',
      kind: 'SidecarTemplate',
      metadata: { name: 'helm-extra' },
      spec: { version: '1.0.0', containers: [{ name: 'helm-extra', image: 'registry.example/extra:1' }] },
    });
    await waitFor('the Valid condition of SidecarTemplate helm-extra', async () => {
      const result = await kube.kubectl(['get', 'sidecartemplate', 'helm-extra', '-o', 'jsonpath={.status.conditions[?(@.type=="Valid")].status}']);
      return result.stdout === 'True' ? true : undefined;
    });
    const namespace = await kube.createNamespace('helm-crd');
    expect(await kube.apply(podManifest({ name: 'web', namespace, annotations: { [INJECT_ANNOTATION]: 'helm-extra' } }))).toMatchObject({ code: 0 });
    expect(containerNames(await kube.readPod(namespace, 'web'))).toEqual(['app', 'helm-extra']);

    await kube.mustApply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'typo', namespace },
      spec: { replicas: 1, selector: { matchLabels: { app: 'typo' } }, template: podTemplate({ app: 'typo' }, { [INJECT_ANNOTATION]: 'log-colector' }) },
    });
    // Written on the Deployment: the ReplicaSet was read to find it.
    await waitFor('the SidecarInjectionSkipped Event on Deployment typo', async () => {
      const events = await kube.core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.kind=Deployment,involvedObject.name=typo' });
      return events.items.find((e) => e.reason === 'SidecarInjectionSkipped');
    });
  });

  it('helm upgrade changes the webhook configuration in place and keeps the caBundle the webhook wrote', async () => {
    const before = await caBundles(kube, configurationName);
    await mustHelm(kube, ['upgrade', release, CHART_DIR, '--namespace', releaseNamespace, '--reuse-values', '--set', 'webhook.timeoutSeconds=7']);
    const mwc = await kube.admissionRegistration.readMutatingWebhookConfiguration({ name: configurationName });
    // The advisory workload webhook keeps its own short timeout.
    expect(mwc.webhooks?.map((w) => w.timeoutSeconds)).toEqual([7, 7, 5]);
    expect(await caBundles(kube, configurationName)).toEqual(before);
    const namespace = await kube.createNamespace('helm-upgraded');
    expect(await kube.apply(podManifest({ name: 'web', namespace, annotations: { [INJECT_ANNOTATION]: 'log-collector' } }))).toMatchObject({ code: 0 });
    expect(namesOf(await kube.readPod(namespace, 'web'))).toEqual(WITH_LOG_COLLECTOR);
  });

  it('the webhook, running as the chart\'s ServiceAccount, was never refused by RBAC', () => {
    expect(injector.output()).not.toMatch(/forbidden/i);
  });

  it('helm uninstall removes the webhook configuration: pods are no longer sent', async () => {
    await mustHelm(kube, ['uninstall', release, '--namespace', releaseNamespace, '--wait']);
    const list = await kube.kubectl(['get', 'mutatingwebhookconfigurations', '-o', 'name']);
    expect(list.stdout).not.toContain(configurationName);
    const namespace = await kube.createNamespace('helm-after');
    // The apiserver drops the configuration through an informer, a moment after the delete.
    const names = await waitFor(
      'the apiserver to stop calling the webhook',
      async () => {
        const result = await kube.apply(podManifest({ name: 'web', namespace, annotations: { [INJECT_ANNOTATION]: 'log-collector' } }), ['--dry-run=server', '-o', 'json']);
        const found = namesOf(JSON.parse(result.stdout) as k8s.V1Pod);
        return found.initContainers.length === 0 ? found : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    expect(names).toEqual(UNINJECTED);
  });
});
