// The schedule of the self-managed certificates, as pure functions: given what
// the Secret holds, the time and the policy, what happens next. Every replica
// runs the same decision on the same Secret, so they agree without talking;
// the Secret's resourceVersion decides which of two simultaneous writers wins.

export interface CaInfo {
  /** SHA-256 fingerprint. */
  id: string;
  notBefore: Date;
  notAfter: Date;
}

export interface LeafInfo {
  /** SHA-256 fingerprint. */
  id: string;
  issuerId: string;
  notBefore: Date;
  notAfter: Date;
  hosts: readonly string[];
}

export interface CertificateSet<C extends CaInfo = CaInfo, L extends LeafInfo = LeafInfo> {
  /** The CA that signed the leaf. */
  signing: C;
  leaf: L;
  /** The next CA: already in the bundle, signs nothing until the overlap has passed. */
  pending?: C;
  /** Earlier CAs, kept in the bundle until they expire: a replica may still serve a leaf they signed. */
  retired: readonly C[];
}

export interface RotationPolicy {
  hosts: readonly string[];
  leafLifetimeMs: number;
  caLifetimeMs: number;
  /** How long the apiserver must have had a new CA in its bundle before a leaf signed by it is served. */
  overlapMs: number;
}

/** A certificate is renewed when less than this share of its lifetime is left. */
export const RENEW_WHEN_LEFT = 1 / 3;

export type Decision =
  | { action: 'keep' }
  | { action: 'create'; reason: 'missing' | 'ca_expired' }
  | { action: 'renew_leaf'; reason: 'expiring' | 'hosts_changed' | 'wrong_issuer' }
  | { action: 'start_ca_rollover' }
  | { action: 'finish_ca_rollover' }
  | { action: 'drop_expired_cas' };

export type Action = Exclude<Decision, { action: 'keep' }>['action'];

function sameHosts(a: readonly string[], b: readonly string[]): boolean {
  const left = [...new Set(a)].sort();
  const right = [...new Set(b)].sort();
  return left.length === right.length && left.every((host, i) => host === right[i]);
}

/** The leaf a signer can issue now ends at the policy's lifetime, but never after the signer itself. */
export function leafValidity(signer: CaInfo, now: Date, policy: RotationPolicy): { now: Date; notAfter: Date } {
  return { now, notAfter: new Date(Math.min(now.getTime() + policy.leafLifetimeMs, signer.notAfter.getTime())) };
}

export function caValidity(now: Date, policy: RotationPolicy): { now: Date; notAfter: Date } {
  return { now, notAfter: new Date(now.getTime() + policy.caLifetimeMs) };
}

/**
 * The next step for `set` (undefined: the Secret is missing or unusable).
 * `pendingPublishedSince` is when this process first saw the pending CA in
 * every webhook's caBundle; the rollover finishes only an overlap after that.
 */
export function decide(
  set: CertificateSet | undefined,
  now: Date,
  policy: RotationPolicy,
  pendingPublishedSince: Date | undefined,
): Decision {
  if (set === undefined) return { action: 'create', reason: 'missing' };
  const t = now.getTime();
  if (set.signing.notAfter.getTime() <= t) {
    // Too late for a seamless rollover; a pending CA that is still valid is the best there is.
    if (set.pending !== undefined && set.pending.notAfter.getTime() > t) return { action: 'finish_ca_rollover' };
    return { action: 'create', reason: 'ca_expired' };
  }
  if (set.retired.some((ca) => ca.notAfter.getTime() <= t)) return { action: 'drop_expired_cas' };
  if (set.pending !== undefined) {
    if (pendingPublishedSince !== undefined && t - pendingPublishedSince.getTime() >= policy.overlapMs) return { action: 'finish_ca_rollover' };
  } else if (set.signing.notAfter.getTime() - t < policy.caLifetimeMs * RENEW_WHEN_LEFT) {
    return { action: 'start_ca_rollover' };
  }
  if (set.leaf.issuerId !== set.signing.id) return { action: 'renew_leaf', reason: 'wrong_issuer' };
  if (!sameHosts(set.leaf.hosts, policy.hosts)) return { action: 'renew_leaf', reason: 'hosts_changed' };
  const renewable = leafValidity(set.signing, now, policy).notAfter.getTime() > set.leaf.notAfter.getTime();
  // A leaf cut short by its CA's expiry waits for the rollover instead of being reissued on every check.
  if (renewable && set.leaf.notAfter.getTime() - t < policy.leafLifetimeMs * RENEW_WHEN_LEFT) return { action: 'renew_leaf', reason: 'expiring' };
  return { action: 'keep' };
}

