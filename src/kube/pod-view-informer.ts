// The reconciler's pod informer, kept small: client-node's ListWatch (its
// cache, re-list on 410 Gone, add/update/delete events) fed with
// StoredPodView projections instead of whole pods. The list is paged, so a
// large cluster is never held in memory at once; each watch event is reduced
// before the cache keeps it. A field selector leaves out what is never
// judged: finished pods and the excluded namespaces.
import { CoreV1Api, ListWatch, Watch, type Informer, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { storedPodView, type StoredPodSource, type StoredPodView } from '../inject/missed.js';
import type { KubeConnection } from './connection.js';

const PAGE_SIZE = 500;
const OBJECT_EVENTS = new Set(['ADDED', 'MODIFIED', 'DELETED']);

/** A watch whose ADDED/MODIFIED/DELETED objects arrive as views; ERROR and BOOKMARK pass untouched. */
class PodViewWatch extends Watch {
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(path, queryParams, (phase, object: unknown) => callback(phase, OBJECT_EVENTS.has(phase) ? storedPodView(object as StoredPodSource) : object), done);
  }
}

export type PodViewInformer = Informer<StoredPodView> & ObjectCache<StoredPodView>;

/** `status.phase!=Succeeded,status.phase!=Failed,metadata.namespace!=…` */
export function podFieldSelector(excludedNamespaces: Iterable<string>): string {
  const requirements = ['status.phase!=Succeeded', 'status.phase!=Failed'];
  for (const namespace of [...excludedNamespaces].sort()) requirements.push(`metadata.namespace!=${namespace}`);
  return requirements.join(',');
}

export function podViewInformer(connection: KubeConnection, options: { fieldSelector: string }): PodViewInformer {
  const core = connection.config.makeApiClient(CoreV1Api);
  const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
    const items: StoredPodView[] = [];
    let resourceVersion: string | undefined;
    let next: string | undefined;
    do {
      const page = await core.listPodForAllNamespaces({ fieldSelector: options.fieldSelector, limit: PAGE_SIZE, _continue: next });
      for (const pod of page.items) items.push(storedPodView(pod as StoredPodSource));
      resourceVersion = page.metadata?.resourceVersion;
      next = page.metadata?._continue;
    } while (next !== undefined && next !== '');
    // Every page of one list is read at the first page's resourceVersion: the watch starts there.
    return { metadata: { resourceVersion }, items };
  };
  const informer = new ListWatch<KubernetesObject>('/api/v1/pods', new PodViewWatch(connection.config), list, false, undefined, options.fieldSelector);
  return informer as unknown as PodViewInformer;
}
