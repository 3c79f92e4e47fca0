// The pure parts of the e2e node's image builder (test/e2e/node/images): the
// OCI documents containerd imports, and what the images hold. Building and
// importing the archives is exercised by the e2e node itself.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ANNOTATION_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  blobPath,
  buildImageLayout,
  hostPlatform,
  MEDIA_TYPE,
  ociRefName,
  sha256Digest,
  type ImageInput,
  type ImageLayout,
} from '../e2e/node/images/oci.js';
import { busyboxRootfs, SIDECAR_HTTP_DIR, sidecarHttpVersion } from '../e2e/node/images/recipes.js';
import { groupFile, passwdFile, ROOT } from '../e2e/node/images/rootfs.js';

const layerDigest = sha256Digest('layer bytes');
const input: ImageInput = {
  name: 'registry.k8s.io/pause:3.10.1',
  platform: { os: 'linux', architecture: 'amd64' },
  config: { user: '65535:65535', env: ['PATH=/bin'], entrypoint: ['/pause'], workingDir: '/', labels: { a: 'b' } },
  layer: { digest: layerDigest, size: 11 },
  createdBy: 'test',
  annotations: { 'org.opencontainers.image.description': 'stand-in' },
};

type Json = Record<string, unknown> & {
  manifests: { mediaType: string; digest: string; size: number; platform: unknown; annotations: Record<string, string> }[];
};
type Manifest = Record<string, unknown> & { config: { digest: string } };

function parseBlob(layout: ImageLayout, digest: string): Record<string, unknown> {
  const b = layout.blobs.find((x) => x.digest === digest);
  if (!b) throw new Error(`no blob ${digest}`);
  return JSON.parse(b.content.toString()) as Record<string, unknown>;
}

describe('buildImageLayout', () => {
  const layout = buildImageLayout(input);
  const blob = (digest: string) => parseBlob(layout, digest);

  it('names every blob by the sha256 of its bytes', () => {
    expect(layout.blobs).toHaveLength(2);
    for (const b of layout.blobs) expect(b.digest).toBe(sha256Digest(b.content));
  });

  it('writes an image-layout 1.0.0 marker', () => {
    expect(JSON.parse(layout.ociLayout)).toEqual({ imageLayoutVersion: '1.0.0' });
  });

  it('indexes one manifest with its platform, the full name for containerd and the tag for OCI', () => {
    const index = JSON.parse(layout.index) as Json;
    expect(index).toMatchObject({ schemaVersion: 2, mediaType: MEDIA_TYPE.index });
    expect(index.manifests).toHaveLength(1);
    const [entry] = index.manifests;
    const manifestBytes = layout.blobs.find((b) => b.digest === layout.manifestDigest)?.content;
    expect(entry).toEqual({
      mediaType: MEDIA_TYPE.manifest,
      digest: layout.manifestDigest,
      size: manifestBytes?.length,
      platform: { os: 'linux', architecture: 'amd64' },
      annotations: { [ANNOTATION_IMAGE_NAME]: 'registry.k8s.io/pause:3.10.1', [ANNOTATION_REF_NAME]: '3.10.1' },
    });
  });

  it('points the manifest at the config and the one uncompressed layer', () => {
    const manifest = blob(layout.manifestDigest);
    const configBlob = layout.blobs.find((b) => b.digest !== layout.manifestDigest);
    expect(manifest).toEqual({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.manifest,
      config: { mediaType: MEDIA_TYPE.config, digest: configBlob?.digest, size: configBlob?.content.length },
      layers: [{ mediaType: MEDIA_TYPE.layer, digest: layerDigest, size: 11 }],
      annotations: { 'org.opencontainers.image.description': 'stand-in' },
    });
  });

  it('writes the config with the runtime settings and the layer as its diff ID', () => {
    const manifest = blob(layout.manifestDigest) as Manifest;
    const config = blob(manifest.config.digest);
    expect(config).toEqual({
      created: '1970-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { User: '65535:65535', Env: ['PATH=/bin'], Entrypoint: ['/pause'], WorkingDir: '/', Labels: { a: 'b' } },
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'test' }],
    });
  });

  it('leaves out unset fields (no User means root, no Entrypoint means Cmd alone)', () => {
    const l = buildImageLayout({ ...input, config: { env: [], cmd: ['sh'], workingDir: '/' }, annotations: undefined });
    const manifest = parseBlob(l, l.manifestDigest) as Manifest;
    const config = parseBlob(l, manifest.config.digest);
    expect(config['config']).toEqual({ Env: [], Cmd: ['sh'], WorkingDir: '/' });
    expect(manifest).not.toHaveProperty('annotations');
  });

  it('is byte-for-byte reproducible', () => {
    const again = buildImageLayout(structuredClone(input));
    expect(again.index).toBe(layout.index);
    expect(again.manifestDigest).toBe(layout.manifestDigest);
  });
});

