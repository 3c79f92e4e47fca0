// The webhook under test as the apiserver sees it: the built `serve` process
// (test/support/serve-process.ts) watching namespaces through the control
// plane's kubeconfig, registered with the chart's MutatingWebhookConfiguration.
import type * as k8s from '@kubernetes/client-node';
import { startServeProcess, type ServeOptions, type ServeProcess } from '../../support/serve-process.js';
import type { TempDirs } from '../../support/temp.js';
import { waitFor } from '../../support/wait.js';
import { INJECT_ANNOTATION, podManifest, uniqueSuffix, type Kube } from './kube.js';
import { webhookConfiguration, type WebhookOptions } from './webhook-configuration.js';

export const CONFIGURATION_NAME = 'sidecar-injector';

/** The webhook, reading namespaces through the control plane. */
export function startInjector(
  temps: TempDirs,
  kubeconfigPath: string,
  extraFlags: string[] = [],
  options: ServeOptions = {},
): Promise<ServeProcess> {
  return startServeProcess(temps, ['--kubeconfig', kubeconfigPath, ...extraFlags], options);
}

export function mutateUrl(port: number): string {
  return `https://127.0.0.1:${port}/mutate`;
}

/** Registers (or replaces) the chart's configuration pointing at `url`. */
export async function registerWebhook(kube: Kube, options: WebhookOptions): Promise<void> {
  await kube.mustApply(webhookConfiguration({ name: CONFIGURATION_NAME, ...options }));
}

export interface AdmissionLogLine {
  uid: string;
  namespace: string;
  pod?: string;
  operation: string;
  dryRun: boolean;
  outcome: string;
  reason?: string;
  templates?: string[];
  /** Templates whose mounts and env went into containers added after the injection. */
  completed?: string[];
  problems?: string[];
  problemDetails?: string[];
  msg: string;
}

/** The process's `"msg":"admission"` log lines so far (stdout JSON lines). */
export function admissionLines(serve: ServeProcess): AdmissionLogLine[] {
  const lines: AdmissionLogLine[] = [];
  for (const text of serve.output().split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      const line = JSON.parse(text) as AdmissionLogLine;
      if (line.msg === 'admission') lines.push(line);
    } catch {
      // a partial line still being written
    }
  }
  return lines;
}

/** Admission log lines about one pod (by name, or generateName for controller-made pods). */
export function admissionsFor(serve: ServeProcess, namespace: string, pod: string): AdmissionLogLine[] {
  return admissionLines(serve).filter((l) => l.namespace === namespace && l.pod === pod);
}

/**
 * Waits until the apiserver's webhook configuration has caught up and calls
 * `serve`: repeatedly server-side dry-runs a pod asking for log-collector in
 * `namespace` until `serve` logs an admission for it. (The apiserver applies
 * configuration changes through an informer, a moment after the write.)
 */
export async function waitUntilCalled(kube: Kube, serve: ServeProcess, namespace: string): Promise<void> {
  const name = `probe-${uniqueSuffix()}`;
  const probe = podManifest({ name, namespace, annotations: { [INJECT_ANNOTATION]: 'log-collector' } });
  await waitFor(
    `the apiserver to call the webhook on port ${serve.port}`,
    async () => {
      await kube.apply(probe, ['--dry-run=server']);
      return admissionsFor(serve, namespace, name).length > 0 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

/** The stored pod's admission story, for failure messages. */
export function describePod(pod: k8s.V1Pod): string {
  return JSON.stringify({ metadata: pod.metadata, spec: pod.spec }, null, 1);
}
