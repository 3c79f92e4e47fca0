import { createServer as createHttpServer, ServerResponse, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tlsOptions, type ServingCertificate } from '../certs/serving-certificate.js';

export interface RunningServer {
  server: Server;
  port: number;
  /**
   * Swaps the certificate for new connections; each open one answers its next
   * request with `Connection: close`, so clients move to the new certificate
   * soon without a request ever meeting a closed socket.
   */
  useCertificate(certificate: ServingCertificate): void;
  /**
   * From now on every response carries `Connection: close`, those of requests
   * already in flight too when their headers are not out yet, so keep-alive
   * clients leave after their next answer; new connections are still accepted.
   */
  drain(): void;
  /**
   * Drains, stops accepting, closes idle keep-alive connections, lets
   * in-flight requests finish (their connections close after the answer) and
   * force-closes whatever is left after the timeout.
   */
  shutdown(timeoutMs: number): Promise<void>;
}

// The kube-apiserver's webhook client drops a connection after 90 s idle: its
// transport comes from k8s.io/client-go/transport/cache.go through
// utilnet.SetTransportDefaults (k8s.io/apimachinery/pkg/util/net/http.go),
// which takes IdleConnTimeout from Go's http.DefaultTransport, 90 s. Holding
// idle connections longer leaves the closing to the client: a server-side
// close can cross a request the client has just written on the connection,
// and Go's transport does not retry a POST then (net/http
// persistConn.shouldRetryRequest), which fails the pod's creation under
// failurePolicy Fail.
const KEEP_ALIVE_TIMEOUT_MS = 120_000;

// A connection that has not finished its TLS handshake this long after it
// opened, or whose request head is not complete this long after it began (on
// a new connection: after the handshake), is closed; idle keep-alive
// connections between requests are left to KEEP_ALIVE_TIMEOUT_MS. The
// apiserver writes a request at once on a new connection, its head in one
// piece, so a few seconds only ever cut sockets that are stuck or held open
// on purpose; Node's default handshake timeout (120 s) let a few hundred such
// sockets pin memory and descriptors.
export const HANDSHAKE_TIMEOUT_MS = 5_000;
export const HEADERS_TIMEOUT_MS = 5_000;
// Node checks the headers timeout only this often (its default is 30 s).
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;
// While stopping, connections whose last keep-alive answer has just finished are closed this often.
const IDLE_SWEEP_MS = 50;

function listen(server: Server | HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeGracefully(server: Server | HttpServer, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    // Keep-alive connections with no request in flight would hold close() open.
    server.closeIdleConnections();
  });
}

export async function startHttpsServer(options: {
  host: string;
  port: number;
  certificate: ServingCertificate;
  listener: RequestListener;
  /** Open connections at most; further ones are closed as they arrive (server.maxConnections). None when undefined. */
  maxConnections?: number;
}): Promise<RunningServer> {
  let closing = false;
  // Which certificate each connection was opened with, so connections from before a swap can be retired.
  let certificateGeneration = 0;
  const generationOf = new WeakMap<object, number>();
  const retire = (res: ServerResponse): boolean =>
    closing || (certificateGeneration > 0 && (generationOf.get(res.socket ?? {}) ?? certificateGeneration) < certificateGeneration);
  /**
   * Tells keep-alive clients to reconnect elsewhere once a drain has begun, or
   * with the new certificate, without keeping anything per request: decided
   * when a request arrives, and again when the head of an answer that was in
   * flight goes out (writeHead, which ServerResponse's implicit head calls
   * too). Express swaps the prototype of its responses, so the second check
   * covers /mutate only; the ops endpoints answer in the tick they are asked.
   */
  class RetiringResponse extends ServerResponse {}
  RetiringResponse.prototype.writeHead = function writeHead(this: ServerResponse, ...args: unknown[]) {
    if (retire(this)) this.setHeader('connection', 'close');
    return Reflect.apply(ServerResponse.prototype.writeHead, this, args) as ServerResponse;
  } as ServerResponse['writeHead'];
  const server = createServer(
    {
      ...tlsOptions(options.certificate),
      ServerResponse: RetiringResponse as typeof ServerResponse,
      // Slow or stuck clients must not pin sockets; the apiserver gives up after 30 s anyway.
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: 30_000,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    (req, res) => {
      if (retire(res)) res.setHeader('connection', 'close');
      options.listener(req, res);
    },
  );
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;
  server.on('secureConnection', (socket) => generationOf.set(socket, certificateGeneration));
  const port = await listen(server, options.host, options.port);
  return {
    server,
    port,
    useCertificate: (certificate) => {
      server.setSecureContext(tlsOptions(certificate));
      certificateGeneration += 1;
    },
    drain: () => {
      closing = true;
    },
    shutdown: (timeoutMs) => {
      closing = true;
      // An answer whose head went out before the drain said keep-alive; once it is
      // complete its connection is idle, and close() alone would leave it open.
      const idle = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      return closeGracefully(server, timeoutMs).finally(() => clearInterval(idle));
    },
  };
}

/** A plain-HTTP server for /metrics scraping without TLS. */
export async function startPlainServer(options: { host: string; port: number; listener: RequestListener }): Promise<{
  port: number;
  shutdown(timeoutMs: number): Promise<void>;
}> {
  const server = createHttpServer(options.listener);
  const port = await listen(server, options.host, options.port);
  return { port, shutdown: (timeoutMs) => closeGracefully(server, timeoutMs) };
}
