import { formatProblem } from '../templates/compile.js';
import { loadTemplateDirectory } from '../templates/load-directory.js';
import { parseCommandArgs } from './args.js';
import type { CliIo } from './io.js';

const HELP = `Usage: sidecar-injector validate DIR

Checks every template file in DIR as the webhook would load it. Prints each
problem with its file, template and field; exits 1 if there is any.
Warns (exit 0) where a string parameter is placed into a shell script
instead of reaching it as an env var.
`;

export async function runValidate(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { help: { type: 'boolean', short: 'h', default: false } }, true);
  if (values['help']) {
    io.stdout(HELP);
    return 0;
  }
  const directory = positionals[0];
  if (directory === undefined || positionals.length > 1) return io.fail('validate: give exactly one directory');
  const result = await loadTemplateDirectory(directory);
  if (!result.ok) {
    for (const problem of result.problems) io.stderr(`${formatProblem(problem)}\n`);
    io.stderr(`${result.problems.length} problem(s) in ${directory}\n`);
    return 1;
  }
  for (const warning of result.warnings) io.stderr(`warning: ${formatProblem(warning)}\n`);
  const names = [...result.set.templates.values()].map((t) => `${t.name} (${t.version}, ${t.mode})`);
  io.stdout(`${directory}: ${names.length} valid template(s): ${names.join(', ')}\n`);
  return 0;
}
