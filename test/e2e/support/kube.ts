// kubectl and client-node wrappers for the e2e scenarios. Everything is
// asynchronous (a blocked event loop would starve webhook servers running in
// the test process), and every child process is killed by PID on timeout.
import { run, type RunResult } from '../../support/run-program.js';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../support/wait.js';
import { INJECTION_LABEL } from './webhook-configuration.js';

export const INJECT_ANNOTATION = 'sidecar.example/inject';
export const STATUS_ANNOTATION = 'sidecar.example/status';

/** The annotations of a pod that asks for these templates. */
export const asked = (templates: string): Record<string, string> => ({ [INJECT_ANNOTATION]: templates });
export const SA_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The image of every application container in these tests; nothing runs (no kubelet). */
export const APP_IMAGE = 'registry.example/app:1.0';

export type KubectlResult = RunResult;

/** A short random suffix for namespace and object names. */
export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex');
}

export class Kube {
  readonly config: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly batch: k8s.BatchV1Api;
  readonly admissionRegistration: k8s.AdmissionregistrationV1Api;

  constructor(readonly kubeconfigPath: string) {
    this.config = new k8s.KubeConfig();
    this.config.loadFromFile(kubeconfigPath);
    this.core = this.config.makeApiClient(k8s.CoreV1Api);
    this.apps = this.config.makeApiClient(k8s.AppsV1Api);
    this.batch = this.config.makeApiClient(k8s.BatchV1Api);
    this.admissionRegistration = this.config.makeApiClient(k8s.AdmissionregistrationV1Api);
  }

  /** `kubectl --kubeconfig <cp> ...args`, stdin from `input`; never throws on a non-zero exit. */
  kubectl(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
    return run('kubectl', ['--kubeconfig', this.kubeconfigPath, ...args], options);
  }

  /** `kubectl apply -f -` of one object given as JSON; never throws on a non-zero exit. */
  apply(object: unknown, extraArgs: readonly string[] = []): Promise<KubectlResult> {
    return this.kubectl(['apply', '-f', '-', ...extraArgs], { input: JSON.stringify(object) });
  }

  /** Like `apply`, but a non-zero exit is an error (for setup steps). */
  async mustApply(object: unknown, extraArgs: readonly string[] = []): Promise<KubectlResult> {
    const result = await this.apply(object, extraArgs);
    if (result.code !== 0) throw new Error(`kubectl apply failed (exit ${result.code}): ${result.stderr}\nobject: ${JSON.stringify(object)}`);
    return result;
  }

