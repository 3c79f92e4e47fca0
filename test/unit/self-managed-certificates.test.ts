// The self-managed certificates of several replicas on one in-memory store
// that behaves like the apiserver (resourceVersion conflicts, AlreadyExists),
// with real certificates and a clock the test moves.
import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { bundleWrite } from '../../src/certs/bundle-marker.js';
import { bundleOf } from '../../src/certs/rotation.js';
import { decodeCertificates, splitPem } from '../../src/certs/secret-data.js';
import { SelfManagedCertificates, StoreConflict, type CertificateStore, type PublishResult, type StoredSecret } from '../../src/certs/self-managed.js';
import type { ServingCertificate } from '../../src/certs/serving-certificate.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { loadConfig } from '../../src/config/config.js';
import type { KubeConnection } from '../../src/kube/connection.js';
import { startCertificates } from '../../src/serve/certificate-source.js';
import { StartupError } from '../../src/serve/startup-error.js';

const S = 1000;
const POLICY = { hosts: ['svc.ns.svc', '127.0.0.1'], leafLifetimeMs: 30 * S, caLifetimeMs: 120 * S, overlapMs: 5 * S };

class MemoryStore implements CertificateStore {
  secret: StoredSecret | undefined;
  webhooks = ['', ''];
  source: string | undefined;
  writes = 0;
  failReads = false;
  private version = 0;

  async read(): Promise<StoredSecret | undefined> {
    if (this.failReads) throw new Error('HTTP 503: apiserver unavailable');
    return this.secret;
  }

  private store(data: Record<string, string>, revision: number): StoredSecret {
    this.version += 1;
    this.writes += 1;
    this.secret = { data, revision, uid: 'uid-1', resourceVersion: String(this.version) };
    return this.secret;
  }

  async create(data: Record<string, string>, revision: number): Promise<StoredSecret> {
    if (this.secret !== undefined) throw new StoreConflict('exists');
    return this.store(data, revision);
  }

  async replace(data: Record<string, string>, revision: number, resourceVersion: string): Promise<StoredSecret> {
    if (this.secret?.resourceVersion !== resourceVersion) throw new StoreConflict('conflict');
    return this.store(data, revision);
  }

  async publish(bundle: string, source: { uid: string; revision: number }): Promise<PublishResult> {
    const action = bundleWrite({ bundles: this.webhooks, source: this.source }, bundle, source);
    if (action !== 'write') return action;
    this.webhooks = this.webhooks.map(() => bundle);
    this.source = `${source.uid}/${source.revision}`;
    return 'written';
  }
}

function replica(store: CertificateStore, clock: { now: Date }): { certificates: SelfManagedCertificates; adopted: ServingCertificate[]; log: () => string } {
  let log = '';
  const destination = new Writable({ write: (chunk: Buffer, _encoding, done) => ((log += chunk.toString()), done()) });
  const adopted: ServingCertificate[] = [];
  const certificates = new SelfManagedCertificates({
    store,
    policy: POLICY,
    checkIntervalMs: S,
    logger: createLogger({ level: 'debug', destination }),
    metrics: createMetrics({ processMetrics: false }),
    onCertificate: (certificate) => adopted.push(certificate),
    now: () => clock.now,
  });
  return { certificates, adopted, log: () => log };
}

const issuerOf = (certificate: ServingCertificate, cas: string[]): string | undefined =>
  cas.find((ca) => new X509Certificate(certificate.cert).verify(new X509Certificate(ca).publicKey));

