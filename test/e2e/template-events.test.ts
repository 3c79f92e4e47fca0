// A templates directory that turns invalid after start is told as a Warning
// Event on the webhook's own Pod, read back from the apiserver. The process
// runs as the chart's ServiceAccount with the chart's RBAC, and gets the Pod
// identity the way the chart's Deployment gives it (POD_NAME, POD_NAMESPACE,
// POD_UID from the downward API, resolved here against a real Pod object the
// test creates). Control plane only: the Pod stays Pending; the webhook is not
// registered (no admission is needed).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findObject, parseObjects, renderChart } from '../chart/support/helm.js';
import { send } from '../support/http.js';
import type { ServeProcess } from '../support/serve-process.js';
import { waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { serviceAccountKubeconfig } from './support/helm.js';
import { podManifest, type Kube } from './support/kube.js';
import { metricValue } from './support/metrics.js';

jest.setTimeout(90_000);

let env: E2eEnvironment | undefined;
let kube: Kube;
let webhook: ServeProcess;
let namespace: string;
let pod: k8s.V1Pod;

const FAILED_RELOADS = 'sidecar_injector_template_reloads_total{result="failure"}';

/** The chart's env of the webhook container, each fieldRef resolved against `pod`. */
function downwardApiEnv(env: Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>, of: k8s.V1Pod): Record<string, string> {
  const fields: Record<string, string | undefined> = { 'metadata.name': of.metadata?.name, 'metadata.namespace': of.metadata?.namespace, 'metadata.uid': of.metadata?.uid };
  const resolved: Record<string, string> = {};
  for (const variable of env) {
    const path = variable.valueFrom?.fieldRef?.fieldPath;
    if (path !== undefined) resolved[variable.name] = fields[path] ?? '';
  }
  return resolved;
}

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  namespace = await kube.createNamespace('injector');
  const objects = parseObjects(
    await renderChart({
      release: 'si',
      namespace,
      set: ['certificates.mode=provided', 'certificates.provided.secretName=unused', `certificates.provided.caBundle=${Buffer.from('unused').toString('base64')}`, 'config.clusterTemplates=false'],
    }),
  );
  const rbac = objects.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind) && o.metadata.annotations?.['helm.sh/hook'] === undefined);
  for (const object of rbac) await kube.mustApply(object);
  const deployment = findObject(objects, 'Deployment');
  const container = (deployment['spec'] as { template: { spec: { containers: Array<{ env: Parameters<typeof downwardApiEnv>[0] }> } } }).template.spec.containers[0];

  pod = await kube.core.createNamespacedPod({ namespace, body: podManifest({ name: 'si-sidecar-injector-0', namespace }) as k8s.V1Pod });
  const identity = downwardApiEnv(container?.env ?? [], pod);
  expect(Object.keys(identity).sort()).toEqual(['POD_NAME', 'POD_NAMESPACE', 'POD_UID']);

  const serviceAccount = await serviceAccountKubeconfig(kube, env.temps, namespace, 'si-sidecar-injector');
  webhook = await env.startInjector(['--kubeconfig', serviceAccount, '--cluster-templates=false', '--shutdown-delay=0'], { env: identity });
  await waitFor('the webhook to be ready', async () => ((await send(webhook, { path: '/readyz' })).status === 200 ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
}, 180_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

/** The Events whose involvedObject is the test's Pod (by UID). */
async function podEvents(): Promise<k8s.CoreV1Event[]> {
  return (await kube.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.uid=${pod.metadata?.uid}` })).items;
}

/** Writes the file and waits until the webhook has read it again (and failed). */
async function breakAndWait(file: string, text: string): Promise<void> {
  const before = await metricValue(webhook, FAILED_RELOADS);
  await writeFile(file, text);
  await waitFor('a failed reload', async () => ((await metricValue(webhook, FAILED_RELOADS)) > before ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
}

describe('template Events on the webhook Pod (control plane)', () => {
  it('a directory broken after start: one Warning TemplatesInvalid on the Pod naming file, template and field; a Normal TemplatesLoaded when fixed', async () => {
    const file = join(webhook.templatesDir, 'log-collector.yaml');
    const good = await readFile(file, 'utf8');
    const noImage = good.replace(/^( {6})image: /m, '$1imageRef: ');
    expect(noImage).not.toBe(good);

    await breakAndWait(file, noImage);
    const [invalid] = await waitFor('the TemplatesInvalid Event', async () => {
      const events = await podEvents();
      return events.length > 0 ? events : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(invalid).toMatchObject({
      type: 'Warning',
      reason: 'TemplatesInvalid',
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, namespace, uid: pod.metadata?.uid },
      source: { component: 'sidecar-injector' },
    });
    expect(invalid?.message).toContain(`${file}: template "log-collector": spec.containers[0].image: is required`);
    expect(invalid?.message).toContain('the last good set (revision ');
    // Still ready: the last good set serves, and /readyz says the same problem.
    const readiness = await send(webhook, { path: '/readyz' });
    expect(readiness.status).toBe(200);
    expect(readiness.body).toContain('spec.containers[0].image: is required');

    // The same broken state read again: no second Event.
    await breakAndWait(file, `${noImage}\n`);
    await writeFile(file, good);
    const events = await waitFor('the TemplatesLoaded Event', async () => {
      const all = await podEvents();
      return all.some((e) => e.reason === 'TemplatesLoaded') ? all : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    // Timestamps have a resolution of one second: the order is the integration test's to prove (template-events.test.ts).
    expect(events.map((e) => `${e.type} ${e.reason}`).sort()).toEqual(['Normal TemplatesLoaded', 'Warning TemplatesInvalid']);
    expect(await metricValue(webhook, 'sidecar_injector_events_total{reason="TemplatesInvalid",result="created"}')).toBe(1);
  });
});
