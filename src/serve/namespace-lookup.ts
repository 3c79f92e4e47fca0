// A pod can reach the webhook before the namespace informer has seen its
// namespace: created in the same second (a manifest applied with its
// namespace, a GitOps sync), or while the watch lags. On such a miss the
// namespace is read from the API, as the kube-apiserver itself does for a
// webhook's namespaceSelector (k8s.io/apiserver admission/plugin/webhook/
// predicates/namespace/matcher.go: "in case of latency in our caches, make a
// call direct to storage"). A hit stays synchronous and does no I/O.
import type { NamespaceInfo } from '../inject/decide.js';
import { namespaceInfoFrom, type NamespaceMetadata } from '../inject/namespace.js';
import { describeApiError } from '../kube/api-errors.js';
import { NamespaceUnavailableError } from '../server/deps.js';

/** Reads one namespace from the API; undefined when it does not exist. Should stop when `signal` aborts. */
export type NamespaceReader = (name: string, signal: AbortSignal) => Promise<NamespaceMetadata | undefined>;

/** The `result` label of sidecar_injector_namespace_reads_total. */
export type NamespaceReadResult = 'found' | 'not_found' | 'timeout' | 'error';

export interface NamespaceLookupOptions {
  /** The informer's view; undefined on a miss. */
  cached: (name: string) => NamespaceMetadata | undefined;
  read: NamespaceReader;
  /** Bound on one read, well inside the apiserver's timeoutSeconds for the whole webhook call. */
  timeoutMs: number;
  /** Once per API read (not per waiting admission). */
  onRead?: (name: string, result: NamespaceReadResult, durationMs: number, error?: unknown) => void;
}

export class NamespaceLookup {
  /** Reads in flight by name: pods of one new namespace arriving together share one read. */
  private readonly inFlight = new Map<string, Promise<NamespaceMetadata | undefined>>();

  constructor(private readonly options: NamespaceLookupOptions) {}

  /**
   * From memory when the informer has the namespace (synchronous, no I/O);
   * otherwise a promise of the API read: undefined when the namespace does
   * not exist, a NamespaceUnavailableError on a timeout or an API error.
   */
  get(name: string): NamespaceMetadata | Promise<NamespaceMetadata | undefined> {
    return this.options.cached(name) ?? this.read(name);
  }

  private read(name: string): Promise<NamespaceMetadata | undefined> {
    let pending = this.inFlight.get(name);
    if (pending === undefined) {
      pending = this.readOnce(name).finally(() => this.inFlight.delete(name));
      this.inFlight.set(name, pending);
    }
    return pending;
  }

  private readOnce(name: string): Promise<NamespaceMetadata | undefined> {
    const { read, timeoutMs, onRead } = this.options;
    const started = performance.now();
    const report = (result: NamespaceReadResult, error?: unknown): void => onRead?.(name, result, performance.now() - started, error);
    const abort = new AbortController();
    return new Promise<NamespaceMetadata | undefined>((resolve, reject) => {
      let settled = false;
      // The bound does not rely on the reader honouring the signal.
      const timer = setTimeout(() => {
        settled = true;
        abort.abort();
        report('timeout');
        reject(new NamespaceUnavailableError(name, 'timeout', `no answer from the API within ${timeoutMs} ms`));
      }, timeoutMs);
      read(name, abort.signal).then(
        (namespace) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          report(namespace === undefined ? 'not_found' : 'found');
          resolve(namespace);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          report('error', error);
          reject(new NamespaceUnavailableError(name, 'error', describeApiError(error)));
        },
      );
    });
  }
}

/** ServerDeps.namespaceInfo over a lookup: memory first, the API on a miss. */
export function namespaceInfoOf(lookup: NamespaceLookup, name: string): NamespaceInfo | Promise<NamespaceInfo> {
  if (name === '') return namespaceInfoFrom(undefined);
  const namespace = lookup.get(name);
  return namespace instanceof Promise ? namespace.then(namespaceInfoFrom) : namespaceInfoFrom(namespace);
}
