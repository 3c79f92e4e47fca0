// The MutatingWebhookConfiguration the chart ships, as an object, so the e2e
// suite registers exactly what users will get. Two webhooks, one endpoint:
//
//  - namespace.sidecar.example: pods of namespaces labelled
//    sidecar.example/injection=enabled, unless the pod opts out;
//  - pod.sidecar.example: pods of other namespaces that ask with the
//    sidecar.example/inject annotation.
//
// The namespace selectors are disjoint, so a pod is sent at most once. In an
// opted-in namespace every pod is sent unless it opts out with "false" (it
// gets the namespace's defaults); elsewhere only pods that ask. With
// failurePolicy Fail and the webhook down, exactly the pods sent are refused.
// (matchConditions cannot read namespace labels, hence the two webhooks.)
//
//  - workload.sidecar.example: workloads whose own metadata carries the
//    annotation but whose pod template does not (a common mistake); never
//    mutated, only warned about, with failurePolicy Ignore.

export const INJECT = 'sidecar.example/inject';
export const INJECTION_LABEL = 'sidecar.example/injection';

/** Namespaces the apiserver never sends: the control plane's own, and the webhook's. */
export const ALWAYS_EXCLUDED = ['kube-system', 'kube-node-lease', 'kube-public'];

/** The chart's release namespace in the README's `helm install -n sidecar-injector`; `cluster:webhook` excludes it by default. */
export const DEFAULT_OWN_NAMESPACE = 'sidecar-injector';

export interface WebhookOptions {
  /** Name of the MutatingWebhookConfiguration. */
  name?: string;
  url: string;
  caBundlePem: string;
  failurePolicy?: 'Fail' | 'Ignore';
  reinvocationPolicy?: 'Never' | 'IfNeeded';
  timeoutSeconds?: number;
  /** The webhook's own namespace, excluded to avoid a self-hosting deadlock. */
  ownNamespace?: string;
}

const annotations = 'object.metadata.?annotations';
const asked = `${annotations}[?'${INJECT}'].orValue('') != ''`;
const optedOut = `${annotations}[?'${INJECT}'].orValue('') == 'false'`;
const podTemplate = "(object.kind == 'CronJob' ? object.spec.?jobTemplate.?spec.?template : object.spec.?template)";
const inPodTemplate = `${podTemplate}.?metadata.?annotations[?'${INJECT}'].orValue('') != ''`;

export function webhookConfiguration(options: WebhookOptions): Record<string, unknown> {
  const excluded = [...ALWAYS_EXCLUDED, ...(options.ownNamespace ? [options.ownNamespace] : [])];
  const clientConfig = { url: options.url, caBundle: Buffer.from(options.caBundlePem).toString('base64') };
  const common = {
    clientConfig,
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy: options.failurePolicy ?? 'Fail',
    reinvocationPolicy: options.reinvocationPolicy ?? 'IfNeeded',
    timeoutSeconds: options.timeoutSeconds ?? 10,
    matchPolicy: 'Equivalent',
  };
  const notExcluded = { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: options.name ?? 'sidecar-injector' },
    webhooks: [
      {
        name: 'namespace.sidecar.example',
        ...common,
        namespaceSelector: { matchExpressions: [notExcluded, { key: INJECTION_LABEL, operator: 'In', values: ['enabled'] }] },
        matchConditions: [{ name: 'not-opted-out', expression: `!(${optedOut})` }],
      },
      {
        name: 'pod.sidecar.example',
        ...common,
        namespaceSelector: { matchExpressions: [notExcluded, { key: INJECTION_LABEL, operator: 'NotIn', values: ['enabled'] }] },
        matchConditions: [{ name: 'asked-for-injection', expression: `${asked} && !(${optedOut})` }],
      },
      {
        name: 'workload.sidecar.example',
        clientConfig,
        rules: [
          { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], scope: 'Namespaced' },
          { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['jobs', 'cronjobs'], scope: 'Namespaced' },
        ],
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        failurePolicy: 'Ignore',
        reinvocationPolicy: 'Never',
        timeoutSeconds: 5,
        matchPolicy: 'Equivalent',
        namespaceSelector: { matchExpressions: [notExcluded] },
        matchConditions: [{ name: 'annotation-on-workload-not-pod-template', expression: `${asked} && !(${inPodTemplate})` }],
      },
    ],
  };
}
