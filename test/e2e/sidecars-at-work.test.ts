// The built-in templates at work on a real node: every assertion is on what
// the containers printed (`kubectl logs` through the apiserver and the
// kubelet), on `kubectl exec`, and on pod, container and Job status. The pods
// are the README's walkthrough, examples/local-cluster/*.yaml, applied as a
// user would. The examples asking for one template run twice: injected by the
// webhook, and at the end in policy mode (docs/policy-mode.md), injected by
// the apiserver from the output of `sidecar-injector policy` with the
// webhook's configuration deleted and its process stopped.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { DIST_MAIN, ROOT } from '../support/paths.js';
import { run } from '../support/run-program.js';
import type { ServeProcess } from '../support/serve-process.js';
import { waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { CONFIGURATION_NAME } from './support/injector.js';
import { INJECT_ANNOTATION, uniqueSuffix, type Kube } from './support/kube.js';

jest.setTimeout(180_000);

const BUILT_IN = ['log-collector', 'http-prober', 'http-interceptor', 'egress-logger'];
const BUSYBOX = 'docker.io/library/busybox:1.37';

let env: E2eEnvironment | undefined;
let kube: Kube;
let namespace: string;
let injector: ServeProcess;

async function applyExample(file: string, ns = namespace): Promise<void> {
  const result = await kube.kubectl(['apply', '-n', ns, '-f', `${ROOT}/examples/local-cluster/${file}`]);
  if (result.code !== 0) throw new Error(`kubectl apply -f ${file}: ${result.stderr}`);
}

/** When a container started running (or ran), from the pod's status. */
function startedAt(pod: k8s.V1Pod, container: string): Date {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const state = statuses.find((s) => s.name === container)?.state;
  const at = state?.running?.startedAt ?? state?.terminated?.startedAt;
  if (at === undefined) throw new Error(`${container} has not started: ${JSON.stringify(pod.status)}`);
  return new Date(at);
}

/** The promise's value; a failure's message gets the namespace's Events, which say why pods did not run. */
async function withEvents<T>(ns: string, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await kube.eventSummary(ns)}`);
  }
}

async function waitForJobComplete(ns: string, name: string): Promise<void> {
  await withEvents(ns, waitFor(
    `Job ${ns}/${name} Complete`,
    async () => {
      const job = await kube.batch.readNamespacedJob({ name, namespace: ns });
      if (job.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True')) {
        throw new Error(`Job ${name} failed: ${JSON.stringify(job.status)}`);
      }
      return job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 1000 },
  ));
}

async function jobPod(ns: string, job: string): Promise<k8s.V1Pod> {
  const pods = await kube.core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${job}` });
  const pod = pods.items[0];
  if (pod === undefined) throw new Error(`no pod of Job ${job}`);
  return pod;
}

beforeAll(async () => {
  env = await E2eEnvironment.start({ node: true });
  kube = env.kube;
  injector = await env.startRegisteredInjector({ failurePolicy: 'Fail' });
  namespace = await kube.createNamespace('demo');
  await applyExample('upstream.yaml');
  await kube.waitForPodReady(namespace, 'upstream');
}, 600_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 240_000);

/**
 * The examples that ask for one template, in the namespace `ns()` gives when
 * they run: the same proof in webhook mode and in policy mode.
 */
