// Placeholders are the only dynamic part of a template: `{{ pod.name }}`,
// `{{ params.port }}`… They are parsed once, at load time, into a tree where
// every subtree without a placeholder is a constant whose JSON text is made
// once, so that rendering per admission only joins strings: the patch is JSON
// text, built without per-request objects for the large constant parts.

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
  | { kind: 'const'; value: unknown; json: string }
  | { kind: 'text'; parts: ReadonlyArray<string | PlaceholderRef> }
  | { kind: 'integer'; ref: PlaceholderRef }
  | { kind: 'object'; entries: ReadonlyArray<{ key: string; value: Compiled }>; json: JsonParts }
  | { kind: 'array'; items: readonly Compiled[]; json: JsonParts };

/**
 * The JSON text of an object or array as literal text runs (braces, keys,
 * commas and constant values already joined) between the dynamic children.
 */
type JsonParts = ReadonlyArray<string | Compiled>;

function jsonParts(open: string, close: string, members: ReadonlyArray<{ prefix: string; value: Compiled }>): JsonParts {
  const parts: Array<string | Compiled> = [];
  let text = open;
  members.forEach((member, i) => {
    text += (i === 0 ? '' : ',') + member.prefix;
    if (member.value.kind === 'const') {
      text += member.value.json;
    } else {
      parts.push(text, member.value);
      text = '';
    }
  });
  parts.push(text + close);
  return parts;
}

function constant(value: unknown): Compiled {
  return { kind: 'const', value: deepFreeze(value), json: JSON.stringify(value) };
}

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
  if (!text.includes('{{')) return constant(text);
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
    if (items.every((c) => c.kind === 'const')) return constant(value);
    return { kind: 'array', items, json: jsonParts('[', ']', items.map((item) => ({ prefix: '', value: item }))) };
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([key, v]) => ({ key, value: compileValue(v, options, [...path, key]) }));
    if (entries.every((e) => e.value.kind === 'const')) return constant(value);
    const members = entries.map((e) => ({ prefix: `${JSON.stringify(e.key)}:`, value: e.value }));
    return { kind: 'object', entries, json: jsonParts('{', '}', members) };
  }
  return constant(value);
}

function resolve(ref: PlaceholderRef, context: RenderContext): string {
  return context[ref.scope][ref.field] ?? '';
}

/** Renders a compiled value as an object (for values the injector inspects). */
export function renderValue(compiled: Compiled, context: RenderContext): unknown {
  switch (compiled.kind) {
    case 'const':
      return compiled.value;
    case 'text':
      return renderText(compiled.parts, context);
    case 'integer':
      return Number(resolve(compiled.ref, context));
    case 'array':
      return compiled.items.map((item) => renderValue(item, context));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const entry of compiled.entries) out[entry.key] = renderValue(entry.value, context);
      return out;
    }
  }
}

/** Renders a compiled value straight to JSON text; constant subtrees cost one concatenation. */
export function renderJson(compiled: Compiled, context: RenderContext): string {
  switch (compiled.kind) {
    case 'const':
      return compiled.json;
    case 'text':
      return JSON.stringify(renderText(compiled.parts, context));
    case 'integer':
      return String(Number(resolve(compiled.ref, context)));
    case 'array':
    case 'object': {
      let out = '';
      for (const part of compiled.json) out += typeof part === 'string' ? part : renderJson(part, context);
      return out;
    }
  }
}

function renderText(parts: ReadonlyArray<string | PlaceholderRef>, context: RenderContext): string {
  let out = '';
  for (const part of parts) out += typeof part === 'string' ? part : resolve(part, context);
  return out;
}
