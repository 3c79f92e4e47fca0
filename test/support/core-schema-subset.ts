// The part of the apiserver's core/v1 OpenAPI v3 document that a template's
// containers, init containers, volumes and application mounts and env are
// checked against: Container and Volume and every definition they reach.
// Shared by scripts/update-core-schema.ts (which writes it into the source)
// and the e2e test that compares the stored copy with what the apiserver serves.

/** The definitions a template's objects are; everything they reference comes along. */
export const SCHEMA_ROOTS = ['io.k8s.api.core.v1.Container', 'io.k8s.api.core.v1.Volume'] as const;

const REF_PREFIX = '#/components/schemas/';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function references(node: Json, found: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) references(item, found);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX)) found.add(value.slice(REF_PREFIX.length));
      else references(value, found);
    }
  }
}

/** The closure of SCHEMA_ROOTS in `/openapi/v3/api/v1`, keyed by definition name in sorted order. */
export function coreSchemaSubset(openapi: { components: { schemas: Record<string, Json> } }): Record<string, Json> {
  const all = openapi.components.schemas;
  const names = new Set<string>();
  const pending: string[] = [...SCHEMA_ROOTS];
  while (pending.length > 0) {
    const name = pending.pop() as string;
    if (names.has(name)) continue;
    const definition = all[name];
    if (definition === undefined) throw new Error(`the OpenAPI document has no definition ${name}`);
    names.add(name);
    const found = new Set<string>();
    references(definition, found);
    pending.push(...[...found].filter((n) => !names.has(n)));
  }
  return Object.fromEntries([...names].sort().map((name) => [name, all[name] as Json]));
}
