// The command line as a whole: unknown commands and flags fail clearly.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { writeTestCertificates } from '../support/certs.js';
import { assertBuilt, runCli } from '../support/cli.js';
import { freePort } from '../support/http.js';
import { TEMPLATES_DIR } from '../support/paths.js';
import { TempDirs } from '../support/temp.js';

jest.setTimeout(30_000);

beforeAll(() => {
  assertBuilt();
});

it('serve --bogus-flag → non-zero exit naming the flag, without starting', async () => {
  const result = await runCli(['serve', '--bogus-flag'], { timeoutMs: 15_000 });
  expect(result.code).not.toBe(0);
  expect(result.code).not.toBeNull();
  expect(result.stderr).toContain('--bogus-flag');
  expect(result.stderr).not.toMatch(/^\s+at /m);
});

it('serve --on-problem maybe → non-zero exit listing the allowed values', async () => {
  const result = await runCli(['serve', '--on-problem', 'maybe'], { timeoutMs: 15_000 });
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('maybe');
  expect(result.stderr).toMatch(/warn.*deny/);
});

it('serve without a certificate → non-zero exit saying so', async () => {
  const result = await runCli(['serve', '--port', '0', '--host', '127.0.0.1', '--cert-dir', '/nonexistent/certs'], { timeoutMs: 15_000 });
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('certificate');
});

it('an unknown command → exit 2 with the usage', async () => {
  const result = await runCli(['nope']);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('nope');
  expect(result.stderr).toContain('Usage: sidecar-injector');
});

it('no command → exit 2 with the usage', async () => {
  const result = await runCli([]);
  expect(result.code).toBe(2);
  expect(result.stdout + result.stderr).toContain('Usage: sidecar-injector');
});

it('an unknown flag of inject → exit 2', async () => {
  const result = await runCli(['inject', '--frobnicate']);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('frobnicate');
});

it('version prints the package version', async () => {
  const result = await runCli(['version']);
  expect(result.code).toBe(0);
  expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
});

describe('serve on a port that is taken', () => {
  const temps = new TempDirs();
  let occupied: Server;
  let takenPort: number;
  let certDir: string;

  beforeAll(async () => {
    certDir = await temps.make('certs');
    await writeTestCertificates(certDir);
    occupied = createServer();
    await new Promise<void>((resolve) => occupied.listen(0, '127.0.0.1', resolve));
    takenPort = (occupied.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => occupied.close(() => resolve()));
    await temps.cleanup();
  });

  // Starting takes about a second; a serve that has not exited after 10 s is stuck.
  const serve = (flags: string[]) =>
    runCli(['serve', '--host', '127.0.0.1', '--cert-dir', certDir, '--templates-dir', TEMPLATES_DIR, '--reload-poll', '0', ...flags], {
      timeoutMs: 10_000,
    });

  it('--port taken → exits 1 saying the address is in use', async () => {
    const result = await serve(['--port', String(takenPort)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('EADDRINUSE');
  });

  it('--metrics-port taken → exits 1 saying the address is in use (does not hang with the HTTPS port open)', async () => {
    const result = await serve(['--port', String(await freePort()), '--metrics-port', String(takenPort)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('EADDRINUSE');
  });
});
