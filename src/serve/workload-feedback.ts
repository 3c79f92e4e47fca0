// What the webhook tells users outside the admission response: Events on the
// workloads whose pods it refused or skipped, and the reconciler of missed
// injections. Both need API access; both stay off the admission path.
import type { Config } from '../config/config.js';
import type { InjectionSettings, NamespaceInfo } from '../inject/decide.js';
import { injectionEvent } from '../inject/workload-event.js';
import type { KubeConnection } from '../kube/connection.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { TemplateSet } from '../templates/model.js';
import type { ServerDeps } from '../server/deps.js';
import { startEventRecorder } from './events.js';
import { startMissedInjectionReconciler } from './missed-injection-reconciler.js';

export interface WorkloadFeedback {
  onOutcome: ServerDeps['onOutcome'];
  stop(): Promise<void>;
}

export async function startWorkloadFeedback(
  config: Readonly<Config>,
  connection: KubeConnection,
  context: {
    logger: Logger;
    metrics: Metrics;
    templates: { current(): TemplateSet };
    settings: InjectionSettings;
    namespaceInfo: (namespace: string) => NamespaceInfo;
    namespacesSynced: () => boolean;
  },
): Promise<WorkloadFeedback> {
  const { logger, metrics } = context;
  const events = config.events ? await startEventRecorder(connection, config.eventIntervalSeconds * 1000, { logger, metrics }) : undefined;
  const reconciler = config.reconcileMissed === 'off' ? undefined : await startMissedInjectionReconciler(config, connection, { ...context, events });
  const recorder = events;
  return {
    onOutcome:
      recorder === undefined
        ? undefined
        : (namespace, pod, outcome) => {
            const event = injectionEvent(pod, namespace, outcome);
            if (event !== undefined) {
              recorder.record({ namespace, involved: event.owner, resolveOwner: true, reason: event.reason, message: event.message });
            }
          },
    stop: async () => {
      await reconciler?.stop();
      await recorder?.flush();
    },
  };
}
