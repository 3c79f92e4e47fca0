// A test's own HTTPS server standing in for (or in front of) the
// kube-apiserver: listening on a free port of 127.0.0.1, and a kubeconfig
// that points a client at it.
import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 (a free port); resolves to the port. */
export function listenLocally(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** Writes a kubeconfig for https://127.0.0.1:PORT trusting `caPem`, with this user entry (e.g. a token). */
export async function writeLocalKubeconfig(path: string, name: string, port: number, caPem: string, user: string): Promise<void> {
  await writeFile(
    path,
    `apiVersion: v1
kind: Config
clusters:
  - name: ${name}
    cluster:
      server: https://127.0.0.1:${port}
      certificate-authority-data: ${Buffer.from(caPem).toString('base64')}
users:
  - name: ${name}
    user: ${user}
contexts:
  - name: ${name}
    context: { cluster: ${name}, user: ${name} }
current-context: ${name}
`,
  );
}
