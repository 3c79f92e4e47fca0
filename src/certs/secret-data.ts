// The layout of the self-managed certificates in their Secret (data keys,
// PEM text), decoded into a CertificateSet with each pair cross-checked.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { CaInfo, CertificateSet, LeafInfo } from './rotation.js';
import { bundleOf } from './rotation.js';

export interface CaMaterial extends CaInfo {
  cert: string;
  key: string;
}

export interface LeafMaterial extends LeafInfo {
  cert: string;
  key: string;
}

export type StoredCertificates = CertificateSet<CaMaterial, LeafMaterial>;

/** Data keys of the Secret. `ca-bundle.crt` is written for readers and ignored when read. */
export const SECRET_KEYS = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  cert: 'tls.crt',
  key: 'tls.key',
  pendingCaCert: 'next-ca.crt',
  pendingCaKey: 'next-ca.key',
  retiredCaCerts: 'retired-ca.crt',
  bundle: 'ca-bundle.crt',
} as const;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;

export function splitPem(text: string): string[] {
  return (text.match(PEM_CERTIFICATE) ?? []).map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`));
}

function parse(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new Error(`${what} is not a certificate: ${(error as Error).message}`);
  }
}

function checkKey(x509: X509Certificate, key: string, what: string): void {
  let fits: boolean;
  try {
    fits = x509.checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw new Error(`${what} key is unreadable: ${(error as Error).message}`);
  }
  if (!fits) throw new Error(`${what} key does not fit its certificate`);
}

function info(x509: X509Certificate): CaInfo {
  return { id: x509.fingerprint256, notBefore: new Date(x509.validFrom), notAfter: new Date(x509.validTo) };
}

/** `DNS:a, IP Address:127.0.0.1` → `['a', '127.0.0.1']`. */
function hostsOf(x509: X509Certificate): string[] {
  return (x509.subjectAltName ?? '')
    .split(', ')
    .map((entry) => entry.replace(/^(DNS|IP Address):/, ''))
    .filter((host) => host !== '');
}

export function caMaterial(pair: { cert: string; key: string }, what = 'the CA'): CaMaterial {
  const x509 = parse(pair.cert, what);
  if (!x509.ca) throw new Error(`${what} is not a CA certificate`);
  checkKey(x509, pair.key, what);
  return { ...pair, ...info(x509) };
}

export function leafMaterial(pair: { cert: string; key: string }, cas: readonly CaMaterial[]): LeafMaterial {
  const x509 = parse(pair.cert, 'the serving certificate');
  checkKey(x509, pair.key, 'the serving certificate');
  const issuer = cas.find((ca) => x509.checkIssued(new X509Certificate(ca.cert)) && x509.verify(new X509Certificate(ca.cert).publicKey));
  return { ...pair, ...info(x509), issuerId: issuer?.id ?? '', hosts: hostsOf(x509) };
}

/** The certificates a Secret holds; throws with the reason when they are incomplete or do not fit together. */
export function decodeCertificates(data: Readonly<Record<string, string>>): StoredCertificates {
  const need = (key: string): string => {
    const value = data[key];
    if (value === undefined || value === '') throw new Error(`${key} is missing`);
    return value;
  };
  const signing = caMaterial({ cert: need(SECRET_KEYS.caCert), key: need(SECRET_KEYS.caKey) });
  const pendingCert = data[SECRET_KEYS.pendingCaCert];
  const pending = pendingCert ? caMaterial({ cert: pendingCert, key: need(SECRET_KEYS.pendingCaKey) }, 'the next CA') : undefined;
  // Retired CAs sign nothing any more: their keys are not kept.
  const retired = splitPem(data[SECRET_KEYS.retiredCaCerts] ?? '').map((cert) => {
    const x509 = parse(cert, 'a retired CA');
    return { cert, key: '', ...info(x509) };
  });
  const leaf = leafMaterial({ cert: need(SECRET_KEYS.cert), key: need(SECRET_KEYS.key) }, [signing]);
  return { signing, leaf, retired, ...(pending ? { pending } : {}) };
}

/** The PEM bundle for caBundle: every CA of bundleOf, concatenated. */
export function bundlePem(set: CertificateSet<CaMaterial>): string {
  return bundleOf(set)
    .map((ca) => ca.cert)
    .join('');
}

export function encodeCertificates(set: StoredCertificates): Record<string, string> {
  return {
    [SECRET_KEYS.caCert]: set.signing.cert,
    [SECRET_KEYS.caKey]: set.signing.key,
    [SECRET_KEYS.cert]: set.leaf.cert,
    [SECRET_KEYS.key]: set.leaf.key,
    ...(set.pending ? { [SECRET_KEYS.pendingCaCert]: set.pending.cert, [SECRET_KEYS.pendingCaKey]: set.pending.key } : {}),
    ...(set.retired.length > 0 ? { [SECRET_KEYS.retiredCaCerts]: set.retired.map((ca) => ca.cert).join('') } : {}),
    [SECRET_KEYS.bundle]: bundlePem(set),
  };
}
