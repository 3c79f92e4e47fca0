// Per-template authorization, the warning about an annotation on a workload's
// own metadata, and Events on the owning workload — against the real
// apiserver: assertions are on what kubectl printed and what was stored.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { ServeProcess } from '../support/serve-process.js';
import { delay, waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { admissionLines } from './support/injector.js';
import { containerNames, INJECT_ANNOTATION, podManifest, podTemplate, volumeNames, type Kube } from './support/kube.js';
import { metricValue } from './support/metrics.js';

jest.setTimeout(120_000);

let env: E2eEnvironment | undefined;
let kube: Kube;
let injector: ServeProcess;

const template = (name: string, spec: Record<string, unknown>) =>
  stringify({ apiVersion: 'sidecar.example/v1alpha1', kind: 'SidecarTemplate', metadata: { name }, spec });

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  const templatesDir = await env.temps.copyOfTemplates();
  await writeFile(
    join(templatesDir, 'restricted.yaml'),
    [
      template('team-audit', { allowedNamespaceSelector: { matchLabels: { team: 'payments' } }, containers: [{ name: 'team-audit', image: 'registry.example/audit:1' }] }),
      template('sa-audit', { allowedServiceAccounts: ['collector'], containers: [{ name: 'sa-audit', image: 'registry.example/audit:1' }] }),
      template('node-agent', {
        allowedNamespaceSelector: { matchLabels: { team: 'platform' } },
        containers: [{ name: 'node-agent', image: 'registry.example/agent:1', volumeMounts: [{ name: 'host-logs', mountPath: '/host/logs' }] }],
        volumes: [{ name: 'host-logs', hostPath: { path: '/var/log' } }],
      }),
      template('open-agent', {
        containers: [{ name: 'open-agent', image: 'registry.example/agent:1', securityContext: { capabilities: { add: ['NET_ADMIN'] } } }],
      }),
    ].join('---\n'),
  );
  injector = await env.startRegisteredInjector({ failurePolicy: 'Fail' }, ['--cluster-templates=false'], { templatesDir });
}, 180_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

const asking = (templates: string) => ({ [INJECT_ANNOTATION]: templates });

async function deploymentPods(namespace: string, app: string, count: number): Promise<k8s.V1Pod[]> {
  return waitFor(
    `${count} pods of ${namespace}/${app}`,
    async () => {
      const pods = (await kube.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
      return pods.length >= count ? pods : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

function deployment(namespace: string, name: string, own: Record<string, string>, pod: Record<string, string>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, annotations: own },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { ...podTemplate({ app: name }, pod), ...extra } },
  };
}

describe('per-template authorization (decided on the pod namespace and service account)', () => {
  it('j1. a namespace label selector: pods of a Deployment in a matching namespace get the sidecar; elsewhere kubectl warns and the pod is stored without it', async () => {
    const payments = await kube.createNamespace('e2e-j1-pay', { labels: { team: 'payments' } });
    await kube.mustApply(deployment(payments, 'api', {}, asking('team-audit')));
    const [created] = await deploymentPods(payments, 'api', 1);
    // Created by the ReplicaSet controller (request.userInfo is a controller), allowed by the namespace.
    expect(containerNames(created!)).toEqual(['app', 'team-audit']);

    const shop = await kube.createNamespace('e2e-j1-shop', { labels: { team: 'retail' } });
    const result = await kube.apply(podManifest({ name: 'web', namespace: shop, annotations: asking('team-audit') }));
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`template "team-audit" not allowed in namespace "${shop}"; allowed: labelled team=payments`);
    expect(containerNames(await kube.readPod(shop, 'web'))).toEqual(['app']);
  });

  it('j2. allowed service accounts: the pod running as "collector" gets the sidecar; the one running as "default" is refused with a warning', async () => {
    const namespace = await kube.createNamespace('e2e-j2');
    await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'collector' } } });
    const allowed = podManifest({ name: 'collector-pod', namespace, annotations: asking('sa-audit') });
    (allowed['spec'] as Record<string, unknown>)['serviceAccountName'] = 'collector';
    expect(await kube.apply(allowed)).toMatchObject({ code: 0 });
    expect(containerNames(await kube.readPod(namespace, 'collector-pod'))).toEqual(['app', 'sa-audit']);

    const refused = await kube.apply(podManifest({ name: 'default-pod', namespace, annotations: asking('sa-audit') }));
    expect(refused.stderr).toContain(`template "sa-audit" not allowed for service account "${namespace}/default"; allowed: collector`);
    expect(containerNames(await kube.readPod(namespace, 'default-pod'))).toEqual(['app']);
  });

  it('j3. a privileged template (hostPath) is injected only in the namespaces it allows; one that allows none is refused everywhere', async () => {
    const platform = await kube.createNamespace('e2e-j3-platform', { labels: { team: 'platform' } });
    expect(await kube.apply(podManifest({ name: 'agent', namespace: platform, annotations: asking('node-agent') }))).toMatchObject({ code: 0 });
    const stored = await kube.readPod(platform, 'agent');
    expect(containerNames(stored)).toEqual(['app', 'node-agent']);
    expect(volumeNames(stored)).toContain('host-logs');

    const tenant = await kube.createNamespace('e2e-j3-tenant');
    const refused = await kube.apply(podManifest({ name: 'agent', namespace: tenant, annotations: asking('node-agent,open-agent') }));
    // The e2e namespace's random suffix makes the first warning too long: the namespace, which the user knows, is shortened.
    expect(refused.stderr).toMatch(/privileged template "node-agent" not allowed in namespace "e2e-j3-[a-z0-9-]*…"; allowed: labelled team=platform/);
    expect(refused.stderr).toContain('template "open-agent" is privileged and names no allowed namespaces: refused everywhere');
    const warnings = refused.stderr.split('\n').filter((line) => line.startsWith('Warning: '));
    expect(warnings).toHaveLength(2);
    for (const warning of warnings) expect([...warning.slice('Warning: '.length)].length).toBeLessThanOrEqual(120);
    const tenantPod = await kube.readPod(tenant, 'agent');
    expect(containerNames(tenantPod)).toEqual(['app']);
    expect(volumeNames(tenantPod)).not.toContain('host-logs');
  });
});

