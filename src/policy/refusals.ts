// What a template needs that the policy cannot express exactly: `policy`
// refuses such a template (naming the reason) rather than emit a policy that
// injects something other than the webhook would.
import type { CompiledTemplate } from '../templates/model.js';
import type { Compiled } from '../templates/placeholders.js';
import { translatePattern } from './pattern.js';

/**
 * Fields whose strings the apiserver decodes as quantities: an override that
 * makes one unparseable makes the webhook refuse the template for that pod
 * (decide.ts overrideSchemaProblem), which a policy cannot tell beforehand.
 */
const QUANTITY_KEYS = new Set(['resources', 'sizeLimit', 'divisor']);

/** Paths of the placeholders of overridable parameters that sit under a quantity field. */
function overridesInQuantities(compiled: Compiled, overridable: ReadonlySet<string>, path: string[], out: string[]): void {
  if (compiled.kind === 'text' || compiled.kind === 'integer') {
    const refs = compiled.kind === 'text' ? compiled.parts.filter((p) => typeof p !== 'string') : [compiled.ref];
    if (path.some((segment) => QUANTITY_KEYS.has(segment)) && refs.some((r) => r.scope === 'params' && overridable.has(r.field))) {
      out.push(path.join('.'));
    }
  } else if (compiled.kind === 'array') {
    compiled.items.forEach((item, index) => overridesInQuantities(item, overridable, [...path, String(index)], out));
  } else if (compiled.kind === 'object') {
    for (const entry of compiled.entries) overridesInQuantities(entry.value, overridable, [...path, entry.key], out);
  }
}

/** Why `template` cannot be compiled to a policy; empty when it can. */
export function refusalsOf(template: CompiledTemplate): string[] {
  const reasons: string[] = [];
  const { namespaces, namespaceSelector } = template.access;
  if (template.privileged.length > 0 && namespaces === undefined && namespaceSelector === undefined) {
    reasons.push('it is privileged and names no allowed namespaces: the webhook refuses it everywhere, so there is nothing to compile');
  }
  const overridable = new Set<string>();
  for (const parameter of template.parameters.values()) {
    if (!parameter.overridable) continue;
    overridable.add(parameter.name);
    const translated = translatePattern(parameter.patternSource);
    if (!translated.ok) reasons.push(`parameter "${parameter.name}": its pattern ${parameter.patternSource} cannot be checked alike in CEL: ${translated.reason}`);
  }
  const quantities: string[] = [];
  const lists: Array<[string, readonly Compiled[]]> = [
    ['containers', template.containers],
    ['initContainers', template.initContainers],
    ['volumes', template.volumes],
  ];
  for (const [name, items] of lists) items.forEach((item, index) => overridesInQuantities(item, overridable, [name, String(index)], quantities));
  for (const path of quantities) {
    reasons.push(`${path}: an overridable parameter in a quantity; the webhook refuses an override that makes it unparseable, which a policy cannot check`);
  }
  const seen = new Set<string>();
  for (const name of template.appEnvNames) {
    if (seen.has(name)) reasons.push(`appContainers.env sets ${name} twice; the webhook adds the first only`);
    seen.add(name);
  }
  return reasons;
}
