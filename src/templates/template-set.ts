import { compileTemplate, contentHash, type TemplateProblem } from './compile.js';
import type { CompiledTemplate, TemplateSet } from './model.js';

export interface TemplateDocument {
  /** File path (with document number when the file holds several) or resource name. */
  source: string;
  document: unknown;
}

export type TemplateSetResult =
  | { ok: true; set: TemplateSet; warnings: TemplateProblem[] }
  | { ok: false; problems: TemplateProblem[] };

/** Compiles every document; the set is accepted only when all of them are valid. */
export function buildTemplateSet(documents: readonly TemplateDocument[]): TemplateSetResult {
  const problems: TemplateProblem[] = [];
  const warnings: TemplateProblem[] = [];
  const templates = new Map<string, CompiledTemplate>();
  for (const { source, document } of documents) {
    const result = compileTemplate(document, source);
    if (!result.ok) {
      problems.push(...result.problems);
      continue;
    }
    const existing = templates.get(result.template.name);
    if (existing !== undefined) {
      problems.push({
        source,
        template: result.template.name,
        field: 'metadata.name',
        message: `duplicate template name, also defined in ${existing.source}`,
      });
      continue;
    }
    templates.set(result.template.name, result.template);
    warnings.push(...result.warnings);
  }
  if (problems.length > 0) return { ok: false, problems };
  const sorted = new Map([...templates.entries()].sort(([a], [b]) => a.localeCompare(b)));
  return {
    ok: true,
    set: { templates: sorted, revision: contentHash(documents.map((d) => d.document)) },
    warnings,
  };
}

export const EMPTY_TEMPLATE_SET: TemplateSet = { templates: new Map(), revision: 'empty' };
