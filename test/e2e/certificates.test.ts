// Self-managed certificates (--cert-mode=self-managed) on the real apiserver:
// two webhook processes agree on one CA and certificate through their Secret
// and fill the caBundle of the webhook configuration the apiserver trusts;
// with lifetimes of seconds, the certificate and the CA rotate while pods are
// created without pause, and not one admission fails.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { freePort } from '../support/http.js';
import type { ServeProcess } from '../support/serve-process.js';
import { delay, waitFor } from '../support/wait.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import { admissionLines, mutateUrl, waitUntilCalled } from './support/injector.js';
import { containerNames, initContainerNames, INJECT_ANNOTATION, podManifest, uniqueSuffix, type Kube } from './support/kube.js';
import { caBundles, readCertificateSecret, servedFingerprint, type CertificateSecret } from './support/self-managed.js';
import { webhookConfiguration } from './support/webhook-configuration.js';

jest.setTimeout(150_000);

let env: E2eEnvironment | undefined;
let kube: Kube;
/** The webhook's own namespace, where its Secret lives. */
let home: string;

beforeAll(async () => {
  env = await E2eEnvironment.start();
  kube = env.kube;
  home = await kube.createNamespace('injector');
}, 180_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 60_000);

/**
 * The chart's configuration with an empty caBundle (the webhook fills it):
 * the namespace-selected webhook calls `ports[1]`, the others `ports[0]`, so
 * both processes answer admissions.
 */
async function registerUnfilled(name: string, ports: [number, number]): Promise<void> {
  const configuration = webhookConfiguration({ name, url: mutateUrl(ports[0]), caBundlePem: '', ownNamespace: home }) as {
    webhooks: Array<{ name: string; clientConfig: { url: string } }>;
  };
  for (const webhook of configuration.webhooks) {
    webhook.clientConfig = { ...webhook.clientConfig, url: mutateUrl(webhook.name === 'namespace.sidecar.example' ? ports[1] : ports[0]) };
  }
  await kube.mustApply(configuration);
}

/** Two self-managed processes on one Secret and configuration, started at the same moment. */
async function startPair(name: string, extraFlags: string[] = []): Promise<[ServeProcess, ServeProcess]> {
  const e = env as E2eEnvironment;
  const ports: [number, number] = [await freePort(), await freePort()];
  await registerUnfilled(name, ports);
  const flags = ['--cert-mode', 'self-managed', '--namespace', home, '--cert-secret', name, '--webhook-configuration', name, '--cert-hosts', '127.0.0.1,localhost'];
  const [a, b] = await Promise.all(ports.map((port) => e.startInjector([...flags, ...extraFlags], { port, selfManagedCertificates: true })));
  return [a as ServeProcess, b as ServeProcess];
}

