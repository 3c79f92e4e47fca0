import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertBuilt, childEnv } from './cli.js';
import { writeTestCertificates } from './certs.js';
import { freePort, send, type Target } from './http.js';
import { DIST_MAIN, ROOT } from './paths.js';
import type { TempDirs } from './temp.js';
import { waitFor, withTimeout } from './wait.js';

export interface ServeProcess extends Target {
  child: ChildProcess;
  pid: number;
  /** The certificate directory (tls.crt, tls.key, ca.crt) the process serves from. */
  certDir: string;
  templatesDir: string;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for the exit, failing with the output after `ms`. */
  waitForExit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL by PID if still running; safe to call in afterAll whatever happened. */
  kill(): Promise<void>;
}

export interface ServeOptions {
  /** Listen on this port instead of a free one (e.g. to restart on the same address). */
  port?: number;
  /** Use this certificate directory; certificates are generated into it only when it has no tls.crt. */
  certDir?: string;
  /** Use this template directory instead of a fresh copy of templates/. */
  templatesDir?: string;
  /**
   * The process makes its own certificate (--cert-mode=self-managed, passed in
   * the flags): no certificate files, `ca` is empty (read the CA from its
   * Secret), and /healthz is checked without verifying the certificate.
   */
  selfManagedCertificates?: boolean;
  /** Added to the process's environment (e.g. the Pod identity the chart sets through the downward API). */
  env?: Record<string, string>;
}

/** GET /healthz without verifying the certificate: a self-managed one may still be a placeholder. */
function healthzUnverified(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 2000 ms')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * `node dist/main.js serve` on a free port of 127.0.0.1 (or `options.port`), once /healthz answers.
 * Pass the `port` and `certDir` of an earlier process to restart the webhook on the same address
 * with the same certificates.
 */
export async function startServeProcess(temps: TempDirs, extraFlags: string[] = [], options: ServeOptions = {}): Promise<ServeProcess> {
  assertBuilt();
  const selfManaged = options.selfManagedCertificates ?? false;
  const certDir = options.certDir ?? (await temps.make('certs'));
  if (!selfManaged && !existsSync(join(certDir, 'tls.crt'))) await writeTestCertificates(certDir);
  const templatesDir = options.templatesDir ?? (await temps.copyOfTemplates());
  const port = options.port ?? (await freePort());
  const ca = selfManaged ? '' : await readFile(join(certDir, 'ca.crt'), 'utf8');
  const certFlags = selfManaged ? [] : ['--cert-dir', certDir];
  const child = spawn(
    process.execPath,
    [DIST_MAIN, 'serve', '--host', '127.0.0.1', '--port', String(port), ...certFlags, '--templates-dir', templatesDir, '--reload-poll', '0', ...extraFlags],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...childEnv(), ...options.env } },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const handle: ServeProcess = {
    port,
    ca,
    certDir,
    templatesDir,
    child,
    pid: child.pid as number,
    output: () => output,
    exited,
    waitForExit: (ms) => withTimeout(exited, ms, () => `serve (pid ${child.pid}) did not exit within ${ms} ms; output:\n${output}`),
    kill: async () => {
      if (child.pid !== undefined && running()) {
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
    },
  };
  try {
    await waitFor(
      `serve on port ${port} to answer /healthz`,
      async () => {
        if (!running()) throw new Error(`serve exited early with ${child.exitCode ?? child.signalCode}:\n${output}`);
        const status = selfManaged ? await healthzUnverified(port) : (await send(handle, { path: '/healthz', timeoutMs: 2_000 })).status;
        return status === 200 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  } catch (error) {
    await handle.kill();
    throw error;
  }
  return handle;
}
