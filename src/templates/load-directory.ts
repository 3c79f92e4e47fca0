import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { TemplateProblem } from './compile.js';
import { buildTemplateSet, type TemplateDocument, type TemplateSetResult } from './template-set.js';

const TEMPLATE_FILE = /\.(ya?ml|json)$/i;

/** Parses one file's text into documents; YAML errors become problems with a line number. */
export function parseTemplateFile(
  text: string,
  file: string,
): { documents: TemplateDocument[]; problems: TemplateProblem[] } {
  const documents: TemplateDocument[] = [];
  const problems: TemplateProblem[] = [];
  const parsed = parseAllDocuments(text, { prettyErrors: true });
  const all = Array.isArray(parsed) ? parsed : [parsed];
  const several = all.length > 1;
  all.forEach((doc, index) => {
    const source = several ? `${file} (document ${index + 1})` : file;
    const error = doc.errors[0];
    if (error !== undefined) {
      // Only the first: one syntax break makes the parser report its knock-on errors too
      // (five for one stray bracket), and the document is refused either way.
      const line = error.linePos?.[0]?.line;
      const where = line === undefined ? '' : `line ${line}: `;
      const first = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      problems.push({ source, template: undefined, field: '', message: `${where}invalid YAML: ${first}` });
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // empty document, e.g. a trailing `---`
    documents.push({ source, document: value });
  });
  return { documents, problems };
}

/**
 * Reads every *.yaml/*.yml/*.json file of a directory. Dot-entries are skipped:
 * a mounted ConfigMap keeps its real files under `..data` and exposes symlinks.
 */
export async function loadTemplateDirectory(directory: string): Promise<TemplateSetResult> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter((n) => !n.startsWith('.') && TEMPLATE_FILE.test(n)).sort();
  } catch (error) {
    const message = `cannot read the templates directory: ${(error as Error).message}`;
    return { ok: false, problems: [{ source: directory, template: undefined, field: '', message }] };
  }
  const documents: TemplateDocument[] = [];
  const problems: TemplateProblem[] = [];
  for (const name of names) {
    const file = join(directory, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      problems.push({ source: file, template: undefined, field: '', message: `cannot read: ${(error as Error).message}` });
      continue;
    }
    const parsed = parseTemplateFile(text, file);
    documents.push(...parsed.documents);
    problems.push(...parsed.problems);
  }
  if (problems.length > 0) {
    const rest = buildTemplateSet(documents);
    return { ok: false, problems: rest.ok ? problems : [...problems, ...rest.problems] };
  }
  return buildTemplateSet(documents);
}