/** Waits until both processes serve the Secret's certificate and every caBundle holds exactly its bundle. */
async function waitUntilAgreed(name: string, serves: ServeProcess[]): Promise<CertificateSecret> {
  return waitFor(
    `both processes to serve the certificate of Secret ${name} and its CA bundle to be published`,
    async () => {
      const secret = await readCertificateSecret(kube, home, name);
      const served = await Promise.all(serves.map((s) => servedFingerprint(s.port)));
      const bundles = Object.values(await caBundles(kube, name));
      const agreed = served.every((f) => f === secret.leaf) && bundles.every((b) => b.join() === secret.bundle.join());
      return agreed ? secret : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

const podAsking = (namespace: string, name: string) => podManifest({ name, namespace, annotations: { [INJECT_ANNOTATION]: 'log-collector' } });
const podOf = (namespace: string, name: string) => podManifest({ name, namespace });

describe('self-managed certificates', () => {
  it('two processes share one CA and certificate from their Secret, fill every caBundle, and the apiserver trusts it', async () => {
    const name = `certs-${uniqueSuffix()}`;
    const [a, b] = await startPair(name);
    const secret = await waitUntilAgreed(name, [a, b]);
    // One write: the process that lost the race for the create adopted the other's certificates.
    expect(secret.revision).toBe(1);
    expect(secret.bundle).toEqual([secret.ca]);
    const bundles = await caBundles(kube, name);
    expect(Object.keys(bundles).length).toBeGreaterThanOrEqual(2);
    for (const bundle of Object.values(bundles)) expect(bundle).toEqual([secret.ca]);

    const plain = await kube.createNamespace('asks');
    const optedIn = await kube.createOptedInNamespace('opted', 'log-collector');
    await waitUntilCalled(kube, a, plain);
    const asked = await kube.core.createNamespacedPod({ namespace: plain, body: podAsking(plain, 'web') as V1Pod });
    const byNamespace = await kube.core.createNamespacedPod({ namespace: optedIn, body: podOf(optedIn, 'web') as V1Pod });
    // log-collector is a native sidecar: an init container next to the app container.
    for (const pod of [asked, byNamespace]) {
      expect(containerNames(pod)).toEqual(['app']);
      expect(initContainerNames(pod)).toEqual(['log-collector']);
    }
    // Each process answered one of them (log lines are written in batches, hence the wait).
    for (const [serve, namespace] of [[a, plain], [b, optedIn]] as const) {
      await waitFor(`port ${serve.port} to log the admission of ${namespace}/web`, () =>
        admissionLines(serve).some((l) => l.namespace === namespace && l.pod === 'web' && l.outcome === 'injected') ? true : undefined,
      );
    }

    await kube.kubectl(['delete', 'mutatingwebhookconfiguration', name, '--ignore-not-found']);
    await Promise.all([a.kill(), b.kill()]);
  });

  it('renews the certificate and rolls the CA over while pods are created without pause; every pod is admitted and injected', async () => {
    const name = `rotating-${uniqueSuffix()}`;
    // Leaf 20 s (renewed with 6.7 s left), CA 48 s (next CA published with 16 s left, signing 6 s after that).
    const [a, b] = await startPair(name, ['--cert-validity', '20', '--ca-validity', '48', '--ca-overlap', '6', '--cert-check-interval', '1']);
    const first = await waitUntilAgreed(name, [a, b]);
    const plain = await kube.createNamespace('load');
    const optedIn = await kube.createOptedInNamespace('load-opted', 'log-collector');
    await waitUntilCalled(kube, a, plain);
    await waitUntilCalled(kube, b, optedIn);

    const failures: string[] = [];
    const notInjected: string[] = [];
    const leaves = new Set<string>([first.leaf]);
    const cas = new Set<string>([first.ca]);
    let created = 0;
    const started = Date.now();
    let last = first;
    // Until the first CA has left the bundle: a leaf renewal, the rollover's start and finish, and the old CA's expiry.
    while (!(last.bundle.length === 1 && last.ca !== first.ca) && Date.now() - started < 90_000) {
      const tick = Date.now();
      const namespace = created % 2 === 0 ? plain : optedIn;
      const podName = `p-${created}`;
      try {
        const pod = await kube.core.createNamespacedPod({ namespace, body: (namespace === plain ? podAsking(namespace, podName) : podOf(namespace, podName)) as V1Pod });
        if (!initContainerNames(pod).includes('log-collector')) notInjected.push(`${namespace}/${podName}`);
      } catch (error) {
        failures.push(`${new Date().toISOString()} ${namespace}/${podName}: ${(error as { body?: string }).body ?? String(error)}`);
      }
      created += 1;
      last = await readCertificateSecret(kube, home, name);
      leaves.add(last.leaf);
      cas.add(last.ca);
      await delay(Math.max(0, 250 - (Date.now() - tick)));
    }
    const elapsed = Date.now() - started;
    const logs = a.output() + b.output();

    expect({ failures, notInjected }).toEqual({ failures: [], notInjected: [] });
    expect(last.ca).not.toBe(first.ca);
    expect(last.bundle).toEqual([last.ca]);
    // The first leaf, at least one renewal under the first CA, and a leaf of the new CA.
    expect(leaves.size).toBeGreaterThanOrEqual(3);
    expect(cas.size).toBe(2);
    for (const action of ['renew_leaf', 'start_ca_rollover', 'finish_ca_rollover', 'drop_expired_cas']) expect(logs).toContain(`"action":"${action}"`);
    // Both processes serve the final certificate, and every caBundle holds only the new CA.
    await waitUntilAgreed(name, [a, b]);
    for (const bundle of Object.values(await caBundles(kube, name))) expect(bundle).toEqual([last.ca]);
    expect(created).toBeGreaterThan(100);
    process.stdout.write(`rotation under load: ${created} pods in ${(elapsed / 1000).toFixed(1)} s, ${leaves.size} certificates, ${cas.size} CAs, 0 failures\n`);
  });
});
