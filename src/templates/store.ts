import { watchDirectory, type DirectoryWatch } from '../util/watch-directory.js';
import { formatProblem } from './compile.js';
import { loadTemplateDirectory } from './load-directory.js';
import type { TemplateSet } from './model.js';
import { EMPTY_TEMPLATE_SET } from './template-set.js';

export type ReloadEvent =
  | { ok: true; set: TemplateSet; changed: boolean }
  | { ok: false; errors: string[]; keptRevision: string | undefined };

export interface TemplateStoreOptions {
  directory: string;
  debounceMs?: number;
  /** Safety net for file systems where watch events get lost; 0 disables. */
  pollIntervalMs?: number;
  onReload?: (event: ReloadEvent) => void;
}

/**
 * The templates in force: an immutable snapshot swapped atomically on a
 * successful reload. A reload that fails keeps the last good set.
 */
export class TemplateStore {
  private set: TemplateSet = EMPTY_TEMPLATE_SET;
  private loaded = false;
  private errors: string[] = [];
  private watcher: DirectoryWatch | undefined;
  private reloading: Promise<ReloadEvent> | undefined;
  private pending = false;

  constructor(private readonly options: TemplateStoreOptions) {}

  current(): TemplateSet {
    return this.set;
  }

  /** True once a valid set has been loaded. */
  isReady(): boolean {
    return this.loaded;
  }

  lastErrors(): readonly string[] {
    return this.errors;
  }

  /** Reloads now; concurrent calls are serialised and the last one re-reads. */
  async reload(): Promise<ReloadEvent> {
    if (this.reloading !== undefined) {
      this.pending = true;
      return this.reloading;
    }
    this.reloading = this.loadOnce();
    try {
      let event = await this.reloading;
      while (this.pending) {
        this.pending = false;
        this.reloading = this.loadOnce();
        event = await this.reloading;
      }
      return event;
    } finally {
      this.reloading = undefined;
    }
  }

  private async loadOnce(): Promise<ReloadEvent> {
    const result = await loadTemplateDirectory(this.options.directory);
    let event: ReloadEvent;
    if (result.ok) {
      const changed = result.set.revision !== this.set.revision;
      this.set = result.set;
      this.loaded = true;
      this.errors = [];
      event = { ok: true, set: result.set, changed };
    } else {
      this.errors = result.problems.map(formatProblem);
      event = { ok: false, errors: this.errors, keptRevision: this.loaded ? this.set.revision : undefined };
    }
    this.options.onReload?.(event);
    return event;
  }

  /** Reloads when the directory changes (see watchDirectory). */
  watch(): void {
    this.watcher = watchDirectory(this.options.directory, () => void this.reload(), {
      pollIntervalMs: this.options.pollIntervalMs ?? 30_000,
      ...(this.options.debounceMs === undefined ? {} : { debounceMs: this.options.debounceMs }),
    });
  }

  close(): void {
    this.watcher?.close();
  }
}
