import { readFile } from 'node:fs/promises';
import jsonpatch from 'fast-json-patch';
import { parseAllDocuments, stringify } from 'yaml';
import { formatProblem } from '../templates/compile.js';
import { loadTemplateDirectory } from '../templates/load-directory.js';
import { planInjection } from '../inject/plan.js';
import type { InjectionSettings } from '../inject/decide.js';
import type { Pod } from '../inject/kube-types.js';
import { findPodSites, SUPPORTED_KINDS } from '../workloads/pod-templates.js';
import type { CliIo } from './io.js';
import { parseCommandArgs } from './args.js';

const HELP = `Usage: sidecar-injector inject -f FILE|- [options]

Prints the manifests of FILE (or stdin) with the sidecars injected, exactly as
the webhook would inject the pods they create. Kinds: ${SUPPORTED_KINDS.join(', ')};
several YAML documents per file are fine. Warnings go to stderr.

Options:
  -f, --filename FILE|-     input manifests ('-' = stdin)
  --templates-dir DIR       template directory (default: templates)
  --namespace NS            namespace for objects without one (default: default)
  --default-templates LIST  templates for inject=true / opted-in namespaces
  --on-problem warn|deny    as the webhook's --on-problem (default: warn)
  --no-native-sidecars      inject native-mode templates as regular containers
`;

async function readInput(file: string, io: CliIo): Promise<string> {
  if (file === '-') return io.readStdin();
  return readFile(file, 'utf8');
}

export async function runInject(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, {
    filename: { type: 'string', short: 'f' },
    'templates-dir': { type: 'string', default: 'templates' },
    namespace: { type: 'string', default: 'default' },
    'default-templates': { type: 'string', default: '' },
    'on-problem': { type: 'string', default: 'warn' },
    'no-native-sidecars': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (args.values['help']) {
    io.stdout(HELP);
    return 0;
  }
  const file = args.values['filename'];
  const onProblem = args.values['on-problem'];
  if (typeof file !== 'string') return io.fail('inject: -f FILE (or -f - for stdin) is required');
  if (onProblem !== 'warn' && onProblem !== 'deny') return io.fail('inject: --on-problem must be warn or deny');

  const loaded = await loadTemplateDirectory(String(args.values['templates-dir']));
  if (!loaded.ok) return io.fail(`inject: the templates are invalid:\n${loaded.problems.map(formatProblem).join('\n')}`);
  const settings: InjectionSettings = {
    onProblem,
    defaultTemplates: String(args.values['default-templates']).split(',').map((s) => s.trim()).filter(Boolean),
    nativeSidecars: args.values['no-native-sidecars'] !== true,
  };

  let text: string;
  try {
    text = await readInput(file, io);
  } catch (error) {
    return io.fail(`inject: cannot read ${file}: ${(error as Error).message}`);
  }
  const documents = parseAllDocuments(text);
  const outputs: string[] = [];
  let denied = false;
  for (const doc of Array.isArray(documents) ? documents : [documents]) {
    if (doc.errors.length > 0) return io.fail(`inject: ${file}: invalid YAML: ${doc.errors[0]?.message ?? ''}`);
    const object: unknown = doc.toJS();
    if (object === null || object === undefined) continue;
    const { sites } = findPodSites(object, String(args.values['namespace']));
    for (const site of sites) {
      const namespace = site.namespace ?? 'default';
      const outcome = planInjection(
        { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace, pod: site.pod },
        loaded.set,
        settings,
        { defaultTemplates: undefined },
      );
      for (const warning of outcome.warnings) io.stderr(`Warning: ${site.label}: ${warning}\n`);
      if (outcome.result === 'denied') {
        io.stderr(`Error: ${site.label}: ${outcome.message}\n`);
        denied = true;
      } else if (outcome.result === 'injected') {
        const operations = JSON.parse(outcome.patch) as jsonpatch.Operation[];
        const patched = jsonpatch.applyPatch(structuredClone(site.pod), operations, true, false).newDocument as Pod;
        site.replace(patched);
      }
    }
    outputs.push(stringify(object, { lineWidth: 0 }));
  }
  io.stdout(outputs.join('---\n'));
  return denied ? 1 : 0;
}
