import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { connect, type ConnectionOptions } from 'node:tls';

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Target {
  port: number;
  /** PEM of the CA to trust; nothing else is trusted. */
  ca: string;
}

export interface RequestSpec {
  method?: string;
  path?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  timeoutMs?: number;
}

function collect(res: IncomingMessage): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('error', reject);
    res.on('end', () =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
    );
  });
}

/** Options for one HTTPS request on its own connection, trusting only `target.ca`. */
export function tlsRequestOptions(target: Target, spec: RequestSpec): RequestOptions {
  return {
    host: '127.0.0.1',
    port: target.port,
    method: spec.method ?? 'GET',
    path: spec.path ?? '/',
    headers: spec.headers ?? {},
    ca: target.ca,
    // A fresh connection per request: certificate reloads only show on new handshakes.
    agent: false,
    timeout: spec.timeoutMs ?? 15_000,
  };
}

/** One HTTPS request over a new connection. */
export function send(target: Target, spec: RequestSpec = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(tlsRequestOptions(target, spec), (res) => collect(res).then(resolve, reject));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${spec.timeoutMs ?? 15_000} ms`)));
    req.on('error', reject);
    req.end(spec.body);
  });
}

/** One plain HTTP GET (the metrics port). */
export function plainGet(port: number, path: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, timeout: 15_000 }, (res) => collect(res).then(resolve, reject));
    req.on('timeout', () => req.destroy(new Error('no answer within 15000 ms')));
    req.on('error', reject);
    req.end();
  });
}

export function parseJson<T = Record<string, unknown>>(result: HttpResult): T {
  try {
    return JSON.parse(result.body) as T;
  } catch {
    throw new Error(`expected a JSON body, got HTTP ${result.status}: ${result.body.slice(0, 500)}`);
  }
}

/** A bare TLS handshake; resolves with what the server presented, rejects on a handshake/verification error. */
export function handshake(
  port: number,
  options: ConnectionOptions,
): Promise<{ fingerprint256: string; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      const peer = socket.getPeerCertificate();
      const result = { fingerprint256: peer.fingerprint256, protocol: socket.getProtocol() };
      socket.destroy();
      resolve(result);
    });
    socket.setTimeout(15_000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', reject);
  });
}

/** A port that was free a moment ago, for processes that need a port number up front. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
