// CEL text for the values a template puts into a pod: JSON constants and
// compiled placeholders become CEL literals and expressions whose JSON form
// is what the webhook renders. Every member of a map or list is wrapped in
// dyn(): CEL's type checker refuses a literal mixing strings, numbers and
// maps (which every container is), and dyn values still marshal to JSON.
import type { Compiled, PlaceholderRef } from '../templates/placeholders.js';

/** The pod under admission, and its annotations (absent ones read as none). */
export const POD = 'object';
export const ANNOTATIONS = `${POD}.metadata.?annotations.orValue({})`;

/** A CEL string literal (JSON's escapes are a subset of CEL's). */
export function celString(text: string): string {
  return JSON.stringify(text);
}

/** A CEL list of string literals. */
export function celStrings(list: readonly string[]): string {
  return `[${list.map(celString).join(', ')}]`;
}

/** A JSON value as a CEL literal. */
export function celJson(value: unknown): string {
  if (typeof value === 'string') return celString(value);
  if (typeof value === 'number') {
    // An integer must stay an integer: JSON 1.0 and 1 decode alike, CEL int and double do not marshal alike.
    if (Number.isInteger(value)) return String(value);
    return String(value).includes('.') || String(value).includes('e') ? String(value) : `${value}.0`;
  }
  if (typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map((item) => `dyn(${celJson(item)})`).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => `${celString(key)}: dyn(${celJson(item)})`);
  return `{${entries.join(', ')}}`;
}

/** How a placeholder reads in CEL: a variable for a parameter, the request and pod for the rest. */
export type RefExpression = (ref: PlaceholderRef) => string;

/** A compiled template value (placeholders and all) as a CEL expression. */
export function celCompiled(compiled: Compiled, ref: RefExpression): string {
  switch (compiled.kind) {
    case 'const':
      return celJson(compiled.value);
    case 'text': {
      const parts = compiled.parts.map((part) => (typeof part === 'string' ? celString(part) : ref(part)));
      return parts.length === 0 ? '""' : parts.join(' + ');
    }
    case 'integer':
      return `int(${ref(compiled.ref)})`;
    case 'array':
      return `[${compiled.items.map((item) => `dyn(${celCompiled(item, ref)})`).join(', ')}]`;
    case 'object':
      return `{${compiled.entries.map((e) => `${celString(e.key)}: dyn(${celCompiled(e.value, ref)})`).join(', ')}}`;
  }
}
