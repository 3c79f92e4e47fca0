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

function randomSerial(): string {
  // Positive 128-bit serial: a leading 0 nibble keeps the DER integer positive.
  return '0' + forge.util.bytesToHex(forge.random.getBytesSync(16)).slice(1);
}

function validity(cert: forge.pki.Certificate, now: Date, days: number): void {
  // Back-date by an hour to tolerate clock skew between nodes.
  cert.validity.notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now.getTime() + days * 24 * 60 * 60 * 1000);
}

function newKeyPair(): forge.pki.rsa.KeyPair {
  // forge delegates to node:crypto's native RSA generation when available.
  return forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
}

/** A self-signed CA certificate and its key (also used by the e2e harness for its cluster CA). */
export function createCa(
  now: Date,
  days: number,
  commonName = 'sidecar-injector-ca',
): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, now, days);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}

/** A CA (new or given) and a serving certificate signed by it, all PEM. */
export function generateCertificates(request: CertificateRequest): GeneratedCertificates {
  if (request.hosts.length === 0) throw new Error('at least one host is needed for the serving certificate');
  const now = request.now ?? new Date();
  const ca = request.ca
    ? { cert: forge.pki.certificateFromPem(request.ca.cert), key: forge.pki.privateKeyFromPem(request.ca.key) as forge.pki.rsa.PrivateKey }
    : createCa(now, request.caValidityDays);

  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, now, request.validityDays);
  cert.setSubject([{ name: 'commonName', value: request.hosts[0] ?? '' }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: request.hosts.map((host) => (isIP(host) !== 0 ? { type: 7, ip: host } : { type: 2, value: host })),
    },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());

  return {
    caCert: forge.pki.certificateToPem(ca.cert),
    caKey: forge.pki.privateKeyToPem(ca.key),
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
  };
}