function singleTemplateExamples(ns: () => string): void {
  describe('log-collector', () => {
    it('prints every line of files created after it started, across a rename rotation and a later file, and writes nothing to its read-only mount', async () => {
      await applyExample('log-collector.yaml', ns());
      const log = await kube.waitForLog(ns(), 'logs-demo', 'log-collector', [
        ...[1, 2, 3].map((i) => `app.log line ${i}\n`),
        ...[4, 5, 6].map((i) => `app.log line ${i} (after rotation)\n`),
        'audit.log line 1 (a file created later)\n',
      ]);
      // Each line once: the rotated app.log.1 is not read again.
      expect(log.match(/app\.log line 2\n/g)).toHaveLength(1);
      expect(log).not.toMatch(/Read-only file system|can't open/);

      const touch = await kube.kubectl(['exec', '-n', ns(), 'logs-demo', '-c', 'log-collector', '--', 'touch', '/var/log/app/x']);
      expect(touch.code).not.toBe(0);
      expect(touch.stderr).toContain('Read-only file system');
      const ls = await kube.kubectl(['exec', '-n', ns(), 'logs-demo', '-c', 'app', '--', 'ls', '/var/log/app']);
      expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['app.log', 'app.log.1', 'audit.log']));
    });
  });

  describe('http-prober', () => {
    it("with the article's values as overrides, calls the application on localhost:7878/ and logs each status; the application prints each call", async () => {
      await applyExample('http-prober.yaml', ns());
      const probes = await kube.waitForLog(ns(), 'prober-demo', 'http-prober', [
        /http-prober GET http:\/\/localhost:7878\/ 200\n[^]*http-prober GET http:\/\/localhost:7878\/ 200\n/,
      ]);
      expect(probes).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ http-prober GET http:\/\/localhost:7878\/ 200$/m);
      await kube.waitForLog(ns(), 'prober-demo', 'app', [/receive a request!\n[^]*receive a request!\n/]);
    });
  });

  describe('http-interceptor', () => {
    it('answers the calls the application makes to localhost:7979 and logs one line per request; with an upstream it forwards and relays', async () => {
      await applyExample('http-interceptor.yaml', ns());
      const own = await kube.waitForLog(ns(), 'interceptor-demo', 'app', [/app got: .*GET \/hello/]);
      expect(own).not.toMatch(/can't connect|error/i);
      await kube.waitForLog(ns(), 'interceptor-demo', 'http-interceptor', [/ http-interceptor GET \/hello 200 [\d.]+ms/]);

      await kube.waitForLog(ns(), 'interceptor-upstream-demo', 'app', ['app got: hello from upstream\n']);
      const forwarded = await kube.waitForLog(ns(), 'interceptor-upstream-demo', 'http-interceptor', [
        /http-interceptor GET \/hello 200 [\d.]+ms.*upstream=http:\/\/10\.0\.0\.80/,
      ]);
      expect(forwarded).not.toMatch(/ 502 /);
    });
  });

  describe('egress-logger', () => {
    it('the pod becomes Ready; the application calls through the proxy from its first request on, and each call is logged', async () => {
      await applyExample('egress-logger.yaml', ns());
      const pod = await kube.waitForPodReady(ns(), 'egress-demo');
      const app = await kube.waitForLog(ns(), 'egress-demo', 'app', ['app got: hello from upstream\n']);
      // The first call already succeeded: the kubelet started the application
      // only once the proxy's startup probe had passed.
      expect(app.split('\n')[0]).toBe('app got: hello from upstream');
      expect(startedAt(pod, 'egress-logger').getTime()).toBeLessThanOrEqual(startedAt(pod, 'app').getTime());
      await kube.waitForLog(ns(), 'egress-demo', 'egress-logger', [/ egress-logger GET http:\/\/10\.0\.0\.80\/hello 200 [\d.]+ms/]);

      const envs = await kube.kubectl(['exec', '-n', ns(), 'egress-demo', '-c', 'app', '--', 'env']);
      for (const name of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY']) {
        expect(envs.stdout).toMatch(new RegExp(`^${name}=`, 'm'));
      }
    });
  });
}

singleTemplateExamples(() => namespace);

describe('Jobs and CronJobs', () => {
  it('a Job asking for every built-in template completes; the proxies were up before the application, and its last log line was collected', async () => {
    await applyExample('job.yaml');
    await waitForJobComplete(namespace, 'batch-demo');
    const pod = await jobPod(namespace, 'batch-demo');
    expect(pod.status?.phase).toBe('Succeeded');
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(expect.arrayContaining(BUILT_IN));
    for (const proxy of ['http-interceptor', 'egress-logger']) {
      expect(startedAt(pod, proxy).getTime()).toBeLessThanOrEqual(startedAt(pod, 'app').getTime());
    }
    const name = pod.metadata?.name as string;
    const app = await kube.logs(namespace, name, 'app');
    expect(app).toMatch(/^interceptor: .*GET \/batch/m);
    expect(app).toContain('upstream via proxy: hello from upstream');
    expect(await kube.logs(namespace, name, 'log-collector')).toContain('batch finished');
  });

  it("a CronJob's Jobs complete too", async () => {
    const labels = { app: `cron-${uniqueSuffix()}` };
    await kube.mustApply({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly', namespace },
      spec: {
        schedule: '0 3 * * *',
        suspend: true,
        jobTemplate: {
          spec: {
            backoffLimit: 0,
            template: {
              metadata: { labels, annotations: { [INJECT_ANNOTATION]: BUILT_IN.join(',') } },
              spec: {
                restartPolicy: 'OnFailure',
                containers: [{ name: 'app', image: BUSYBOX, command: ['sh', '-c', 'wget -q -O - http://10.0.0.80/hello'] }],
              },
            },
          },
        },
      },
    });
    const created = await kube.kubectl(['create', 'job', '-n', namespace, 'nightly-now', '--from=cronjob/nightly']);
    expect(created).toMatchObject({ code: 0 });
    await waitForJobComplete(namespace, 'nightly-now');
    const pod = await jobPod(namespace, 'nightly-now');
    expect(await kube.logs(namespace, pod.metadata?.name as string, 'app')).toContain('hello from upstream');
  });
});

