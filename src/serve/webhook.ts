import type { DestinationStream } from 'pino';
import type { Config } from '../config/config.js';
import type { NamespaceInfo } from '../inject/decide.js';
import { namespaceInfoFrom } from '../inject/namespace.js';
import { describeApiError } from '../kube/api-errors.js';
import type { KubeConnection } from '../kube/connection.js';
import type { NamespaceCache } from '../kube/namespace-cache.js';
import type { TemplateInformer } from '../kube/template-informer.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { MergedTemplates } from '../templates/merged-templates.js';
import { TemplateStore, type ReloadEvent } from '../templates/store.js';
import { createApp } from '../server/app.js';
import { startCertificates } from './certificate-source.js';
import type { ServerDeps } from '../server/deps.js';
import { startHttpsServer, startPlainServer, type RunningServer } from '../server/https-server.js';
import { NamespaceLookup, namespaceInfoOf } from './namespace-lookup.js';
import { startOwnPodEvents, type OwnPodEvents } from './events.js';
import { StartupError } from './startup-error.js';
import { podIdentity, TemplateEvents } from './template-events.js';
import { startWorkloadFeedback } from './workload-feedback.js';

export interface Webhook {
  port: number;
  metricsPort: number | undefined;
  logger: Logger;
  metrics: Metrics;
  templates: TemplateStore;
  /**
   * The start of a graceful stop, while serving goes on: /readyz answers 503
   * `shutting down` (/healthz stays 200) and every answer carries
   * `Connection: close`. Idempotent.
   */
  drain(): void;
  /**
   * Graceful stop (drains first if not yet): no new connections, in-flight
   * requests answered and their connections closed after the answer, idle
   * ones closed now, the rest cut after --shutdown-timeout; then the watches.
   */
  stop(): Promise<void>;
}

export { StartupError };

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

/**
 * Bound on reading a namespace the informer has not seen yet. Such a GET takes
 * milliseconds; one that takes longer means an apiserver in trouble, and the
 * whole webhook call has only the configuration's timeoutSeconds (10 in the
 * chart, the apiserver's default).
 */
const NAMESPACE_READ_TIMEOUT_MS = 1_000;

function lookUpNamespaces(namespaces: NamespaceCache, logger: Logger, metrics: Metrics): NamespaceLookup {
  return new NamespaceLookup({
    cached: (name) => namespaces.get(name),
    read: (name, signal) => namespaces.read(name, signal),
    timeoutMs: NAMESPACE_READ_TIMEOUT_MS,
    onRead: (namespace, result, durationMs, error) => {
      metrics.namespaceReads.inc({ result });
      const fields = { namespace, result, durationMs: Math.round(durationMs * 1e3) / 1e3 };
      if (result === 'timeout' || result === 'error') {
        logger.warn({ ...fields, error: error === undefined ? undefined : describeApiError(error) }, 'namespace not in the informer cache and not readable');
      } else {
        logger.info(fields, 'namespace not in the informer cache yet: read from the API');
      }
    },
  });
}

async function watchClusterTemplates(connection: KubeConnection, merged: MergedTemplates, logger: Logger, metrics: Metrics): Promise<TemplateInformer> {
  const { TemplateInformer } = await import('../kube/template-informer.js');
  const informer = new TemplateInformer(connection, merged, logger, metrics);
  informer.start();
  logger.info({ source: connection.source }, 'watching SidecarTemplate resources');
  return informer;
}

