// docs/configuration.md carries the table of serve's flags that
// scripts/generate-config-reference.ts writes from OPTIONS: the committed page
// must be what the generator produces now, so a flag added or changed in the
// code without regenerating the page fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { envName, OPTIONS } from '../../src/config/config.js';
import { CONFIGURATION_DOC, configTable, FIX_COMMAND, withCurrentTable } from '../../scripts/generate-config-reference.js';

describe('docs/configuration.md', () => {
  it('holds the table generated from OPTIONS', () => {
    const committed = readFileSync(CONFIGURATION_DOC, 'utf8');
    const current = withCurrentTable(committed);
    if (current !== committed) {
      throw new Error(`docs/configuration.md differs from the option table in src/config/config.ts: run \`${FIX_COMMAND}\` and commit the page`);
    }
  });

  it('has one row per option, naming its flag, environment variable and default', () => {
    const rows = configTable().split('\n').slice(2);
    expect(rows).toHaveLength(OPTIONS.length);
    OPTIONS.forEach((option, i) => {
      expect(rows[i]).toContain(`| \`--${option.flag}\` | \`${envName(option)}\` | `);
      expect(rows[i]).toContain(option.default === '' ? '| (none) |' : `| \`${option.default}\``);
    });
  });

  it('describes every option', () => {
    for (const option of OPTIONS) expect(option.help.length).toBeGreaterThan(0);
  });

  it('keeps a table cell whole: no bare | or HTML in a description', () => {
    for (const row of configTable().split('\n').slice(2)) {
      expect(row.replace(/\\\|/g, '').split('|')).toHaveLength(7);
      expect(row).not.toMatch(/<[a-z]/);
    }
  });
});
