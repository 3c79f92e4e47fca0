import type { InjectionSettings, NamespaceInfo } from '../inject/decide.js';
import type { Pod } from '../inject/kube-types.js';
import type { InjectionOutcome } from '../inject/plan.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { TemplateSet } from '../templates/model.js';
import type { ServingCertificate } from '../certs/serving-certificate.js';

/** The namespace could not be read in time: the pod cannot be judged with its namespace's settings. */
export class NamespaceUnavailableError extends Error {
  constructor(
    readonly namespace: string,
    readonly result: 'timeout' | 'error',
    detail: string,
  ) {
    super(`namespace "${namespace}" is not in the webhook's cache yet and could not be read: ${detail}`);
  }
}

/** What the HTTP layer needs, passed in so tests can build their own. */
export interface ServerDeps {
  /** True once a graceful stop has begun: readiness goes, serving stays. */
  draining: () => boolean;
  templates: { current(): TemplateSet; isReady(): boolean; lastErrors(): readonly string[] };
  certificate: { current(): ServingCertificate | undefined };
  settings: InjectionSettings;
  /**
   * From the namespace informer's memory, synchronously; a promise only for a
   * namespace it has not seen yet (read from the API, may reject with
   * NamespaceUnavailableError: serve/namespace-lookup.ts).
   */
  namespaceInfo: (namespace: string) => NamespaceInfo | Promise<NamespaceInfo>;
  /** Present when the webhook watches namespaces; ready only once synced. */
  namespaces: { isSynced(): boolean } | undefined;
  metrics: Metrics;
  logger: Logger;
  maxBodyBytes: number;
  /** Called after each answered pod admission (not dry-run), off the response's critical path: Events. */
  onOutcome?: (namespace: string, pod: Pod | undefined, outcome: InjectionOutcome) => void;
  now: () => Date;
}
