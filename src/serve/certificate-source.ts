// The serving certificate of `serve`, by --cert-mode: files (cert-manager, a
// provided Secret, local certs/) or self-managed (own CA in a Secret, CA in
// the webhook configuration, rotated).
import { certificatesExist, writeCertificates } from '../certs/files.js';
import { policyProblems } from '../certs/rotation.js';
import { CertificateFileSource, parseServingCertificate, type CertificateEvent, type ServingCertificate } from '../certs/serving-certificate.js';
import type { Config } from '../config/config.js';
import type { KubeConnection } from '../kube/connection.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { StartupError } from './startup-error.js';

export interface CertificateSource {
  /** The certificate in force; undefined (not ready) while self-managed mode has none yet. */
  current(): ServingCertificate | undefined;
  /** What the HTTPS server starts with. */
  initial: ServingCertificate;
  /** Keeps it current from now on (the server exists, so no change can be missed). */
  watch(options: { pollIntervalMs: number }): void;
  close(): Promise<void>;
}

interface Context {
  logger: Logger;
  metrics: Metrics;
  /** Swaps the server's certificate. */
  onCertificate: (certificate: ServingCertificate) => void;
}

async function fileCertificates(config: Readonly<Config>, { logger, metrics, onCertificate }: Context): Promise<CertificateSource> {
  if (config.createCerts && !(await certificatesExist(config.certDir))) {
    const { generateCertificates } = await import('../certs/generate.js');
    await writeCertificates(config.certDir, generateCertificates({ hosts: config.certHosts, validityDays: 365, caValidityDays: 3650 }));
    logger.info({ certDir: config.certDir, hosts: config.certHosts }, 'generated a local CA and serving certificate');
  }
  const files = new CertificateFileSource({ certFile: config.certFile, keyFile: config.keyFile }, (event: CertificateEvent) => {
    if (!event.ok) {
      metrics.certificateReloads.inc({ result: 'failure' });
      logger.error({ error: event.error }, 'serving certificate not (re)loaded; the previous one stays in use');
      return;
    }
    metrics.certificateNotAfter.set(event.certificate.notAfter.getTime() / 1000);
    if (!event.changed) return;
    metrics.certificateReloads.inc({ result: 'success' });
    onCertificate(event.certificate);
    logger.info({ notAfter: event.certificate.notAfter.toISOString(), fingerprint: event.certificate.fingerprint }, 'serving certificate loaded');
  });
  const first = await files.load();
  if (!first.ok) throw new StartupError(`cannot start without a serving certificate: ${first.error}`);
  return {
    current: () => files.current(),
    initial: first.certificate,
    watch: (options) => files.watch(options),
    close: async () => files.close(),
  };
}

async function selfManagedCertificates(config: Readonly<Config>, connection: KubeConnection | undefined, context: Context): Promise<CertificateSource> {
  if (connection === undefined) throw new StartupError('--cert-mode=self-managed needs API access (--kubeconfig, or running in a pod)');
  if (config.namespace === '') throw new StartupError('--cert-mode=self-managed needs --namespace (SIDECAR_INJECTOR_NAMESPACE), the namespace of its Secret');
  const policy = {
    hosts: config.certHosts,
    leafLifetimeMs: config.certValiditySeconds * 1000,
    caLifetimeMs: config.caValiditySeconds * 1000,
    overlapMs: config.caOverlapSeconds * 1000,
  };
  const problems = policyProblems(policy, config.certCheckIntervalSeconds * 1000);
  if (problems.length > 0) throw new StartupError(problems.join('; '));
  const [{ SelfManagedCertificates }, { KubeCertificateStore }] = await Promise.all([import('../certs/self-managed.js'), import('../kube/certificate-store.js')]);
  const store = new KubeCertificateStore(connection, { namespace: config.namespace, secretName: config.certSecret, webhookConfigurationName: config.webhookConfiguration });
  const certificates = new SelfManagedCertificates({ store, policy, checkIntervalMs: config.certCheckIntervalSeconds * 1000, ...context });
  context.logger.info({ namespace: config.namespace, secret: config.certSecret, webhookConfiguration: config.webhookConfiguration, hosts: config.certHosts }, 'self-managed certificates');
  await certificates.check();
  const served = certificates.current();
  return {
    current: () => certificates.current(),
    // Until the API answers, a throwaway certificate lets /healthz and /readyz (503: no serving certificate) answer.
    initial: served ?? (await placeholder(config.certHosts)),
    watch: () => certificates.start(),
    close: () => certificates.stop(),
  };
}

async function placeholder(hosts: readonly string[]): Promise<ServingCertificate> {
  const { generateCertificates } = await import('../certs/generate.js');
  return parseServingCertificate(generateCertificates({ hosts: hosts.length > 0 ? hosts : ['localhost'], validityDays: 1, caValidityDays: 1 }));
}

export function startCertificates(config: Readonly<Config>, connection: KubeConnection | undefined, context: Context): Promise<CertificateSource> {
  return config.certMode === 'self-managed' ? selfManagedCertificates(config, connection, context) : fileCertificates(config, context);
}
