// The templates the webhook serves: the directory's set, with SidecarTemplate
// resources from the cluster on top. Precedence: when both define a name, the
// cluster resource wins while it has a valid version in force — it is the
// source an operator edits live; the file (e.g. a chart default) is the
// fallback. Pure: the directory store and the informer feed it.
import { contentHash } from './compile.js';
import type { ClusterTemplates } from './cluster-templates.js';
import type { CompiledTemplate, TemplateSet } from './model.js';

/** What the server reads (see ServerDeps.templates). */
export interface TemplateSource {
  current(): TemplateSet;
  isReady(): boolean;
  lastErrors(): readonly string[];
}

export class MergedTemplates implements TemplateSource {
  private set: TemplateSet;
  private cluster: ClusterTemplates | undefined;
  private clusterListed = false;
  private clusterError: string | undefined;

  constructor(private readonly directory: TemplateSource) {
    this.set = directory.current();
  }

  /** From now on, readiness also waits for the first list of SidecarTemplate resources. */
  useCluster(cluster: ClusterTemplates): void {
    this.cluster = cluster;
    this.refresh();
  }

  /** The first list succeeded (readiness). */
  clusterSynced(): void {
    this.clusterListed = true;
    this.clusterError = undefined;
  }

  /** Listing or watching failed; shown by /readyz until the first list succeeds. */
  clusterFailed(message: string): void {
    this.clusterError = message;
  }

  current(): TemplateSet {
    return this.set;
  }

  isReady(): boolean {
    return this.directory.isReady() && (this.cluster === undefined || this.clusterListed);
  }

  lastErrors(): readonly string[] {
    const errors = [...this.directory.lastErrors()];
    if (this.cluster !== undefined && !this.clusterListed) {
      errors.push(`SidecarTemplate resources not listed yet${this.clusterError === undefined ? '' : `: ${this.clusterError}`}`);
    }
    return errors;
  }

  /** The file template a resource of this name takes precedence over (or falls back to), if any. */
  fileSource(name: string): string | undefined {
    return this.directory.current().templates.get(name)?.source;
  }

  /**
   * Recomputes the merged set after either source changed; returns whether the
   * templates in force changed. The revision is the directory's own while no
   * resource is in force, so directory-only use keeps its revisions.
   */
  refresh(): boolean {
    const files = this.directory.current();
    const fromCluster = this.cluster?.active() ?? [];
    let next: TemplateSet = files;
    if (fromCluster.length > 0) {
      const templates = new Map<string, CompiledTemplate>(files.templates);
      for (const { template } of fromCluster) templates.set(template.name, template);
      const keys = fromCluster.map(({ template, key }) => `${template.name}=${key}`).sort();
      next = {
        templates: new Map([...templates.entries()].sort(([a], [b]) => a.localeCompare(b))),
        revision: contentHash([files.revision, keys]),
        ...(files.loadError === undefined ? {} : { loadError: files.loadError }),
      };
    }
    const changed = next.revision !== this.set.revision;
    this.set = next;
    return changed;
  }
}
