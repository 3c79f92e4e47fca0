// Certificates for the throwaway e2e control plane, made with node-forge so no
// openssl/cfssl binary is needed. Also usable by tests, e.g. to give a webhook
// server a serving cert the apiserver trusts (issue it from the cluster CA).
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { createCa } from '../../../src/certs/generate.js';

const { pki } = forge;

export interface CertKeyPem {
  certPem: string;
  keyPem: string;
}

export interface CertAuthority extends CertKeyPem {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

export interface LeafOptions {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client' | 'both';
}

// forge hands RSA generation to node's native crypto when it can, so this is fast.
function newKeyPair(): forge.pki.rsa.KeyPair {
  return pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
}

function baseCert(publicKey: forge.pki.PublicKey): forge.pki.Certificate {
  const cert = pki.createCertificate();
  cert.publicKey = publicKey;
  // Leading 01 keeps the DER integer positive (Go rejects negative serials).
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  const now = Date.now();
  // Backdate a little so small clock differences never make a cert "not yet valid".
  cert.validity.notBefore = new Date(now - 5 * 60_000);
  cert.validity.notAfter = new Date(now + 365 * 24 * 3600_000);
  return cert;
}

/** The cluster CA: the project's own CA generation (src/certs/generate.ts). */
export function createCA(commonName = 'sidecar-injector-e2e-ca'): CertAuthority {
  const { cert, key } = createCa(new Date(), 365, commonName);
  return { cert, key, certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(key) };
}

export function issueCert(ca: CertAuthority, opts: LeafOptions): CertKeyPem {
  const keys = newKeyPair();
  const cert = baseCert(keys.publicKey);
  const subject: forge.pki.CertificateField[] = [{ name: 'commonName', value: opts.commonName }];
  // Kubernetes maps O= to groups (e.g. system:masters).
  for (const o of opts.organizations ?? []) subject.push({ name: 'organizationName', value: o });
  cert.setSubject(subject);
  cert.setIssuer(ca.cert.subject.attributes);

  const altNames = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(opts.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    {
      name: 'extKeyUsage',
      serverAuth: opts.usage !== 'client',
      clientAuth: opts.usage !== 'server',
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  cert.sign(ca.key, forge.md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(keys.privateKey) };
}

/** An RSA key pair as PEM, e.g. for signing/verifying service-account tokens. */
export function createRsaKeyPairPem(): { publicKeyPem: string; privateKeyPem: string } {
  const keys = newKeyPair();
  return {
    publicKeyPem: pki.publicKeyToPem(keys.publicKey),
    privateKeyPem: pki.privateKeyToPem(keys.privateKey),
  };
}
