// The webhook's image, built from the project's Dockerfile on this machine
// as a user builds it, with buildah (daemonless; there is no Docker engine).
// Nothing can be pulled, so the Dockerfile's BUILD_BASE and RUNTIME_BASE
// arguments name stand-ins assembled here (node/images/chart-recipes.ts).
// The result is an OCI archive for `ctr images import`, cached by the hash of
// everything the build reads (the .dockerignore allowlist, the Dockerfile,
// the bases and buildah's version).
//
//   tsx test/e2e/harness/webhook-image.ts     prints: NAME ARCHIVE
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureImages, type NodeImage } from '../node/images/build.js';
import { BUILD_BASE, nodeBuildBaseRecipe, nodeRuntimeBaseRecipe, RUNTIME_BASE } from '../node/images/chart-recipes.js';

const execFileP = promisify(execFile);
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const installPackages = join(repo, 'test/e2e/node/install-packages.sh');
const defaultLog = (line: string) => process.stderr.write(`[webhook-image] ${line}\n`);

export interface WebhookImage extends NodeImage {
  /** Size of the image unpacked, as `buildah images` reports it (e.g. "212 MB"). */
  unpacked: string;
}

/** ghcr.io/example/sidecar-injector:<appVersion>: what the chart's defaults name. */
export function webhookImageName(): string {
  const chart = readFileSync(join(repo, 'charts/sidecar-injector/Chart.yaml'), 'utf8');
  const appVersion = /^appVersion:\s*"?([^"\s]+)"?/m.exec(chart)?.[1];
  if (!appVersion) throw new Error('charts/sidecar-injector/Chart.yaml has no appVersion');
  return `ghcr.io/example/sidecar-injector:${appVersion}`;
}

function cacheDir(): string {
  return process.env['E2E_WEBHOOK_IMAGE_CACHE'] || join(repo, '.cache/webhook-image');
}

/** The build context as the .dockerignore allowlist ("*" then "!path" lines) admits it, plus the two build files. */
function contextFiles(): string[] {
  const allowed = readFileSync(join(repo, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('!'))
    .map((l) => l.slice(1).replace(/\/$/, ''));
  const files: string[] = ['Dockerfile', '.dockerignore'];
  const walk = (path: string): void => {
    const full = join(repo, path);
    if (!existsSync(full)) return;
    if (statSync(full).isDirectory()) for (const name of readdirSync(full).sort()) walk(join(path, name));
    else files.push(path);
  };
  for (const path of allowed) walk(path);
  return files;
}

async function buildahVersion(): Promise<string> {
  const { stdout } = await execFileP('buildah', ['--version']);
  return stdout.trim();
}

async function ensureBuildah(log: (line: string) => void): Promise<void> {
  try {
    await buildahVersion();
  } catch {
    log('buildah is missing: installing the Debian packages of the e2e node');
    await execFileP('bash', [installPackages], { maxBuffer: 64 * 1024 * 1024 });
  }
}

interface Record_ {
  inputsHash: string;
  name: string;
  manifestDigest: string;
  bytes: number;
  unpacked: string;
}

/** Builds the image when its inputs changed; returns its archive. */
export async function ensureWebhookImage(opts: { log?: (line: string) => void } = {}): Promise<WebhookImage> {
  const log = opts.log ?? defaultLog;
  await ensureBuildah(log);
  const bases = await ensureImages([nodeBuildBaseRecipe(), nodeRuntimeBaseRecipe()], { log });
  const name = webhookImageName();
  const dir = cacheDir();
  mkdirSync(dir, { recursive: true });
  const slug = name.replace(/[/:@]/g, '_');
  const archive = join(dir, `${slug}.oci.tar`);
  const recordPath = join(dir, `${slug}.inputs.json`);

  const hash = createHash('sha256');
  for (const file of contextFiles()) hash.update(`${file}\0`).update(readFileSync(join(repo, file))).update('\0');
  for (const base of bases) hash.update(`${base.name} ${base.manifestDigest}\n`);
  hash.update(await buildahVersion());
  const inputsHash = hash.digest('hex');

  const record = readRecord(recordPath);
  if (record?.inputsHash === inputsHash && existsSync(archive) && statSync(archive).size === record.bytes) {
    log(`${name}: up to date`);
    return { name, archive, manifestDigest: record.manifestDigest, bytes: record.bytes, unpacked: record.unpacked };
  }

  const started = Date.now();
  // A storage of its own per build (vfs: no overlay mounts to clean up), removed afterwards.
  const work = mkdtempSync(join(dir, '.build-'));
  const buildah = (args: readonly string[]) =>
    execFileP('buildah', ['--storage-driver', 'vfs', '--root', join(work, 'root'), '--runroot', join(work, 'run'), ...args], {
      cwd: repo,
      maxBuffer: 64 * 1024 * 1024,
    }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`buildah ${args.join(' ')} failed:\n${(err.stdout ?? '').slice(-4000)}\n${err.stderr ?? String(err)}`);
    });
  try {
    for (const base of bases) await buildah(['pull', '--quiet', `oci-archive:${base.archive}`]);
    log(`${name}: buildah bud (npm ci and tsc inside the build; a minute or two)`);
    await buildah([
      'bud',
      // chroot: no user namespaces or a second runtime inside whatever runs this.
      '--isolation', 'chroot',
      '--pull=never',
      '--build-arg', `BUILD_BASE=${BUILD_BASE}`,
      '--build-arg', `RUNTIME_BASE=${RUNTIME_BASE}`,
      '--tag', name,
      '--file', 'Dockerfile',
      '.',
    ]);
    const unpacked = await unpackedSize(buildah, name);
    const built = join(work, 'image.oci.tar');
    await buildah(['push', '--quiet', name, `oci-archive:${built}:${name}`]);
    const bytes = statSync(built).size;
    const index = JSON.parse((await execFileP('tar', ['-xOf', built, 'index.json'])).stdout) as { manifests: Array<{ digest: string }> };
    const manifestDigest = index.manifests[0]?.digest ?? '';
    renameSync(built, archive);
    const newRecord: Record_ = { inputsHash, name, manifestDigest, bytes, unpacked };
    writeFileSync(join(work, 'inputs.json'), `${JSON.stringify(newRecord, null, 2)}\n`);
    renameSync(join(work, 'inputs.json'), recordPath);
    log(
      `${name}: built in ${((Date.now() - started) / 1000).toFixed(0)} s; ${unpacked} unpacked, ` +
        `${(bytes / 1e6).toFixed(0)} MB compressed`,
    );
    return { name, archive, manifestDigest, bytes, unpacked };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The image's unpacked size as buildah prints it. */
async function unpackedSize(buildah: (args: readonly string[]) => Promise<{ stdout: string }>, name: string): Promise<string> {
  const { stdout } = await buildah(['images', '--json', name]);
  const [image] = JSON.parse(stdout) as Array<{ size?: string }>;
  return image?.size ?? 'unknown';
}

function readRecord(path: string): Record_ | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<Record_>;
    if (typeof r.inputsHash === 'string' && typeof r.bytes === 'number' && typeof r.manifestDigest === 'string') return r as Record_;
  } catch {
    // missing or unreadable: rebuild
  }
  return undefined;
}

// CLI: `tsx test/e2e/harness/webhook-image.ts`.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureWebhookImage().then(
    (image) => console.log(`${image.name} ${relative(process.cwd(), image.archive)}`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}
