// A namespace informer, so the admission path reads namespace labels and
// annotations from memory, never from the API.
import { CoreV1Api, makeInformer, type Informer, type ObjectCache, type V1Namespace } from '@kubernetes/client-node';
import type { NamespaceMetadata } from '../inject/namespace.js';
import type { KubeConnection } from './connection.js';

const RESTART_DELAY_MS = 2_000;

/** Namespaces by name, kept current by a watch; re-lists and re-watches after errors. */
export class NamespaceCache {
  private readonly informer: Informer<V1Namespace> & ObjectCache<V1Namespace>;
  private synced = false;
  private stopped = false;
  private restart: NodeJS.Timeout | undefined;

  constructor(
    connection: KubeConnection,
    private readonly onError: (error: unknown) => void,
  ) {
    const api = connection.config.makeApiClient(CoreV1Api);
    this.informer = makeInformer(connection.config, '/api/v1/namespaces', () => api.listNamespace());
    this.informer.on('error', (error: unknown) => {
      this.onError(error);
      if (this.stopped) return;
      clearTimeout(this.restart);
      this.restart = setTimeout(() => void this.informer.start().catch((e: unknown) => this.onError(e)), RESTART_DELAY_MS);
    });
  }

  /** Lists and watches in the background, retrying until the first list succeeds. */
  start(): void {
    const attempt = (): void => {
      this.informer.start().then(
        () => {
          this.synced = true;
        },
        (error: unknown) => {
          this.onError(error);
          if (!this.stopped) this.restart = setTimeout(attempt, RESTART_DELAY_MS);
        },
      );
    };
    attempt();
  }

  isSynced(): boolean {
    return this.synced;
  }

  get(name: string): NamespaceMetadata | undefined {
    const namespace = this.informer.get(name);
    if (namespace === undefined) return undefined;
    return { labels: namespace.metadata?.labels ?? {}, annotations: namespace.metadata?.annotations ?? {} };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restart);
    await this.informer.stop();
  }
}
