// The core/v1 schemas (src/templates/kube-schema/core-v1.ts) in the form a
// CustomResourceDefinition accepts: structural (no $ref, every node typed),
// with the descriptions kept so `kubectl explain sidecartemplate.spec.containers`
// documents every field, and unknown fields pruned, so `kubectl apply` refuses
// a misspelt one (kubectl's default --validate=strict).
//
// A template is a container with placeholders, so a field a placeholder may
// fill takes that string too: integer fields become int-or-string whose
// strings must hold `{{`, enums and quantities also admit `{{ … }}`. The
// webhook then checks the rendered value against the exact type (and reports
// on the resource's status); the CRD catches what no rendering can mend.
import { CORE_V1_SCHEMAS } from '../src/templates/kube-schema/core-v1.js';
import { QUANTITY_PATTERN } from '../src/templates/kube-schema/validate.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Node = { [key: string]: Json };

const REF_PREFIX = '#/components/schemas/';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
/** A string holding a placeholder: what a template may write where the type says otherwise. */
const PLACEHOLDER = '\\{\\{';

function definition(name: string): Node {
  const found = CORE_V1_SCHEMAS[name] as Node | undefined;
  if (found === undefined) throw new Error(`no core/v1 definition ${name}`);
  return found;
}

/** `{$ref}` or `{allOf: [{$ref}], description, default}` → the definition's name, if that is what the node is. */
function referenced(node: Node): string | undefined {
  const ref = node['$ref'] ?? (Array.isArray(node['allOf']) && node['allOf'].length === 1 ? (node['allOf'][0] as Node)['$ref'] : undefined);
  return typeof ref === 'string' ? ref.slice(REF_PREFIX.length) : undefined;
}

function describe(description: Json | undefined): Node {
  return typeof description === 'string' ? { description } : {};
}

/** The structural form of one core/v1 schema node; `description` of the field wins over the type's. */
export function structural(node: Node, fieldDescription?: Json): Node {
  const name = referenced(node);
  const description = describe(fieldDescription ?? node['description']);
  if (name === QUANTITY) {
    return { ...description, 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }], pattern: `${QUANTITY_PATTERN}|${PLACEHOLDER}` };
  }
  if (name === INT_OR_STRING) return { ...description, 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
  if (name !== undefined) return structural(definition(name), fieldDescription ?? node['description']);

  switch (node['type']) {
    case 'integer':
      return { ...description, 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }], pattern: PLACEHOLDER };
    case 'string': {
      const out: Node = { ...description, type: 'string' };
      if (Array.isArray(node['enum'])) out['anyOf'] = [{ enum: node['enum'] }, { pattern: PLACEHOLDER }];
      return out;
    }
    case 'array':
      return { ...description, type: 'array', items: structural(node['items'] as Node) };
    case 'object': {
      const properties = node['properties'] as Record<string, Node> | undefined;
      if (properties !== undefined) {
        const out: Node = {
          ...description,
          type: 'object',
          properties: Object.fromEntries(Object.entries(properties).map(([key, child]) => [key, structural(child, child['description'])])),
        };
        if (Array.isArray(node['required'])) out['required'] = node['required'];
        return out;
      }
      if (node['additionalProperties'] !== undefined) {
        return { ...description, type: 'object', additionalProperties: structural(node['additionalProperties'] as Node) };
      }
      // FieldsV1 and the like: a JSON object of any shape.
      return { ...description, type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    }
    default:
      if (typeof node['type'] === 'string') return { ...description, type: node['type'] };
      throw new Error(`cannot make a structural schema of ${JSON.stringify(node).slice(0, 200)}`);
  }
}

/** The structural schema of a core/v1 kind, e.g. `Container`. */
export function crdSchemaOf(kind: 'Container' | 'Volume' | 'VolumeMount' | 'EnvVar', description: string): Node {
  return { ...structural(definition(`io.k8s.api.core.v1.${kind}`)), description };
}
