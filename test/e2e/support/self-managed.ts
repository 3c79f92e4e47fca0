// Reading what the self-managed certificate mode left in the cluster and on
// the wire: the Secret, every webhook's caBundle, the certificate a port serves.
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import type { Kube } from './kube.js';

export interface CertificateSecret {
  revision: number;
  /** Fingerprints (SHA-256) of the CA that signed the leaf, of the leaf, and of every CA in ca-bundle.crt. */
  ca: string;
  leaf: string;
  bundle: string[];
  caPem: string;
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function fingerprints(pemBundle: string): string[] {
  return (pemBundle.match(PEM) ?? []).map((pem) => new X509Certificate(pem).fingerprint256);
}

export async function readCertificateSecret(kube: Kube, namespace: string, name: string): Promise<CertificateSecret> {
  const secret = await kube.core.readNamespacedSecret({ name, namespace });
  const text = (key: string): string => Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');
  return {
    revision: Number(secret.metadata?.annotations?.['sidecar.example/certificates-revision']),
    ca: new X509Certificate(text('ca.crt')).fingerprint256,
    leaf: new X509Certificate(text('tls.crt')).fingerprint256,
    bundle: fingerprints(text('ca-bundle.crt')),
    caPem: text('ca.crt'),
  };
}

/** The CA fingerprints in each webhook's caBundle, by webhook name. */
export async function caBundles(kube: Kube, configuration: string): Promise<Record<string, string[]>> {
  const mwc = await kube.admissionRegistration.readMutatingWebhookConfiguration({ name: configuration });
  return Object.fromEntries(
    (mwc.webhooks ?? []).map((webhook) => [webhook.name, fingerprints(Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString('utf8'))]),
  );
}

/** SHA-256 fingerprint of the certificate 127.0.0.1:port serves on a new connection (not verified). */
export function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
      socket.destroy();
      if (fingerprint === undefined) reject(new Error(`no certificate on port ${port}`));
      else resolve(fingerprint);
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no TLS handshake on port ${port} within 5 s`)));
    socket.on('error', reject);
  });
}
