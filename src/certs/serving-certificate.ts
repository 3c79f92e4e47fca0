import { dirname } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { watchDirectory, type DirectoryWatch } from '../util/watch-directory.js';
import { readPair } from './files.js';

export interface ServingCertificate {
  cert: string;
  key: string;
  notBefore: Date;
  notAfter: Date;
  fingerprint: string;
}

/** Parses and cross-checks a PEM pair; throws with a clear message if it is unusable. */
export function parseServingCertificate(pair: { cert: string; key: string }): ServingCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pair.cert);
  } catch (error) {
    throw new Error(`the certificate is not valid PEM: ${(error as Error).message}`);
  }
  try {
    createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (error) {
    throw new Error(`the key does not fit the certificate: ${(error as Error).message}`);
  }
  return {
    ...pair,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    fingerprint: x509.fingerprint256,
  };
}

export function tlsOptions(certificate: ServingCertificate): SecureContextOptions {
  return { cert: certificate.cert, key: certificate.key, minVersion: 'TLSv1.2' };
}

export type CertificateEvent =
  | { ok: true; certificate: ServingCertificate; changed: boolean }
  | { ok: false; error: string };

/**
 * The serving certificate from files (cert-manager, a provided Secret or the
 * local `certs/`), reloaded when they change. A bad pair keeps the old one.
 */
export class CertificateFileSource {
  private certificate: ServingCertificate | undefined;
  private watcher: DirectoryWatch | undefined;

  constructor(
    private readonly files: { certFile: string; keyFile: string },
    private readonly onChange: (event: CertificateEvent) => void,
  ) {}

  current(): ServingCertificate | undefined {
    return this.certificate;
  }

  async load(): Promise<CertificateEvent> {
    let event: CertificateEvent;
    try {
      const next = parseServingCertificate(await readPair(this.files.certFile, this.files.keyFile));
      const changed = next.fingerprint !== this.certificate?.fingerprint || next.key !== this.certificate?.key;
      this.certificate = next;
      event = { ok: true, certificate: next, changed };
    } catch (error) {
      event = { ok: false, error: `${this.files.certFile}: ${(error as Error).message}` };
    }
    this.onChange(event);
    return event;
  }

  /** Reloads when the certificate's directory changes (see watchDirectory). */
  watch(options: { pollIntervalMs: number }): void {
    this.watcher = watchDirectory(dirname(this.files.certFile), () => void this.load(), options);
  }

  close(): void {
    this.watcher?.close();
  }
}
