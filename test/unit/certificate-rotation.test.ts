import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  apply,
  bundleOf,
  decide,
  policyProblems,
  type CaInfo,
  type CertificateSet,
  type Issuer,
  type LeafInfo,
  type RotationPolicy,
} from '../../src/certs/rotation.js';

const S = 1000;
const HOSTS = ['svc.ns.svc', '127.0.0.1'];
const POLICY: RotationPolicy = { hosts: HOSTS, leafLifetimeMs: 90 * S, caLifetimeMs: 900 * S, overlapMs: 20 * S };

let issued = 0;

/** Certificates without crypto: ids count up (across issuers), notBefore is back-dated like the real issuer's. */
function fakeIssuer(): Issuer<CaInfo, LeafInfo> {
  const issuer = {
    ca: async ({ now, notAfter }: { now: Date; notAfter: Date }): Promise<CaInfo> => {
      issued += 1;
      return { id: `ca-${issued}`, notBefore: new Date(now.getTime() - 300 * S), notAfter };
    },
    leaf: async (signer: CaInfo, { now, notAfter }: { now: Date; notAfter: Date }): Promise<LeafInfo> => {
      issued += 1;
      return { id: `leaf-${issued}`, issuerId: signer.id, notBefore: new Date(now.getTime() - 300 * S), notAfter, hosts: HOSTS };
    },
  };
  return issuer;
}

const at = (seconds: number): Date => new Date(seconds * S);

async function created(now: Date, policy = POLICY): Promise<CertificateSet> {
  const set = await apply(undefined, { action: 'create', reason: 'missing' }, now, policy, fakeIssuer());
  if (set === undefined) throw new Error('no set');
  return set;
}

