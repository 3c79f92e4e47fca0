/**
 * What bench/growth.ts grows: the benchmark's pod with more application
 * containers or a larger body, a templates directory of N generated
 * templates, and N namespaces as the apiserver lists them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildReview, INJECT_ANNOTATION } from './review.js';

interface PodShape {
  metadata: { annotations: Record<string, string> };
  spec: { containers: Array<Record<string, unknown>> };
}

function podOf(review: Record<string, unknown>): PodShape {
  return (review['request'] as { object: PodShape }).object;
}

export interface ReviewShape {
  /** Application containers: copies of the benchmark pod's one (distinct names and ports). */
  containers: number;
  /** Pad the first container's env until the AdmissionReview is about this many bytes (0: no padding). */
  targetBytes: number;
  /** The inject annotation's value. */
  inject: string;
  /**
   * A pod of its own per request (the varying part is the pod's name, the
   * request uid stays fixed), so the plan memo misses every time; otherwise
   * pods of one ReplicaSet, whose plans the memo shares.
   */
  distinctPods?: boolean;
}

const FIXED_UID = '0f0e0d0c-0000-4000-8000-000000000000';

/** The benchmark's AdmissionReview (bench/review.ts) grown to `shape`. */
export function reviewBuilder(shape: ReviewShape): (uid: string) => Record<string, unknown> {
  const padding = shape.targetBytes > 0 ? paddingEnv(shape, shape.targetBytes) : [];
  return (uid) => {
    const review = buildReview(shape.distinctPods === true ? FIXED_UID : uid);
    const pod = podOf(review) as PodShape & { metadata: { name?: string } };
    shapePod(pod, shape, padding);
    if (shape.distinctPods === true) pod.metadata.name = `checkout-api-${uid}`;
    return review;
  };
}

function shapePod(pod: PodShape, shape: ReviewShape, padding: unknown[]): void {
  pod.metadata.annotations[INJECT_ANNOTATION] = shape.inject;
  const [app] = pod.spec.containers;
  if (app === undefined) throw new Error('the benchmark pod has no container');
  const containers = [app];
  for (let i = 2; i <= shape.containers; i += 1) {
    containers.push({ ...app, name: `${String(app['name'])}-${i}`, ports: [{ name: `http-${i}`, containerPort: 8080 + i, protocol: 'TCP' }] });
  }
  if (padding.length > 0) containers[0] = { ...app, env: [...(app['env'] as unknown[]), ...padding] };
  pod.spec.containers = containers;
}

/**
 * Environment variables of ~100 bytes each (what a configuration-heavy
 * application carries), enough to bring the review to about `targetBytes`.
 */
function paddingEnv(shape: ReviewShape, targetBytes: number): unknown[] {
  const entry = (i: number) => ({ name: `FEATURE_FLAG_${String(i).padStart(6, '0')}`, value: `enabled;rollout=${i % 100}%;owner=team-${i % 37};x=${'v'.repeat(40)}` });
  const probe = buildReview('0');
  shapePod(podOf(probe), shape, []);
  const base = Buffer.byteLength(JSON.stringify(probe));
  const each = Buffer.byteLength(JSON.stringify(entry(123456))) + 1;
  const count = Math.max(0, Math.round((targetBytes - base) / each));
  return Array.from({ length: count }, (_, i) => entry(i));
}

export const generatedTemplateName = (i: number): string => `gen-${String(i).padStart(4, '0')}`;

/**
 * `count` templates, one file each, shaped like templates/log-collector.yaml
 * (a native sidecar with a parameter, a volume, a mount into the application
 * containers, env and resources), with distinct names, volumes and paths.
 */
export function writeGeneratedTemplates(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= count; i += 1) {
    const name = generatedTemplateName(i);
    writeFileSync(
      join(dir, `${name}.yaml`),
      `apiVersion: sidecar.example/v1alpha1
kind: SidecarTemplate
metadata:
  name: ${name}
spec:
  version: "1.0.${i}"
  description: Generated for the growth benchmark (${i} of ${count}).
  mode: native
  position: before
  parameters:
    - name: dataPath
      default: /var/lib/${name}
      pattern: '/[A-Za-z0-9._/-]+'
      overridable: true
  volumes:
    - name: ${name}-data
      emptyDir: {}
  appContainers:
    volumeMounts:
      - name: ${name}-data
        mountPath: '{{ params.dataPath }}'
  containers:
    - name: ${name}
      image: registry.example.com/sidecars/${name}:1.0.${i}
      args: ["--data={{ params.dataPath }}", "--port=${9000 + i}"]
      ports:
        - name: metrics
          containerPort: ${9000 + i}
      env:
        - name: POD_NAMESPACE
          value: '{{ pod.namespace }}'
        - name: POD_NAME
          valueFrom:
            fieldRef: { fieldPath: metadata.name }
      volumeMounts:
        - name: ${name}-data
          mountPath: '{{ params.dataPath }}'
          readOnly: true
      resources:
        requests: { cpu: 10m, memory: 16Mi }
        limits: { cpu: 100m, memory: 64Mi }
      securityContext:
        runAsNonRoot: true
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: { drop: [ALL] }
`,
    );
  }
}

/** A Namespace as the apiserver lists it: labels, an annotation, managedFields, finalizer and phase (≈ 750 bytes of JSON). */
export function namespaceObject(name: string, i: number): Record<string, unknown> {
  const team = `team-${i % 500}`;
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      uid: `6f1c2d3e-${String(i).padStart(4, '0').slice(-4)}-4a5b-8c7d-${String(i).padStart(12, '0')}`,
      resourceVersion: String(100_000 + i),
      creationTimestamp: '2026-06-01T08:00:00Z',
      labels: { 'kubernetes.io/metadata.name': name, team, environment: i % 3 === 0 ? 'staging' : 'production' },
      annotations: { 'example.com/owner': `${team}@example.com` },
      managedFields: [
        {
          manager: 'kubectl-create',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-06-01T08:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': { '.': {}, 'f:example.com/owner': {} },
              'f:labels': { '.': {}, 'f:environment': {}, 'f:kubernetes.io/metadata.name': {}, 'f:team': {} },
            },
          },
        },
      ],
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}
