/**
 * The AdmissionReview the benchmark sends: what the apiserver forwards when
 * the ReplicaSet controller creates a pod of a typical Deployment (~5 KB of
 * JSON). Built in code so its shape is explicit; `npx tsx bench/review.ts`
 * prints it and its size.
 *
 * Controller-created, so: `generateName` but no `name`, `request.namespace`
 * set, managedFields of kube-controller-manager, the ReplicaSet as owner, the
 * projected service-account volume added by the ServiceAccount admission
 * plugin, and the default tolerations added by DefaultTolerationSeconds.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export const INJECT_ANNOTATION = 'sidecar.example/inject';
export const REQUESTED_TEMPLATES = ['log-collector', 'http-prober'] as const;

const NAMESPACE = 'shop';
const REPLICASET = 'checkout-api-5f7c9d8b6d';
const SA_VOLUME = 'kube-api-access-q8z4m';

const LABELS = {
  'app.kubernetes.io/name': 'checkout-api',
  'app.kubernetes.io/component': 'api',
  'app.kubernetes.io/version': '2.14.3',
  'pod-template-hash': '5f7c9d8b6d',
};

const ANNOTATIONS = {
  [INJECT_ANNOTATION]: REQUESTED_TEMPLATES.join(','),
  'prometheus.io/scrape': 'true',
};

const ENV = [
  { name: 'PORT', value: '8080' },
  { name: 'LOG_LEVEL', value: 'info' },
  { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
  { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
  { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'checkout-db', key: 'url' } } },
  { name: 'PAYMENTS_ENDPOINT', valueFrom: { configMapKeyRef: { name: 'checkout-config', key: 'payments.endpoint' } } },
];

/** A kube-controller-manager managedFields entry, as the apiserver records it on CREATE. */
function managedFields(ownerUid: string): unknown[] {
  const labels = Object.fromEntries(Object.keys(LABELS).map((k) => [`f:${k}`, {}]));
  const annotations = Object.fromEntries(Object.keys(ANNOTATIONS).map((k) => [`f:${k}`, {}]));
  const env = Object.fromEntries(
    ENV.map((e) => [
      `k:{"name":"${e.name}"}`,
      e.value !== undefined ? { '.': {}, 'f:name': {}, 'f:value': {} } : { '.': {}, 'f:name': {}, 'f:valueFrom': {} },
    ]),
  );
  const httpGet = { '.': {}, 'f:path': {}, 'f:port': {}, 'f:scheme': {} };
  const probe = {
    '.': {},
    'f:failureThreshold': {},
    'f:httpGet': httpGet,
    'f:initialDelaySeconds': {},
    'f:periodSeconds': {},
    'f:successThreshold': {},
    'f:timeoutSeconds': {},
  };
  return [
    {
      manager: 'kube-controller-manager',
      operation: 'Update',
      apiVersion: 'v1',
      time: '2025-11-27T07:02:13Z',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': {
          'f:annotations': { '.': {}, ...annotations },
          'f:generateName': {},
          'f:labels': { '.': {}, ...labels },
          'f:ownerReferences': { '.': {}, [`k:{"uid":"${ownerUid}"}`]: {} },
        },
        'f:spec': {
          'f:containers': {
            'k:{"name":"checkout-api"}': {
              '.': {},
              'f:args': {},
              'f:env': { '.': {}, ...env },
              'f:image': {},
              'f:imagePullPolicy': {},
              'f:livenessProbe': probe,
              'f:name': {},
              'f:ports': {
                '.': {},
                'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:name': {}, 'f:protocol': {} },
              },
              'f:readinessProbe': probe,
              'f:resources': { '.': {}, 'f:limits': { '.': {}, 'f:memory': {} }, 'f:requests': { '.': {}, 'f:cpu': {}, 'f:memory': {} } },
              'f:terminationMessagePath': {},
              'f:terminationMessagePolicy': {},
            },
          },
          'f:dnsPolicy': {},
          'f:enableServiceLinks': {},
          'f:restartPolicy': {},
          'f:schedulerName': {},
          'f:securityContext': { '.': {}, 'f:fsGroup': {}, 'f:runAsNonRoot': {} },
          'f:serviceAccount': {},
          'f:serviceAccountName': {},
          'f:terminationGracePeriodSeconds': {},
        },
      },
    },
  ];
}

function probe(path: string): Record<string, unknown> {
  return {
    httpGet: { path, port: 8080, scheme: 'HTTP' },
    initialDelaySeconds: 5,
    timeoutSeconds: 2,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  };
}

/** The full AdmissionReview (admission.k8s.io/v1) for one pod CREATE. */
export function buildReview(uid: string): Record<string, unknown> {
  const ownerUid = '9d0e3b4a-2c7f-4f1e-8a6b-5c3d2e1f0a9b';
  const pod = {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      generateName: `${REPLICASET}-`,
      namespace: NAMESPACE,
      labels: LABELS,
      annotations: ANNOTATIONS,
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: REPLICASET, uid: ownerUid, controller: true, blockOwnerDeletion: true },
      ],
      managedFields: managedFields(ownerUid),
    },
    spec: {
      volumes: [
        {
          name: SA_VOLUME,
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
            defaultMode: 420,
          },
        },
      ],
      containers: [
        {
          name: 'checkout-api',
          image: 'registry.example.com/shop/checkout-api:2.14.3',
          args: ['--listen=:8080'],
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
          ],
          env: ENV,
          resources: { limits: { memory: '512Mi' }, requests: { cpu: '250m', memory: '256Mi' } },
          volumeMounts: [
            { name: SA_VOLUME, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          ],
          livenessProbe: probe('/livez'),
          readinessProbe: probe('/readyz'),
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'checkout-api',
      serviceAccount: 'checkout-api',
      securityContext: { runAsNonRoot: true, fsGroup: 2000 },
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {},
  };
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: NAMESPACE,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '4f6c2a1e-8b3d-4c5e-9f7a-1b2c3d4e5f60',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}

/**
 * Distinct request uids of a fixed length (so the body can be assembled from
 * two constant halves): a random prefix per run, then a hex counter.
 */
export function uidGenerator(): (n: number) => string {
  const run = randomBytes(4).toString('hex');
  return (n) => `${run}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/**
 * The body split around the uid: body(n) = prefix + uid(n) + suffix, with no JSON work per request.
 * `build` makes the review for a given uid (the benchmark's pod by default).
 */
export function reviewBodyParts(
  build: (uid: string) => Record<string, unknown> = buildReview,
): { prefix: Buffer; suffix: Buffer; uid: (n: number) => string; size: number } {
  const uid = uidGenerator();
  const marker = uid(0).replace(/./g, 'U'); // same length as every uid, absent from the rest of the document
  const json = JSON.stringify(build(marker));
  const at = json.indexOf(marker);
  if (at < 0 || json.indexOf(marker, at + 1) >= 0) throw new Error('the uid marker must occur exactly once');
  return {
    prefix: Buffer.from(json.slice(0, at)),
    suffix: Buffer.from(json.slice(at + marker.length)),
    uid,
    size: Buffer.byteLength(json),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const json = JSON.stringify(buildReview(uidGenerator()(1)));
  if (process.argv.includes('--json')) process.stdout.write(`${json}\n`);
  else process.stdout.write(`AdmissionReview body: ${Buffer.byteLength(json)} bytes (pass --json to print it)\n`);
}
