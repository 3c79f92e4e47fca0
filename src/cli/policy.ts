import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { compilePolicies } from '../policy/compile.js';
import { compileValidatingPolicies } from '../policy/validating.js';
import { formatProblem, type TemplateProblem } from '../templates/compile.js';
import { parseTemplateFile } from '../templates/load-directory.js';
import { buildTemplateSet, type TemplateDocument, type TemplateSetResult } from '../templates/template-set.js';
import { parseCommandArgs } from './args.js';
import type { CliIo } from './io.js';

const HELP = `Usage: sidecar-injector policy [--templates-dir DIR] [FILE...]

Prints, for each template, a MutatingAdmissionPolicy and its binding
(admissionregistration.k8s.io/v1, Kubernetes >= 1.36) that make the apiserver
inject what the webhook would, with no webhook on the admission path, as YAML
documents for kubectl apply. A template the policy cannot express exactly is
refused with the reason, and the command exits 1 (docs/policy-mode.md).
Templates come from DIR (default: templates, when no FILE is given) and FILEs.

Options:
  --templates-dir DIR       template directory
  --default-templates LIST  as the webhook's --default-templates
  --allow-refused           print the templates that compile, warn about the
                            others, and exit 0
  --on-problem warn|deny    as the webhook's --on-problem: print after them
                            the companion ValidatingAdmissionPolicies, which
                            warn about (or refuse) the pods whose templates
                            were left out for a problem, as the webhook does
                            (without it, the mutating policies only)
`;

/** The template files of DIR as the webhook reads them (load-directory.ts), then the FILEs. */
async function templateFiles(directory: string | undefined, files: readonly string[]): Promise<string[]> {
  if (directory === undefined) return [...files];
  const names = (await readdir(directory)).filter((n) => !n.startsWith('.') && /\.(ya?ml|json)$/i.test(n)).sort();
  return [...names.map((n) => join(directory, n)), ...files];
}

async function loadTemplates(directory: string | undefined, files: readonly string[]): Promise<TemplateSetResult> {
  const documents: TemplateDocument[] = [];
  const problems: TemplateProblem[] = [];
  let paths: string[];
  try {
    paths = await templateFiles(directory, files);
  } catch (error) {
    return { ok: false, problems: [{ source: String(directory), template: undefined, field: '', message: `cannot read the templates directory: ${(error as Error).message}` }] };
  }
  for (const path of paths) {
    try {
      const parsed = parseTemplateFile(await readFile(path, 'utf8'), path);
      documents.push(...parsed.documents);
      problems.push(...parsed.problems);
    } catch (error) {
      problems.push({ source: path, template: undefined, field: '', message: `cannot read: ${(error as Error).message}` });
    }
  }
  const built = buildTemplateSet(documents);
  if (problems.length > 0) return { ok: false, problems: built.ok ? problems : [...problems, ...built.problems] };
  return built;
}

export async function runPolicy(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      'templates-dir': { type: 'string' },
      'default-templates': { type: 'string', default: '' },
      'allow-refused': { type: 'boolean', default: false },
      'on-problem': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    true,
  );
  if (values['help']) {
    io.stdout(HELP);
    return 0;
  }
  const directory = values['templates-dir'] ?? (positionals.length === 0 ? 'templates' : undefined);
  const loaded = await loadTemplates(typeof directory === 'string' ? directory : undefined, positionals);
  if (!loaded.ok) return io.fail(`policy: the templates are invalid:\n${loaded.problems.map(formatProblem).join('\n')}`);
  const onProblem = values['on-problem'];
  if (onProblem !== undefined && onProblem !== 'warn' && onProblem !== 'deny') return io.fail(`policy: --on-problem must be warn or deny, not "${String(onProblem)}"`);
  const defaultTemplates = String(values['default-templates']).split(',').map((s) => s.trim()).filter(Boolean);
  const compiled = compilePolicies(loaded.set, { defaultTemplates });
  const refused = compiled.filter((c) => !c.ok);
  const allowRefused = values['allow-refused'] === true;
  for (const refusal of refused) {
    io.stderr(`${allowRefused ? 'warning' : 'error'}: template "${refusal.template}" cannot be compiled to a policy:\n${refusal.reasons.map((r) => `  - ${r}`).join('\n')}\n`);
  }
  if (refused.length > 0 && !allowRefused) {
    io.stderr(`policy: ${refused.length} template(s) refused; nothing printed (--allow-refused prints the others)\n`);
    return 1;
  }
  const objects = [
    ...compiled.flatMap((c) => (c.ok ? c.objects : [])),
    ...(onProblem === undefined ? [] : compileValidatingPolicies(loaded.set, { defaultTemplates, onProblem })),
  ];
  io.stdout(objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
  return 0;
}