/** Events on the process's own Pod, when the downward API names it (the chart does). */
async function ownPodEvents(connection: KubeConnection, env: Readonly<Record<string, string | undefined>>, logger: Logger, metrics: Metrics): Promise<OwnPodEvents | undefined> {
  const pod = podIdentity(env);
  if (pod === undefined) {
    logger.info('POD_NAME, POD_NAMESPACE or POD_UID not set: template problems are not written as Events');
    return undefined;
  }
  return startOwnPodEvents(connection, pod, { logger, metrics });
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

  // Self-managed certificates live in the API, so the connection comes first.
  const env = options.env ?? process.env;
  const connection = await connect(config, env);
  const podEvents = connection === undefined || !config.events ? undefined : await ownPodEvents(connection, env, logger, metrics);
  const templateEvents = new TemplateEvents(config.templatesDir);
  let server: RunningServer | undefined;
  const certificates = await startCertificates(config, connection, { logger, metrics, onCertificate: (certificate) => server?.useCertificate(certificate) });

  const templates = new TemplateStore({
    directory: config.templatesDir,
    pollIntervalMs: pollMs,
    onReload: (event: ReloadEvent) => {
      const told = templateEvents.next(event);
      if (told !== undefined) podEvents?.record(told);
      if (!event.ok) {
        metrics.templateReloads.inc({ result: 'failure' });
        metrics.templateLoadErrors.set(event.errors.length);
        // Once per problem: a watch burst or the poll re-reading the same broken file says nothing new.
        if (event.repeated) return;
        // Before the first valid set, the empty set in force carries the error for admissions to name.
        if (event.keptRevision === undefined) merged.refresh();
        logger.error({ errors: event.errors, keptRevision: event.keptRevision }, 'templates rejected; the last good set stays in force');
        return;
      }
      metrics.templateLoadErrors.set(0);
      merged.refresh();
      clusterTemplates?.directoryChanged();
      metrics.templatesLoaded.set(merged.current().templates.size);
      if (!event.changed) return;
      metrics.templateReloads.inc({ result: 'success' });
      logger.info({ templates: [...event.set.templates.keys()], revision: event.set.revision }, 'templates loaded');
    },
  });
  // Files and SidecarTemplate resources; the resource wins a name both define.
  const merged = new MergedTemplates(templates);
  let clusterTemplates: TemplateInformer | undefined;
  await templates.reload();

  const namespaces = connection === undefined ? undefined : await watchNamespaces(connection, logger);
  if (connection !== undefined && config.clusterTemplates) clusterTemplates = await watchClusterTemplates(connection, merged, logger, metrics);

  const settings = { onProblem: config.onProblem, defaultTemplates: config.defaultTemplates, nativeSidecars: config.nativeSidecars };
  const namespaceInfo = (name: string): NamespaceInfo => namespaceInfoFrom(namespaces?.get(name));
  // Admission reads a namespace the informer has not seen yet; the reconciler judges later, from memory.
  const lookup = namespaces === undefined ? undefined : lookUpNamespaces(namespaces, logger, metrics);
  const feedback =
    connection === undefined ? undefined : await startWorkloadFeedback(config, connection, { logger, metrics, templates: merged, settings, namespaceInfo, namespacesSynced: () => namespaces?.isSynced() ?? false });

  let draining = false;
  const deps: ServerDeps = {
    draining: () => draining,
    templates: merged,
    certificate: certificates,
    settings,
    namespaceInfo: lookup === undefined ? namespaceInfo : (name) => namespaceInfoOf(lookup, name),
    namespaces,
    metrics,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    now: () => new Date(),
    ...(feedback?.onOutcome === undefined ? {} : { onOutcome: feedback.onOutcome }),
  };
  const listener = createApp(deps);
  let plain: Awaited<ReturnType<typeof startPlainServer>> | undefined;
  try {
    server = await startHttpsServer({ host: config.host, port: config.port, certificate: certificates.initial, listener, maxConnections: config.maxConnections });
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
    await certificates.close();
    await namespaces?.stop();
    await clusterTemplates?.stop();
    await feedback?.stop();
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
    drain: () => {
      draining = true;
      running.drain();
    },
    stop: async () => {
      draining = true;
      // Requests in flight still need the templates, certificate and namespaces: servers first.
      const timeoutMs = config.shutdownTimeoutSeconds * 1000;
      await Promise.all([running.shutdown(timeoutMs), plain?.shutdown(timeoutMs)]);
      templates.close();
      await certificates.close();
      await namespaces?.stop();
      await clusterTemplates?.stop();
      await feedback?.stop();
      await podEvents?.flush();
      logger.info('stopped');
      logger.flush();
    },
  };
}
