// Writes SidecarTemplate status through the status subresource, off the
// admission path. Every replica computes the same status from the same
// resource, so a write happens only when the stored status differs; a 409
// means someone else wrote first, and the watch event of that write brings
// this replica back here with the new object.
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { statusDiffers, type SidecarTemplateStatus } from '../templates/cluster-templates.js';
import { httpCode } from './api-errors.js';

export const GROUP = 'sidecar.example';
export const VERSION = 'v1alpha1';
export const PLURAL = 'sidecartemplates';

/**
 * At most one write per resource per interval: replicas that briefly disagree
 * (a ConfigMap update reaches pods at different times, and the status names
 * the file template a resource shadows) must not overwrite each other in a
 * tight loop.
 */
const MIN_INTERVAL_MS = 2_000;
const RETRY_MS = 5_000;

export interface StatusTarget {
  /** The latest object the informer holds, and the status it should carry; undefined once deleted. */
  latest(name: string): { object: object; stored: SidecarTemplateStatus | undefined; desired: SidecarTemplateStatus } | undefined;
}

export type StatusWriteResult = 'success' | 'conflict' | 'failure';

export class TemplateStatusWriter {
  private readonly inFlight = new Set<string>();
  private readonly again = new Set<string>();
  private readonly lastWrite = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly api: CustomObjectsApi,
    private readonly target: StatusTarget,
    private readonly onWrite: (name: string, result: StatusWriteResult, error?: unknown) => void,
  ) {}

  /** Brings the resource's status up to date soon (now, or when its interval has passed). */
  schedule(name: string): void {
    if (this.stopped || this.timers.has(name)) return;
    if (this.inFlight.has(name)) {
      this.again.add(name);
      return;
    }
    const wait = (this.lastWrite.get(name) ?? -Infinity) + MIN_INTERVAL_MS - Date.now();
    if (wait > 0) this.later(name, wait);
    else void this.write(name);
  }

  forget(name: string): void {
    clearTimeout(this.timers.get(name));
    this.timers.delete(name);
    this.lastWrite.delete(name);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private later(name: string, ms: number): void {
    this.timers.set(
      name,
      setTimeout(() => {
        this.timers.delete(name);
        this.schedule(name);
      }, ms),
    );
  }

  private async write(name: string): Promise<void> {
    const current = this.target.latest(name);
    if (current === undefined || !statusDiffers(current.stored, current.desired)) return;
    this.inFlight.add(name);
    this.lastWrite.set(name, Date.now());
    let retry = false;
    try {
      await this.api.replaceClusterCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        name,
        // The object as last seen: its resourceVersion makes a stale write a 409.
        body: { ...current.object, status: current.desired },
        fieldManager: 'sidecar-injector',
      });
      this.onWrite(name, 'success');
    } catch (error) {
      const code = httpCode(error);
      // 404: deleted meanwhile; the delete event forgets it.
      if (code === 409) this.onWrite(name, 'conflict');
      else if (code !== 404) {
        this.onWrite(name, 'failure', error);
        retry = true;
      }
    } finally {
      this.inFlight.delete(name);
    }
    if (this.again.delete(name) || retry) {
      if (retry) this.later(name, RETRY_MS);
      else this.schedule(name);
    }
  }
}
