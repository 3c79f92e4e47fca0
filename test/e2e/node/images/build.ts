// Builds the e2e node's container images (recipes.ts) on this machine, as
// single-layer OCI image archives for `ctr -n k8s.io images import`: there is
// no registry, so nothing is ever pulled.
//
//   tsx test/e2e/node/images/build.ts     prints one line per image: NAME ARCHIVE
//
// Each archive is <cache>/<name with / and : as _>.oci.tar; beside it,
// .inputs.json records the hash of everything the image was made from (the
// recipe's sources and tools, this builder's own sources and the tar
// version). An image whose inputs are unchanged is not rebuilt. Output is
// reproducible (fixed timestamps, sorted tar, numeric owners), and archives
// are renamed into place, so concurrent builders never see half an archive.
//
// Env: E2E_NODE_IMAGES_CACHE overrides <repo>/.cache/node-images.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blobPath, buildImageLayout, hostPlatform, type Platform } from './oci.js';
import { nodeImageRecipes, type ImageRecipe } from './recipes.js';
import { tarDirectory, tarVersion, writeRootfs } from './rootfs.js';

export interface NodeImage {
  /** Full reference, as containerd will list it. */
  name: string;
  /** The OCI archive to import. */
  archive: string;
  /** Digest of the image manifest (what `ctr images ls` shows as DIGEST). */
  manifestDigest: string;
  /** Archive size in bytes. */
  bytes: number;
}

export interface EnsureNodeImagesOptions {
  /** Default: E2E_NODE_IMAGES_CACHE or <repo>/.cache/node-images. */
  cacheDir?: string;
  log?: (line: string) => void;
}

interface InputsRecord extends Omit<NodeImage, 'archive'> {
  inputsHash: string;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const defaultLog = (line: string) => process.stderr.write(`[node-images] ${line}\n`);

export function defaultCacheDir(): string {
  return process.env['E2E_NODE_IMAGES_CACHE'] || join(repo, '.cache/node-images');
}

/** Builds the node's images that are missing or out of date and lists all of them. */
export function ensureNodeImages(opts: EnsureNodeImagesOptions = {}): Promise<NodeImage[]> {
  return ensureImages(nodeImageRecipes(), opts);
}

/** Builds the images of these recipes that are missing or out of date and lists all of them. */
export async function ensureImages(recipes: readonly ImageRecipe[], opts: EnsureNodeImagesOptions = {}): Promise<NodeImage[]> {
  const log = opts.log ?? defaultLog;
  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir());
  mkdirSync(cacheDir, { recursive: true });
  removeAbandonedBuilds(cacheDir);
  const platform = hostPlatform();
  const builderHash = await builderInputsHash();
  const images: NodeImage[] = [];
  // One at a time: two Go builds at once gain little on two cores.
  for (const recipe of recipes) images.push(await ensureImage(recipe, { cacheDir, platform, builderHash, log }));
  return images;
}

interface Env {
  cacheDir: string;
  platform: Platform;
  builderHash: string;
  log: (line: string) => void;
}

async function ensureImage(recipe: ImageRecipe, env: Env): Promise<NodeImage> {
  const slug = recipe.name.replace(/[/:@]/g, '_');
  const archive = join(env.cacheDir, `${slug}.oci.tar`);
  const recordPath = join(env.cacheDir, `${slug}.inputs.json`);
  const inputsHash = sha256(
    JSON.stringify({ builder: env.builderHash, name: recipe.name, platform: env.platform, inputs: await recipe.inputs() }),
  );

  const record = readRecord(recordPath);
  if (record?.inputsHash === inputsHash && existsSync(archive) && statSync(archive).size === record.bytes) {
    env.log(`${recipe.name}: up to date`);
    return { name: record.name, archive, manifestDigest: record.manifestDigest, bytes: record.bytes };
  }

  const started = Date.now();
  const work = mkdtempSync(join(env.cacheDir, `.build-${slug}-`));
  try {
    const entries = await recipe.rootfs({ work, platform: env.platform, log: (l) => env.log(`${recipe.name}: ${l}`) });
    const root = join(work, 'rootfs');
    mkdirSync(root);
    writeRootfs(root, entries);
    const layerFile = join(work, 'layer.tar');
    await tarDirectory(root, layerFile);
    const layer = { digest: await fileDigest(layerFile), size: statSync(layerFile).size };

    const annotations = recipe.annotations();
    const layout = buildImageLayout({
      name: recipe.name,
      platform: env.platform,
      // The annotations as labels too: `crictl inspecti` shows labels, not annotations.
      config: { ...recipe.config, labels: { ...annotations, ...recipe.config.labels } },
      layer,
      createdBy: `sidecar-injector test/e2e/node/images (${entries.length} entries, owner 0:0, mtime 0)`,
      annotations,
    });
    const dir = join(work, 'oci');
    mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), layout.ociLayout);
    writeFileSync(join(dir, 'index.json'), layout.index);
    for (const blob of layout.blobs) writeFileSync(join(dir, blobPath(blob.digest)), blob.content);
    renameSync(layerFile, join(dir, blobPath(layer.digest)));

    const built = join(work, 'image.oci.tar');
    await tarDirectory(dir, built);
    const bytes = statSync(built).size;
    renameSync(built, archive);
    const newRecord: InputsRecord = { name: recipe.name, manifestDigest: layout.manifestDigest, bytes, inputsHash };
    writeFileSync(join(work, 'inputs.json'), `${JSON.stringify(newRecord, null, 2)}\n`);
    renameSync(join(work, 'inputs.json'), recordPath); // last: only a complete archive is ever recorded
    env.log(`${recipe.name}: built in ${((Date.now() - started) / 1000).toFixed(1)} s, ${(bytes / 1e6).toFixed(1)} MB`);
    return { name: recipe.name, archive, manifestDigest: layout.manifestDigest, bytes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Scratch directories of builds that were killed (a finished or failed build
 * removes its own). An hour old: surely not a build running right now.
 */
function removeAbandonedBuilds(cacheDir: string): void {
  for (const entry of readdirSync(cacheDir)) {
    const path = join(cacheDir, entry);
    if (entry.startsWith('.build-') && Date.now() - statSync(path).mtimeMs > 3_600_000) rmSync(path, { recursive: true, force: true });
  }
}

function readRecord(path: string): InputsRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<InputsRecord>;
    if (typeof r.inputsHash === 'string' && typeof r.name === 'string' && typeof r.manifestDigest === 'string' && typeof r.bytes === 'number') {
      return r as InputsRecord;
    }
  } catch {
    // missing or unreadable: rebuild
  }
  return undefined;
}

/** This builder's own sources and the tar that packs the layers. */
async function builderInputsHash(): Promise<string> {
  const sources = readdirSync(here)
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => `${f} ${sha256(readFileSync(join(here, f)))}`);
  return sha256([...sources, await tarVersion()].join('\n'));
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function fileDigest(path: string): Promise<string> {
  return new Promise((resolveDigest, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolveDigest(`sha256:${hash.digest('hex')}`));
  });
}

// CLI: `tsx test/e2e/node/images/build.ts` (not when imported by the harness).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureNodeImages().then(
    (images) => {
      for (const image of images) console.log(`${image.name} ${image.archive}`);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}
