/**
 * Just enough of a kube-apiserver for `serve` with API access as the chart
 * runs it: the namespace informer lists N namespaces, the SidecarTemplate
 * informer an empty list, and every watch stays open and silent. HTTPS on
 * 127.0.0.1; a kubeconfig for `serve --kubeconfig`.
 */
import type { ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTestCertificates } from '../test/support/certs.js';
import { listenLocally, writeLocalKubeconfig } from '../test/support/local-server.js';
import { namespaceObject } from './growth-inputs.js';

export interface FakeApiserver {
  kubeconfigPath: string;
  /** Bytes of the list answer. */
  listBytes: number;
  close(): Promise<void>;
}

/** Lists `names` (each a realistic Namespace object) from `dir` (certificates and kubeconfig are written there). */
export async function serveNamespaces(dir: string, names: readonly string[]): Promise<FakeApiserver> {
  await writeTestCertificates(dir);
  const list = Buffer.from(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'NamespaceList',
      metadata: { resourceVersion: '200000' },
      items: names.map((name, i) => namespaceObject(name, i)),
    }),
  );
  const open = new Set<ServerResponse>();
  const server = createServer({ cert: readFileSync(join(dir, 'tls.crt')), key: readFileSync(join(dir, 'tls.key')) }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      open.add(res);
      res.on('close', () => open.delete(res));
      return;
    }
    if (url.pathname === '/api/v1/namespaces') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': list.length }).end(list);
      return;
    }
    if (url.pathname === '/apis/sidecar.example/v1alpha1/sidecartemplates') {
      const empty = { apiVersion: 'sidecar.example/v1alpha1', kind: 'SidecarTemplateList', metadata: { resourceVersion: '1' }, items: [] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(empty));
      return;
    }
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not served here' });
    res.writeHead(404, { 'content-type': 'application/json' }).end(body);
  });
  const port = await listenLocally(server);
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeLocalKubeconfig(kubeconfigPath, 'fake', port, readFileSync(join(dir, 'ca.crt'), 'utf8'), '{ token: fake-token }');
  return {
    kubeconfigPath,
    listBytes: list.length,
    close: () =>
      new Promise<void>((done) => {
        for (const res of open) res.destroy();
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
