// Composition of the reconciler of missed injections (--reconcile-missed):
// the pod watch, the judgement against the templates in force, and the
// Lease that lets one replica act.
import type { Config } from '../config/config.js';
import type { InjectionSettings, NamespaceInfo } from '../inject/decide.js';
import { judgeStoredPod } from '../inject/missed.js';
import { describeApiError } from '../kube/api-errors.js';
import type { KubeConnection } from '../kube/connection.js';
import type { EventRecorder } from '../kube/event-recorder.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { TemplateSet } from '../templates/model.js';

const NAMESPACE_SYNC_POLL_MS = 200;

export interface ReconcilerContext {
  logger: Logger;
  metrics: Metrics;
  events: EventRecorder | undefined;
  templates: { current(): TemplateSet };
  settings: InjectionSettings;
  namespaceInfo: (namespace: string) => NamespaceInfo;
  /** Whether the namespace informer has listed once: pods are judged only then. */
  namespacesSynced: () => boolean;
}

export async function startMissedInjectionReconciler(
  config: Readonly<Config>,
  connection: KubeConnection,
  context: ReconcilerContext,
): Promise<{ stop(): Promise<void> }> {
  const { logger, metrics } = context;
  const log = logger.child({ component: 'reconciler' });
  const [{ MissedInjections }, { LeaderElector }] = await Promise.all([import('../kube/missed-injections.js'), import('../kube/leader-election.js')]);
  // The webhook configuration's exclusions (the chart passes its list) and the process's own namespace.
  const scope = { excludedNamespaces: new Set([...config.reconcileExcludeNamespaces, config.namespace]) };
  const reconciler = new MissedInjections(connection, {
    mode: config.reconcileMissed === 'delete' ? 'delete' : 'report',
    excludedNamespaces: scope.excludedNamespaces,
    judge: (pod) => judgeStoredPod(pod, scope, context.templates.current(), context.settings, context.namespaceInfo(pod.metadata.namespace)),
    events: context.events,
    backoff: {
      initialMs: config.reconcileBackoffSeconds * 1000,
      maxMs: config.reconcileBackoffMaxSeconds * 1000,
      attempts: config.reconcileAttempts,
    },
    now: () => performance.now(),
    onWatchedCount: (count) => metrics.reconcilerWatchedPods.set(count),
    onMissedCount: (count) => metrics.missedInjections.set(count),
    onEviction: (result, pod, error) => {
      metrics.missedInjectionEvictions.inc({ result });
      if (result === 'evicted') log.info({ pod }, 'evicted a pod that missed its injection; its controller recreates it');
      else if (result === 'blocked') log.info({ pod }, 'eviction refused by a PodDisruptionBudget; retrying later');
      else if (result === 'error') log.warn({ pod, error: describeApiError(error) }, 'could not evict a pod that missed its injection; retrying later');
    },
    onGaveUp: (controller) =>
      log.warn(
        { namespace: controller.namespace, controller: `${controller.kind}/${controller.name}`, attempts: config.reconcileAttempts },
        'replacements keep coming back without their sidecars; no longer evicting the pods of this controller',
      ),
    onGivenUpCount: (count) => metrics.missedInjectionGivenUp.set(count),
    onError: (error) => log.warn({ error: describeApiError(error) }, 'pod watch failed; retrying'),
  });
  const elector = LeaderElector.forConnection(connection, {
    namespace: config.namespace,
    name: config.reconcileLease,
    leaseDurationMs: config.reconcileLeaseDurationSeconds * 1000,
    onStartedLeading: () => {
      metrics.reconcilerLeader.set(1);
      log.info({ lease: `${config.namespace}/${config.reconcileLease}`, identity: elector.identity }, 'leading: this replica acts on missed injections');
      reconciler.lead();
    },
    onStoppedLeading: () => {
      metrics.reconcilerLeader.set(0);
      log.info({ lease: `${config.namespace}/${config.reconcileLease}` }, 'no longer leading');
      reconciler.follow();
    },
    // Every retry period while the API or RBAC is wrong: the first failure and then one in 30.
    onError: (error, failures) => {
      if (failures % 30 === 1) log.warn({ error: describeApiError(error), failures }, 'leader election: cannot read or write the Lease');
    },
  });
  metrics.reconcilerLeader.set(0);

  // A pod judged before namespaces are known would be put off one by one; wait for the first list instead.
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const startWhenNamespacesSynced = (): void => {
    if (stopped) return;
    if (!context.namespacesSynced()) {
      timer = setTimeout(startWhenNamespacesSynced, NAMESPACE_SYNC_POLL_MS);
      return;
    }
    reconciler.start();
    elector.start();
  };
  startWhenNamespacesSynced();
  log.info({ mode: config.reconcileMissed, lease: `${config.namespace}/${config.reconcileLease}`, identity: elector.identity }, 'watching pods for missed injections');
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      // An eviction in flight ends before the Lease is released to a successor.
      await reconciler.stop();
      await elector.stop();
    },
  };
}
