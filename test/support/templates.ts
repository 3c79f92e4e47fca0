import { buildTemplateSet } from '../../src/templates/template-set.js';
import type { TemplateSet } from '../../src/templates/model.js';
import { loadTemplateDirectory } from '../../src/templates/load-directory.js';

export const BUILT_IN_DIR = new URL('../../templates', import.meta.url).pathname;

export async function builtInTemplates(): Promise<TemplateSet> {
  const loaded = await loadTemplateDirectory(BUILT_IN_DIR);
  if (!loaded.ok) throw new Error(`built-in templates invalid: ${JSON.stringify(loaded.problems)}`);
  return loaded.set;
}

/** A minimal valid template document, with fields overridden per test. */
export function templateDocument(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'sidecar.example/v1alpha1',
    kind: 'SidecarTemplate',
    metadata: { name },
    spec: { containers: [{ name: `${name}-c`, image: 'registry.example/x:1' }], ...spec },
  };
}

export function setOf(...documents: Record<string, unknown>[]): TemplateSet {
  const result = buildTemplateSet(documents.map((document, i) => ({ source: `doc-${i}`, document })));
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.set;
}
