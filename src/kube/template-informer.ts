// SidecarTemplate resources, watched by an informer and fed into the merged
// template store: a change is in force as soon as its watch event arrives, and
// each resource's status says whether the webhook accepted it.
import { CustomObjectsApi, makeInformer, type Informer, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ClusterTemplates, type SidecarTemplateObject } from '../templates/cluster-templates.js';
import { formatProblem } from '../templates/compile.js';
import type { MergedTemplates } from '../templates/merged-templates.js';
import { describeApiError, httpCode } from './api-errors.js';
import type { KubeConnection } from './connection.js';
import { supervise, type SupervisedInformer } from './supervised-informer.js';
import { GROUP, PLURAL, TemplateStatusWriter, VERSION } from './template-status-writer.js';

type SidecarTemplateResource = KubernetesObject & SidecarTemplateObject;

export class TemplateInformer {
  private readonly informer: Informer<SidecarTemplateResource> & ObjectCache<SidecarTemplateResource>;
  private readonly cluster = new ClusterTemplates();
  private readonly status: TemplateStatusWriter;
  /** The generation last reported as rejected, per resource: one log line per bad edit. */
  private readonly reported = new Map<string, number>();
  private readonly supervised: SupervisedInformer;

  constructor(
    connection: KubeConnection,
    private readonly merged: MergedTemplates,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    const api = connection.config.makeApiClient(CustomObjectsApi);
    const list = async (): Promise<KubernetesListObject<SidecarTemplateResource>> => {
      const result = (await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as KubernetesListObject<SidecarTemplateResource>;
      // After the informer has taken in the items (synchronously once this resolves).
      setImmediate(() => this.merged.clusterSynced());
      return result;
    };
    this.informer = makeInformer(connection.config, `/apis/${GROUP}/${VERSION}/${PLURAL}`, list);
    this.status = new TemplateStatusWriter(
      api,
      {
        latest: (name) => {
          const object = this.informer.get(name);
          if (object === undefined) return undefined;
          return { object, stored: object.status, desired: this.cluster.desiredStatus(name, this.merged.fileSource(name), object.status, new Date()) };
        },
      },
      (name, result, error) => {
        this.metrics.templateStatusWrites.inc({ result });
        if (result === 'failure') this.logger.warn({ template: name, error: describeApiError(error) }, 'SidecarTemplate status not written; retrying');
      },
    );
    this.informer.on('add', (object) => this.changed(object));
    this.informer.on('update', (object) => this.changed(object));
    this.informer.on('delete', (object) => this.deleted(object));
    // Retries back off, so a missing CRD is not logged every 2 s.
    this.supervised = supervise(this.informer, { onError: (error) => this.failed(error) });
  }

  /** Lists and watches in the background; errors are retried (see failed). */
  start(): void {
    this.merged.useCluster(this.cluster);
    this.supervised.start();
  }

  /** The directory changed: statuses that name a shadowed file template may need rewriting. */
  directoryChanged(): void {
    for (const object of this.informer.list()) this.status.schedule(object.metadata?.name ?? '');
  }

  async stop(): Promise<void> {
    this.status.stop();
    await this.supervised.stop();
  }

  private changed(object: SidecarTemplateResource): void {
    const name = object.metadata?.name ?? '';
    const generation = object.metadata?.generation ?? 0;
    const inForce = this.cluster.upsert(object);
    const problems = this.cluster.problems(name);
    if (inForce && this.merged.refresh()) {
      const { templates, revision } = this.merged.current();
      const shadows = this.merged.fileSource(name);
      this.logger.info({ template: name, version: templates.get(name)?.version, generation, shadows, revision }, 'SidecarTemplate in force');
    }
    if (problems.length > 0 && this.reported.get(name) !== generation) {
      this.reported.set(name, generation);
      this.metrics.clusterTemplateUpdates.inc({ result: 'invalid' });
      this.logger.error({ template: name, generation, errors: problems.map(formatProblem) }, 'SidecarTemplate rejected; its last valid version (if any) stays in force');
    } else if (inForce) {
      this.metrics.clusterTemplateUpdates.inc({ result: 'valid' });
    }
    this.metrics.templatesLoaded.set(this.merged.current().templates.size);
    this.status.schedule(name);
  }

  private deleted(object: SidecarTemplateResource): void {
    const name = object.metadata?.name ?? '';
    this.status.forget(name);
    this.reported.delete(name);
    if (this.cluster.remove(name) && this.merged.refresh()) {
      this.logger.info({ template: name, fallback: this.merged.fileSource(name) }, 'SidecarTemplate deleted');
    }
    this.metrics.clusterTemplateUpdates.inc({ result: 'deleted' });
    this.metrics.templatesLoaded.set(this.merged.current().templates.size);
  }

  private failed(error: unknown): void {
    const message = describeApiError(error);
    const hint = httpCode(error) === 404 ? ' (is the SidecarTemplate CRD installed? see deploy/crds/)' : '';
    this.merged.clusterFailed(`${message}${hint}`);
    this.logger.warn({ error: `${message}${hint}` }, 'SidecarTemplate watch failed; retrying');
  }
}
