// After a certificate swap, keep-alive connections opened before it answer
// their next request with `Connection: close`: clients reconnect and meet the
// new certificate soon, and no request ever finds its socket closed under it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { generateCertificates } from '../../src/certs/generate.js';
import { parseServingCertificate } from '../../src/certs/serving-certificate.js';
import { startHttpsServer, type RunningServer } from '../../src/server/https-server.js';

const pair = () => parseServingCertificate(generateCertificates({ hosts: ['localhost', '127.0.0.1'], validityDays: 1, caValidityDays: 2 }));
const first = pair();
const second = pair();
let server: RunningServer;
// No TLS session cache: a resumed session has no peer certificate to compare.
const agent = new Agent({ keepAlive: true, maxSockets: 1, maxCachedSessions: 0, rejectUnauthorized: false });

beforeAll(async () => {
  server = await startHttpsServer({ host: '127.0.0.1', port: 0, certificate: first, listener: (_req, res) => res.end('ok') });
});

afterAll(async () => {
  agent.destroy();
  await server.shutdown(0);
});

interface Answer {
  reused: boolean;
  connection: string | undefined;
  /** Of a new connection's handshake (a reused socket reports none). */
  fingerprint?: string | undefined;
}

function get(): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: server.port, path: '/', agent }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256;
      res.resume();
      // The agent takes the socket back after 'end'; the next request must find it there.
      const answer: Answer = req.reusedSocket ? { reused: true, connection: res.headers.connection } : { reused: false, connection: res.headers.connection, fingerprint };
      res.on('end', () => setImmediate(() => resolve(answer)));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('certificate swap on a keep-alive connection', () => {
  it('keeps the connection until a swap, closes it after the next answer, and the next connection has the new certificate', async () => {
    expect(await get()).toEqual({ reused: false, connection: 'keep-alive', fingerprint: first.fingerprint });
    expect(await get()).toEqual({ reused: true, connection: 'keep-alive' });
    server.useCertificate(second);
    expect(await get()).toEqual({ reused: true, connection: 'close' });
    expect(await get()).toEqual({ reused: false, connection: 'keep-alive', fingerprint: second.fingerprint });
    expect(await get()).toEqual({ reused: true, connection: 'keep-alive' });
  });
});
