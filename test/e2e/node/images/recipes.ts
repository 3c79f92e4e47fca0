// The images the e2e node runs, each built on this machine (there is no
// registry to pull from): the pod sandbox's pause, a busybox stand-in for the
// shell-based templates, and the project's own sidecar-http.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Platform, RuntimeConfig } from './oci.js';
import { accountEntries, ROOT, type Account, type RootfsEntry } from './rootfs.js';

const execFileP = promisify(execFile);

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
export const SIDECAR_HTTP_DIR = join(repo, 'images/sidecar-http');
const PAUSE_DIR = join(here, 'pause');
const INSTALL_PACKAGES = join(here, '../install-packages.sh');
const BUSYBOX = '/bin/busybox';

/** The PATH Docker's official images (and distroless) set. */
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NOBODY: Account = { name: 'nobody', id: 65534, home: '/nonexistent', shell: '/sbin/nologin' };
/** Says on every image that it was made here, not pulled. */
const STAND_IN_LABEL = 'sidecar.example/e2e-image';

export interface BuildContext {
  /** A scratch directory of this build, for compiled binaries. */
  work: string;
  platform: Platform;
  log: (line: string) => void;
}

export interface ImageRecipe {
  name: string;
  /** Strings that decide the image besides the builder's own sources (file digests, tool versions). */
  inputs(): Promise<string[]>;
  /** Builds what the image needs and lists its files. */
  rootfs(ctx: BuildContext): Promise<RootfsEntry[]>;
  config: RuntimeConfig;
  /** Manifest annotations; called after rootfs(), so they may describe what it found. */
  annotations(): Record<string, string>;
}

/** The version in images/sidecar-http/VERSION: the one place it is kept. */
export function sidecarHttpVersion(): string {
  const v = readFileSync(join(SIDECAR_HTTP_DIR, 'VERSION'), 'utf8').trim();
  if (!/^\d+\.\d+\.\d+$/.test(v)) throw new Error(`${SIDECAR_HTTP_DIR}/VERSION: not a version: '${v}'`);
  return v;
}

export function nodeImageRecipes(): ImageRecipe[] {
  return [pauseRecipe(), busyboxRecipe(), sidecarHttpRecipe()];
}

function pauseRecipe(): ImageRecipe {
  return {
    name: 'registry.k8s.io/pause:3.10.1',
    inputs: async () => [...goSourceDigests(PAUSE_DIR), await goVersion(PAUSE_DIR)],
    rootfs: async (ctx) => [{ kind: 'copy', path: '/pause', mode: 0o755, from: await goBuild(PAUSE_DIR, 'pause', ctx) }],
    // As upstream's image: the binary alone, run as 65535.
    config: { user: '65535:65535', env: [PATH_ENV], entrypoint: ['/pause'], workingDir: '/' },
    annotations: () => standIn('registry.k8s.io/pause:3.10.1, built from test/e2e/node/images/pause (Go, like pause.c)'),
  };
}

export function busyboxRecipe(): ImageRecipe {
  return {
    name: 'docker.io/library/busybox:1.37',
    inputs: async () => {
      await ensureBusybox();
      return [`busybox ${fileDigest(BUSYBOX)}`];
    },
    rootfs: async () => {
      await ensureBusybox();
      return busyboxRootfs(BUSYBOX, await busyboxApplets());
    },
    // As the official image: a shell by default, root unless the pod says otherwise.
    config: { env: [PATH_ENV], cmd: ['sh'], workingDir: '/' },
    annotations: () => standIn(`docker.io/library/busybox:1.37, built from Debian's busybox-static (${busyboxBanner()})`),
  };
}

function sidecarHttpRecipe(): ImageRecipe {
  const version = sidecarHttpVersion();
  return {
    name: `ghcr.io/example/sidecar-http:${version}`,
    inputs: async () => [...goSourceDigests(SIDECAR_HTTP_DIR), await goVersion(SIDECAR_HTTP_DIR)],
    rootfs: async (ctx) => [
      ...accountEntries([{ ...ROOT, shell: '/sbin/nologin' }, NOBODY]),
      { kind: 'dir', path: '/tmp', mode: 0o1777 },
      { kind: 'copy', path: '/sidecar-http', mode: 0o755, from: await goBuild(SIDECAR_HTTP_DIR, 'sidecar-http', ctx) },
    ],
    // Same entry point and user as images/sidecar-http/Dockerfile; no shell.
    config: {
      user: '65534:65534',
      env: [PATH_ENV],
      entrypoint: ['/sidecar-http'],
      workingDir: '/',
      labels: { 'org.opencontainers.image.title': 'sidecar-http', 'org.opencontainers.image.version': version },
    },
    annotations: () => ({
      ...standIn(`ghcr.io/example/sidecar-http:${version}, built from images/sidecar-http on an empty base instead of distroless`),
      'org.opencontainers.image.version': version,
    }),
  };
}

