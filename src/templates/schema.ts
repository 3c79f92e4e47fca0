// JSON Schema of a SidecarTemplate document. The CRD (deploy/crds) does not
// reuse it: structural schemas forbid const, not and type arrays, so the CRD
// fixes only types and this schema stays the judge (errors go to the status).

const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

const containerSchema = {
  type: 'object',
  required: ['name', 'image'],
  properties: {
    name: { type: 'string', pattern: DNS1123_LABEL, maxLength: 63 },
    image: { type: 'string', minLength: 1 },
    restartPolicy: { not: {}, description: 'set by the template mode, not by hand' },
    volumeMounts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'mountPath'],
        properties: { name: { type: 'string' }, mountPath: { type: 'string', minLength: 1 } },
      },
    },
    env: {
      type: 'array',
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } },
    },
  },
};

// `name` (in any allowed namespace) or `namespace/name`; names are DNS-1123 subdomains.
const SERVICE_ACCOUNT = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$';

const labelSelectorSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'operator'],
        additionalProperties: false,
        properties: {
          key: { type: 'string', minLength: 1 },
          operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
};

export const templateDocumentSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'sidecar.example/v1alpha1' },
    kind: { const: 'SidecarTemplate' },
    metadata: {
      type: 'object',
      required: ['name'],
      properties: {
        // No dots: override annotations are `sidecar.example/<template>.<param>`.
        name: { type: 'string', pattern: DNS1123_LABEL, maxLength: 63 },
      },
    },
    spec: {
      type: 'object',
      additionalProperties: false,
      properties: {
        version: { type: 'string', minLength: 1, maxLength: 63 },
        description: { type: 'string' },
        mode: { enum: ['native', 'regular'] },
        position: { enum: ['before', 'after'] },
        allowedNamespaces: { type: 'array', items: { type: 'string', pattern: DNS1123_LABEL } },
        allowedNamespaceSelector: labelSelectorSchema,
        allowedServiceAccounts: { type: 'array', items: { type: 'string', pattern: SERVICE_ACCOUNT } },
        parameters: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'default'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]*$' },
              default: { type: ['string', 'integer'] },
              pattern: { type: 'string', minLength: 1 },
              overridable: { type: 'boolean' },
              type: { enum: ['string', 'integer'] },
              description: { type: 'string' },
            },
          },
        },
        containers: { type: 'array', items: containerSchema },
        initContainers: { type: 'array', items: containerSchema },
        volumes: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string', pattern: DNS1123_LABEL, maxLength: 63 } },
          },
        },
        appContainers: {
          type: 'object',
          additionalProperties: false,
          properties: {
            volumeMounts: containerSchema.properties.volumeMounts,
            env: containerSchema.properties.env,
          },
        },
      },
      anyOf: [
        { required: ['containers'], properties: { containers: { minItems: 1 } } },
        { required: ['initContainers'], properties: { initContainers: { minItems: 1 } } },
      ],
    },
  },
} as const;
