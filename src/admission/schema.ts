// Schemas for what the webhook reads from an AdmissionReview. They check only
// the fields the injector touches and leave everything else as it came.

const named = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string' } },
};

const container = {
  type: 'object',
  required: ['name'],
  properties: {
    // The apiserver sends a container without a name as name "" (Go's zero value).
    name: { type: 'string', minLength: 1 },
    volumeMounts: {
      type: 'array',
      items: { type: 'object', required: ['name', 'mountPath'], properties: { name: { type: 'string' }, mountPath: { type: 'string' } } },
    },
    env: { type: 'array', items: named },
  },
};

export const admissionRequestSchema = {
  type: 'object',
  required: ['uid', 'operation', 'resource'],
  properties: {
    uid: { type: 'string' },
    operation: { type: 'string' },
    resource: {
      type: 'object',
      required: ['group', 'version', 'resource'],
      properties: { group: { type: 'string' }, version: { type: 'string' }, resource: { type: 'string' } },
    },
    subResource: { type: 'string' },
    namespace: { type: 'string' },
    dryRun: { type: 'boolean' },
  },
} as const;

export const podSchema = {
  type: 'object',
  required: ['spec'],
  properties: {
    metadata: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        generateName: { type: 'string' },
        namespace: { type: 'string' },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    spec: {
      type: 'object',
      required: ['containers'],
      properties: {
        containers: { type: 'array', items: container },
        initContainers: { type: 'array', items: container },
        ephemeralContainers: { type: 'array', items: container },
        volumes: { type: 'array', items: named },
        serviceAccountName: { type: 'string' },
      },
    },
  },
} as const;
