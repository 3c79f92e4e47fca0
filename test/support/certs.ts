import { X509Certificate } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCertificates } from '../../src/certs/files.js';
import { generateCertificates, type GeneratedCertificates } from '../../src/certs/generate.js';

export const TEST_HOSTS = ['localhost', '127.0.0.1'];

/** A new CA and a serving certificate for localhost/127.0.0.1, written as ca.crt, ca.key, tls.crt, tls.key. */
export async function writeTestCertificates(dir: string, hosts: readonly string[] = TEST_HOSTS): Promise<GeneratedCertificates> {
  const certs = generateCertificates({ hosts, validityDays: 30, caValidityDays: 60 });
  await writeCertificates(dir, certs);
  return certs;
}

export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Replaces a file the way cert-manager, kubelet and editors do: write a temp file, then rename over. */
export async function replaceFile(dir: string, name: string, content: string): Promise<void> {
  const temp = join(dir, `.${name}.${process.pid}.${Date.now()}.tmp`);
  await writeFile(temp, content);
  await rename(temp, join(dir, name));
}
