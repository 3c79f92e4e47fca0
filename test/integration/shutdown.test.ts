// SIGTERM on the built CLI: stop accepting, finish the request in flight,
// exit 0 (DESIGN.md "Endpoints and process"). Without the drain's delay
// (--shutdown-delay 0); drain.test.ts has the delay and keep-alive load.
import { afterAll, afterEach, expect, it, jest } from '@jest/globals';
import { request as httpsRequest } from 'node:https';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { send, tlsRequestOptions, type HttpResult } from '../support/http.js';
import { podReview } from '../support/reviews.js';
import { startServeProcess, type ServeProcess } from '../support/serve-process.js';
import { TempDirs } from '../support/temp.js';
import { delay, waitFor } from '../support/wait.js';

jest.setTimeout(60_000);

const temps = new TempDirs();
let serve: ServeProcess | undefined;

afterEach(async () => {
  await serve?.kill();
  serve = undefined;
});

afterAll(async () => {
  await temps.cleanup();
});

/** Whether a TCP connect to the port is accepted or refused right now. */
function connectOutcome(port: number): Promise<'refused' | 'accepted'> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNREFUSED' ? resolve('refused') : reject(error)));
  });
}

it('finishes the request in flight after SIGTERM, refuses new connections, and exits 0', async () => {
  serve = await startServeProcess(temps, ['--shutdown-delay', '0']);
  const review = podReview();
  const body = Buffer.from(JSON.stringify(review));
  const half = body.length >> 1;

  const req = httpsRequest(
    tlsRequestOptions(serve, {
      method: 'POST',
      path: '/mutate?timeout=10s',
      headers: { 'content-type': 'application/json', 'content-length': body.length },
      timeoutMs: 30_000,
    }),
  );
  const response = new Promise<HttpResult>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  // Headers and the first half of the body go out now.
  await new Promise<void>((resolve) => req.write(body.subarray(0, half), () => resolve()));
  // Let the server parse the headers and start reading the body.
  await delay(300);

  process.kill(serve.pid, 'SIGTERM');
  const port = serve.port;
  await waitFor('the listening socket to close after SIGTERM', async () =>
    (await connectOutcome(port)) === 'refused' ? true : undefined,
  );
  await delay(300);
  req.end(body.subarray(half));

  const result = await response;
  expect(result.status).toBe(200);
  expect(JSON.parse(result.body)).toMatchObject({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch' },
  });

  const exit = await serve.waitForExit(20_000);
  expect({ ...exit, output: exit.code === 0 ? '' : serve.output() }).toEqual({ code: 0, signal: null, output: '' });
  expect(await connectOutcome(port)).toBe('refused');
  expect(serve.output()).toContain('shutting down');
});

it('exits 0 promptly on SIGTERM even with an idle keep-alive connection open', async () => {
  // The apiserver keeps connections to webhooks alive; an idle one must not hold the process
  // until the shutdown timeout (20 s by default).
  serve = await startServeProcess(temps, ['--shutdown-delay', '0']);
  const socket = tlsConnect({ host: '127.0.0.1', port: serve.port, ca: serve.ca, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));

  const started = Date.now();
  process.kill(serve.pid, 'SIGTERM');
  const exit = await serve.waitForExit(20_000);
  expect(exit).toEqual({ code: 0, signal: null });
  expect(Date.now() - started).toBeLessThan(10_000);
  await closed;
});

it('exits 0 on SIGINT too', async () => {
  serve = await startServeProcess(temps, ['--shutdown-delay', '0']);
  process.kill(serve.pid, 'SIGINT');
  expect(await serve.waitForExit(20_000)).toEqual({ code: 0, signal: null });
});

it('force-closes a client that never finishes its body after --shutdown-timeout, then exits 0', async () => {
  serve = await startServeProcess(temps, ['--shutdown-delay', '0', '--shutdown-timeout', '1']);
  const body = Buffer.from(JSON.stringify(podReview()));
  const req = httpsRequest(
    tlsRequestOptions(serve, {
      method: 'POST',
      path: '/mutate',
      headers: { 'content-type': 'application/json', 'content-length': body.length },
      timeoutMs: 30_000,
    }),
  );
  const ended = new Promise<string>((resolve) => {
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.on('response', (res) => resolve(`HTTP ${res.statusCode}`));
  });
  await new Promise<void>((resolve) => req.write(body.subarray(0, 10), () => resolve()));
  await delay(300);

  const started = Date.now();
  process.kill(serve.pid, 'SIGTERM');
  const exit = await serve.waitForExit(20_000);
  expect(exit).toEqual({ code: 0, signal: null });
  // 1 s of grace, not the 30 s request timeout.
  expect(Date.now() - started).toBeLessThan(10_000);
  // The stuck client was cut off rather than answered.
  expect(await ended).toMatch(/ECONNRESET|socket hang up|EPIPE/);
});

it('writes every admission line before it exits on SIGTERM, through a pipe as a container runtime reads stdout', async () => {
  serve = await startServeProcess(temps, ['--shutdown-delay', '0']);
  const uids: string[] = [];
  for (let n = 0; n < 3; n++) {
    const review = podReview();
    review.request.uid = `00000000-0000-4000-8000-00000000000${n}`;
    uids.push(review.request.uid);
    const result = await send(serve, { method: 'POST', path: '/mutate', headers: { 'content-type': 'application/json' }, body: JSON.stringify(review) });
    expect(result.status).toBe(200);
  }
  // Three lines are far from a batch's 4 KiB: they are still gathered when the signal comes.
  process.kill(serve.pid, 'SIGTERM');
  const exit = await serve.waitForExit(20_000);
  expect(exit).toEqual({ code: 0, signal: null });
  const lines = serve
    .output()
    .split('\n')
    .filter((text) => text.startsWith('{'))
    .map((text) => JSON.parse(text) as Record<string, unknown>)
    .filter((entry) => entry['msg'] === 'admission');
  expect(lines.map((entry) => entry['uid'])).toEqual(uids);
});
