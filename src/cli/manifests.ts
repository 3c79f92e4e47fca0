// What `inject` and `explain` share: reading manifests and the offline settings.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { AdmissionFacts, InjectionSettings } from '../inject/decide.js';
import type { PodSite } from '../workloads/pod-templates.js';
import { formatProblem } from '../templates/compile.js';
import { loadTemplateDirectory } from '../templates/load-directory.js';
import type { TemplateSet } from '../templates/model.js';
import type { CliIo } from './io.js';

export const OFFLINE_OPTIONS = {
  filename: { type: 'string', short: 'f' },
  'templates-dir': { type: 'string', default: 'templates' },
  namespace: { type: 'string', default: 'default' },
  'default-templates': { type: 'string', default: '' },
  'on-problem': { type: 'string', default: 'warn' },
  'no-native-sidecars': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const OFFLINE_HELP = `  -f, --filename FILE|-     input manifests ('-' = stdin)
  --templates-dir DIR       template directory (default: templates)
  --namespace NS            namespace for objects without one (default: default)
  --default-templates LIST  templates for inject=true / opted-in namespaces
  --on-problem warn|deny    as the webhook's --on-problem (default: warn)
  --no-native-sidecars      inject native-mode templates as regular containers`;

export type Offline = { file: string; templates: TemplateSet; settings: InjectionSettings; objects: unknown[] };

/** Reads -f, the templates and the settings; a string is the error to print. */
export async function loadOffline(command: string, values: Record<string, unknown>, io: CliIo): Promise<Offline | string> {
  const file = values['filename'];
  const onProblem = values['on-problem'];
  if (typeof file !== 'string') return `${command}: -f FILE (or -f - for stdin) is required`;
  if (onProblem !== 'warn' && onProblem !== 'deny') return `${command}: --on-problem must be warn or deny`;
  const loaded = await loadTemplateDirectory(String(values['templates-dir']));
  if (!loaded.ok) return `${command}: the templates are invalid:\n${loaded.problems.map(formatProblem).join('\n')}`;
  let text: string;
  try {
    text = file === '-' ? await io.readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    return `${command}: cannot read ${file}: ${(error as Error).message}`;
  }
  const objects: unknown[] = [];
  const documents = parseAllDocuments(text);
  for (const doc of Array.isArray(documents) ? documents : [documents]) {
    if (doc.errors.length > 0) return `${command}: ${file}: invalid YAML: ${doc.errors[0]?.message ?? ''}`;
    const object: unknown = doc.toJS();
    if (object !== null && object !== undefined) objects.push(object);
  }
  const settings: InjectionSettings = {
    onProblem,
    defaultTemplates: String(values['default-templates']).split(',').map((s) => s.trim()).filter(Boolean),
    nativeSidecars: values['no-native-sidecars'] !== true,
  };
  return { file, templates: loaded.set, settings, objects };
}

/** A pod found in a manifest, as the webhook would see its creation. */
export function creationOf(site: PodSite): AdmissionFacts {
  const namespace = site.namespace ?? 'default';
  return { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace, pod: site.pod };
}
