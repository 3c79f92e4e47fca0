import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
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
  /** Stops accepting, lets in-flight requests finish, force-closes after the timeout. */
  shutdown(timeoutMs: number): Promise<void>;
}

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
}): Promise<RunningServer> {
  let closing = false;
  // Which certificate each connection was opened with, so connections from before a swap can be retired.
  let certificateGeneration = 0;
  const generationOf = new WeakMap<object, number>();
  const server = createServer(
    {
      ...tlsOptions(options.certificate),
      // Slow or stuck clients must not pin sockets; the apiserver gives up after 30 s anyway.
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 60_000,
    },
    (req, res) => {
      // Tell keep-alive clients to reconnect elsewhere once shutdown has begun, or with the new certificate.
      const stale = (generationOf.get(req.socket) ?? certificateGeneration) < certificateGeneration;
      if (closing || stale) res.setHeader('connection', 'close');
      options.listener(req, res);
    },
  );
  server.on('secureConnection', (socket) => generationOf.set(socket, certificateGeneration));
  const port = await listen(server, options.host, options.port);
  return {
    server,
    port,
    useCertificate: (certificate) => {
      server.setSecureContext(tlsOptions(certificate));
      certificateGeneration += 1;
    },
    shutdown: (timeoutMs) => {
      closing = true;
      return closeGracefully(server, timeoutMs);
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
