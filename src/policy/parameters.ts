// A template's parameters in CEL: one variable per parameter (the pod's
// override or the default), the overrides checked as decide.ts checks them,
// and the placeholders that read them.
import { overrideAnnotation } from '../inject/annotations.js';
import type { CompiledTemplate, Parameter } from '../templates/model.js';
import type { PlaceholderRef } from '../templates/placeholders.js';
import { ANNOTATIONS, celString, POD } from './cel.js';
import { translatePattern } from './pattern.js';

const paramVariable = (index: number): string => `param${index}`;

/** How each placeholder reads in CEL (render.ts podContext for the pod's). */
export function placeholderCel(template: CompiledTemplate): (ref: PlaceholderRef) => string {
  const names = [...template.parameters.keys()];
  return (ref) => {
    if (ref.scope === 'params') return `variables.${paramVariable(names.indexOf(ref.field))}`;
    if (ref.scope === 'template') return celString(ref.field === 'name' ? template.name : template.version);
    switch (ref.field) {
      case 'name':
        return `${POD}.metadata.?name.orValue(${POD}.metadata.?generateName.orValue(''))`;
      case 'generateName':
        return `${POD}.metadata.?generateName.orValue('')`;
      case 'namespace':
        return 'request.namespace';
      default:
        return `${POD}.spec.?serviceAccountName.orValue('default')`;
    }
  };
}

/**
 * The checks decide.ts makes of an override of the `index`th parameter, as CEL
 * over its variable: its pattern, and for an integer, a 32-bit integer (each
 * a separate problem there; the companion ValidatingAdmissionPolicy reports them apart).
 */
export function overrideChecks(parameter: Parameter, index: number): { pattern: string; int32: string | undefined } {
  const name = paramVariable(index);
  const translated = translatePattern(parameter.patternSource);
  if (!translated.ok) throw new Error('unreachable: refusals are checked first');
  // As decide.ts: an integer override must be a 32-bit integer. Leading zeros
  // are fine there (Number("007") is 7); at most ten digits after them keep
  // int() from overflowing before the range check.
  const int32 = `variables.${name}.matches('^-?0*[0-9]{1,10}$') && int(variables.${name}) >= -2147483648 && int(variables.${name}) <= 2147483647`;
  return { pattern: `variables.${name}.matches(${celString(translated.re2)})`, int32: parameter.type === 'integer' ? int32 : undefined };
}

function overrideCheck(parameter: Parameter, index: number): string {
  const { pattern, int32 } = overrideChecks(parameter, index);
  return int32 === undefined ? pattern : `${pattern} && ${int32}`;
}

/** One variable per parameter (the override or the default) and whether every override is acceptable. */
export function parameterVariables(template: CompiledTemplate): { variables: Array<{ name: string; expression: string }>; valid: string } {
  const variables: Array<{ name: string; expression: string }> = [];
  const checks: string[] = [];
  [...template.parameters.values()].forEach((parameter, index) => {
    const name = paramVariable(index);
    if (!parameter.overridable) {
      // An override of a parameter that is not overridable is ignored (with a warning) by the webhook.
      variables.push({ name, expression: celString(parameter.default) });
      return;
    }
    const key = celString(overrideAnnotation(template.name, parameter.name));
    variables.push({ name, expression: `${ANNOTATIONS}[?${key}].orValue(${celString(parameter.default)})` });
    const check = overrideCheck(parameter, index);
    checks.push(`(!(${key} in ${ANNOTATIONS}) || (${check}))`);
  });
  return { variables, valid: checks.length === 0 ? 'true' : checks.join(' && ') };
}
