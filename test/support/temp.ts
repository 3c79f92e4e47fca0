import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEMPLATES_DIR } from './paths.js';

/** Temp directories of one test file, all removed by `cleanup()` (call it in afterAll). */
export class TempDirs {
  private readonly dirs: string[] = [];

  async make(label: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `sidecar-injector-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** A fresh copy of the repository's templates/, safe to modify. */
  async copyOfTemplates(): Promise<string> {
    const dir = await this.make('templates');
    await cp(TEMPLATES_DIR, dir, { recursive: true });
    return dir;
  }

  async cleanup(): Promise<void> {
    const dirs = this.dirs.splice(0);
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}
