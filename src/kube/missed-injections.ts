// The reconciler of missed injections (--reconcile-missed): a pod informer
// over all namespaces finds pods that asked for sidecars but were stored
// without them, reports each (gauge, Event on the pod) and, in delete mode,
// deletes those that have a controller so it recreates them through the
// webhook. Deletions are paced and guarded by the pod's uid.
import { CoreV1Api, makeInformer, type Informer, type ObjectCache, type V1Pod } from '@kubernetes/client-node';
import type { Pod } from '../inject/kube-types.js';
import { controllerOf } from '../inject/workload-event.js';
import type { KubeConnection } from './connection.js';
import type { EventRecorder } from './event-recorder.js';
import { supervise, type SupervisedInformer } from './supervised-informer.js';

const DELETE_SPACING_MS = 1_000;

export interface MissedInjectionsOptions {
  mode: 'report' | 'delete';
  excludedNamespaces: ReadonlySet<string>;
  /** The templates the webhook would inject now (inject/missed.ts); empty = nothing missed. */
  judge: (pod: Pod, namespace: string) => string[];
  events: EventRecorder | undefined;
  onMissedCount: (count: number) => void;
  onDeletion: (result: 'deleted' | 'error', pod: string, error?: unknown) => void;
  onError: (error: unknown) => void;
}

export class MissedInjections {
  private readonly core: CoreV1Api;
  private readonly informer: Informer<V1Pod> & ObjectCache<V1Pod>;
  private readonly missed = new Map<string, string>();
  private readonly deletions: Array<{ namespace: string; name: string; uid: string }> = [];
  private readonly supervised: SupervisedInformer;
  private deleting = false;
  private stopped = false;

  constructor(
    connection: KubeConnection,
    private readonly options: MissedInjectionsOptions,
  ) {
    this.core = connection.config.makeApiClient(CoreV1Api);
    this.informer = makeInformer(connection.config, '/api/v1/pods', () => this.core.listPodForAllNamespaces());
    this.informer.on('add', (pod) => this.examine(pod));
    this.informer.on('update', (pod) => this.examine(pod));
    this.informer.on('delete', (pod) => this.forget(pod.metadata?.uid));
    this.supervised = supervise(this.informer, { onError: options.onError });
  }

  start(): void {
    this.supervised.start();
  }

  private forget(uid: string | undefined): void {
    if (uid !== undefined && this.missed.delete(uid)) this.options.onMissedCount(this.missed.size);
  }

  private examine(pod: V1Pod): void {
    const { uid, name, namespace } = pod.metadata ?? {};
    if (uid === undefined || name === undefined || namespace === undefined) return;
    if (this.options.excludedNamespaces.has(namespace)) return;
    const templates = this.options.judge(pod as unknown as Pod, namespace);
    if (templates.length === 0) return this.forget(uid);
    if (this.missed.has(uid)) return;
    this.missed.set(uid, `${namespace}/${name}`);
    this.options.onMissedCount(this.missed.size);
    const controller = controllerOf(pod as unknown as Pod);
    const remedy =
      controller === undefined
        ? 'it has no controller, so delete and recreate it to get them'
        : this.options.mode === 'delete'
          ? `deleting it so its ${controller.kind} recreates it injected`
          : `delete it so its ${controller.kind} recreates it injected (or run the webhook with --reconcile-missed=delete)`;
    this.options.events?.record({
      namespace,
      involved: { apiVersion: 'v1', kind: 'Pod', name, uid },
      resolveOwner: false,
      reason: 'SidecarInjectionMissed',
      message: `the pod asked for ${templates.join(', ')} but was created without them (the webhook was unreachable); ${remedy}`,
    });
    if (this.options.mode === 'delete' && controller !== undefined) {
      this.deletions.push({ namespace, name, uid });
      if (!this.deleting) void this.deleteQueued();
    }
  }

  private async deleteQueued(): Promise<void> {
    this.deleting = true;
    try {
      for (let next = this.deletions.shift(); next !== undefined && !this.stopped; next = this.deletions.shift()) {
        try {
          // The uid precondition: never delete a same-named successor.
          await this.core.deleteNamespacedPod({ name: next.name, namespace: next.namespace, body: { preconditions: { uid: next.uid } } });
          this.options.onDeletion('deleted', `${next.namespace}/${next.name}`);
        } catch (error) {
          this.options.onDeletion('error', `${next.namespace}/${next.name}`, error);
        }
        await new Promise((resolve) => setTimeout(resolve, DELETE_SPACING_MS));
      }
    } finally {
      this.deleting = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.supervised.stop();
  }
}