describe('decide', () => {
  it('creates when there is nothing, and a replica reading a fresh set keeps it', async () => {
    expect(decide(undefined, at(0), POLICY, undefined)).toEqual({ action: 'create', reason: 'missing' });
    const set = await created(at(0));
    expect(set.leaf.issuerId).toBe(set.signing.id);
    expect(decide(set, at(0), POLICY, undefined)).toEqual({ action: 'keep' });
    expect(decide(set, at(59), POLICY, undefined)).toEqual({ action: 'keep' });
  });

  it('renews the leaf when less than a third of its lifetime is left, with the same CA', async () => {
    const set = await created(at(0));
    expect(decide(set, at(61), POLICY, undefined)).toEqual({ action: 'renew_leaf', reason: 'expiring' });
    const renewed = await apply(set, { action: 'renew_leaf', reason: 'expiring' }, at(61), POLICY, fakeIssuer());
    expect(renewed?.signing).toBe(set.signing);
    expect(renewed?.leaf.notAfter).toEqual(at(151));
    expect(bundleOf(renewed as CertificateSet)).toEqual([set.signing]);
  });

  it('reissues a leaf whose hosts differ from the policy, or that another CA signed', async () => {
    const set = await created(at(0));
    expect(decide(set, at(1), { ...POLICY, hosts: ['other.ns.svc'] }, undefined)).toEqual({ action: 'renew_leaf', reason: 'hosts_changed' });
    expect(decide({ ...set, leaf: { ...set.leaf, issuerId: 'elsewhere' } }, at(1), POLICY, undefined)).toEqual({ action: 'renew_leaf', reason: 'wrong_issuer' });
  });

  it('rolls the CA over: publish the next CA, sign with it only an overlap after it was seen published, keep the old one until it expires', async () => {
    const set = (await apply(await created(at(0)), { action: 'renew_leaf', reason: 'expiring' }, at(590), POLICY, fakeIssuer())) as CertificateSet;
    expect(decide(set, at(599), POLICY, undefined)).toEqual({ action: 'keep' });
    expect(decide(set, at(601), POLICY, undefined)).toEqual({ action: 'start_ca_rollover' });
    const started = (await apply(set, { action: 'start_ca_rollover' }, at(601), POLICY, fakeIssuer())) as CertificateSet;
    expect(started.leaf).toBe(set.leaf);
    expect(bundleOf(started).map((ca) => ca.id)).toEqual([set.signing.id, started.pending?.id]);
    // Not yet seen in the webhook configuration, or not for long enough: the old CA keeps signing.
    expect(decide(started, at(640), POLICY, undefined)).toEqual({ action: 'keep' });
    expect(decide(started, at(615), POLICY, at(601))).toEqual({ action: 'keep' });
    expect(decide(started, at(621), POLICY, at(601))).toEqual({ action: 'finish_ca_rollover' });
    const finished = (await apply(started, { action: 'finish_ca_rollover' }, at(621), POLICY, fakeIssuer())) as CertificateSet;
    expect(finished.signing).toBe(started.pending);
    expect(finished.pending).toBeUndefined();
    expect(finished.leaf.issuerId).toBe(finished.signing.id);
    expect(finished.retired).toEqual([set.signing]);
    expect(decide(finished, at(650), POLICY, undefined)).toEqual({ action: 'keep' });
    expect(decide(finished, at(900), POLICY, undefined)).toEqual({ action: 'drop_expired_cas' });
    const dropped = (await apply(finished, { action: 'drop_expired_cas' }, at(900), POLICY, fakeIssuer())) as CertificateSet;
    expect(bundleOf(dropped)).toEqual([finished.signing]);
  });

  it('does not reissue a leaf cut short by its CA on every check; the rollover renews it', async () => {
    const set = await created(at(0));
    const capped = (await apply(set, { action: 'renew_leaf', reason: 'expiring' }, at(850), POLICY, fakeIssuer())) as CertificateSet;
    expect(capped.leaf.notAfter).toEqual(set.signing.notAfter);
    const started = (await apply(capped, { action: 'start_ca_rollover' }, at(851), POLICY, fakeIssuer())) as CertificateSet;
    expect(decide(started, at(860), POLICY, undefined)).toEqual({ action: 'keep' });
  });

  it('recovers from an expired CA: the pending CA if it is valid, else new certificates', async () => {
    const set = await created(at(0));
    expect(decide(set, at(900), POLICY, undefined)).toEqual({ action: 'create', reason: 'ca_expired' });
    const started = (await apply(set, { action: 'start_ca_rollover' }, at(700), POLICY, fakeIssuer())) as CertificateSet;
    expect(decide(started, at(901), POLICY, undefined)).toEqual({ action: 'finish_ca_rollover' });
  });
});

describe('policyProblems', () => {
  it('accepts the defaults and the e2e timings', () => {
    expect(policyProblems({ hosts: HOSTS, leafLifetimeMs: 90 * 86400 * S, caLifetimeMs: 3650 * 86400 * S, overlapMs: 3600 * S }, 10 * S)).toEqual([]);
    expect(policyProblems({ hosts: HOSTS, leafLifetimeMs: 20 * S, caLifetimeMs: 48 * S, overlapMs: 6 * S }, 1 * S)).toEqual([]);
  });

  it('refuses timings that cannot rotate without failed admissions', () => {
    expect(policyProblems({ ...POLICY, hosts: [] }, S).join()).toContain('--cert-hosts');
    expect(policyProblems(POLICY, 20 * S).join()).toContain('--cert-check-interval must be under a sixth');
    expect(policyProblems({ ...POLICY, overlapMs: 300 * S }, S).join()).toContain('--ca-overlap plus --cert-check-interval');
  });
});

interface Replica {
  nextCheck: number;
  served: LeafInfo | undefined;
  published: { pendingId: string; since: number } | undefined;
}

/**
 * Replicas check a shared Secret at jittered intervals and publish its
 * bundle; the apiserver trusts a published bundle only `pickup` ms after it
 * was written (its informer). At every check, every replica's served leaf
 * must be valid and signed by a CA the apiserver trusts then.
 */
