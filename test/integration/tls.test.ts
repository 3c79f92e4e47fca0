// TLS as the apiserver sees it: the serving certificate is swapped on disk
// (write + rename, as cert-manager and kubelet do) and new connections get
// the new one without a restart; a broken pair keeps the last good one.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { writeCertificates } from '../../src/certs/files.js';
import { generateCertificates, type GeneratedCertificates } from '../../src/certs/generate.js';
import { writeProjectedVolume } from '../support/atomic-writer.js';
import { fingerprintOf, replaceFile, writeTestCertificates } from '../support/certs.js';
import { handshake, send, type HttpResult } from '../support/http.js';
import { sample } from '../support/metrics.js';
import { podReview } from '../support/reviews.js';
import { TempDirs } from '../support/temp.js';
import { waitFor } from '../support/wait.js';
import { startTestWebhook, type TestWebhook } from '../support/webhook.js';

jest.setTimeout(30_000);

const temps = new TempDirs();
let hook: TestWebhook;
let certA: GeneratedCertificates;

beforeAll(async () => {
  const certDir = await temps.make('certs');
  certA = await writeTestCertificates(certDir);
  hook = await startTestWebhook(temps, { certDir });
  caInForce = certA.caCert;
});

afterAll(async () => {
  await hook?.stop();
  await temps.cleanup();
});

/** The CA that signs the certificate in force; hook.request trusts only the first one. */
let caInForce: string;

async function failures(): Promise<number> {
  const text = (await send({ port: hook.port, ca: caInForce }, { path: '/metrics' })).body;
  return sample(text, 'sidecar_injector_certificate_reloads_total', { result: 'failure' }) ?? 0;
}

describe('certificate hot reload', () => {
  let certB: GeneratedCertificates;

  it('presents certificate A at first, trusted by CA A only', async () => {
    const peer = await handshake(hook.port, { ca: certA.caCert });
    expect(peer.fingerprint256).toBe(fingerprintOf(certA.cert));
  });

  it('presents certificate B (another CA) on new connections after tls.crt/tls.key are replaced', async () => {
    // A shorter lifetime than A's, so the expiry metric tells them apart.
    certB = generateCertificates({ hosts: ['localhost', '127.0.0.1'], validityDays: 20, caValidityDays: 60 });
    expect(fingerprintOf(certB.caCert)).not.toBe(fingerprintOf(certA.caCert));
    await replaceFile(hook.certDir, 'ca.crt', certB.caCert);
    await replaceFile(hook.certDir, 'tls.key', certB.key);
    await replaceFile(hook.certDir, 'tls.crt', certB.cert);

    const peer = await waitFor('a handshake trusting CA B to succeed', () => handshake(hook.port, { ca: certB.caCert }));
    expect(peer.fingerprint256).toBe(fingerprintOf(certB.cert));
    caInForce = certB.caCert;
    // CA A no longer verifies the server.
    await expect(handshake(hook.port, { ca: certA.caCert })).rejects.toThrow();
    // And the webhook answers over the new certificate.
    const result = await send(
      { port: hook.port, ca: certB.caCert },
      { method: 'POST', path: '/mutate?timeout=10s', headers: { 'content-type': 'application/json' }, body: JSON.stringify(podReview()) },
    );
    expect(result.status).toBe(200);
    const text = (await send({ port: hook.port, ca: caInForce }, { path: '/metrics' })).body;
    const notAfterB = new Date(new X509Certificate(certB.cert).validTo).getTime() / 1000;
    expect(sample(text, 'sidecar_injector_certificate_expiry_timestamp_seconds')).toBe(notAfterB);
  });

  it('keeps certificate B when a broken key is written, and counts the failure', async () => {
    const before = await failures();
    await replaceFile(hook.certDir, 'tls.key', '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
    await waitFor('a failed certificate reload in the metrics', async () => ((await failures()) > before ? true : undefined));

    const peer = await handshake(hook.port, { ca: certB.caCert });
    expect(peer.fingerprint256).toBe(fingerprintOf(certB.cert));
    expect((await send({ port: hook.port, ca: certB.caCert }, { path: '/readyz' })).status).toBe(200);
    expect(hook.logs.withMessage('serving certificate not (re)loaded; the previous one stays in use').length).toBeGreaterThan(0);
  });

  it('keeps certificate B when the key of another certificate is written', async () => {
    const before = await failures();
    await replaceFile(hook.certDir, 'tls.key', certA.key);
    await waitFor('a failed certificate reload in the metrics', async () => ((await failures()) > before ? true : undefined));
    const peer = await handshake(hook.port, { ca: certB.caCert });
    expect(peer.fingerprint256).toBe(fingerprintOf(certB.cert));
  });
});

describe('TLS versions', () => {
  // This client can really speak TLS 1.1 (SECLEVEL=0 lifts OpenSSL's own floor),
  // so a refusal can only come from the server.
  const legacyClient = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
  let permissive: Server;

  beforeAll(async () => {
    permissive = createServer({ cert: certA.cert, key: certA.key, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (socket) =>
      socket.end(),
    );
    await new Promise<void>((resolve) => permissive.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => permissive.close(() => resolve()));
  });

  it('the legacy client does negotiate TLS 1.1 with a server that allows it (control)', async () => {
    const peer = await handshake((permissive.address() as AddressInfo).port, { ...legacyClient, ca: certA.caCert });
    expect(peer.protocol).toBe('TLSv1.1');
  });

  it('refuses TLS 1.1 and below with a handshake error', async () => {
    await expect(handshake(hook.port, { ...legacyClient, rejectUnauthorized: false })).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_SSL_/),
    });
  });

  it.each(['TLSv1.2', 'TLSv1.3'] as const)('accepts %s', async (version) => {
    const peer = await handshake(hook.port, { minVersion: version, maxVersion: version, rejectUnauthorized: false });
    expect(peer.protocol).toBe(version);
  });
});

