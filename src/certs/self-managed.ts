// The self-managed certificates of `serve --cert-mode=self-managed`: on every
// check, read the Secret, apply the schedule (rotation.ts), write it back with
// optimistic concurrency, serve its leaf and publish its CA bundle. The API
// sits behind CertificateStore (src/kube/certificate-store.ts in the process,
// a fake in the tests).
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { issueCa, issueServingCertificate } from './generate.js';
import { apply, bundleOf, decide, type Decision, type Issuer, type RotationPolicy } from './rotation.js';
import { bundlePem, caMaterial, decodeCertificates, encodeCertificates, leafMaterial, type CaMaterial, type LeafMaterial, type StoredCertificates } from './secret-data.js';
import { parseServingCertificate, type ServingCertificate } from './serving-certificate.js';

export interface StoredSecret {
  data: Readonly<Record<string, string>>;
  resourceVersion: string;
  uid: string;
  /** Counts this Secret's writes; the caBundle records the one it came from. */
  revision: number;
}

/** A write lost the race: the Secret changed (or appeared) since it was read. */
export class StoreConflict extends Error {}

/** `unchanged`: every caBundle already held it; `stale`: a newer revision of the Secret wrote it. */
export type PublishResult = 'written' | 'unchanged' | 'stale' | 'missing';

export interface CertificateStore {
  read(): Promise<StoredSecret | undefined>;
  /** Throws StoreConflict when the Secret exists. */
  create(data: Record<string, string>, revision: number): Promise<StoredSecret>;
  /** Throws StoreConflict when resourceVersion is not the current one. */
  replace(data: Record<string, string>, revision: number, resourceVersion: string): Promise<StoredSecret>;
  /** Makes every webhook's caBundle `bundle`, unless a later revision of the Secret already wrote its own. */
  publish(bundle: string, source: { uid: string; revision: number }): Promise<PublishResult>;
}

const MAX_ATTEMPTS = 5;
/** notBefore lies this far back, for nodes whose clocks run behind. */
const BACKDATE_MS = 5 * 60 * 1000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function forgeIssuer(policy: RotationPolicy): Issuer<CaMaterial, LeafMaterial> {
  const window = (validity: { now: Date; notAfter: Date }): { notBefore: Date; notAfter: Date } => ({
    notBefore: new Date(validity.now.getTime() - BACKDATE_MS),
    notAfter: validity.notAfter,
  });
  return {
    // A distinct subject per CA, so old and new are told apart by name too. (No `@` as in kube's
    // `kubernetes-ca@<time>`: forge writes a PrintableString, where Go's x509 refuses `@`.)
    ca: async (validity) => caMaterial(await issueCa(`sidecar-injector-ca-${Math.floor(validity.now.getTime() / 1000)}`, window(validity))),
    leaf: async (signer, validity) => leafMaterial(await issueServingCertificate(policy.hosts, signer, window(validity)), [signer]),
  };
}

export interface SelfManagedOptions {
  store: CertificateStore;
  policy: RotationPolicy;
  checkIntervalMs: number;
  logger: Logger;
  metrics: Metrics;
  /** Called with each new leaf this process adopts (the HTTPS server swaps its context). */
  onCertificate: (certificate: ServingCertificate) => void;
  now?: () => Date;
  issuer?: Issuer<CaMaterial, LeafMaterial>;
}

export class SelfManagedCertificates {
  private served: ServingCertificate | undefined;
  /** When this process first saw the pending CA in every caBundle. */
  private published: { pendingId: string; since: Date } | undefined;
  private lastPublish: PublishResult | undefined;
  private lastOk = false;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<boolean> | undefined;
  private stopped = false;
  private readonly now: () => Date;
  private readonly issuer: Issuer<CaMaterial, LeafMaterial>;

  constructor(private readonly options: SelfManagedOptions) {
    this.now = options.now ?? (() => new Date());
    this.issuer = options.issuer ?? forgeIssuer(options.policy);
  }

  current(): ServingCertificate | undefined {
    return this.served;
  }