describe('references and paths', () => {
  it.each([
    ['registry.k8s.io/pause:3.10.1', '3.10.1'],
    ['docker.io/library/busybox:1.37', '1.37'],
    ['localhost:5000/team/app:v2', 'v2'],
    ['localhost:5000/team/app', 'localhost:5000/team/app'],
    ['ghcr.io/example/app@sha256:' + 'a'.repeat(64), 'ghcr.io/example/app@sha256:' + 'a'.repeat(64)],
  ])('ociRefName(%s) = %s', (name, ref) => {
    expect(ociRefName(name)).toBe(ref);
  });

  it('stores blobs under blobs/sha256/<hex> and refuses anything else', () => {
    expect(blobPath(layerDigest)).toBe(`blobs/sha256/${layerDigest.slice(7)}`);
    expect(() => blobPath('sha512:abc')).toThrow(/not a sha256 digest/);
    expect(() => blobPath('sha256:../../etc/passwd')).toThrow(/not a sha256 digest/);
  });

  it('maps Node architectures to OCI ones', () => {
    expect(hostPlatform('x64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(hostPlatform('arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(() => hostPlatform('ia32')).toThrow(/no OCI architecture/);
  });
});

describe('image contents', () => {
  it('writes passwd and group lines for root and nobody', () => {
    const accounts = [ROOT, { name: 'nobody', id: 65534, home: '/home', shell: '/bin/false' }];
    expect(passwdFile(accounts)).toBe('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n');
    expect(groupFile(accounts)).toBe('root:x:0:\nnobody:x:65534:\n');
  });

  it('gives busybox a /bin symlink per applet, a sticky /tmp and the nobody account', () => {
    const entries = busyboxRootfs('/bin/busybox', ['sh', 'tail', 'wget', 'busybox', 'sh', '[', 'bad/name']);
    const links = entries.filter((e) => e.kind === 'symlink');
    expect(links).toEqual([
      { kind: 'symlink', path: '/bin/[', target: 'busybox' },
      { kind: 'symlink', path: '/bin/sh', target: 'busybox' },
      { kind: 'symlink', path: '/bin/tail', target: 'busybox' },
      { kind: 'symlink', path: '/bin/wget', target: 'busybox' },
    ]);
    expect(entries).toContainEqual({ kind: 'copy', path: '/bin/busybox', mode: 0o755, from: '/bin/busybox' });
    expect(entries).toContainEqual({ kind: 'dir', path: '/tmp', mode: 0o1777 });
    const passwd = entries.find((e) => e.path === '/etc/passwd');
    expect(passwd?.kind === 'file' && passwd.content).toContain('nobody:x:65534:65534:');
  });
});

describe('sidecar-http version', () => {
  const version = sidecarHttpVersion();

  it('is kept in images/sidecar-http/VERSION', () => {
    expect(readFileSync(join(SIDECAR_HTTP_DIR, 'VERSION'), 'utf8')).toBe(`${version}\n`);
  });

  // The templates cannot read VERSION, so a release that bumps it must bump them too.
  it('is the tag every template uses for ghcr.io/example/sidecar-http', () => {
    const dir = join(SIDECAR_HTTP_DIR, '../../templates');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
      for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/ghcr\.io\/example\/sidecar-http:(\S+?)['"\s]/g)) {
        expect(`${file}: ${m[1]}`).toBe(`${file}: ${version}`);
      }
    }
  });
});