describe('certificates from a mounted Secret (kubelet swaps the ..data symlink)', () => {
  let secretHook: TestWebhook;
  let first: GeneratedCertificates;

  const payload = (certs: GeneratedCertificates): Record<string, string> => ({
    'ca.crt': certs.caCert,
    'tls.crt': certs.cert,
    'tls.key': certs.key,
  });

  beforeAll(async () => {
    const certDir = await temps.make('secret');
    first = generateCertificates({ hosts: ['localhost', '127.0.0.1'], validityDays: 30, caValidityDays: 60 });
    await writeProjectedVolume(certDir, payload(first));
    secretHook = await startTestWebhook(temps, { certDir });
  });

  afterAll(async () => {
    await secretHook?.stop();
  });

  it('serves the certificate read through the symlinks', async () => {
    expect((await handshake(secretHook.port, { ca: first.caCert })).fingerprint256).toBe(fingerprintOf(first.cert));
  });

  it('serves the rotated certificate after the Secret is updated', async () => {
    const rotated = generateCertificates({ hosts: ['localhost', '127.0.0.1'], validityDays: 30, caValidityDays: 60 });
    await writeProjectedVolume(secretHook.certDir, payload(rotated));
    const peer = await waitFor('the rotated certificate on a new connection', () => handshake(secretHook.port, { ca: rotated.caCert }));
    expect(peer.fingerprint256).toBe(fingerprintOf(rotated.cert));
  });
});

describe('readiness and the certificate validity', () => {
  let expiredHook: TestWebhook;

  beforeAll(async () => {
    const certDir = await temps.make('expired');
    // Issued 10 days ago, valid for 1 day.
    const expired = generateCertificates({
      hosts: ['localhost', '127.0.0.1'],
      validityDays: 1,
      caValidityDays: 60,
      now: new Date(Date.now() - 10 * 24 * 3600 * 1000),
    });
    await writeCertificates(certDir, expired);
    expiredHook = await startTestWebhook(temps, { certDir });
  });

  afterAll(async () => {
    await expiredHook?.stop();
  });

  it('/readyz → 503 saying the certificate expired, /healthz → 200', async () => {
    const get = (path: string): Promise<HttpResult> =>
      new Promise((resolve, reject) => {
        // The certificate is expired, so verification is off for this probe (as a kubelet's is).
        const req = httpsRequest({ host: '127.0.0.1', port: expiredHook.port, path, rejectUnauthorized: false, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(/certificate expired/);
    expect((await get('/healthz')).status).toBe(200);
  });
});

describe('--create-certs on an empty certificate directory (local use)', () => {
  let created: TestWebhook;

  beforeAll(async () => {
    const certDir = join(await temps.make('create'), 'certs');
    created = await startTestWebhook(temps, { certDir, flags: ['--create-certs'] });
  });

  afterAll(async () => {
    await created?.stop();
  });

  it('generates a CA and a serving certificate for localhost and 127.0.0.1 and serves it', async () => {
    const cert = new X509Certificate(await readFile(join(created.certDir, 'tls.crt')));
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    // created.ca is the generated ca.crt: the handshake verifies against it.
    const peer = await handshake(created.port, { ca: created.ca });
    expect(peer.fingerprint256).toBe(cert.fingerprint256);
    expect((await created.request({ path: '/readyz' })).status).toBe(200);
  });
});