describe('self-managed certificates', () => {
  it('two replicas starting together agree on one CA and certificate; the loser of the create adopts the winner', async () => {
    const store = new MemoryStore();
    const clock = { now: new Date() };
    const [a, b] = [replica(store, clock), replica(store, clock)];
    expect(await Promise.all([a.certificates.check(), b.certificates.check()])).toEqual([true, true]);
    expect(store.writes).toBe(1);
    expect(a.log() + b.log()).toContain('another replica wrote the certificate Secret first');
    expect(a.certificates.current()?.fingerprint).toBe(b.certificates.current()?.fingerprint);
    const stored = decodeCertificates(store.secret?.data ?? {});
    expect(stored.leaf.id).toBe(a.certificates.current()?.fingerprint);
    expect(store.webhooks).toEqual([stored.signing.cert, stored.signing.cert]);
    expect(new X509Certificate(stored.leaf.cert).subjectAltName).toBe('DNS:svc.ns.svc, IP Address:127.0.0.1');
  });

  it('renews the leaf, rolls the CA over with both CAs published in between, and drops the old CA once expired', async () => {
    const store = new MemoryStore();
    const start = Date.now();
    const clock = { now: new Date(start) };
    const at = (seconds: number): Date => new Date(start + seconds * S);
    const a = replica(store, clock);
    const b = replica(store, clock);
    await a.certificates.check();
    await b.certificates.check();
    const firstCa = decodeCertificates(store.secret?.data ?? {}).signing;

    clock.now = at(21); // 9 s of 30 left: renewed by whoever checks first, adopted by the other
    await a.certificates.check();
    await b.certificates.check();
    expect(a.adopted).toHaveLength(2);
    expect(b.certificates.current()?.fingerprint).toBe(a.certificates.current()?.fingerprint);
    expect(store.webhooks[0]).toBe(firstCa.cert);

    clock.now = at(81); // 39 s of the CA's 120 left: the next CA is published, the leaf stays
    await a.certificates.check();
    const started = decodeCertificates(store.secret?.data ?? {});
    expect(started.pending).toBeDefined();
    expect(started.signing.id).toBe(firstCa.id);
    expect(splitPem(store.webhooks[0] ?? '')).toEqual([firstCa.cert, started.pending?.cert]);
    expect(issuerOf(a.certificates.current() as ServingCertificate, [firstCa.cert])).toBe(firstCa.cert);

    clock.now = at(84); // published 3 s ago, the overlap is 5 s
    await a.certificates.check();
    expect(decodeCertificates(store.secret?.data ?? {}).pending).toBeDefined();

    clock.now = at(87);
    await a.certificates.check();
    const finished = decodeCertificates(store.secret?.data ?? {});
    expect(finished.signing.id).toBe(started.pending?.id);
    expect(bundleOf(finished).map((ca) => ca.id)).toEqual([finished.signing.id, firstCa.id]);
    expect(issuerOf(a.certificates.current() as ServingCertificate, [finished.signing.cert])).toBe(finished.signing.cert);
    // The other replica still serves the old CA's leaf until it checks: the old CA is still trusted.
    expect(splitPem(store.webhooks[1] ?? '')).toContain(issuerOf(b.certificates.current() as ServingCertificate, [firstCa.cert]));
    await b.certificates.check();
    expect(b.certificates.current()?.fingerprint).toBe(a.certificates.current()?.fingerprint);

    clock.now = at(121); // the first CA has expired
    await b.certificates.check();
    expect(splitPem(store.webhooks[0] ?? '')).toEqual([finished.signing.cert]);
    expect(a.log()).toContain('"start_ca_rollover"');
    expect(a.log()).toContain('"finish_ca_rollover"');
  });

  it('keeps serving the last good certificate while the API fails, and never throws', async () => {
    const store = new MemoryStore();
    const clock = { now: new Date() };
    const a = replica(store, clock);
    await a.certificates.check();
    const served = a.certificates.current();
    store.failReads = true;
    expect(await a.certificates.check()).toBe(false);
    expect(a.certificates.current()).toBe(served);
    expect(a.log()).toContain('HTTP 503: apiserver unavailable');
  });

  it('replaces a Secret whose certificates are unusable', async () => {
    const store = new MemoryStore();
    store.secret = { data: { 'ca.crt': 'garbage' }, revision: 3, uid: 'uid-1', resourceVersion: '0' };
    const a = replica(store, { now: new Date() });
    expect(await a.certificates.check()).toBe(true);
    expect(store.secret.revision).toBe(4);
    expect(a.log()).toContain('the certificate Secret is unusable');
    expect(a.certificates.current()?.fingerprint).toBe(decodeCertificates(store.secret.data).leaf.id);
  });
});

describe('startCertificates in self-managed mode', () => {
  const context = { logger: createLogger({ level: 'silent' }), metrics: createMetrics({ processMetrics: false }), onCertificate: () => undefined };
  const someConnection = {} as KubeConnection;
  it.each([
    [[], undefined, 'needs API access'],
    [[], someConnection, 'needs --namespace (SIDECAR_INJECTOR_NAMESPACE)'],
    [['--namespace', 'ns', '--cert-check-interval', '10', '--cert-validity', '59'], someConnection, '--cert-check-interval must be under a sixth of --cert-validity'],
    [['--namespace', 'ns', '--ca-validity', '7776000'], someConnection, '--ca-overlap plus --cert-check-interval'],
  ] as const)('refuses to start with %j', async (flags, connection, message) => {
    const config = loadConfig(['--cert-mode', 'self-managed', ...flags], {});
    await expect(startCertificates(config, connection, context)).rejects.toThrow(StartupError);
    await expect(startCertificates(config, connection, context)).rejects.toThrow(message);
  });
});

describe('decodeCertificates', () => {
  it('names what is wrong with a Secret', async () => {
    const [one, two] = [new MemoryStore(), new MemoryStore()];
    const clock = { now: new Date() };
    await Promise.all([replica(one, clock).certificates.check(), replica(two, clock).certificates.check()]);
    const data = one.secret?.data ?? {};
    const other = two.secret?.data ?? {};
    expect(() => decodeCertificates({ ...data, 'tls.key': '' })).toThrow('tls.key is missing');
    expect(() => decodeCertificates({ ...data, 'ca.key': other['ca.key'] ?? '' })).toThrow('the CA key does not fit its certificate');
    expect(() => decodeCertificates({ ...data, 'ca.crt': other['tls.crt'] ?? '' })).toThrow('the CA is not a CA certificate');
    // A leaf of another CA decodes, and the schedule reissues it (wrong_issuer).
    expect(decodeCertificates({ ...data, 'tls.crt': other['tls.crt'] ?? '', 'tls.key': other['tls.key'] ?? '' }).leaf.issuerId).toBe('');
  });
});

describe('bundleWrite', () => {
  const source = { uid: 'u', revision: 5 };
  it.each([
    [{ bundles: ['B', 'B'], source: 'u/9' }, 'unchanged'],
    [{ bundles: ['B', 'A'], source: 'u/5' }, 'write'],
    [{ bundles: ['A', 'A'], source: 'u/4' }, 'write'],
    [{ bundles: ['A', 'A'], source: 'u/6' }, 'stale'],
    [{ bundles: ['A', 'A'], source: 'other/6' }, 'write'],
    [{ bundles: ['', ''], source: undefined }, 'write'],
  ] as const)('%j → %s', (current, expected) => {
    expect(bundleWrite(current, 'B', source)).toBe(expected);
  });
});
