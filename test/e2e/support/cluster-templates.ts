// SidecarTemplate resources for the e2e suite: the CRD from deploy/crds, the
// resources as plain objects, and their stored status.
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { ROOT } from '../../support/paths.js';
import { waitFor } from '../../support/wait.js';
import { containerNames, INJECT_ANNOTATION, podManifest, uniqueSuffix, type Kube } from './kube.js';

export const CRD_FILE = join(ROOT, 'deploy', 'crds', 'sidecartemplates.yaml');
export const CRD_NAME = 'sidecartemplates.sidecar.example';

/** `kubectl apply -f deploy/crds/sidecartemplates.yaml`, then waits until the apiserver serves the kind. */
export async function installCrd(kube: Kube): Promise<void> {
  const applied = await kube.kubectl(['apply', '-f', CRD_FILE]);
  if (applied.code !== 0) throw new Error(`CRD not applied: ${applied.stderr}`);
  // Not `kubectl wait`: it fails at once while the new CRD has no status yet.
  await waitFor(
    `CRD ${CRD_NAME} to be Established`,
    async () => {
      const got = await kube.kubectl(['get', `crd/${CRD_NAME}`, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
      return got.code === 0 && got.stdout === 'True' ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

export function sidecarTemplate(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'sidecar.example/v1alpha1', kind: 'SidecarTemplate', metadata: { name }, spec };
}

export interface StoredTemplate {
  metadata: { name: string; generation: number };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    activeVersion?: string;
    activeGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string; observedGeneration: number }>;
  };
}

export async function readTemplate(kube: Kube, name: string): Promise<StoredTemplate> {
  const result = await kube.kubectl(['get', 'sidecartemplate', name, '-o', 'json']);
  if (result.code !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout) as StoredTemplate;
}

/** Waits until the resource's Valid condition is `status` for its current generation; returns the stored object. */
export function waitForValid(kube: Kube, name: string, status: 'True' | 'False', timeoutMs = 20_000): Promise<StoredTemplate> {
  return waitFor(
    `SidecarTemplate ${name} to be Valid=${status} for its current generation`,
    async () => {
      const stored = await readTemplate(kube, name);
      const valid = stored.status?.conditions?.find((c) => c.type === 'Valid');
      return valid?.status === status && valid.observedGeneration === stored.metadata.generation ? stored : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/**
 * Server-side dry-runs a pod asking for `template` until `accept` says the
 * injected pod is the expected one; returns the milliseconds it took (how
 * long a change takes to be in force).
 */
export async function waitForInjection(kube: Kube, namespace: string, template: string, accept: (pod: k8s.V1Pod) => boolean, timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  const probe = podManifest({ name: `probe-${uniqueSuffix()}`, namespace, annotations: { [INJECT_ANNOTATION]: template } });
  await waitFor(
    `pods asking for ${template} to be injected as expected`,
    async () => {
      const dry = await kube.apply(probe, ['--dry-run=server', '-o', 'json']);
      return dry.code === 0 && accept(JSON.parse(dry.stdout) as k8s.V1Pod) ? true : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
  return Date.now() - started;
}

export const hasContainer = (name: string) => (pod: k8s.V1Pod) => containerNames(pod).includes(name);

/** The `kubectl get` table as one record per row, keyed by header (cells are aligned at the header's columns). */
export function table(stdout: string): Array<Record<string, string>> {
  const [header = '', ...rows] = stdout.trimEnd().split('\n');
  const starts = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index }));
  return rows.map((row) =>
    Object.fromEntries(starts.map(({ name, at }, i) => [name, row.slice(at, starts[i + 1]?.at ?? row.length).trim()])),
  );
}
