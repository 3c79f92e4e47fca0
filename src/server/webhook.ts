import type { DestinationStream } from 'pino';
import { certificatesExist, writeCertificates } from '../certs/files.js';
import { CertificateFileSource, type CertificateEvent } from '../certs/serving-certificate.js';
import type { Config } from '../config/config.js';
import { namespaceInfoFrom } from '../inject/namespace.js';
import type { KubeConnection } from '../kube/connection.js';
import type { NamespaceCache } from '../kube/namespace-cache.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { TemplateStore, type ReloadEvent } from '../templates/store.js';
import { createApp } from './app.js';
import type { ServerDeps } from './deps.js';
import { startHttpsServer, startPlainServer, type RunningServer } from './https-server.js';

export interface Webhook {
  port: number;
  metricsPort: number | undefined;
  logger: Logger;
  metrics: Metrics;
  templates: TemplateStore;
  /** Graceful stop: no new connections, in-flight requests finish. */
  stop(): Promise<void>;
}

export class StartupError extends Error {}

/**
 * The API connection, when the process has one (`--kubeconfig`, or in-cluster).
 * The Kubernetes client is loaded only then: it is large, and local use and
 * the CLI do not need it.
 */
async function connect(config: Readonly<Config>, env: Readonly<Record<string, string | undefined>>): Promise<KubeConnection | undefined> {
  if (config.kubeconfig === '' && env['KUBERNETES_SERVICE_HOST'] === undefined) return undefined;
  const { connectToKubernetes } = await import('../kube/connection.js');
  return connectToKubernetes(config.kubeconfig, env);
}

async function watchNamespaces(connection: KubeConnection, logger: Logger): Promise<NamespaceCache> {
  const { NamespaceCache } = await import('../kube/namespace-cache.js');
  const cache = new NamespaceCache(connection, (error) => logger.warn({ err: error }, 'namespace watch failed; retrying'));
  cache.start();
  logger.info({ source: connection.source }, 'watching namespaces');
  return cache;
}

/** Composition of the `serve` process: certificates, templates, servers, reloads. */
export async function startWebhook(
  config: Readonly<Config>,
  options: {
    logDestination?: DestinationStream;
    processMetrics?: boolean;
    env?: Readonly<Record<string, string | undefined>>;
  } = {},
): Promise<Webhook> {
  const logger = createLogger({ level: config.logLevel, ...(options.logDestination ? { destination: options.logDestination } : {}) });
  const metrics = createMetrics({ processMetrics: options.processMetrics ?? true });
  const pollMs = config.reloadPollSeconds * 1000;

  if (config.createCerts && !(await certificatesExist(config.certDir))) {
    const { generateCertificates } = await import('../certs/generate.js');
    await writeCertificates(config.certDir, generateCertificates({ hosts: config.certHosts, validityDays: 365, caValidityDays: 3650 }));
    logger.info({ certDir: config.certDir, hosts: config.certHosts }, 'generated a local CA and serving certificate');
  }

  let server: RunningServer | undefined;
  const certificates = new CertificateFileSource({ certFile: config.certFile, keyFile: config.keyFile }, (event: CertificateEvent) => {
    if (!event.ok) {
      metrics.certificateReloads.inc({ result: 'failure' });
      logger.error({ error: event.error }, 'serving certificate not (re)loaded; the previous one stays in use');
      return;
    }
    metrics.certificateNotAfter.set(event.certificate.notAfter.getTime() / 1000);
    if (!event.changed) return;
    metrics.certificateReloads.inc({ result: 'success' });
    server?.useCertificate(event.certificate);
    logger.info({ notAfter: event.certificate.notAfter.toISOString(), fingerprint: event.certificate.fingerprint }, 'serving certificate loaded');
  });
  const first = await certificates.load();
  if (!first.ok) throw new StartupError(`cannot start without a serving certificate: ${first.error}`);

  const templates = new TemplateStore({
    directory: config.templatesDir,
    pollIntervalMs: pollMs,
    onReload: (event: ReloadEvent) => {
      if (!event.ok) {
        metrics.templateReloads.inc({ result: 'failure' });
        logger.error({ errors: event.errors, keptRevision: event.keptRevision }, 'templates rejected; the last good set stays in force');
        return;
      }
      metrics.templatesLoaded.set(event.set.templates.size);
      if (!event.changed) return;
      metrics.templateReloads.inc({ result: 'success' });
      logger.info({ templates: [...event.set.templates.keys()], revision: event.set.revision }, 'templates loaded');
    },
  });
  await templates.reload();

  const connection = await connect(config, options.env ?? process.env);
  const namespaces = connection === undefined ? undefined : await watchNamespaces(connection, logger);

  const deps: ServerDeps = {
    templates,
    certificate: certificates,
    settings: { onProblem: config.onProblem, defaultTemplates: config.defaultTemplates, nativeSidecars: config.nativeSidecars },
    namespaceInfo: (name) => namespaceInfoFrom(namespaces?.get(name)),
    namespaces,
    metrics,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    now: () => new Date(),
  };
  const listener = createApp(deps);
  let plain: Awaited<ReturnType<typeof startPlainServer>> | undefined;
  try {
    server = await startHttpsServer({ host: config.host, port: config.port, certificate: first.certificate, listener });
    if (config.metricsPort > 0) {
      plain = await startPlainServer({
        host: config.host,
        port: config.metricsPort,
        listener: (req, res) => (req.url?.startsWith('/metrics') ? listener(req, res) : res.writeHead(404).end()),
      });
    }
  } catch (error) {
    // Leave nothing behind: a half-started process would hold its port and never exit.
    await server?.shutdown(0);
    await namespaces?.stop();
    throw new StartupError(`cannot listen: ${(error as Error).message}`);
  }
  templates.watch();
  certificates.watch({ pollIntervalMs: pollMs });
  logger.info({ port: server.port, metricsPort: plain?.port, templatesDir: config.templatesDir }, 'serving');

  const running = server;
  return {
    port: running.port,
    metricsPort: plain?.port,
    logger,
    metrics,
    templates,
    stop: async () => {
      templates.close();
      certificates.close();
      await namespaces?.stop();
      const timeoutMs = config.shutdownTimeoutSeconds * 1000;
      await Promise.all([running.shutdown(timeoutMs), plain?.shutdown(timeoutMs)]);
      logger.info('stopped');
      logger.flush();
    },
  };
}
