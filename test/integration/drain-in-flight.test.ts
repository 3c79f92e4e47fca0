// A request whose handler is already running when the drain begins (as a
// pod create waiting for its namespace is) still answers with
// `Connection: close`: the decision is taken as the answer's head goes out,
// not only when the request arrives, and nothing is kept per request for it.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { generateCertificates } from '../../src/certs/generate.js';
import { parseServingCertificate } from '../../src/certs/serving-certificate.js';
import { startHttpsServer, type RunningServer } from '../../src/server/https-server.js';

const certificate = parseServingCertificate(generateCertificates({ hosts: ['localhost', '127.0.0.1'], validityDays: 1, caValidityDays: 2 }));
const agent = new Agent({ keepAlive: true, maxSockets: 2, rejectUnauthorized: false });
let server: RunningServer;
// Responses the handler holds until the test releases them; each is answered by writeHead + end, or by end alone.
const held: { res: ServerResponse; explicitHead: boolean }[] = [];
let arrived: () => void = () => undefined;
const handledCount = (n: number): Promise<void> =>
  new Promise((resolve) => {
    const check = (): void => (held.length >= n ? resolve() : void (arrived = check));
    check();
  });

beforeAll(async () => {
  server = await startHttpsServer({
    host: '127.0.0.1',
    port: 0,
    certificate,
    listener: (req, res) => {
      held.push({ res, explicitHead: req.url === '/explicit' });
      arrived();
    },
  });
});

afterAll(async () => {
  agent.destroy();
  await server.shutdown(0);
});

function answer({ res, explicitHead }: { res: ServerResponse; explicitHead: boolean }): void {
  if (explicitHead) res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
  res.end('ok');
}

function get(path: string): Promise<string | undefined> {
  return new Promise<string | undefined>((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: server.port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers.connection));
    });
    req.on('error', reject);
    req.end();
  });
}

it('answers held across the start of a drain say Connection: close, with an explicit head or an implicit one', async () => {
  const before = get('/explicit');
  await handledCount(1);
  answer(held.shift() as { res: ServerResponse; explicitHead: boolean });
  expect(await before).toBe('keep-alive');

  // Both handlers are running (one per connection) when the drain begins.
  const explicit = get('/explicit');
  const implicit = get('/implicit');
  await handledCount(2);
  server.drain();
  for (const one of held.splice(0)) answer(one);
  expect([await explicit, await implicit]).toEqual(['close', 'close']);
});
