// Whether a pod asks for one template and no other known one, in CEL, as
// inject/annotations.ts and decide.ts read the request: the pod's sidecar.example/inject (a list,
// `true` for the defaults, `false` to opt out), else the defaults of an
// opted-in namespace (its own sidecar.example/inject list, else the
// --default-templates). Written as RE2 patterns over the raw annotation so
// that the webhook's trim() (JavaScript's whitespace, not Go's) and its
// ASCII-only `true`/`false` are matched exactly.
import { INJECT_ANNOTATION, INJECTION_LABEL } from '../inject/annotations.js';
import { celString } from './cel.js';

/** What String.prototype.trim() removes: WhiteSpace and LineTerminator of ECMAScript. */
export const W = '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
const SPACE = `[${W}]*`;
const word = (text: string): string => [...text].map((c) => `[${c}${c.toUpperCase()}]`).join('');
export const OPT_OUT = `^${SPACE}${word('false')}${SPACE}$`;
export const DEFAULTS = `^${SPACE}${word('true')}${SPACE}$`;
/** A non-empty name somewhere: a character that is neither trimmed nor a comma. */
export const SOME_NAME = `[^${W},]`;

/** Outside a class `-` is literal in both engines (and `\\-` is an error in JavaScript's u mode). */
const escapeRegex = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/** One comma-separated item that, trimmed, is one of `names`. */
export function itemPattern(names: readonly string[]): string {
  return `^${SPACE}(?:${names.map(escapeRegex).join('|')})${SPACE}$`;
}

/**
 * Whether the comma-separated list held by the CEL string `list` names
 * `template` and no other known template: what the webhook injects then is
 * that template alone (unknown names are only warned about).
 */
export function aloneInList(list: string, template: string, known: readonly string[]): string {
  const others = known.filter((name) => name !== template);
  const items = `${list}.split(",")`;
  const named = `${items}.exists(item, item.matches(${celString(itemPattern([template]))}))`;
  return others.length === 0 ? named : `(${named} && !${items}.exists(item, item.matches(${celString(itemPattern(others))})))`;
}

/**
 * Variables that tell whether this pod asks for `template` and no other of
 * the `known` templates; the last, `asks`, is the answer. (Not match
 * conditions: those cannot read namespaceObject.)
 */
export function requestVariables(
  template: string,
  known: readonly string[],
  defaultTemplates: readonly string[],
): Array<{ name: string; expression: string }> {
  const annotation = (of: string): string => `${of}.metadata.?annotations.orValue({})[?${celString(INJECT_ANNOTATION)}].orValue("")`;
  const globalAlone = defaultTemplates.includes(template) && !defaultTemplates.some((name) => name !== template && known.includes(name));
  const isNames = (v: string): string => `(${v}.matches(${celString(SOME_NAME)}) && !${v}.matches(${celString(OPT_OUT)}) && !${v}.matches(${celString(DEFAULTS)}))`;
  return [
    { name: 'request', expression: annotation('object') },
    { name: 'namespaceRequest', expression: annotation('namespaceObject') },
    {
      name: 'namespaceOptedIn',
      expression: `namespaceObject.metadata.?labels.orValue({})[?${celString(INJECTION_LABEL)}].orValue("") == "enabled"`,
    },
    {
      name: 'defaultsAreThisAlone',
      expression: `${isNames('variables.namespaceRequest')} ? ${aloneInList('variables.namespaceRequest', template, known)} : ${globalAlone}`,
    },
    {
      name: 'asks',
      expression:
        `!variables.request.matches(${celString(OPT_OUT)}) && (${isNames('variables.request')} ? ${aloneInList('variables.request', template, known)} : ` +
        `((variables.request.matches(${celString(DEFAULTS)}) || variables.namespaceOptedIn) && variables.defaultsAreThisAlone))`,
    },
  ];
}
