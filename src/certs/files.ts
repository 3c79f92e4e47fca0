import { mkdir, readFile, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import type { GeneratedCertificates } from './generate.js';

/** File names inside a certificate directory, as in a kubernetes.io/tls Secret. */
export const CERT_FILES = { caCert: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;

export async function writeCertificates(directory: string, certs: GeneratedCertificates): Promise<void> {
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, CERT_FILES.caCert), certs.caCert, { mode: 0o644 });
  await writeFile(join(directory, CERT_FILES.caKey), certs.caKey, { mode: 0o600 });
  await writeFile(join(directory, CERT_FILES.cert), certs.cert, { mode: 0o644 });
  await writeFile(join(directory, CERT_FILES.key), certs.key, { mode: 0o600 });
}

export async function certificatesExist(directory: string): Promise<boolean> {
  try {
    await access(join(directory, CERT_FILES.cert));
    await access(join(directory, CERT_FILES.key));
    return true;
  } catch {
    return false;
  }
}

export async function readPair(certFile: string, keyFile: string): Promise<{ cert: string; key: string }> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { cert, key };
}
