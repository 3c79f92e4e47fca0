// Runs every shell command that README.md and docs/*.md show and do not mark
// illustrative (nor leave to .ci/run), each through its runner in
// test/support/doc-commands.ts: a newcomer's copy-paste works. What a runner
// changes (a free port instead of 8443, a temporary working copy) is written
// beside it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { assertBuilt } from '../support/cli.js';
import { DocSandbox, documentationShellBlocks, RUNNERS, runByCi } from '../support/doc-commands.js';
import { TempDirs } from '../support/temp.js';

const temps = new TempDirs();
let sandbox: DocSandbox;

beforeAll(async () => {
  assertBuilt();
  sandbox = await DocSandbox.create(temps);
});

afterAll(async () => {
  await sandbox?.stop();
  await temps.cleanup();
});

const shown = documentationShellBlocks()
  .filter((block) => block.illustrative === undefined)
  .flatMap((block) => block.commands)
  .filter((command) => !runByCi(command.text));

describe('the commands the documentation shows', () => {
  it('are there to run', () => {
    expect(shown.length).toBeGreaterThan(0);
  });

  for (const command of shown) {
    it(`${command.where}: ${command.text}`, async () => {
      const runner = RUNNERS[command.text];
      if (runner === undefined) throw new Error(`no runner for \`${command.text}\` in test/support/doc-commands.ts (or mark its block <!-- illustrative: REASON -->)`);
      await runner(command, sandbox);
    }, 90_000);
  }
});
