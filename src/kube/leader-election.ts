// Leader election on a coordination.k8s.io/v1 Lease, the pattern of
// client-go's tools/leaderelection (@kubernetes/client-node 1.4 ships no
// elector). Every candidate reads the Lease every retry period; the holder
// renews it (renewTime); the others take it only when it is released
// (holderIdentity empty) or when its record has not changed for
// leaseDurationSeconds by their own clock — the time a candidate *observed*
// a change, never the renewTime written by another machine's clock. Every
// write carries the resourceVersion it was decided on, so of two candidates
// racing for an expired Lease one gets 409 Conflict. A holder that cannot
// renew for renewDeadline steps down before the others may take over, and
// one that stops releases the Lease so a successor takes over at once.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { CoordinationV1Api, V1MicroTime, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { httpCode } from './api-errors.js';
import type { KubeConnection } from './connection.js';

export type LeaseApi = Pick<CoordinationV1Api, 'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'>;

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  /** Default: `<hostname>_<uuid>` (in a pod, the hostname is the pod's name). */
  identity?: string;
  leaseDurationMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  /** A failed read or write; `failures` counts them since the last success. */
  onError: (error: unknown, failures: number) => void;
  /** Monotonic milliseconds. */
  now?: () => number;
}

type Attempt = 'held' | 'other' | 'conflict';

export class LeaderElector {
  readonly identity: string;
  /** client-go's defaults keep these ratios: 15 s lease, 10 s renew deadline, 2 s retry period. */
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private leading = false;
  private lastRenewAt = -Infinity;
  private observed: { record: string; at: number } | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly api: LeaseApi,
    private readonly options: LeaderElectionOptions,
  ) {
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    this.renewDeadlineMs = (options.leaseDurationMs * 2) / 3;
    this.retryPeriodMs = options.leaseDurationMs / 7.5;
    this.now = options.now ?? (() => performance.now());
  }

  static forConnection(connection: KubeConnection, options: LeaderElectionOptions): LeaderElector {
    return new LeaderElector(connection.config.makeApiClient(CoordinationV1Api), options);
  }

  /** Holds the Lease and renewed it within the renew deadline. */
  isLeader(): boolean {
    return this.leading && this.now() - this.lastRenewAt < this.renewDeadlineMs;
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops campaigning; a holder steps down (onStoppedLeading) and releases the Lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.attempt;
    if (this.leading) {
      this.leading = false;
      this.options.onStoppedLeading();
    }
    try {
      await this.release();
    } catch (error) {
      this.options.onError(error, this.failures + 1);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.attempt = this.campaign().finally(() => (this.attempt = undefined));
    }, delayMs);
  }

  private async campaign(): Promise<void> {
    let result: Attempt | 'error';
    try {
      result = await this.tryAcquireOrRenew();
      this.failures = 0;
    } catch (error) {
      this.failures += 1;
      this.options.onError(error, this.failures);
      result = 'error';
    }
    if (this.stopped) return; // stop() releases what this attempt may have taken
    const now = this.now();
    if (result === 'held') {
      this.lastRenewAt = now;
      if (!this.leading) {
        this.leading = true;
        this.options.onStartedLeading();
      }
    } else if (this.leading && (result === 'other' || now - this.lastRenewAt >= this.renewDeadlineMs)) {
      this.leading = false;
      this.options.onStoppedLeading();
    }
    // Candidates spread their attempts (client-go's JitterFactor 1.2); the holder renews on time.
    this.schedule(this.retryPeriodMs * (this.leading ? 1 : 1 + Math.random() * 0.2));
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { namespace, name } = this.options;
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (httpCode(error) !== 404) throw error;
      return this.write(() => this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: this.record(undefined) } }));
    }
    const spec = lease.spec ?? {};
    const now = this.now();
    // renewTime is kept as the apiserver's text: only its changes matter here.
    const record = JSON.stringify([spec.holderIdentity, String(spec.renewTime), spec.leaseDurationSeconds, spec.leaseTransitions]);
    if (this.observed?.record !== record) this.observed = { record, at: now };
    const holder = spec.holderIdentity ?? '';
    const expiresAt = this.observed.at + (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== '' && holder !== this.identity && now < expiresAt) return 'other';
    // The whole object goes back, so its metadata.resourceVersion makes the write conditional.
    return this.write(() => this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: this.record(spec) } }));
  }

  private async write(request: () => Promise<unknown>): Promise<Attempt> {
    try {
      await request();
      return 'held';
    } catch (error) {
      if (httpCode(error) === 409) return 'conflict';
      throw error;
    }
  }

  private record(previous: V1LeaseSpec | undefined): V1LeaseSpec {
    const now = new V1MicroTime();
    const renewing = previous?.holderIdentity === this.identity;
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.options.leaseDurationMs / 1000)),
      acquireTime: renewing && previous.acquireTime !== undefined ? previous.acquireTime : now,
      renewTime: now,
      leaseTransitions: renewing ? (previous.leaseTransitions ?? 0) : (previous?.leaseTransitions ?? -1) + 1,
    };
  }

  /** As client-go's ReleaseOnCancel: an empty holder and a 1 s duration, if the Lease is still ours. */
  private async release(): Promise<void> {
    const { namespace, name } = this.options;
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (httpCode(error) === 404) return;
      throw error;
    }
    if (lease.spec?.holderIdentity !== this.identity) return;
    const now = new V1MicroTime();
    const spec: V1LeaseSpec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
    await this.write(() => this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } }));
  }
}
