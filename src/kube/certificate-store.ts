// The Secret and the MutatingWebhookConfiguration of the self-managed
// certificates (src/certs/self-managed.ts), with optimistic concurrency:
// every write carries the resourceVersion it was decided on.
import { AdmissionregistrationV1Api, CoreV1Api, type V1MutatingWebhookConfiguration, type V1Secret } from '@kubernetes/client-node';
import { BUNDLE_SOURCE_ANNOTATION, bundleWrite, formatBundleSource, type BundleSource } from '../certs/bundle-marker.js';
import { StoreConflict, type CertificateStore, type PublishResult, type StoredSecret } from '../certs/self-managed.js';
import { describeApiError, httpCode } from './api-errors.js';
import type { KubeConnection } from './connection.js';

/** Annotation on the Secret counting its writes. */
export const REVISION_ANNOTATION = 'sidecar.example/certificates-revision';
const MAX_CONFLICTS = 5;

const status = httpCode;

function failure(what: string, error: unknown): Error {
  return new Error(`${what}: ${describeApiError(error)}`);
}

function decoded(secret: V1Secret): StoredSecret {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(value, 'base64').toString('utf8');
  const revision = Number(secret.metadata?.annotations?.[REVISION_ANNOTATION] ?? '0');
  return { data, resourceVersion: secret.metadata?.resourceVersion ?? '', uid: secret.metadata?.uid ?? '', revision: Number.isFinite(revision) ? revision : 0 };
}

export class KubeCertificateStore implements CertificateStore {
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;

  constructor(
    connection: KubeConnection,
    private readonly target: { namespace: string; secretName: string; webhookConfigurationName: string },
  ) {
    this.core = connection.config.makeApiClient(CoreV1Api);
    this.admission = connection.config.makeApiClient(AdmissionregistrationV1Api);
  }

  async read(): Promise<StoredSecret | undefined> {
    try {
      return decoded(await this.core.readNamespacedSecret({ name: this.target.secretName, namespace: this.target.namespace }));
    } catch (error) {
      if (status(error) === 404) return undefined;
      throw failure(`reading Secret ${this.target.namespace}/${this.target.secretName}`, error);
    }
  }

  private body(data: Record<string, string>, revision: number, resourceVersion?: string): V1Secret {
    const encoded = Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')]));
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: this.target.secretName,
        namespace: this.target.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'sidecar-injector' },
        annotations: { [REVISION_ANNOTATION]: String(revision) },
        ...(resourceVersion === undefined ? {} : { resourceVersion }),
      },
      data: encoded,
    };
  }

  async create(data: Record<string, string>, revision: number): Promise<StoredSecret> {
    try {
      return decoded(await this.core.createNamespacedSecret({ namespace: this.target.namespace, body: this.body(data, revision) }));
    } catch (error) {
      // 409 AlreadyExists: another replica created it first.
      if (status(error) === 409) throw new StoreConflict('the certificate Secret already exists');
      throw failure(`creating Secret ${this.target.namespace}/${this.target.secretName}`, error);
    }
  }

  async replace(data: Record<string, string>, revision: number, resourceVersion: string): Promise<StoredSecret> {
    try {
      const body = this.body(data, revision, resourceVersion);
      return decoded(await this.core.replaceNamespacedSecret({ name: this.target.secretName, namespace: this.target.namespace, body }));
    } catch (error) {
      // 409 Conflict: written since it was read; 404: deleted since it was read.
      if (status(error) === 409 || status(error) === 404) throw new StoreConflict('the certificate Secret changed since it was read');
      throw failure(`replacing Secret ${this.target.namespace}/${this.target.secretName}`, error);
    }
  }

  async publish(bundle: string, source: BundleSource): Promise<PublishResult> {
    const name = this.target.webhookConfigurationName;
    for (let attempt = 1; ; attempt += 1) {
      let configuration: V1MutatingWebhookConfiguration;
      try {
        configuration = await this.admission.readMutatingWebhookConfiguration({ name });
      } catch (error) {
        if (status(error) === 404) return 'missing';
        throw failure(`reading MutatingWebhookConfiguration ${name}`, error);
      }
      const webhooks = configuration.webhooks ?? [];
      if (webhooks.length === 0) return 'missing';
      const bundles = webhooks.map((webhook) => Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString('utf8'));
      const action = bundleWrite({ bundles, source: configuration.metadata?.annotations?.[BUNDLE_SOURCE_ANNOTATION] }, bundle, source);
      if (action !== 'write') return action;
      const caBundle = Buffer.from(bundle).toString('base64');
      for (const webhook of webhooks) webhook.clientConfig.caBundle = caBundle;
      configuration.metadata = {
        ...configuration.metadata,
        annotations: { ...configuration.metadata?.annotations, [BUNDLE_SOURCE_ANNOTATION]: formatBundleSource(source) },
      };
      try {
        // The resourceVersion read above makes this a compare-and-swap.
        await this.admission.replaceMutatingWebhookConfiguration({ name, body: configuration });
        return 'written';
      } catch (error) {
        if (status(error) !== 409 || attempt >= MAX_CONFLICTS) throw failure(`updating the caBundle of MutatingWebhookConfiguration ${name}`, error);
      }
    }
  }
}
