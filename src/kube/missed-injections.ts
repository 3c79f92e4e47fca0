// The reconciler of missed injections (--reconcile-missed): a pod informer
// over all namespaces (views, not whole pods: pod-view-informer.ts) finds
// pods the webhook configuration would have sent to the webhook but that
// were stored without their sidecars. Every replica counts them (gauge); only
// the replica holding the Lease (leader-election.ts) acts: an Event on each
// pod and, in delete mode, an eviction of those with a controller, so the
// controller recreates them through the webhook. Evictions go through the
// Eviction API, so PodDisruptionBudgets hold: a 429 is retried later with
// back-off; they are paced, carry the pod's uid as precondition, and stop
// for a controller whose replacements keep coming back without their
// sidecars (eviction-backoff.ts).
import { CoreV1Api } from '@kubernetes/client-node';
import { backoffDelay, EvictionBackoff, type BackoffSettings } from '../inject/eviction-backoff.js';
import type { Judgement, StoredPodView } from '../inject/missed.js';
import type { OwnerReference } from '../inject/workload-event.js';
import { httpCode } from './api-errors.js';
import type { KubeConnection } from './connection.js';
import type { EventRecorder } from './event-recorder.js';
import { podFieldSelector, podViewInformer, type PodViewInformer } from './pod-view-informer.js';
import { supervise, type SupervisedInformer } from './supervised-informer.js';

const EVICTION_SPACING_MS = 1_000;
const NAMESPACE_RETRY_MS = 1_000;
const NAMESPACE_RETRIES = 30;
const PRUNE_INTERVAL_MS = 60_000;

export type EvictionResult = 'evicted' | 'blocked' | 'gone' | 'error';

export interface MissedInjectionsOptions {
  mode: 'report' | 'delete';
  excludedNamespaces: ReadonlySet<string>;
  judge: (pod: StoredPodView) => Judgement;
  events: EventRecorder | undefined;
  backoff: BackoffSettings;
  /** Monotonic milliseconds. */
  now: () => number;
  onWatchedCount: (count: number) => void;
  onMissedCount: (count: number) => void;
  onEviction: (result: EvictionResult, pod: string, error?: unknown) => void;
  onGaveUp: (controller: OwnerReference & { namespace: string }) => void;
  /** Controllers this replica has given up on (0 while it does not lead). */
  onGivenUpCount: (count: number) => void;
  onError: (error: unknown) => void;
}

interface MissedPod {
  namespace: string;
  name: string;
  uid: string;
  controller: OwnerReference | undefined;
  templates: string[];
  /** When this replica first saw it: after an eviction of its controller's pods, it is a replacement. */
  seenAt: number;
}

interface QueuedEviction {
  readyAt: number;
  /** 429s and errors so far: each doubles the wait. */
  refusals: number;
}

export class MissedInjections {
  private readonly core: CoreV1Api;
  private readonly informer: PodViewInformer;
  private readonly supervised: SupervisedInformer;
  private readonly missed = new Map<string, MissedPod>();
  private readonly awaitingNamespace = new Map<string, { namespace: string; name: string; tries: number; added: boolean }>();
  private readonly queue = new Map<string, QueuedEviction>();
  private backoff: EvictionBackoff;
  private watched = 0;
  private leading = false;
  private stopped = false;
  private working: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private namespaceTimer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  private lastEvictionAt = -Infinity;

  constructor(
    connection: KubeConnection,
    private readonly options: MissedInjectionsOptions,
  ) {
    this.core = connection.config.makeApiClient(CoreV1Api);
    this.backoff = new EvictionBackoff(options.backoff);
    this.informer = podViewInformer(connection, { fieldSelector: podFieldSelector(options.excludedNamespaces) });
    this.informer.on('add', (pod) => {
      this.options.onWatchedCount((this.watched += 1));
      this.examine(pod, true);
    });
    this.informer.on('update', (pod) => this.examine(pod, false));
    this.informer.on('delete', (pod) => {
      this.options.onWatchedCount((this.watched -= 1));
      this.forget(pod.metadata.uid);
    });
    this.supervised = supervise(this.informer, { onError: options.onError });
  }

