import { mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

let generation = 0;

/**
 * Writes a directory the way kubelet's AtomicWriter updates ConfigMap and
 * Secret volumes: the payload goes into a fresh `..<timestamp>` directory,
 * the `..data` symlink is swapped to it by rename, and every visible file is
 * a symlink `name -> ..data/name`.
 */
export async function writeProjectedVolume(dir: string, payload: Record<string, string>): Promise<void> {
  generation += 1;
  const version = `..${new Date().toISOString().replace(/[-:.]/g, '_')}_${generation}`;
  await mkdir(join(dir, version));
  for (const [name, content] of Object.entries(payload)) await writeFile(join(dir, version, name), content);

  const entries = await readdir(dir);
  const previous = entries.filter((e) => e.startsWith('..') && e !== '..data' && e !== version);
  await symlink(version, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));

  for (const name of Object.keys(payload)) {
    if (!entries.includes(name)) await symlink(join('..data', name), join(dir, name));
  }
  for (const name of entries) {
    if (!name.startsWith('.') && !(name in payload)) await rm(join(dir, name));
  }
  for (const old of previous) await rm(join(dir, old), { recursive: true, force: true });
}