/** Makes certificates; the policy has already fixed each validity window. */
export interface Issuer<C extends CaInfo, L extends LeafInfo> {
  ca(validity: { now: Date; notAfter: Date }): Promise<C>;
  leaf(signer: C, validity: { now: Date; notAfter: Date }): Promise<L>;
}

/** The set after `decision`. */
export async function apply<C extends CaInfo, L extends LeafInfo>(
  set: CertificateSet<C, L> | undefined,
  decision: Decision,
  now: Date,
  policy: RotationPolicy,
  issuer: Issuer<C, L>,
): Promise<CertificateSet<C, L> | undefined> {
  const live = (cas: readonly C[]): C[] => cas.filter((ca) => ca.notAfter.getTime() > now.getTime());
  switch (decision.action) {
    case 'keep':
      return set;
    case 'create': {
      const signing = await issuer.ca(caValidity(now, policy));
      return { signing, leaf: await issuer.leaf(signing, leafValidity(signing, now, policy)), retired: [] };
    }
  }
  if (set === undefined) throw new Error(`cannot ${decision.action} without certificates`);
  switch (decision.action) {
    case 'renew_leaf':
      return { ...set, leaf: await issuer.leaf(set.signing, leafValidity(set.signing, now, policy)) };
    case 'start_ca_rollover':
      return { ...set, pending: await issuer.ca(caValidity(now, policy)) };
    case 'finish_ca_rollover': {
      const signing = set.pending ?? set.signing;
      const { pending: _done, ...rest } = set;
      return { ...rest, signing, leaf: await issuer.leaf(signing, leafValidity(signing, now, policy)), retired: live([set.signing, ...set.retired]) };
    }
    case 'drop_expired_cas':
      return { ...set, retired: live(set.retired) };
  }
}

/** The CAs every webhook's caBundle must hold: the signing one first, then the pending and the retired ones. */
export function bundleOf<C extends CaInfo>(set: CertificateSet<C>): C[] {
  const all = [set.signing, ...(set.pending ? [set.pending] : []), ...set.retired];
  return all.filter((ca, i) => all.findIndex((other) => other.id === ca.id) === i);
}

/** Why a policy cannot rotate without failed admissions, or an empty list. */
export function policyProblems(policy: RotationPolicy, checkIntervalMs: number): string[] {
  const problems: string[] = [];
  if (policy.hosts.length === 0) problems.push('--cert-hosts must name at least one host');
  const leafWindow = policy.leafLifetimeMs * RENEW_WHEN_LEFT;
  if (2 * checkIntervalMs >= leafWindow) {
    problems.push('--cert-check-interval must be under a sixth of --cert-validity, so every replica adopts a renewed certificate in time');
  }
  const rolloverWindow = (policy.caLifetimeMs - policy.leafLifetimeMs) * RENEW_WHEN_LEFT;
  if (policy.overlapMs + checkIntervalMs >= rolloverWindow) {
    problems.push(
      '--ca-overlap plus --cert-check-interval must be under a third of (--ca-validity minus --cert-validity), so a CA rollover finishes before the old CA cuts leaves short',
    );
  }
  return problems;
}