  /**
   * A new namespace with the given labels/annotations, once its "default"
   * ServiceAccount exists (the ServiceAccount admission plugin refuses pods
   * before the serviceaccount controller has created it).
   */
  async createNamespace(
    prefix: string,
    meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
  ): Promise<string> {
    const name = `${prefix}-${uniqueSuffix()}`;
    await this.core.createNamespace({ body: { metadata: { name, labels: meta.labels, annotations: meta.annotations } } });
    await waitFor(
      `ServiceAccount ${name}/default`,
      async () => ((await this.core.readNamespacedServiceAccount({ name: 'default', namespace: name })) ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    return name;
  }

  /** A namespace opted in to automatic injection (`sidecar.example/injection=enabled`). */
  createOptedInNamespace(prefix: string, defaultTemplates?: string): Promise<string> {
    return this.createNamespace(prefix, {
      labels: { [INJECTION_LABEL]: 'enabled' },
      annotations: defaultTemplates === undefined ? undefined : { [INJECT_ANNOTATION]: defaultTemplates },
    });
  }

  readPod(namespace: string, name: string): Promise<k8s.V1Pod> {
    return this.core.readNamespacedPod({ name, namespace });
  }

  /** Whether the pod exists (a 404 is "no"; any other error is thrown). */
  async podExists(namespace: string, name: string): Promise<boolean> {
    try {
      await this.core.readNamespacedPod({ name, namespace });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Polls until a pod matching the label selector exists (controllers create them asynchronously). */
  waitForPod(namespace: string, labelSelector: string, timeoutMs = 60_000): Promise<k8s.V1Pod> {
    return waitFor(
      `a pod with ${labelSelector} in ${namespace}`,
      async () => (await this.core.listNamespacedPod({ namespace, labelSelector })).items[0],
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** A container's log through the apiserver and the kubelet (`kubectl logs`); '' while it has none. */
  async logs(namespace: string, pod: string, container: string): Promise<string> {
    const result = await this.kubectl(['logs', '-n', namespace, pod, '-c', container]);
    return result.code === 0 ? result.stdout : '';
  }

  /**
   * Polls a container's log until every pattern matches it (a string must
   * occur, a RegExp must match); returns the log. On timeout the error shows
   * the log as it was.
   */
  async waitForLog(
    namespace: string,
    pod: string,
    container: string,
    patterns: ReadonlyArray<string | RegExp>,
    timeoutMs = 90_000,
  ): Promise<string> {
    let last = '';
    const matches = (log: string) => patterns.every((p) => (typeof p === 'string' ? log.includes(p) : p.test(log)));
    try {
      return await waitFor(
        `${namespace}/${pod} -c ${container} to log ${patterns.map(String).join(', ')}`,
        async () => {
          last = await this.logs(namespace, pod, container);
          return matches(last) ? last : undefined;
        },
        { timeoutMs, intervalMs: 1000 },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}
--- its log so far ---
${last}
--- events ---
${await this.eventSummary(namespace)}`);
    }
  }

  /** Polls until the pod's Ready condition is True (all its containers, native sidecars included, are ready). */
  async waitForPodReady(namespace: string, name: string, timeoutMs = 90_000): Promise<k8s.V1Pod> {
    let last: k8s.V1Pod | undefined;
    try {
      return await waitFor(
        `pod ${namespace}/${name} Ready`,
        async () => {
          last = await this.readPod(namespace, name);
          return last.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? last : undefined;
        },
        { timeoutMs, intervalMs: 500 },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}
status: ${JSON.stringify(last?.status)}
--- events ---
${await this.eventSummary(namespace)}`);
    }
  }

  /** Recent Events of the namespace as "reason: message" lines, for failure messages. */
  async eventSummary(namespace: string): Promise<string> {
    const events = await this.core.listNamespacedEvent({ namespace });
    return events.items.map((e) => `${e.involvedObject?.kind}/${e.involvedObject?.name} ${e.reason}: ${e.message}`).join('\n');
  }
}

export function isNotFound(error: unknown): boolean {
  return (error as { code?: number }).code === 404;
}

// ---- pods as plain objects -----------------------------------------------------

export interface PodOptions {
  name: string;
  namespace: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  initContainers?: Array<Record<string, unknown>>;
}

/** A minimal Pod manifest with one application container `app`. */
export function podManifest(options: PodOptions): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: options.name, namespace: options.namespace, labels: options.labels, annotations: options.annotations },
    spec: {
      ...(options.initContainers ? { initContainers: options.initContainers } : {}),
      containers: [{ name: 'app', image: APP_IMAGE, ports: [{ containerPort: 8080 }] }],
    },
  };
}

/** The pod template of a workload (Deployment, Job): labels and the inject annotation. */
export function podTemplate(labels: Record<string, string>, annotations: Record<string, string>, restartPolicy?: string) {
  return {
    metadata: { labels, annotations },
    spec: {
      ...(restartPolicy ? { restartPolicy } : {}),
      containers: [{ name: 'app', image: APP_IMAGE }],
    },
  };
}

export const containerNames = (pod: k8s.V1Pod): string[] => (pod.spec?.containers ?? []).map((c) => c.name);
export const initContainerNames = (pod: k8s.V1Pod): string[] => (pod.spec?.initContainers ?? []).map((c) => c.name);
export const volumeNames = (pod: k8s.V1Pod): string[] => (pod.spec?.volumes ?? []).map((v) => v.name);

/** How often each name occurs, e.g. { app: 1, 'log-collector': 1 }. */
export function countNames(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

export function container(pod: k8s.V1Pod, name: string): k8s.V1Container | undefined {
  return [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === name);
}

export function mountPaths(c: k8s.V1Container | undefined): string[] {
  return (c?.volumeMounts ?? []).map((m) => m.mountPath);
}

export function envValue(c: k8s.V1Container | undefined, name: string): string | undefined {
  return c?.env?.find((e) => e.name === name)?.value;
}

export interface StatusRecord {
  templates: Array<{ name: string; version?: string }>;
  [key: string]: unknown;
}

/** The parsed `sidecar.example/status` annotation, or undefined when absent. */
export function injectionStatus(pod: { metadata?: { annotations?: Record<string, string> } }): StatusRecord | undefined {
  const raw = pod.metadata?.annotations?.[STATUS_ANNOTATION];
  return raw === undefined ? undefined : (JSON.parse(raw) as StatusRecord);
}
