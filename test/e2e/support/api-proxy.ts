// An HTTPS proxy on 127.0.0.1 in front of the kube-apiserver, for the webhook
// only, that can hold back the bodies of chosen responses: a namespace watch
// held this way leaves the webhook's informer exactly as it was, however long
// the test takes, which no delay could guarantee. (A TCP proxy such as
// delay-proxy.ts cannot tell the watch from the other requests inside TLS, so
// this one terminates TLS with a certificate of its own and calls the
// apiserver with the control plane kubeconfig's client certificate.)
import * as k8s from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, request as httpsRequest, type RequestOptions } from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { writeTestCertificates } from '../../support/certs.js';
import { listenLocally, writeLocalKubeconfig } from '../../support/local-server.js';
import type { TempDirs } from '../../support/temp.js';

export interface HeldRequest {
  method: string;
  url: URL;
}

export interface Hold {
  /** Delivers what was held, in order, and lets the rest through. */
  release(): void;
  /** The response bodies held so far (also after release), as text. */
  heldText(): string;
}

export interface ApiProxy {
  /** A kubeconfig that reaches the apiserver through the proxy. */
  kubeconfigPath: string;
  /**
   * From now on, response bodies of requests that `matches` (including
   * responses already streaming, like a watch) are held until release();
   * status and headers pass at once.
   */
  hold(matches: (request: HeldRequest) => boolean): Hold;
  close(): Promise<void>;
}

/** The informer's watch of all namespaces (GET /api/v1/namespaces?watch=true). */
export const namespaceWatch = ({ method, url }: HeldRequest): boolean =>
  method === 'GET' && url.pathname === '/api/v1/namespaces' && url.searchParams.get('watch') === 'true';

/** A single read of one namespace (GET /api/v1/namespaces/NAME). */
export const namespaceRead =
  (name: string) =>
  ({ method, url }: HeldRequest): boolean =>
    method === 'GET' && url.pathname === `/api/v1/namespaces/${name}`;

interface ActiveHold {
  matches: (request: HeldRequest) => boolean;
  released: boolean;
  /** Chunks in arrival order; null is the end of that response. */
  queue: Array<{ res: ServerResponse; chunk: Buffer | null }>;
  text: string;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business on each side.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

function endToEnd(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  }
  return kept;
}

export async function startApiProxy(temps: TempDirs, upstreamKubeconfigPath: string): Promise<ApiProxy> {
  const upstreamConfig = new k8s.KubeConfig();
  upstreamConfig.loadFromFile(upstreamKubeconfigPath);
  const upstream = new URL(upstreamConfig.getCurrentCluster()?.server ?? '');
  const credentials: RequestOptions = {};
  await upstreamConfig.applyToHTTPSOptions(credentials);

  const dir = await temps.make('api-proxy');
  await writeTestCertificates(dir);
  const [cert, key, ca] = await Promise.all([
    readFile(join(dir, 'tls.crt'), 'utf8'),
    readFile(join(dir, 'tls.key'), 'utf8'),
    readFile(join(dir, 'ca.crt'), 'utf8'),
  ]);

  const holds: ActiveHold[] = [];
  const sockets = new Set<Socket>();

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', upstream);
    const headers = endToEnd(req.headers);
    // The proxy authenticates upstream itself.
    delete headers['authorization'];
    delete headers['host'];
    const proxied = httpsRequest(
      {
        ...credentials,
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers: { ...(credentials.headers as Record<string, string> | undefined), ...headers },
        agent: false,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        res.flushHeaders();
        const request = { method: req.method ?? 'GET', url };
        const deliver = (chunk: Buffer | null): void => {
          const hold = holds.find((h) => !h.released && h.matches(request));
          if (hold !== undefined) {
            hold.queue.push({ res, chunk });
            if (chunk !== null) hold.text += chunk.toString('utf8');
          } else if (chunk === null) res.end();
          else res.write(chunk);
        };
        answer.on('data', (chunk: Buffer) => deliver(chunk));
        answer.on('end', () => deliver(null));
        answer.on('error', () => res.destroy());
      },
    );
    proxied.on('error', () => res.destroy());
    res.on('close', () => proxied.destroy());
    req.pipe(proxied);
  };

  const server = createServer({ cert, key }, forward);
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listenLocally(server);
  const kubeconfigPath = join(dir, 'proxy.kubeconfig');
  await writeLocalKubeconfig(kubeconfigPath, 'proxy', port, ca, '{}');

  let closed: Promise<void> | undefined;
  return {
    kubeconfigPath,
    hold: (matches) => {
      const hold: ActiveHold = { matches, released: false, queue: [], text: '' };
      holds.push(hold);
      return {
        release: () => {
          hold.released = true;
          for (const { res, chunk } of hold.queue.splice(0)) {
            if (res.destroyed) continue;
            if (chunk === null) res.end();
            else res.write(chunk);
          }
        },
        heldText: () => hold.text,
      };
    },
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      })),
  };
}
