// When the reconciler of missed injections may evict a controller's pods
// again. Evicting a pod that missed its sidecars helps only if its
// replacement is injected; if the replacement comes back without them too
// (the webhook is still unreachable from the kube-apiserver, a network
// policy, a failing webhook), evicting again would only churn the workload.
// So, per controller: each replacement that comes back without its sidecars
// doubles the wait before the next eviction, and after `attempts` of them the
// reconciler gives up on that controller. Pure: the caller passes the time.

export interface BackoffSettings {
  initialMs: number;
  maxMs: number;
  /** Replacements that may come back without their sidecars before giving up. */
  attempts: number;
}

/** The n-th wait (n ≥ 1): initial, 2×, 4×… capped at maxMs. */
export function backoffDelay(settings: BackoffSettings, n: number): number {
  return Math.min(settings.initialMs * 2 ** Math.max(0, n - 1), settings.maxMs);
}

interface ControllerRecord {
  lastEvictionAt: number;
  failures: number;
  notBefore: number;
  gaveUp: boolean;
}

/** What a newly seen pod of a controller says about the last eviction. */
export type ReplacementVerdict =
  /** Not a replacement (no eviction of this controller since the pod existed). */
  | 'none'
  /** Injected: the way through the webhook works; the controller starts afresh. */
  | 'recovered'
  /** Again without its sidecars: wait longer before the next eviction. */
  | 'backing_off'
  /** Again without its sidecars, for the last allowed time: stop evicting. */
  | 'gave_up';

export class EvictionBackoff {
  private readonly controllers = new Map<string, ControllerRecord>();

  constructor(private readonly settings: BackoffSettings) {}

  /** When this controller's pods may be evicted next: 0 = now, Infinity = given up. */
  readyAt(controller: string): number {
    const record = this.controllers.get(controller);
    if (record === undefined) return 0;
    return record.gaveUp ? Infinity : record.notBefore;
  }

  /**
   * An eviction of one of this controller's pods is being requested now. It
   * counts from the request, not the answer: the controller's replacement may
   * be watched before the eviction's answer arrives. Returns the undo for a
   * request that was refused (no pod went, so no replacement will come).
   */
  evicting(controller: string, now: number): () => void {
    const record = this.controllers.get(controller);
    if (record === undefined) {
      const created: ControllerRecord = { lastEvictionAt: now, failures: 0, notBefore: 0, gaveUp: false };
      this.controllers.set(controller, created);
      return () => {
        if (this.controllers.get(controller) === created && created.failures === 0) this.controllers.delete(controller);
      };
    }
    const previous = record.lastEvictionAt;
    record.lastEvictionAt = now;
    return () => {
      if (record.lastEvictionAt === now) record.lastEvictionAt = previous;
    };
  }

  /** A pod of `controller` first seen at `seenAt`, judged `missed` or complete. */
  seen(controller: string, seenAt: number, missed: boolean, now: number): ReplacementVerdict {
    const record = this.controllers.get(controller);
    if (record === undefined || record.gaveUp || seenAt <= record.lastEvictionAt) return 'none';
    if (!missed) {
      this.controllers.delete(controller);
      return 'recovered';
    }
    record.failures += 1;
    if (record.failures >= this.settings.attempts) {
      record.gaveUp = true;
      return 'gave_up';
    }
    record.notBefore = now + backoffDelay(this.settings, record.failures);
    return 'backing_off';
  }

  /**
   * Forgets controllers with no missed pods left: given up (its pods are gone;
   * new ones get new attempts) or idle for longer than the longest wait (a
   * replacement would have been seen long since).
   */
  prune(now: number, hasMissedPods: (controller: string) => boolean): void {
    for (const [controller, record] of this.controllers) {
      if (hasMissedPods(controller)) continue;
      if (record.gaveUp || now - record.lastEvictionAt > this.settings.maxMs) this.controllers.delete(controller);
    }
  }

  /** Controllers given up on now. */
  givenUp(): number {
    let count = 0;
    for (const record of this.controllers.values()) if (record.gaveUp) count += 1;
    return count;
  }
}
