import { isIP } from 'node:net';
import forge from 'node-forge';

export interface GeneratedCertificates {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

export interface CertificateRequest {
  /** DNS names and IP addresses the serving certificate is valid for; the first is the CN. */
  hosts: readonly string[];
  validityDays: number;
  caValidityDays: number;
  /** Injected so callers (and tests) control time; defaults to now. */
  now?: Date;
  /** Reuse an existing CA instead of making a new one. */
  ca?: { cert: string; key: string };
}

export function randomSerial(): string {
  // Positive 128-bit serial whose first byte is 0x10–0x1f: positive, and
  // never 0x00, which DER forbids before a byte below 0x80 ("illegal
  // padding": with a leading 0 nibble one certificate in 32 did not parse).
  return '1' + forge.util.bytesToHex(forge.random.getBytesSync(16)).slice(1);
}

function backdated(now: Date, days: number): Validity {
  // Back-date by an hour to tolerate clock skew between nodes.
  return { notBefore: new Date(now.getTime() - 60 * 60 * 1000), notAfter: new Date(now.getTime() + days * 24 * 60 * 60 * 1000) };
}

function newKeyPair(): forge.pki.rsa.KeyPair {
  // forge delegates to node:crypto's native RSA generation when available.
  return forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
}

/** The native generation off the event loop, for a process that is serving admissions meanwhile. */
function newKeyPairAsync(): Promise<forge.pki.rsa.KeyPair> {
  return new Promise((resolve, reject) =>
    forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 }, (error, keys) => (error ? reject(error) : resolve(keys))),
  );
}

function caCertificate(keys: forge.pki.rsa.KeyPair, commonName: string, window: Validity): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = window.notBefore;
  cert.validity.notAfter = window.notAfter;
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return cert;
}

function servingCertificate(
  publicKey: forge.pki.PublicKey,
  hosts: readonly string[],
  ca: { cert: forge.pki.Certificate; key: forge.pki.PrivateKey },
  window: Validity,
): forge.pki.Certificate {
  if (hosts.length === 0) throw new Error('at least one host is needed for the serving certificate');
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = window.notBefore;
  cert.validity.notAfter = window.notAfter;
  cert.setSubject([{ name: 'commonName', value: hosts[0] ?? '' }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: hosts.map((host) => (isIP(host) !== 0 ? { type: 7, ip: host } : { type: 2, value: host })),
    },
    // Names the signing key, so a verifier picks the right one of two CAs during a rollover.
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.key as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return cert;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export interface PemPair {
  cert: string;
  key: string;
}

/** forge writes CRLF; the Secret and caBundle hold plain LF PEM, so equal bundles compare equal as text. */
function lf(pem: string): string {
  return pem.replace(/\r\n/g, '\n');
}

/** A self-signed CA for exactly `window` (the self-managed mode decides lifetimes and back-dating). */
export async function issueCa(commonName: string, window: Validity): Promise<PemPair> {
  const keys = await newKeyPairAsync();
  return { cert: lf(forge.pki.certificateToPem(caCertificate(keys, commonName, window))), key: lf(forge.pki.privateKeyToPem(keys.privateKey)) };
}

/** A serving certificate for `hosts` signed by `ca`, for exactly `window`. */
export async function issueServingCertificate(hosts: readonly string[], ca: PemPair, window: Validity): Promise<PemPair> {
  const keys = await newKeyPairAsync();
  const signer = { cert: forge.pki.certificateFromPem(ca.cert), key: forge.pki.privateKeyFromPem(ca.key) };
  return {
    cert: lf(forge.pki.certificateToPem(servingCertificate(keys.publicKey, hosts, signer, window))),
    key: lf(forge.pki.privateKeyToPem(keys.privateKey)),
  };
}

/** A self-signed CA certificate and its key (also used by the e2e harness for its cluster CA). */
export function createCa(
  now: Date,
  days: number,
  commonName = 'sidecar-injector-ca',
): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const keys = newKeyPair();
  return { cert: caCertificate(keys, commonName, backdated(now, days)), key: keys.privateKey };
}

/** A CA (new or given) and a serving certificate signed by it, all PEM. */
export function generateCertificates(request: CertificateRequest): GeneratedCertificates {
  if (request.hosts.length === 0) throw new Error('at least one host is needed for the serving certificate');
  const now = request.now ?? new Date();
  const ca = request.ca
    ? { cert: forge.pki.certificateFromPem(request.ca.cert), key: forge.pki.privateKeyFromPem(request.ca.key) as forge.pki.rsa.PrivateKey }
    : createCa(now, request.caValidityDays);
  const keys = newKeyPair();
  const cert = servingCertificate(keys.publicKey, request.hosts, ca, backdated(now, request.validityDays));
  return {
    caCert: forge.pki.certificateToPem(ca.cert),
    caKey: forge.pki.privateKeyToPem(ca.key),
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
  };
}