  start(): void {
    this.supervised.start();
  }

  /** This replica now holds the Lease: act on everything already found. */
  lead(): void {
    if (this.stopped || this.leading) return;
    this.leading = true;
    this.backoff = new EvictionBackoff(this.options.backoff);
    this.options.onGivenUpCount(0);
    for (const pod of this.missed.values()) this.act(pod);
    this.working ??= this.work().finally(() => (this.working = undefined));
  }

  /** Another replica acts now: stop evicting (an eviction in flight completes). */
  follow(): void {
    this.leading = false;
    this.queue.clear();
    this.options.onGivenUpCount(0);
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.follow();
    clearTimeout(this.namespaceTimer);
    await this.supervised.stop();
    await this.working;
  }

  private forget(uid: string): void {
    this.awaitingNamespace.delete(uid);
    this.queue.delete(uid);
    if (this.missed.delete(uid)) this.options.onMissedCount(this.missed.size);
  }

  private examine(pod: StoredPodView, added: boolean): void {
    const { uid, name, namespace } = pod.metadata;
    const judgement = this.options.judge(pod);
    const controller = pod.metadata.ownerReferences?.[0];
    switch (judgement.kind) {
      case 'namespace_unknown':
        return this.retryLater(pod, added);
      case 'out_of_scope':
        return this.forget(uid);
      case 'complete':
        this.forget(uid);
        if (added && controller !== undefined && this.backoff.seen(controller.uid, this.options.now(), false, this.options.now()) === 'recovered') {
          this.options.onGivenUpCount(this.backoff.givenUp());
        }
        return;
      case 'missed':
        break;
    }
    this.awaitingNamespace.delete(uid);
    if (this.missed.has(uid)) return;
    const now = this.options.now();
    const entry: MissedPod = { namespace, name, uid, controller, templates: judgement.templates, seenAt: now };
    this.missed.set(uid, entry);
    this.options.onMissedCount(this.missed.size);
    if (controller !== undefined && this.backoff.seen(controller.uid, now, true, now) === 'gave_up') this.giveUp(entry, controller);
    this.act(entry);
  }

  /** A pod whose namespace the namespace informer has not delivered yet: judged again shortly. */
  private retryLater(pod: StoredPodView, added: boolean): void {
    const { uid, name, namespace } = pod.metadata;
    if (!this.awaitingNamespace.has(uid)) this.awaitingNamespace.set(uid, { namespace, name, tries: 0, added });
    this.namespaceTimer ??= setTimeout(() => {
      this.namespaceTimer = undefined;
      this.judgeAwaiting();
    }, NAMESPACE_RETRY_MS);
  }

  private judgeAwaiting(): void {
    for (const [uid, waiting] of [...this.awaitingNamespace]) {
      const pod = this.informer.get(waiting.name, waiting.namespace);
      waiting.tries += 1;
      if (pod?.metadata.uid !== uid || waiting.tries > NAMESPACE_RETRIES) this.awaitingNamespace.delete(uid);
      else this.examine(pod, waiting.added);
    }
  }

  private act(pod: MissedPod): void {
    if (!this.leading) return;
    const { namespace, name, uid, controller, templates } = pod;
    const givenUp = controller !== undefined && this.backoff.readyAt(controller.uid) === Infinity;
    const remedy =
      controller === undefined
        ? 'it has no controller, so delete and recreate it to get them'
        : this.options.mode === 'report'
          ? `delete it so its ${controller.kind} recreates it injected (or run the webhook with --reconcile-missed=delete)`
          : givenUp
            ? `its ${controller.kind}'s replacements keep coming back without them, so it is left alone: delete it once the webhook is reachable`
            : `evicting it so its ${controller.kind} recreates it injected`;
    this.options.events?.record({
      namespace,
      involved: { apiVersion: 'v1', kind: 'Pod', name, uid },
      resolveOwner: false,
      reason: 'SidecarInjectionMissed',
      message: `the pod asked for ${templates.join(', ')} but was created without them (the webhook was unreachable); ${remedy}`,
    });
    if (this.options.mode === 'delete' && controller !== undefined && !givenUp) {
      this.queue.set(uid, { readyAt: 0, refusals: 0 });
      this.wake?.();
    }
  }

