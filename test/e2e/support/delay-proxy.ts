// A TCP proxy on 127.0.0.1 in front of a webhook that delays every chunk the
// caller sends by `delayMs` before passing it on, so the webhook behind it
// answers later than the apiserver's timeoutSeconds — on new connections (the
// TLS handshake is delayed) and on reused keep-alive connections alike. (Only
// delaying the connect is not enough: Go's HTTP client finishes a dial that
// its caller abandoned and pools the connection, and the next request would
// go through undelayed.) TLS passes through untouched, so the upstream's
// certificate for 127.0.0.1 stays valid.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface DelayProxy {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startDelayProxy(upstreamPort: number, delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let accepted = 0;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    accepted += 1;
    track(client);
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort });
    track(upstream);
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    // Equal delays keep the chunks in order (timers of equal duration fire in creation order).
    client.on('data', (chunk: Buffer) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!upstream.destroyed) upstream.write(chunk);
      }, delayMs);
      timers.add(timer);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let closed: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => accepted,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      })),
  };
}
