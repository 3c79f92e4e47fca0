// How pods reach the kube-apiserver. It listens on 127.0.0.1 only, which a
// pod's network namespace cannot reach, so the node relays TCP from its own
// bridge address (host-internal: the pods' gateway, not an outside
// interface) to it, and the `kubernetes` Service points there: in-cluster
// clients (the webhook's informers, `helm test`) dial 10.0.0.1:443 and
// kube-proxy sends them on. TLS passes through untouched (the apiserver's
// certificate names 10.0.0.1). The apiserver runs with
// --endpoint-reconciler-type=none, so the EndpointSlice is written here.
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { run } from '../../support/run-program.js';

export interface ApiRelay {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startApiRelay(host: string, apiserverPort: number): Promise<ApiRelay> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(apiserverPort, '127.0.0.1');
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', end).on('close', end);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The apiserver's own port number, on the bridge address.
    server.listen(apiserverPort, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** Points the `kubernetes` Service (port `https`) at the relay. */
export async function routeKubernetesService(kubeconfigPath: string, relay: ApiRelay): Promise<void> {
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'kubernetes',
      namespace: 'default',
      labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'sidecar-e2e-harness' },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [relay.host], conditions: { ready: true } }],
    ports: [{ name: 'https', port: relay.port, protocol: 'TCP' }],
  };
  const result = await run('kubectl', ['--kubeconfig', kubeconfigPath, 'apply', '-f', '-'], { input: JSON.stringify(slice) });
  if (result.code !== 0) throw new Error(`writing the kubernetes EndpointSlice failed: ${result.stderr}`);
}