/** An application container that passes Pod Security restricted on its own (the pod sets nothing). */
function restrictedApp(command: string): Record<string, unknown> {
  return {
    name: 'app',
    image: BUSYBOX,
    command: ['sh', '-c', command],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

describe('Pod Security restricted', () => {
  it('a namespace enforcing restricted admits and runs a pod with each built-in template', async () => {
    const restricted = await kube.createNamespace('restricted', {
      labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' },
    });
    for (const template of BUILT_IN) {
      const result = await kube.apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: template, namespace: restricted, annotations: { [INJECT_ANNOTATION]: template } },
        spec: { containers: [restrictedApp('sleep 3600')] },
      });
      expect({ template, ...result }).toMatchObject({ template, code: 0 });
    }
    for (const template of BUILT_IN) {
      const pod = await kube.waitForPodReady(restricted, template);
      expect(pod.spec?.initContainers?.map((c) => c.name)).toContain(template);
    }
  });
});

describe('a Deployment', () => {
  it('of 3 replicas asking for every built-in template: every pod Running and Ready', async () => {
    const labels = { app: `all-${uniqueSuffix()}` };
    await kube.mustApply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'all-sidecars', namespace },
      spec: {
        replicas: 3,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { [INJECT_ANNOTATION]: BUILT_IN.join(',') } },
          spec: { containers: [{ name: 'app', image: BUSYBOX, command: ['httpd', '-f', '-p', '8080', '-h', '/tmp'] }] },
        },
      },
    });
    await withEvents(namespace, waitFor(
      'Deployment all-sidecars: 3 available replicas',
      async () => {
        const deployment = await kube.apps.readNamespacedDeployment({ name: 'all-sidecars', namespace });
        return deployment.status?.availableReplicas === 3 ? true : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 1000 },
    ));
    const pods = (await kube.core.listNamespacedPod({ namespace, labelSelector: `app=${labels.app}` })).items;
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.status?.phase).toBe('Running');
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(pod.status?.initContainerStatuses?.map((s) => [s.name, s.started])).toEqual(
        expect.arrayContaining(BUILT_IN.map((name) => [name, true])),
      );
    }
  });
});

describe('policy mode: no webhook on the admission path', () => {
  let policyNamespace: string;

  beforeAll(async () => {
    // The webhook leaves the admission path entirely: configuration deleted, process stopped.
    expect(await kube.kubectl(['delete', 'mutatingwebhookconfiguration', CONFIGURATION_NAME])).toMatchObject({ code: 0 });
    process.kill(injector.pid, 'SIGTERM');
    expect(await injector.waitForExit(30_000)).toMatchObject({ code: 0 });
    const compiled = await run('node', [DIST_MAIN, 'policy', '--templates-dir', injector.templatesDir]);
    expect(compiled).toMatchObject({ code: 0, stderr: '' });
    expect(await kube.kubectl(['apply', '-f', '-'], { input: compiled.stdout })).toMatchObject({ code: 0 });
    policyNamespace = await kube.createNamespace('policy-demo');
    // The apiserver picks policies up through an informer: wait until a dry run is injected.
    const probe = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace: policyNamespace, annotations: { [INJECT_ANNOTATION]: 'log-collector' } }, spec: { containers: [{ name: 'app', image: BUSYBOX }] } };
    await waitFor('the policies to inject', async () => {
      const dryRun = await kube.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(probe) });
      return dryRun.code === 0 && dryRun.stdout.includes('"name": "log-collector"') ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
  }, 120_000);

  singleTemplateExamples(() => policyNamespace);
});