async function simulate(input: { policy: RotationPolicy; checkMs: number; pickupMs: number; replicas: number; jitter: number[] }): Promise<string[]> {
  const { policy, checkMs, pickupMs } = input;
  const issuer = fakeIssuer();
  let secret: CertificateSet | undefined;
  const mwc: Array<{ at: number; ids: string[] }> = [];
  const trusted = (t: number): string[] | undefined => mwc.filter((w) => w.at + pickupMs <= t).at(-1)?.ids;
  const replicas: Replica[] = Array.from({ length: input.replicas }, (_, i) => ({ nextCheck: (i * checkMs) / input.replicas, served: undefined, published: undefined }));
  const horizon = policy.caLifetimeMs * 2.5;
  const failures: string[] = [];
  let step = 0;
  for (;;) {
    const replica = replicas.reduce((a, b) => (b.nextCheck < a.nextCheck ? b : a));
    const t = replica.nextCheck;
    if (t > horizon) break;
    const bundle = trusted(t);
    if (bundle !== undefined) {
      for (const [i, r] of replicas.entries()) {
        if (r.served === undefined) continue;
        if (!bundle.includes(r.served.issuerId)) failures.push(`t=${t}: replica ${i} serves a leaf of ${r.served.issuerId}, apiserver trusts ${bundle.join(',')}`);
        if (r.served.notAfter.getTime() <= t) failures.push(`t=${t}: replica ${i} serves an expired leaf`);
      }
      if (bundle.length === 0) failures.push(`t=${t}: empty bundle`);
    }
    let set = secret;
    const since = set?.pending !== undefined && replica.published?.pendingId === set.pending.id ? new Date(replica.published.since) : undefined;
    for (let i = 0; i < 4; i += 1) {
      const decision = decide(set, new Date(t), policy, since);
      if (decision.action === 'keep') break;
      set = await apply(set, decision, new Date(t), policy, issuer);
    }
    secret = set as CertificateSet;
    replica.served = secret.leaf;
    const ids = bundleOf(secret).map((ca) => ca.id);
    const last = mwc.at(-1);
    const written = last === undefined || last.ids.join() !== ids.join();
    if (written) mwc.push({ at: t, ids });
    if (secret.pending === undefined) replica.published = undefined;
    else if (written || replica.published?.pendingId !== secret.pending.id) replica.published = { pendingId: secret.pending.id, since: t };
    replica.nextCheck = t + checkMs * (input.jitter[step % input.jitter.length] ?? 1);
    step += 1;
  }
  return failures;
}

describe('rotation over time (property)', () => {
  it('every served leaf chains to a trusted CA and is valid, through leaf renewals and CA rollovers, with several replicas', async () => {
    const scenario = fc
      .record({
        checkMs: fc.constant(1 * S),
        leafS: fc.integer({ min: 8, max: 60 }),
        extraCaS: fc.integer({ min: 10, max: 120 }),
        overlapS: fc.integer({ min: 2, max: 20 }),
        pickupShare: fc.double({ min: 0, max: 0.9, noNaN: true }),
        replicas: fc.integer({ min: 1, max: 3 }),
        jitter: fc.array(fc.double({ min: 0.9, max: 1.1, noNaN: true }), { minLength: 1, maxLength: 7 }),
      })
      .map((s) => ({
        policy: { hosts: HOSTS, leafLifetimeMs: s.leafS * S, caLifetimeMs: (s.leafS + s.extraCaS) * S, overlapMs: s.overlapS * S },
        checkMs: s.checkMs,
        pickupMs: s.pickupShare * s.overlapS * S,
        replicas: s.replicas,
        jitter: s.jitter,
      }))
      // Jitter stretches a check interval by up to a tenth.
      .filter((s) => policyProblems(s.policy, s.checkMs * 1.1).length === 0);
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        expect(await simulate(s)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
