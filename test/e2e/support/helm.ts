// Helm on the e2e control plane: the chart's objects server-side dry-run
// against the real kube-apiserver, and releases installed with the
// out-of-cluster webhook.url override pointing at a local `serve` process.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../support/paths.js';
import { CHART_DIR, helm, parseObjects, type K8sObject, type RunResult } from '../../chart/support/helm.js';
import type { TempDirs } from '../../support/temp.js';
import type { Kube } from './kube.js';

/**
 * Minimal CRDs for the kinds the chart uses that a bare control plane lacks
 * (cert-manager Issuer/Certificate, prometheus-operator ServiceMonitor): the
 * apiserver then checks those objects' envelope but not their spec.
 */
export async function installStandInCrds(kube: Kube): Promise<void> {
  const dir = join(ROOT, 'test', 'chart', 'crds');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    const result = await kube.kubectl(['apply', '-f', '-'], { input: readFileSync(join(dir, file), 'utf8') });
    if (result.code !== 0) throw new Error(`applying ${file} failed: ${result.stderr}`);
  }
  const established = await kube.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  if (established.code !== 0) throw new Error(`CRDs not established: ${established.stderr}`);
}

/** `helm ...args` against the control plane; a non-zero exit is an error. */
export async function mustHelm(kube: Kube, args: readonly string[]): Promise<RunResult> {
  const result = await helm(args, { kubeconfig: kube.kubeconfigPath, timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${result.code}): ${result.stderr}`);
  return result;
}

export function installArgs(release: string, namespace: string, set: readonly string[]): string[] {
  // --wait=false: there is no kubelet, so the Deployment's pods never become ready.
  return ['install', release, CHART_DIR, '--namespace', namespace, ...set.flatMap((s) => ['--set', s])];
}

/** The `helm test` Pod of a release, as stored by helm (`helm get hooks`). */
export async function testHookPod(kube: Kube, release: string, namespace: string): Promise<K8sObject> {
  const hooks = parseObjects((await mustHelm(kube, ['get', 'hooks', release, '--namespace', namespace])).stdout);
  const pod = hooks.find((o) => o.kind === 'Pod' && o.metadata.annotations?.['helm.sh/hook'] === 'test');
  if (!pod) throw new Error(`release ${release} has no helm test Pod`);
  return pod;
}

/**
 * A kubeconfig that authenticates as a ServiceAccount (a TokenRequest token,
 * as a pod's projected token would be), for running the webhook locally with
 * exactly the chart's RBAC.
 */
export async function serviceAccountKubeconfig(kube: Kube, temps: TempDirs, namespace: string, serviceAccount: string): Promise<string> {
  const token = await kube.kubectl(['create', 'token', serviceAccount, '--namespace', namespace, '--duration=1h']);
  if (token.code !== 0) throw new Error(`kubectl create token failed: ${token.stderr}`);
  const cluster = kube.config.getCurrentCluster();
  if (cluster === null) throw new Error('the control plane kubeconfig has no cluster');
  const caData = cluster.caData ?? (cluster.caFile === undefined ? undefined : readFileSync(cluster.caFile).toString('base64'));
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server: cluster.server, 'certificate-authority-data': caData } }],
    users: [{ name: serviceAccount, user: { token: token.stdout.trim() } }],
    contexts: [{ name: 'sa', context: { cluster: 'e2e', user: serviceAccount } }],
    'current-context': 'sa',
  };
  const path = join(await temps.make('sa-kubeconfig'), 'kubeconfig');
  writeFileSync(path, JSON.stringify(config), { mode: 0o600 });
  return path;
}
