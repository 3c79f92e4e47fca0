// Placeholders are the only dynamic part of a template: `{{ pod.name }}`,
// `{{ params.port }}`… They are parsed once, at load time, into a tree where
// every subtree without a placeholder is a shared frozen constant, so that
// rendering per admission copies only the strings that change.

export const PLACEHOLDER_SCOPES = ['pod', 'params', 'template'] as const;
export type PlaceholderScope = (typeof PLACEHOLDER_SCOPES)[number];

/** Fields of the `pod` scope; `pod.name` falls back to generateName for controller-made pods. */
export const POD_FIELDS = ['name', 'generateName', 'namespace', 'serviceAccountName'] as const;
export const TEMPLATE_FIELDS = ['name', 'version'] as const;

export interface PlaceholderRef {
  scope: PlaceholderScope;
  field: string;
}

export type Compiled =
  | { kind: 'const'; value: unknown }
  | { kind: 'text'; parts: ReadonlyArray<string | PlaceholderRef> }
  | { kind: 'integer'; ref: PlaceholderRef }
  | { kind: 'object'; entries: ReadonlyArray<readonly [string, Compiled]> }
  | { kind: 'array'; items: readonly Compiled[] };

export interface RenderContext {
  pod: Readonly<Record<string, string>>;
  params: Readonly<Record<string, string>>;
  template: Readonly<Record<string, string>>;
}

// `{{ scope.field }}`, or `{{ params.x | int }}` for integer fields (containerPort,
// probe ports): only a value that is exactly one `| int` placeholder becomes a number.
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\s*(\|\s*int\s*)?\}\}/g;

export class PlaceholderError extends Error {
  constructor(
    message: string,
    /** JSON path of the offending string inside the compiled value. */
    readonly path: readonly string[] = [],
  ) {
    super(message);
  }
}

export interface CompileOptions {
  /** Declared parameters; only integer ones may use `| int`. */
  params: ReadonlyMap<string, { type: 'string' | 'integer' }>;
}

function checkRef(scope: string, field: string, options: CompileOptions): PlaceholderRef {
  if (scope === 'params') {
    if (!options.params.has(field)) throw new PlaceholderError(`{{ params.${field} }} is not a declared parameter`);
  } else if (scope === 'pod') {
    if (!(POD_FIELDS as readonly string[]).includes(field)) {
      throw new PlaceholderError(`{{ pod.${field} }} is unknown (known: ${POD_FIELDS.join(', ')})`);
    }
  } else if (scope === 'template') {
    if (!(TEMPLATE_FIELDS as readonly string[]).includes(field)) {
      throw new PlaceholderError(`{{ template.${field} }} is unknown (known: ${TEMPLATE_FIELDS.join(', ')})`);
    }
  } else {
    throw new PlaceholderError(`{{ ${scope}.${field} }} has an unknown scope (known: ${PLACEHOLDER_SCOPES.join(', ')})`);
  }
  return { scope: scope as PlaceholderScope, field };
}

function compileString(text: string, options: CompileOptions): Compiled {
  if (!text.includes('{{')) return { kind: 'const', value: text };
  const parts: Array<string | PlaceholderRef> = [];
  let integer: PlaceholderRef | undefined;
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const index = match.index ?? 0;
    if (index > last) parts.push(text.slice(last, index));
    const ref = checkRef(match[1] ?? '', match[2] ?? '', options);
    if (match[3] !== undefined) {
      if (match[0] !== text) throw new PlaceholderError(`"| int" must be the whole value, in "${text}"`);
      if (ref.scope !== 'params' || options.params.get(ref.field)?.type !== 'integer') {
        throw new PlaceholderError(`"| int" needs a parameter of type integer, in "${text}"`);
      }
      integer = ref;
    }
    parts.push(ref);
    last = index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  const leftover = parts.find((p) => typeof p === 'string' && (p.includes('{{') || p.includes('}}')));
  if (leftover !== undefined) throw new PlaceholderError(`malformed placeholder in "${text}"`);
  if (integer !== undefined) return { kind: 'integer', ref: integer };
  return { kind: 'text', parts };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Compiles a JSON value; throws PlaceholderError with the offending text. */
export function compileValue(value: unknown, options: CompileOptions, path: string[] = []): Compiled {
  if (typeof value === 'string') {
    try {
      return compileString(value, options);
    } catch (error) {
      if (error instanceof PlaceholderError) throw new PlaceholderError(error.message, path);
      throw error;
    }
  }
  if (Array.isArray(value)) {
    const items = value.map((item, i) => compileValue(item, options, [...path, String(i)]));
    if (items.every((c) => c.kind === 'const')) return { kind: 'const', value: deepFreeze(value) };
    return { kind: 'array', items };
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => [k, compileValue(v, options, [...path, k])] as const);
    if (entries.every(([, c]) => c.kind === 'const')) return { kind: 'const', value: deepFreeze(value) };
    return { kind: 'object', entries };
  }
  return { kind: 'const', value };
}

function resolve(ref: PlaceholderRef, context: RenderContext): string {
  return context[ref.scope][ref.field] ?? '';
}

/** Renders a compiled value. Constant subtrees are shared, never copied: callers must not mutate. */
export function renderValue(compiled: Compiled, context: RenderContext): unknown {
  switch (compiled.kind) {
    case 'const':
      return compiled.value;
    case 'text': {
      let out = '';
      for (const part of compiled.parts) out += typeof part === 'string' ? part : resolve(part, context);
      return out;
    }
    case 'integer':
      return Number(resolve(compiled.ref, context));
    case 'array':
      return compiled.items.map((item) => renderValue(item, context));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, child] of compiled.entries) out[key] = renderValue(child, context);
      return out;
    }
  }
}
