// The slice of the Kubernetes Pod shape the injector reads or writes. Every
// interface is open (index signature) because the injector must pass through
// every field it does not know, untouched.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface VolumeMount {
  name: string;
  mountPath: string;
  [field: string]: unknown;
}

export interface EnvVar {
  name: string;
  [field: string]: unknown;
}

export interface Container {
  name: string;
  volumeMounts?: VolumeMount[];
  env?: EnvVar[];
  restartPolicy?: string;
  [field: string]: unknown;
}

export interface Volume {
  name: string;
  [field: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Volume[];
  serviceAccountName?: string;
  [field: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: PodSpec;
  [field: string]: unknown;
}
