// A second, unrelated mutating webhook: a tiny HTTPS server that adds one
// label to every pod it is sent (idempotently), so that the injector's output
// is changed after its call and the apiserver re-invokes it
// (reinvocationPolicy: IfNeeded). Its certificate is signed by its own test CA.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { generateCertificates } from '../../../src/certs/generate.js';

/** A label key with a `/`, so the patch path needs JSON-pointer escaping (`~1`). */
export const SECOND_WEBHOOK_LABEL = 'e2e.example/second-webhook';
export const SECOND_WEBHOOK_LABEL_VALUE = 'was-here';
/** Namespaces with this label are sent to the second webhook; nothing else is. */
export const SECOND_WEBHOOK_NAMESPACE_LABEL = 'e2e.example/second-webhook';

/** RFC 6901 escaping of one path segment. */
export const escapePointer = (segment: string): string => segment.replace(/~/g, '~0').replace(/\//g, '~1');

export interface SecondWebhookCall {
  uid: string;
  namespace: string;
  /** The pod's name (or generateName) as sent. */
  pod: string | undefined;
  /** Container and init-container names in the object this webhook was sent. */
  containers: string[];
  initContainers: string[];
  /** Containers and init containers that already mount the ServiceAccount token in the object sent. */
  tokenMounted: string[];
  /** Whether the label was already there, i.e. whether this call patched nothing. */
  hadLabel: boolean;
}

export interface SecondWebhook {
  port: number;
  url: string;
  caPem: string;
  calls: SecondWebhookCall[];
  close(): Promise<void>;
}

const SA_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

interface ReviewContainer {
  name: string;
  volumeMounts?: Array<{ mountPath: string }>;
}

interface Review {
  request: {
    uid: string;
    namespace?: string;
    object?: {
      metadata?: { name?: string; generateName?: string; labels?: Record<string, string> };
      spec?: { containers?: ReviewContainer[]; initContainers?: ReviewContainer[] };
    };
  };
}

export interface SecondWebhookOptions {
  /**
   * An application container it adds to every pod that lacks one of that
   * name, as a webhook that adds its own container would (a log shipper, an
   * agent): the injector must give it the injected templates' mounts and env
   * when the apiserver calls it again.
   */
  addContainer?: { name: string; image: string; [field: string]: unknown };
}

export async function startSecondWebhook(options: SecondWebhookOptions = {}): Promise<SecondWebhook> {
  const certs = generateCertificates({ hosts: ['127.0.0.1', 'localhost'], validityDays: 2, caValidityDays: 3 });
  const calls: SecondWebhookCall[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let review: Review;
      try {
        review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Review;
      } catch {
        res.writeHead(400).end();
        return;
      }
      const object = review.request.object;
      const labels = object?.metadata?.labels;
      const hadLabel = labels?.[SECOND_WEBHOOK_LABEL] !== undefined;
      calls.push({
        uid: review.request.uid,
        namespace: review.request.namespace ?? '',
        pod: object?.metadata?.name || object?.metadata?.generateName,
        containers: (object?.spec?.containers ?? []).map((c) => c.name),
        initContainers: (object?.spec?.initContainers ?? []).map((c) => c.name),
        tokenMounted: [...(object?.spec?.containers ?? []), ...(object?.spec?.initContainers ?? [])]
          .filter((c) => (c.volumeMounts ?? []).some((m) => m.mountPath === SA_TOKEN_PATH))
          .map((c) => c.name),
        hadLabel,
      });
      const response: Record<string, unknown> = { uid: review.request.uid, allowed: true };
      const patch: unknown[] = [];
      if (!hadLabel) {
        patch.push(
          labels === undefined
            ? { op: 'add', path: '/metadata/labels', value: { [SECOND_WEBHOOK_LABEL]: SECOND_WEBHOOK_LABEL_VALUE } }
            : { op: 'add', path: `/metadata/labels/${escapePointer(SECOND_WEBHOOK_LABEL)}`, value: SECOND_WEBHOOK_LABEL_VALUE },
        );
      }
      const added = options.addContainer;
      if (added !== undefined && !(object?.spec?.containers ?? []).some((c) => c.name === added.name)) {
        patch.push({ op: 'add', path: '/spec/containers/-', value: added });
      }
      if (patch.length > 0) {
        response['patchType'] = 'JSONPatch';
        response['patch'] = Buffer.from(JSON.stringify(patch)).toString('base64');
      }
      const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    port,
    url: `https://127.0.0.1:${port}/mutate`,
    caPem: certs.caCert,
    calls,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      })),
  };
}

/** Its MutatingWebhookConfiguration: IfNeeded, a name that sorts after "sidecar-injector", scoped by namespace label. */
export function secondWebhookConfiguration(name: string, url: string, caPem: string): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name },
    webhooks: [
      {
        name: 'label.second-webhook.e2e.example',
        clientConfig: { url, caBundle: Buffer.from(caPem).toString('base64') },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
        namespaceSelector: { matchLabels: { [SECOND_WEBHOOK_NAMESPACE_LABEL]: 'enabled' } },
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        failurePolicy: 'Fail',
        reinvocationPolicy: 'IfNeeded',
        timeoutSeconds: 10,
      },
    ],
  };
}
