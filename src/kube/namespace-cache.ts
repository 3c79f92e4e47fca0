// A namespace informer, so the admission path reads namespace labels and
// annotations from memory, never from the API.
import { CoreV1Api, makeInformer, type Informer, type ObjectCache, type V1Namespace } from '@kubernetes/client-node';
import type { NamespaceMetadata } from '../inject/namespace.js';
import type { KubeConnection } from './connection.js';
import { supervise, type SupervisedInformer } from './supervised-informer.js';

/** Namespaces by name, kept current by a watch; re-lists and re-watches after errors. */
export class NamespaceCache {
  private readonly informer: Informer<V1Namespace> & ObjectCache<V1Namespace>;
  private readonly supervised: SupervisedInformer;
  private synced = false;

  constructor(connection: KubeConnection, onError: (error: unknown) => void) {
    const api = connection.config.makeApiClient(CoreV1Api);
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
    if (namespace === undefined) return undefined;
    return { labels: namespace.metadata?.labels ?? {}, annotations: namespace.metadata?.annotations ?? {} };
  }

  stop(): Promise<void> {
    return this.supervised.stop();
  }
}
