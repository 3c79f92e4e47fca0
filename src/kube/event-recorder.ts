// Kubernetes Events, written off the admission path: record() only checks a
// rate limit and queues; a background drain resolves the owner and writes.
import { hostname } from 'node:os';
import { AppsV1Api, BatchV1Api, CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import type { OwnerReference } from '../inject/workload-event.js';
import { KeyedRateLimiter } from '../util/rate-limiter.js';
import type { KubeConnection } from './connection.js';

export interface EventToRecord {
  namespace: string;
  involved: OwnerReference;
  /** Walk from a ReplicaSet to its Deployment, a Job to its CronJob: what users describe. */
  resolveOwner: boolean;
  reason: string;
  message: string;
  type?: 'Warning' | 'Normal';
}

export type EventResult = 'created' | 'rate_limited' | 'dropped' | 'error';

const QUEUE_LIMIT = 256;
const MESSAGE_LIMIT = 1024;
const COMPONENT = 'sidecar-injector';

export class EventRecorder {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly batch: BatchV1Api;
  private readonly limiter: KeyedRateLimiter;
  private readonly queue: EventToRecord[] = [];
  private draining = false;
  private readonly instance = hostname();

  constructor(
    connection: KubeConnection,
    private readonly options: {
      intervalMs: number;
      now: () => Date;
      onResult: (result: EventResult, event: EventToRecord, error?: unknown) => void;
    },
  ) {
    this.core = connection.config.makeApiClient(CoreV1Api);
    this.apps = connection.config.makeApiClient(AppsV1Api);
    this.batch = connection.config.makeApiClient(BatchV1Api);
    this.limiter = new KeyedRateLimiter(options.intervalMs);
  }

  /** Cheap and synchronous: safe to call right after answering an admission. */
  record(event: EventToRecord): void {
    const key = `${event.namespace}/${event.involved.uid}/${event.reason}`;
    if (!this.limiter.allow(key, this.options.now().getTime())) return this.options.onResult('rate_limited', event);
    if (this.queue.length >= QUEUE_LIMIT) return this.options.onResult('dropped', event);
    this.queue.push(event);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
  }

  /** Resolves when the queue is empty, or after `timeoutMs`: an unreachable apiserver must not hold up a shutdown. */
  async flush(timeoutMs = 2_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.draining && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    try {
      for (let event = this.queue.shift(); event !== undefined; event = this.queue.shift()) {
        try {
          await this.write(event);
          this.options.onResult('created', event);
        } catch (error) {
          this.options.onResult('error', event, error);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async ownerOf(event: EventToRecord): Promise<OwnerReference> {
    const { involved, namespace } = event;
    if (!event.resolveOwner) return involved;
    try {
      let parent: { metadata?: { ownerReferences?: Array<OwnerReference & { controller?: boolean }> } } | undefined;
      if (involved.kind === 'ReplicaSet') parent = await this.apps.readNamespacedReplicaSet({ name: involved.name, namespace });
      else if (involved.kind === 'Job') parent = await this.batch.readNamespacedJob({ name: involved.name, namespace });
      const controller = parent?.metadata?.ownerReferences?.find((r) => r.controller === true);
      return controller === undefined ? involved : { apiVersion: controller.apiVersion, kind: controller.kind, name: controller.name, uid: controller.uid };
    } catch {
      // Not readable (RBAC, already gone): the direct owner still tells the story.
      return involved;
    }
  }

  private async write(event: EventToRecord): Promise<void> {
    const owner = await this.ownerOf(event);
    const now = this.options.now();
    const body: CoreV1Event = {
      metadata: { generateName: `${owner.name}.`, namespace: event.namespace },
      involvedObject: { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, namespace: event.namespace, uid: owner.uid },
      reason: event.reason,
      message: event.message.length > MESSAGE_LIMIT ? `${event.message.slice(0, MESSAGE_LIMIT - 1)}…` : event.message,
      type: event.type ?? 'Warning',
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await this.core.createNamespacedEvent({ namespace: event.namespace, body });
  }
}
