// The Event recorders of the process, counted and logged alike: the workload
// Events (workload-feedback.ts) and the ones on the webhook's own Pod
// (template-events.ts). The Kubernetes client is loaded only when one is made.
import { describeApiError } from '../kube/api-errors.js';
import type { KubeConnection } from '../kube/connection.js';
import type { EventRecorder } from '../kube/event-recorder.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PodIdentity, TemplateEvent } from './template-events.js';

export async function startEventRecorder(connection: KubeConnection, intervalMs: number, context: { logger: Logger; metrics: Metrics }): Promise<EventRecorder> {
  const { logger, metrics } = context;
  const { EventRecorder } = await import('../kube/event-recorder.js');
  return new EventRecorder(connection, {
    intervalMs,
    now: () => new Date(),
    onResult: (result, event, error) => {
      metrics.events.inc({ reason: event.reason, result });
      if (result === 'error' || result === 'dropped') {
        logger.warn({ error: error === undefined ? undefined : describeApiError(error), result, reason: event.reason, object: `${event.namespace}/${event.involved.name}` }, 'event not written');
      }
    },
  });
}

export interface OwnPodEvents {
  record(event: TemplateEvent): void;
  flush(): Promise<void>;
}

/** Events on this process's own Pod. Not rate limited: TemplateEvents already tells each problem set once. */
export async function startOwnPodEvents(connection: KubeConnection, pod: PodIdentity, context: { logger: Logger; metrics: Metrics }): Promise<OwnPodEvents> {
  const recorder = await startEventRecorder(connection, 0, context);
  const involved = { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid };
  return {
    record: (event) => recorder.record({ namespace: pod.namespace, involved, resolveOwner: false, reason: event.reason, message: event.message, type: event.type }),
    flush: () => recorder.flush(),
  };
}
