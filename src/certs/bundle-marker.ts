// Which Secret revision a MutatingWebhookConfiguration's caBundle came from,
// so that a replica still holding an older Secret never puts back a bundle
// that a newer one replaced (e.g. drops the next CA of a rollover).

/** Annotation on the MutatingWebhookConfiguration: `<Secret uid>/<revision>`. */
export const BUNDLE_SOURCE_ANNOTATION = 'sidecar.example/ca-bundle-source';

export interface BundleSource {
  uid: string;
  revision: number;
}

export function formatBundleSource(source: BundleSource): string {
  return `${source.uid}/${source.revision}`;
}

function parseBundleSource(text: string | undefined): BundleSource | undefined {
  const match = /^(.+)\/(\d+)$/.exec(text ?? '');
  return match ? { uid: match[1] ?? '', revision: Number(match[2]) } : undefined;
}

/**
 * What to do with the caBundles (one per webhook) and the recorded source:
 * nothing when they all equal `bundle`; nothing either when a later revision
 * of the same Secret wrote them (this replica is behind and reads it again);
 * else write. A Secret recreated under a new uid restarts the count, so its
 * revisions are not compared with the old one's.
 */
export function bundleWrite(
  current: { bundles: readonly string[]; source: string | undefined },
  bundle: string,
  source: BundleSource,
): 'unchanged' | 'stale' | 'write' {
  if (current.bundles.length > 0 && current.bundles.every((b) => b === bundle)) return 'unchanged';
  const recorded = parseBundleSource(current.source);
  if (recorded !== undefined && recorded.uid === source.uid && recorded.revision > source.revision) return 'stale';
  return 'write';
}