describe('explainability', () => {
  it('k1. kubectl warns when the inject annotation is on the Deployment instead of its pod template; the Deployment is stored unchanged', async () => {
    const namespace = await kube.createNamespace('e2e-k1');
    const misplaced = deployment(namespace, 'web', asking('log-collector'), {});
    const result = await kube.apply(misplaced);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      'Warning: sidecar-injector: sidecar.example/inject has no effect; move it to spec.template.metadata.annotations\n',
    );
    const stored = await kube.apps.readNamespacedDeployment({ name: 'web', namespace });
    expect(stored.spec?.template.metadata?.annotations ?? {}).toEqual({});

    const placedRight = await kube.apply(deployment(namespace, 'api', asking('log-collector'), asking('log-collector')));
    expect(placedRight.stderr).not.toContain('has no effect');
    const cronJob = await kube.apply({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly', namespace, annotations: asking('log-collector') },
      spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: podTemplate({ app: 'nightly' }, {}, 'Never') } } },
    });
    expect(cronJob.stderr).toContain('move it to spec.jobTemplate.spec.template.metadata.annotations');
  });

  it('k2. pods of a Deployment skipped for a problem leave one Warning Event on the Deployment, rate-limited as it scales', async () => {
    const namespace = await kube.createNamespace('e2e-k2');
    await kube.mustApply(deployment(namespace, 'typo', {}, asking('log-colector')));
    const [first] = await deploymentPods(namespace, 'typo', 1);
    expect(containerNames(first!)).toEqual(['app']);
    const onDeployment = async (): Promise<k8s.CoreV1Event[]> =>
      (await kube.core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.kind=Deployment,involvedObject.name=typo' })).items.filter(
        (e) => e.reason === 'SidecarInjectionSkipped',
      );
    const event = await waitFor('the SidecarInjectionSkipped Event on Deployment typo', async () => (await onDeployment())[0], {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    expect(event).toMatchObject({
      type: 'Warning',
      message: 'no sidecar injected: unknown template "log-colector" (known: egress-logger, http-interceptor, http-prober, log-collector, node-agent, …)',
      source: { component: 'sidecar-injector' },
    });

    expect(await kube.kubectl(['scale', 'deployment/typo', '-n', namespace, '--replicas=3'])).toMatchObject({ code: 0 });
    await deploymentPods(namespace, 'typo', 3);
    await waitFor('the rate-limited events to be counted', async () =>
      (await metricValue(injector, 'sidecar_injector_events_total{reason="SidecarInjectionSkipped",result="rate_limited"}')) >= 2 ? true : undefined,
    );
    await delay(500);
    expect(await onDeployment()).toHaveLength(1);
  });

  it('k3. a dry run of a skipped controller-owned pod writes no Event; the same pod created for real does', async () => {
    const namespace = await kube.createNamespace('e2e-k3');
    await kube.mustApply(deployment(namespace, 'holder', {}, {}, {}));
    await kube.kubectl(['scale', 'deployment/holder', '-n', namespace, '--replicas=0']);
    const holder = await kube.apps.readNamespacedDeployment({ name: 'holder', namespace });
    const owned = podManifest({ name: 'owned', namespace, annotations: asking('log-colector') });
    (owned['metadata'] as Record<string, unknown>)['ownerReferences'] = [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'holder', uid: holder.metadata?.uid, controller: true },
    ];
    const ours = async (): Promise<k8s.CoreV1Event[]> =>
      (await kube.core.listNamespacedEvent({ namespace })).items.filter((e) => e.source?.component === 'sidecar-injector');
    const dryRuns = admissionLines(injector).filter((l) => l.dryRun).length;
    expect(await kube.apply(owned, ['--dry-run=server'])).toMatchObject({ code: 0 });
    await waitFor('the dry-run admission', async () => (admissionLines(injector).filter((l) => l.dryRun).length > dryRuns ? true : undefined));
    await delay(1_000);
    expect(await ours()).toEqual([]);

    expect(await kube.apply(owned)).toMatchObject({ code: 0 });
    const event = await waitFor('the Event of the real create', async () => (await ours())[0], { timeoutMs: 30_000, intervalMs: 250 });
    expect(event?.involvedObject).toMatchObject({ kind: 'Deployment', name: 'holder' });
  });
});
