// A namespace informer, so the admission path reads namespace labels and
// annotations from memory; the API is read only for a namespace the informer
// has not seen yet (serve/namespace-lookup.ts).
import {
  CoreV1Api,
  makeInformer,
  Observable,
  type Informer,
  type ObjectCache,
  type ObservableMiddleware,
  type V1Namespace,
} from '@kubernetes/client-node';
import type { NamespaceMetadata } from '../inject/namespace.js';
import { httpCode } from './api-errors.js';
import type { KubeConnection } from './connection.js';
import { supervise, type SupervisedInformer } from './supervised-informer.js';

/** Namespaces by name, kept current by a watch; re-lists and re-watches after errors. */
export class NamespaceCache {
  private readonly api: CoreV1Api;
  private readonly informer: Informer<V1Namespace> & ObjectCache<V1Namespace>;
  private readonly supervised: SupervisedInformer;
  private synced = false;

  constructor(connection: KubeConnection, onError: (error: unknown) => void) {
    const api = (this.api = connection.config.makeApiClient(CoreV1Api));
    this.informer = makeInformer(connection.config, '/api/v1/namespaces', () => api.listNamespace());
    this.supervised = supervise(this.informer, { onError, onStarted: () => (this.synced = true) });
  }

  /** Lists and watches in the background, retrying until the first list succeeds. */
  start(): void {
    this.supervised.start();
  }

  isSynced(): boolean {
    return this.synced;
  }

  get(name: string): NamespaceMetadata | undefined {
    const namespace = this.informer.get(name);
    return namespace === undefined ? undefined : metadataOf(namespace);
  }

  /** GET /api/v1/namespaces/NAME, cancelled when `signal` aborts; undefined on 404. */
  async read(name: string, signal: AbortSignal): Promise<NamespaceMetadata | undefined> {
    try {
      return metadataOf(await this.api.readNamespace({ name }, { middleware: [abortableBy(signal)], middlewareMergeStrategy: 'append' }));
    } catch (error) {
      if (httpCode(error) === 404) return undefined;
      throw error;
    }
  }

  stop(): Promise<void> {
    return this.supervised.stop();
  }
}

function metadataOf(namespace: V1Namespace): NamespaceMetadata {
  return { labels: namespace.metadata?.labels ?? {}, annotations: namespace.metadata?.annotations ?? {} };
}

/**
 * The generated client takes no signal argument; a per-call middleware hands
 * one to its fetch (client-node's own setHeaderMiddleware is built the same way).
 */
function abortableBy(signal: AbortSignal): ObservableMiddleware {
  return {
    pre: (request) => {
      request.setSignal(signal);
      return new Observable(Promise.resolve(request));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
}
