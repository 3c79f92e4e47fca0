// Writes the table of `serve`'s flags into docs/configuration.md from OPTIONS
// in src/config/config.ts, the table that also drives parsing and --help, so
// the reference cannot drift from the code. test/unit/config-reference.test.ts
// fails when the committed page differs from what this produces.
//
//   npm run docs:config
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { envName, OPTIONS } from '../src/config/config.js';

export const CONFIGURATION_DOC = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
export const FIX_COMMAND = 'npm run docs:config';
export const BEGIN_MARKER = `<!-- generated: ${FIX_COMMAND} writes this table from OPTIONS in src/config/config.ts; do not edit by hand -->`;
export const END_MARKER = '<!-- end of generated table -->';

type Option = (typeof OPTIONS)[number];

/** Where the documentation says more than one table cell can; links are relative to docs/. */
const READ_MORE: Readonly<Record<string, string>> = {
  'cert-mode': '[Certificates](running.md#certificates)',
  'cluster-templates': '[Templates from the cluster](templates.md#templates-from-the-cluster)',
  'reconcile-missed': '[Missed injections](running.md#missed-injections)',
  'max-connections': '[Shutdown and rollouts](running.md#shutdown-and-rollouts)',
  'shutdown-delay': '[Shutdown and rollouts](running.md#shutdown-and-rollouts)',
};

const DAY = 86_400;

/** Plain text for a Markdown table cell: `|` would end the cell, `<x>` would be read as HTML. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function defaultCell(option: Option): string {
  if (option.default === '') return '(none)';
  const days = option.key.endsWith('Seconds') && Number(option.default) >= DAY && Number(option.default) % DAY === 0 ? ` (${Number(option.default) / DAY} days)` : '';
  return `\`${option.default}\`${days}`;
}

function valuesCell(option: Option): string {
  if (option.allowed) return option.allowed.map((value) => `\`${value}\``).join(', ');
  switch (option.kind) {
    case 'boolean':
      return '`true`, `false`';
    case 'integer':
      return `${option.min ?? 0}–${option.max ?? '∞'}`;
    case 'list':
      return 'comma-separated';
    case 'string':
      return 'text';
  }
}

function meaningCell(option: Option): string {
  const more = READ_MORE[option.flag];
  return cell(option.help) + (more === undefined ? '' : ` — see ${more}`);
}

/** The Markdown table, one row per option in the order of OPTIONS. */
export function configTable(): string {
  const rows = OPTIONS.map((option) => `| \`--${option.flag}\` | \`${envName(option)}\` | ${defaultCell(option)} | ${valuesCell(option)} | ${meaningCell(option)} |`);
  return ['| flag | env | default | values | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The page with the region between the markers replaced by the current table. */
export function withCurrentTable(markdown: string): string {
  const begin = markdown.indexOf(BEGIN_MARKER);
  const end = markdown.indexOf(END_MARKER);
  if (begin === -1 || end === -1 || end < begin) throw new Error(`${CONFIGURATION_DOC}: the markers of the generated table are missing:\n${BEGIN_MARKER}\n${END_MARKER}`);
  return `${markdown.slice(0, begin)}${BEGIN_MARKER}\n${configTable()}\n${markdown.slice(end)}`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const current = readFileSync(CONFIGURATION_DOC, 'utf8');
  const updated = withCurrentTable(current);
  if (updated !== current) writeFileSync(CONFIGURATION_DOC, updated);
  console.log(`${CONFIGURATION_DOC}: ${updated === current ? 'already current' : 'table rewritten'}`);
}