  /** Checks every interval from now on (after a failed check, every second until one succeeds). */
  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.checking;
  }

  /** One read-decide-write-serve-publish round; false when it failed (the last good certificate stays). */
  check(): Promise<boolean> {
    this.checking ??= this.sync()
      .then(
        () => true,
        (error: unknown) => {
          this.options.metrics.certificateReloads.inc({ result: 'failure' });
          this.options.logger.warn({ error: (error as Error).message }, 'self-managed certificates not synchronised; retrying, the current certificate stays in use');
          return false;
        },
      )
      .then((ok) => {
        this.lastOk = ok;
        this.checking = undefined;
        return ok;
      });
    return this.checking;
  }

  private schedule(): void {
    if (this.stopped) return;
    const soon = !this.lastOk || this.lastPublish === 'stale';
    const ms = soon ? Math.min(this.options.checkIntervalMs, 1_000) : this.options.checkIntervalMs;
    // Jitter keeps replicas started together from racing for every write.
    this.timer = setTimeout(() => void this.check().then(() => this.schedule()), ms * (0.9 + Math.random() * 0.2));
  }

  private decode(stored: StoredSecret | undefined): StoredCertificates | undefined {
    if (stored === undefined) return undefined;
    try {
      return decodeCertificates(stored.data);
    } catch (error) {
      this.options.logger.error({ error: (error as Error).message }, 'the certificate Secret is unusable; replacing it with new certificates');
      return undefined;
    }
  }

  private async sync(): Promise<void> {
    const { store, policy, logger, metrics } = this.options;
    for (let attempt = 1; ; attempt += 1) {
      let stored = await store.read();
      let set = this.decode(stored);
      const now = this.now();
      const decisions: Decision[] = [];
      // A few steps at most: a start of a rollover is never followed by its finish in one round.
      for (let step = 0; step < 4; step += 1) {
        const decision = decide(set, now, policy, this.publishedSince(set));
        if (decision.action === 'keep') break;
        decisions.push(decision);
        set = await apply(set, decision, now, policy, this.issuer);
      }
      if (set === undefined) throw new Error('no certificates after deciding');
      if (decisions.length > 0) {
        const revision = (stored?.revision ?? 0) + 1;
        try {
          const data = encodeCertificates(set);
          stored = stored === undefined ? await store.create(data, revision) : await store.replace(data, revision, stored.resourceVersion);
        } catch (error) {
          if (!(error instanceof StoreConflict) || attempt >= MAX_ATTEMPTS) throw error;
          logger.debug({ attempt }, 'another replica wrote the certificate Secret first; reading it again');
          await sleep(50 + Math.random() * 250 * attempt);
          continue;
        }
        for (const decision of decisions) metrics.certificateRotations.inc({ action: decision.action });
        logger.info({ decisions, revision, leafNotAfter: set.leaf.notAfter.toISOString(), caNotAfter: set.signing.notAfter.toISOString() }, 'certificate Secret written');
      }
      if (stored === undefined) throw new Error('no certificate Secret after writing');
      this.serve(set);
      await this.publish(set, stored, now);
      return;
    }
  }

  private publishedSince(set: StoredCertificates | undefined): Date | undefined {
    return set?.pending !== undefined && this.published?.pendingId === set.pending.id ? this.published.since : undefined;
  }

  private serve(set: StoredCertificates): void {
    const { metrics, logger } = this.options;
    metrics.caNotAfter.set(set.signing.notAfter.getTime() / 1000);
    if (this.served?.fingerprint === set.leaf.id) return;
    const certificate = parseServingCertificate(set.leaf);
    this.served = certificate;
    metrics.certificateNotAfter.set(certificate.notAfter.getTime() / 1000);
    metrics.certificateReloads.inc({ result: 'success' });
    this.options.onCertificate(certificate);
    logger.info({ fingerprint: certificate.fingerprint, notAfter: certificate.notAfter.toISOString(), ca: set.signing.id }, 'serving certificate adopted');
  }

  private async publish(set: StoredCertificates, stored: StoredSecret, now: Date): Promise<void> {
    const result = await this.options.store.publish(bundlePem(set), { uid: stored.uid, revision: stored.revision });
    if (result !== this.lastPublish) {
      const level = result === 'missing' ? 'warn' : 'info';
      this.options.logger[level]({ result, revision: stored.revision, cas: bundleOf(set).map((ca) => ca.id) }, 'CA bundle publication');
    }
    this.lastPublish = result;
    if (set.pending === undefined || result === 'stale' || result === 'missing') {
      this.published = undefined;
      return;
    }
    // A bundle written just now starts the overlap again: the apiserver has yet to see it.
    if (result === 'written' || this.published?.pendingId !== set.pending.id) this.published = { pendingId: set.pending.id, since: now };
  }
}
