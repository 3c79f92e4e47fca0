// Bounded connections: sockets that never start TLS, or never finish a
// request head, are closed after a few seconds (Node's default handshake
// timeout held them for 120 s), real requests are answered meanwhile, and
// --max-connections caps the open connections.
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { podReview } from '../support/reviews.js';
import { TempDirs } from '../support/temp.js';
import { waitFor } from '../support/wait.js';
import { startTestWebhook, type TestWebhook } from '../support/webhook.js';

// Far below Node's former 120 s, far above the 5 s timeouts on a busy machine.
const CLOSED_WITHIN_MS = 45_000;
jest.setTimeout(90_000);

const temps = new TempDirs();
let hook: TestWebhook | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await hook?.stop();
  hook = undefined;
});

afterAll(async () => {
  await temps.cleanup();
});

interface Tracked {
  closed: boolean;
}

/** Keeps reading (a paused socket never sees the server's close) and notes when it closes. */
function track(socket: Socket): Tracked {
  const state = { closed: false };
  sockets.push(socket);
  socket.on('error', () => {});
  socket.on('close', () => (state.closed = true));
  socket.resume();
  return state;
}

function idleTcp(port: number): Promise<Tracked> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    const state = track(socket);
    socket.once('connect', () => resolve(state));
    socket.once('error', reject);
  });
}

/** A TLS connection that then sends `head` (maybe nothing) and stops. */
function stalledTls(target: TestWebhook, head: string): Promise<Tracked> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: target.port, ca: target.ca, servername: 'localhost' });
    const state = track(socket);
    socket.once('secureConnect', () => {
      if (head !== '') socket.write(head);
      resolve(state);
    });
    socket.once('error', reject);
  });
}

const openCount = (states: readonly Tracked[]): number => states.filter((s) => !s.closed).length;

describe('connections that stall', () => {
  it('closes 300 sockets that never start TLS, and those that stop before a request head, while real requests are answered', async () => {
    hook = await startTestWebhook(temps);
    const target = hook;
    const idle = await Promise.all(Array.from({ length: 300 }, () => idleTcp(target.port)));
    const afterTls = await stalledTls(target, '');
    const halfHead = await stalledTls(target, 'POST /mutate HTTP/1.1\r\nHost: localhost\r\n');
    const opened = Date.now();

    // Real admissions on new connections, all answered while the idle sockets are held.
    const reviews = Array.from({ length: 20 }, () => podReview());
    const answers = await Promise.all(reviews.map((review) => target.review(review)));
    expect(answers.map((a) => (a['response'] as { allowed: boolean }).allowed)).toEqual(reviews.map(() => true));

    await waitFor('every stalled socket closed by the webhook', () => (openCount([...idle, afterTls, halfHead]) === 0 ? true : undefined), {
      timeoutMs: CLOSED_WITHIN_MS,
      intervalMs: 200,
    });
    console.log(`300 idle TCP sockets, 1 idle TLS, 1 half request head: all closed ${((Date.now() - opened) / 1000).toFixed(1)} s after opening`);

    // The webhook still answers afterwards.
    expect(await target.review(podReview())).toHaveProperty('response.allowed', true);
  });

  it('keeps an idle keep-alive connection open past the header timeout (keepAliveTimeout governs it)', async () => {
    hook = await startTestWebhook(temps);
    const target = hook;
    const socket = tlsConnect({ host: '127.0.0.1', port: target.port, ca: target.ca, servername: 'localhost' });
    const state = track(socket);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await waitFor('the /healthz answer', () => (received.includes('\r\n\r\n') ? true : undefined));
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    expect(received.toLowerCase()).toContain('connection: keep-alive');
    // A stalled socket opened now is closed after the timeouts; the idle keep-alive one outlives it.
    const stalled = await idleTcp(target.port);
    await waitFor('the stalled socket closed', () => (stalled.closed ? true : undefined), { timeoutMs: CLOSED_WITHIN_MS, intervalMs: 200 });
    expect(state.closed).toBe(false);
    received = '';
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await waitFor('a second answer on the same connection', () => (received.includes('\r\n\r\n') ? true : undefined));
    expect(received).toMatch(/^HTTP\/1\.1 200/);
  });
});

describe('--max-connections', () => {
  it('closes connections beyond the cap as they arrive and accepts again once the stalled ones are cut', async () => {
    hook = await startTestWebhook(temps, { flags: ['--max-connections', '10'] });
    const target = hook;
    const held = await Promise.all(Array.from({ length: 10 }, () => idleTcp(target.port)));
    const refused = await target.review(podReview()).then(
      () => 'answered',
      (error: Error) => error.message,
    );
    expect(refused).not.toBe('answered');
    await waitFor('the held sockets cut by the handshake timeout', () => (openCount(held) === 0 ? true : undefined), {
      timeoutMs: CLOSED_WITHIN_MS,
      intervalMs: 200,
    });
    expect(await target.review(podReview())).toHaveProperty('response.allowed', true);
  });
});
