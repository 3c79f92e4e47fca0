// Checks a template's containers, init containers, volumes and application
// mounts and env against the apiserver's own core/v1 schema (core-v1.ts), so a
// mistake the apiserver would refuse when decoding the patched pod
// (`containerPort: "8080"`, `memory: 64 Mi`, a misspelt field) is found when
// the template loads, not by the first pod that asks for it.
//
// The OpenAPI document is permissive where the apiserver's decoder is not, so
// two things are tightened here: an object accepts only its declared fields
// (the decoder drops unknown ones, silently losing what the author meant), and
// a Quantity string must parse (resource.Quantity's UnmarshalJSON refuses
// `64 Mi`, which makes the whole pod undecodable).
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { CORE_V1_SCHEMAS } from './core-v1.js';

const REF_PREFIX = '#/components/schemas/';
const QUANTITY_DEFINITION = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const INT_OR_STRING_DEFINITION = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';

/**
 * resource.Quantity's string form (apimachinery's quantity.go: a signed
 * decimal number, then a binary-SI, decimal-SI or exponent suffix); the same
 * pattern controller-gen writes for Quantity fields.
 */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

export function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= INT32.min && value <= INT32.max;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function tighten(node: Json): Json {
  if (Array.isArray(node)) return node.map(tighten);
  if (node === null || typeof node !== 'object') return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === '$ref' && typeof value === 'string' ? `#/$defs/${value.slice(REF_PREFIX.length)}` : tighten(value);
  }
  if (out['properties'] !== undefined && out['additionalProperties'] === undefined) out['additionalProperties'] = false;
  return out;
}

function definitions(): Record<string, Json> {
  const defs: Record<string, Json> = {};
  for (const [name, schema] of Object.entries(CORE_V1_SCHEMAS)) defs[name] = tighten(schema as Json);
  defs[QUANTITY_DEFINITION] = { anyOf: [{ type: 'string', pattern: QUANTITY_PATTERN }, { type: 'number' }] };
  return defs;
}

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat('int32', { type: 'number', validate: isInt32 });
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
// Formats the decoder does not enforce as written here (or the types already do).
for (const format of ['int-or-string', 'date-time', 'byte', 'double']) ajv.addFormat(format, true);
ajv.addSchema({ $id: 'core-v1', $defs: definitions() });

export type KubeKind = 'Container' | 'Volume' | 'VolumeMount' | 'EnvVar';

const validators = new Map<KubeKind, ValidateFunction>();
function validatorOf(kind: KubeKind): ValidateFunction {
  let validate = validators.get(kind);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: `core-v1#/$defs/io.k8s.api.core.v1.${kind}` });
    validators.set(kind, validate);
  }
  return validate;
}

export interface SchemaProblem {
  /** Path inside the checked value, e.g. ['ports', '0', 'containerPort']. */
  path: string[];
  message: string;
}

function segments(instancePath: string): string[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** One message per error, in the apiserver's words where ajv's are vague. */
function describe(error: ErrorObject): SchemaProblem {
  const path = segments(error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(params['additionalProperty'])], message: 'is not a known field' };
    case 'required':
      return { path: [...path, String(params['missingProperty'])], message: 'is required' };
    case 'enum':
      return { path, message: `must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'format':
      if (params['format'] === 'int32') return { path, message: 'must be a 32-bit integer' };
      if (params['format'] === 'int64') return { path, message: 'must be a 64-bit integer' };
      break;
    case 'type':
      return { path, message: `must be ${params['type'] === 'integer' ? 'an integer' : `of type ${String(params['type'])}`}` };
  }
  return { path, message: error.message ?? 'is invalid' };
}

/**
 * Problems of `value` as a core/v1 `kind`, at most one per field. The
 * branches of a Quantity or IntOrString (string or number) are one problem
 * named for the type, not one per branch.
 */
export function kubeSchemaProblems(kind: KubeKind, value: unknown): SchemaProblem[] {
  const validate = validatorOf(kind);
  if (validate(value)) return [];
  const byField = new Map<string, SchemaProblem>();
  for (const error of validate.errors ?? []) {
    let problem: SchemaProblem;
    if (error.schemaPath.includes(QUANTITY_DEFINITION)) {
      problem = { path: segments(error.instancePath), message: 'must be a quantity such as 64Mi, 0.5 or 250m' };
    } else if (error.schemaPath.includes(INT_OR_STRING_DEFINITION)) {
      problem = { path: segments(error.instancePath), message: 'must be an integer or a string' };
    } else {
      problem = describe(error);
    }
    const key = problem.path.join('\u0000');
    // The first error at a field is the specific one; a later anyOf/oneOf summary adds nothing.
    if (!byField.has(key)) byField.set(key, problem);
  }
  return [...byField.values()];
}