function standIn(what: string): Record<string, string> {
  return {
    'org.opencontainers.image.description': `e2e stand-in for ${what}`,
    [STAND_IN_LABEL]: 'built by test/e2e/node/images; not the published image',
  };
}

/**
 * The busybox image's files: the binary with a symlink per applet, all in
 * /bin as in the official image, /tmp sticky and world-writable, root and
 * nobody (65534) accounts, and root's and nobody's homes.
 */
export function busyboxRootfs(busybox: string, applets: readonly string[]): RootfsEntry[] {
  const links = [...new Set(applets)].filter((a) => a !== 'busybox' && /^[A-Za-z0-9._[\]-]+$/.test(a)).sort();
  return [
    { kind: 'dir', path: '/bin', mode: 0o755 },
    { kind: 'copy', path: '/bin/busybox', mode: 0o755, from: busybox },
    ...links.map((a): RootfsEntry => ({ kind: 'symlink', path: `/bin/${a}`, target: 'busybox' })),
    ...accountEntries([ROOT, { ...NOBODY, home: '/home', shell: '/bin/false' }]),
    { kind: 'dir', path: '/home', mode: 0o755 },
    { kind: 'dir', path: '/root', mode: 0o700 },
    { kind: 'dir', path: '/tmp', mode: 0o1777 },
    { kind: 'dir', path: '/usr', mode: 0o755 },
    { kind: 'dir', path: '/var', mode: 0o755 },
  ];
}

async function busyboxApplets(): Promise<string[]> {
  const { stdout } = await execFileP(BUSYBOX, ['--list']);
  const applets = stdout.split('\n').filter(Boolean);
  if (!applets.includes('sh')) throw new Error(`${BUSYBOX} --list has no sh applet`);
  return applets;
}

/** "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)", from the binary itself. */
function busyboxBanner(): string {
  const m = /BusyBox v[^\n]*?\)/.exec(readFileSync(BUSYBOX, 'latin1'));
  return m ? m[0] : 'unknown version';
}

let busyboxChecked: Promise<void> | undefined;

/**
 * The image needs the statically linked busybox (the image has no libc):
 * Debian's busybox-static, installed by ../install-packages.sh (with the
 * node's other packages) when missing.
 */
function ensureBusybox(): Promise<void> {
  busyboxChecked ??= (async () => {
    if (existsSync(BUSYBOX) && isStaticElf(BUSYBOX)) return;
    await execFileP('bash', [INSTALL_PACKAGES], { maxBuffer: 64 * 1024 * 1024 }).catch((err: { stderr?: string }) => {
      throw new Error(`${INSTALL_PACKAGES} failed; the busybox image needs Debian's busybox-static:\n${err.stderr ?? String(err)}`);
    });
    if (!existsSync(BUSYBOX) || !isStaticElf(BUSYBOX)) {
      throw new Error(`${BUSYBOX} is missing or dynamically linked; install Debian's busybox-static`);
    }
  })().catch((err: unknown) => {
    busyboxChecked = undefined;
    throw err;
  });
  return busyboxChecked;
}

/** True when the ELF file has no PT_INTERP program header (no dynamic loader). */
export function isStaticElf(path: string): boolean {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return false; // 64-bit little-endian ELF only
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (b.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  }
  return true;
}

/** Compiles the main package in dir into ctx.work/name: static, stripped, reproducible. */
async function goBuild(dir: string, name: string, ctx: BuildContext): Promise<string> {
  const out = join(ctx.work, name);
  ctx.log(`go build ${name} (${ctx.platform.os}/${ctx.platform.architecture})`);
  await execFileP('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags=-s -w', '-o', out, '.'], {
    cwd: dir,
    env: { ...process.env, CGO_ENABLED: '0', GOOS: ctx.platform.os, GOARCH: ctx.platform.architecture },
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: { stderr?: string }) => {
    throw new Error(`go build in ${dir} failed:\n${err.stderr ?? String(err)}`);
  });
  return out;
}

/** The Go toolchain dir's go.mod selects (GOTOOLCHAIN may pick a newer one than on PATH). */
async function goVersion(dir: string): Promise<string> {
  const { stdout } = await execFileP('go', ['env', 'GOVERSION'], { cwd: dir });
  return `go ${stdout.trim()}`;
}

/** Digests of what `go build` reads in dir: go.mod, go.sum, embedded VERSION and non-test .go files. */
function goSourceDigests(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => ['go.mod', 'go.sum', 'VERSION'].includes(f) || (f.endsWith('.go') && !f.endsWith('_test.go')))
    .sort()
    .map((f) => `${f} ${fileDigest(join(dir, f))}`);
}

function fileDigest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
