// The JSON documents of a one-layer OCI image layout (image-spec v1.1:
// image-layout.md, image-index.md, manifest.md, config.md). Pure: given the
// layer's digest and size, it returns every file but the layer itself, with
// stable key order so the same input always gives the same bytes (and the
// same digests).
import { createHash } from 'node:crypto';

export const MEDIA_TYPE = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  /** Uncompressed: the layer digest is also its diff ID, and no gzip run can make it differ. */
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** containerd reads the full image name from this annotation of an index entry (core/images/archive). */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
/** The OCI annotation: by convention only the tag, as `ctr images export` writes it. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** Fixed creation time, so a rebuild from the same inputs is byte-identical. */
export const EPOCH = '1970-01-01T00:00:00Z';

export interface Platform {
  os: 'linux';
  architecture: string;
}

/** The runtime part of the config (config.md "config" object). */
export interface RuntimeConfig {
  user?: string;
  env: string[];
  entrypoint?: string[];
  cmd?: string[];
  workingDir: string;
  labels?: Record<string, string>;
}

export interface ImageInput {
  /** Full reference, e.g. registry.k8s.io/pause:3.10.1. */
  name: string;
  platform: Platform;
  config: RuntimeConfig;
  layer: { digest: string; size: number };
  /** What the history entry says made the layer. */
  createdBy: string;
  /** Manifest annotations (e.g. org.opencontainers.image.description). */
  annotations?: Record<string, string>;
}

export interface Blob {
  digest: string;
  content: Buffer;
}

export interface ImageLayout {
  /** The `oci-layout` file. */
  ociLayout: string;
  /** The `index.json` file. */
  index: string;
  /** Config and manifest blobs (the layer is written by the caller). */
  blobs: Blob[];
  manifestDigest: string;
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** `blobs/sha256/<hex>` for a digest. */
export function blobPath(digest: string): string {
  const [algorithm, hex] = digest.split(':');
  if (algorithm !== 'sha256' || !hex || !/^[0-9a-f]{64}$/.test(hex)) throw new Error(`not a sha256 digest: ${digest}`);
  return `blobs/sha256/${hex}`;
}

/**
 * The tag of a reference (`registry.k8s.io/pause:3.10.1` → `3.10.1`), as
 * containerd's exporter writes org.opencontainers.image.ref.name; the whole
 * name when there is no tag (a digest reference). A port is not a tag.
 */
export function ociRefName(name: string): string {
  if (name.includes('@')) return name;
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  return colon === -1 ? name : name.slice(colon + 1);
}

export function buildImageLayout(input: ImageInput): ImageLayout {
  const c = input.config;
  const config = json({
    created: EPOCH,
    architecture: input.platform.architecture,
    os: input.platform.os,
    config: {
      ...(c.user !== undefined && { User: c.user }),
      Env: c.env,
      ...(c.entrypoint && { Entrypoint: c.entrypoint }),
      ...(c.cmd && { Cmd: c.cmd }),
      WorkingDir: c.workingDir,
      ...(c.labels && { Labels: c.labels }),
    },
    rootfs: { type: 'layers', diff_ids: [input.layer.digest] },
    history: [{ created: EPOCH, created_by: input.createdBy }],
  });
  const configDigest = sha256Digest(config);

  const manifest = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: { mediaType: MEDIA_TYPE.config, digest: configDigest, size: config.length },
    layers: [{ mediaType: MEDIA_TYPE.layer, digest: input.layer.digest, size: input.layer.size }],
    ...(input.annotations && { annotations: input.annotations }),
  });
  const manifestDigest = sha256Digest(manifest);

  const index = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.index,
    manifests: [
      {
        mediaType: MEDIA_TYPE.manifest,
        digest: manifestDigest,
        size: manifest.length,
        // Lets `ctr images import` (which keeps only the host platform unless
        // --all-platforms) match the entry without reading the config.
        platform: input.platform,
        annotations: { [ANNOTATION_IMAGE_NAME]: input.name, [ANNOTATION_REF_NAME]: ociRefName(input.name) },
      },
    ],
  });

  return {
    ociLayout: json({ imageLayoutVersion: '1.0.0' }).toString(),
    index: index.toString(),
    blobs: [
      { digest: configDigest, content: config },
      { digest: manifestDigest, content: manifest },
    ],
    manifestDigest,
  };
}

/** The OCI platform of this host, in Go's GOARCH names (which OCI uses). */
export function hostPlatform(arch: string = process.arch): Platform {
  const architecture = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[arch];
  if (!architecture) throw new Error(`no OCI architecture for Node's process.arch ${arch}`);
  return { os: 'linux', architecture };
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
