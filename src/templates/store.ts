import { basename } from 'node:path';
import { watchDirectory, type DirectoryWatch } from '../util/watch-directory.js';
import { formatProblem, type TemplateProblem } from './compile.js';
import { loadTemplateDirectory } from './load-directory.js';
import type { TemplateSet } from './model.js';
import { EMPTY_TEMPLATE_SET } from './template-set.js';

export type ReloadEvent =
  | { ok: true; set: TemplateSet; changed: boolean }
  /** `repeated`: the same errors as the reload before (a watch burst or the poll re-reading a broken file). */
  | { ok: false; errors: string[]; keptRevision: string | undefined; repeated: boolean };

export interface TemplateStoreOptions {
  directory: string;
  debounceMs?: number;
  /** Safety net for file systems where watch events get lost; 0 disables. */
  pollIntervalMs?: number;
  onReload?: (event: ReloadEvent) => void;
}

/** The first problem with its file's base name (the warning has little room), and all of them. */
function loadError(problems: readonly TemplateProblem[], errors: readonly string[]): { short: string; full: string } {
  const first = problems[0];
  const more = problems.length > 1 ? ` (+${problems.length - 1} more)` : '';
  const short = first === undefined ? 'unknown error' : formatProblem({ ...first, source: basename(first.source) }) + more;
  return { short, full: errors.join('; ') };
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
      const errors = result.problems.map(formatProblem);
      const repeated = errors.join('\n') === this.errors.join('\n');
      this.errors = errors;
      if (!this.loaded && !repeated) this.set = { ...EMPTY_TEMPLATE_SET, loadError: loadError(result.problems, errors) };
      event = { ok: false, errors, keptRevision: this.loaded ? this.set.revision : undefined, repeated };
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
