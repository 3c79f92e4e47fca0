// `sidecar-injector certs`: a CA and a serving certificate the apiserver can verify.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assertBuilt, runCli } from '../support/cli.js';
import { TempDirs } from '../support/temp.js';

jest.setTimeout(30_000);

const HOSTS = 'localhost,127.0.0.1,sidecar-injector.ns.svc';
const temps = new TempDirs();

beforeAll(() => {
  assertBuilt();
});

afterAll(async () => {
  await temps.cleanup();
});

describe('certs --out DIR --hosts ...', () => {
  let out: string;
  let cert: X509Certificate;
  let ca: X509Certificate;

  beforeAll(async () => {
    out = join(await temps.make('certs-cli'), 'nested', 'out');
    const result = await runCli(['certs', '--out', out, '--hosts', HOSTS]);
    if (result.code !== 0) throw new Error(`certs exited ${result.code}: ${result.stderr}`);
    cert = new X509Certificate(await readFile(join(out, 'tls.crt')));
    ca = new X509Certificate(await readFile(join(out, 'ca.crt')));
  });

  it('writes ca.crt, ca.key, tls.crt and tls.key, keys readable by the owner only', async () => {
    for (const name of ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']) expect((await stat(join(out, name))).isFile()).toBe(true);
    expect((await stat(join(out, 'tls.key'))).mode & 0o077).toBe(0);
    expect((await stat(join(out, 'ca.key'))).mode & 0o077).toBe(0);
  });

  it('puts every host in the SANs: DNS names and the IP', () => {
    const sans = (cert.subjectAltName ?? '').split(', ');
    expect(sans).toEqual(expect.arrayContaining(['DNS:localhost', 'IP Address:127.0.0.1', 'DNS:sidecar-injector.ns.svc']));
    expect(cert.checkHost('sidecar-injector.ns.svc')).toBe('sidecar-injector.ns.svc');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('is a serving certificate signed by ca.crt, which is a CA', () => {
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage ?? []).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 300 * 24 * 3600 * 1000);
  });

  it('tls.key belongs to tls.crt', async () => {
    const key = createPrivateKey(await readFile(join(out, 'tls.key')));
    expect(cert.checkPrivateKey(key)).toBe(true);
  });

  it('refuses to overwrite without --force, with a clear message, and leaves the files alone', async () => {
    const before = await readFile(join(out, 'tls.crt'), 'utf8');
    const result = await runCli(['certs', '--out', out, '--hosts', HOSTS]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--force');
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(await readFile(join(out, 'tls.crt'), 'utf8')).toBe(before);
  });

  it('overwrites with --force', async () => {
    const before = await readFile(join(out, 'tls.crt'), 'utf8');
    const result = await runCli(['certs', '--out', out, '--hosts', 'localhost', '--force']);
    expect(result.code).toBe(0);
    const after = new X509Certificate(await readFile(join(out, 'tls.crt')));
    expect(after.toString()).not.toBe(before);
    expect(after.subjectAltName).toBe('DNS:localhost');
  });
});

it('certs --days abc → exit 1 with a clear message', async () => {
  const out = await temps.make('certs-bad');
  const result = await runCli(['certs', '--out', out, '--days', 'abc']);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('--days');
});
