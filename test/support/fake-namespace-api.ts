// Just enough of a kube-apiserver for the webhook's namespace informer and its
// cache-miss reads: a namespace list, a watch that stays silent (so the
// informer never learns of a namespace created later), and
// GET /api/v1/namespaces/NAME answered as each test says; Events POSTed are
// kept for the test to read. HTTPS on 127.0.0.1
// with a certificate of its own CA; a kubeconfig for the webhook to use it.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { NamespaceMetadata } from '../../src/inject/namespace.js';
import { writeTestCertificates } from './certs.js';
import { listenLocally, writeLocalKubeconfig } from './local-server.js';
import type { TempDirs } from './temp.js';

/** How GET /api/v1/namespaces/NAME is answered. */
export type NamespaceAnswer =
  | { kind: 'found'; namespace: NamespaceMetadata }
  | { kind: 'status'; code: number; message: string }
  /** Never answered: the request stays open until the client gives up. */
  | { kind: 'silent' };

export interface FakeNamespaceApi {
  kubeconfigPath: string;
  /** Namespaces in the informer's list (set before the webhook starts). */
  listed: Map<string, NamespaceMetadata>;
  /** Answers for single reads, by name; a name without one gets a 404. */
  answers: Map<string, NamespaceAnswer>;
  /** Single reads received so far, by name. */
  reads(name: string): number;
  /** Single reads whose client went away before an answer (aborted), by name. */
  abandoned(name: string): number;
  /** Events created (POST /api/v1/namespaces/NS/events), oldest first. */
  events: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

function namespaceObject(name: string, metadata: NamespaceMetadata): object {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: metadata.labels, annotations: metadata.annotations } };
}

function json(res: ServerResponse, code: number, body: object): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function startFakeNamespaceApi(temps: TempDirs): Promise<FakeNamespaceApi> {
  const dir = await temps.make('fake-api');
  await writeTestCertificates(dir);
  const [cert, key, ca] = await Promise.all([
    readFile(join(dir, 'tls.crt'), 'utf8'),
    readFile(join(dir, 'tls.key'), 'utf8'),
    readFile(join(dir, 'ca.crt'), 'utf8'),
  ]);
  const listed = new Map<string, NamespaceMetadata>();
  const answers = new Map<string, NamespaceAnswer>();
  const reads = new Map<string, number>();
  const abandoned = new Map<string, number>();
  const open = new Set<ServerResponse>();
  const events: Array<Record<string, unknown>> = [];
  const count = (counts: Map<string, number>, name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    if (url.pathname === '/api/v1/namespaces' && url.searchParams.get('watch') === 'true') {
      // A watch that delivers nothing: namespaces created later stay unknown to the informer.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      open.add(res);
      res.on('close', () => open.delete(res));
      return;
    }
    if (url.pathname === '/api/v1/namespaces') {
      const items = [...listed].map(([name, metadata]) => namespaceObject(name, metadata));
      return json(res, 200, { apiVersion: 'v1', kind: 'NamespaceList', metadata: { resourceVersion: '1' }, items });
    }
    if (req.method === 'POST' && /^\/api\/v1\/namespaces\/[^/]+\/events$/.test(url.pathname)) {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const event = JSON.parse(body) as Record<string, unknown>;
        events.push(event);
        json(res, 201, event);
      });
      return;
    }
    const match = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(url.pathname);
    if (match === null) return json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, message: 'not served here' });
    const name = decodeURIComponent(match[1] as string);
    count(reads, name);
    const answer = answers.get(name);
    if (answer === undefined) {
      return json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `namespaces "${name}" not found` });
    }
    if (answer.kind === 'found') return json(res, 200, namespaceObject(name, answer.namespace));
    if (answer.kind === 'status') return json(res, answer.code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: answer.code, message: answer.message });
    open.add(res);
    res.on('close', () => {
      open.delete(res);
      if (!res.writableEnded) count(abandoned, name);
    });
  };

  const server: Server = createServer({ cert, key }, handle);
  const port = await listenLocally(server);
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeLocalKubeconfig(kubeconfigPath, 'fake', port, ca, '{ token: fake-token }');
  return {
    kubeconfigPath,
    listed,
    answers,
    reads: (name) => reads.get(name) ?? 0,
    abandoned: (name) => abandoned.get(name) ?? 0,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