  private giveUp(pod: MissedPod, controller: OwnerReference): void {
    for (const other of this.missed.values()) if (other.controller?.uid === controller.uid) this.queue.delete(other.uid);
    this.options.onGaveUp({ ...controller, namespace: pod.namespace });
    this.options.onGivenUpCount(this.backoff.givenUp());
    if (!this.leading) return;
    const attempts = this.options.backoff.attempts;
    this.options.events?.record({
      namespace: pod.namespace,
      involved: controller,
      resolveOwner: true,
      reason: 'SidecarInjectionMissedRepeatedly',
      message:
        `pods of ${controller.kind} ${controller.name} were evicted to be recreated with ${pod.templates.join(', ')}, but ${attempts} replacements came back without them ` +
        '(is the webhook reachable from the kube-apiserver?); the reconciler stopped evicting them: delete them once it is',
    });
  }

  /** The eviction queue, one at a time and paced, while this replica leads. */
  private async work(): Promise<void> {
    while (this.leading && !this.stopped) {
      const now = this.options.now();
      this.prune(now);
      const next = this.nextDue();
      if (next === undefined || next.at > now) {
        await this.sleep(next === undefined ? undefined : next.at - now);
        continue;
      }
      this.lastEvictionAt = now;
      await this.evict(next.uid, next.item);
    }
  }

  private nextDue(): { uid: string; item: QueuedEviction; at: number } | undefined {
    let due: { uid: string; item: QueuedEviction; at: number } | undefined;
    for (const [uid, item] of this.queue) {
      const controller = this.missed.get(uid)?.controller;
      const at = Math.max(item.readyAt, this.lastEvictionAt + EVICTION_SPACING_MS, controller === undefined ? 0 : this.backoff.readyAt(controller.uid));
      if (due === undefined || at < due.at) due = { uid, item, at };
    }
    return due;
  }

  private sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined || ms === Infinity ? undefined : setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async evict(uid: string, item: QueuedEviction): Promise<void> {
    const pod = this.missed.get(uid);
    if (pod?.controller === undefined) return void this.queue.delete(uid);
    const { namespace, name, controller } = pod;
    // The replacement may be watched before the eviction's answer arrives: it counts from the request on.
    const undo = this.backoff.evicting(controller.uid, this.options.now());
    try {
      await this.core.createNamespacedPodEviction({
        name,
        namespace,
        // The uid precondition: never evict a same-named successor.
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace }, deleteOptions: { preconditions: { uid } } },
      });
      this.queue.delete(uid);
      this.options.onEviction('evicted', `${namespace}/${name}`);
    } catch (error) {
      undo();
      const code = httpCode(error);
      if (code === 404 || code === 409) {
        this.queue.delete(uid);
        return this.options.onEviction('gone', `${namespace}/${name}`, error);
      }
      // 429: a PodDisruptionBudget allows no disruption now. Like any other failure, try again later.
      item.refusals += 1;
      item.readyAt = this.options.now() + backoffDelay(this.options.backoff, item.refusals);
      this.options.onEviction(code === 429 ? 'blocked' : 'error', `${namespace}/${name}`, error);
    }
  }

  private prune(now: number): void {
    if (now - this.lastPrune < PRUNE_INTERVAL_MS) return;
    this.lastPrune = now;
    const withMissedPods = new Set<string>();
    for (const pod of this.missed.values()) if (pod.controller !== undefined) withMissedPods.add(pod.controller.uid);
    this.backoff.prune(now, (controller) => withMissedPods.has(controller));
    this.options.onGivenUpCount(this.backoff.givenUp());
  }
}
