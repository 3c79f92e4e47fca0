// Every shell command shown in README.md and docs/*.md is run by a test
// (a runner in test/support/doc-commands.ts, which
// test/integration/doc-commands.test.ts executes), run by .ci/run, or in a
// block marked <!-- illustrative: REASON -->. The convention:
// docs/development.md#commands-in-the-documentation.
import { describe, expect, it } from '@jest/globals';
import { documentationShellBlocks, RUNNERS, runByCi, shellBlocks } from '../support/doc-commands.js';

describe('shell commands in the documentation', () => {
  const blocks = documentationShellBlocks();

  it('finds the shell blocks of README.md and docs/', () => {
    expect(blocks.some((block) => block.where.startsWith('README.md:'))).toBe(true);
    expect(blocks.some((block) => block.where.startsWith('docs/'))).toBe(true);
  });

  it('each is run by a test or by .ci/run, or its block is marked illustrative', () => {
    const uncovered = blocks
      .filter((block) => block.illustrative === undefined)
      .flatMap((block) => block.commands)
      .filter((command) => RUNNERS[command.text] === undefined && !runByCi(command.text))
      .map((command) => `${command.where}: ${command.text}`);
    if (uncovered.length > 0) {
      throw new Error(
        'shell commands neither run by a test nor by .ci/run; add a runner to test/support/doc-commands.ts ' +
          `or put <!-- illustrative: REASON --> before the block:\n${uncovered.join('\n')}`,
      );
    }
  });

  it('an illustrative block says why', () => {
    const unexplained = blocks.filter((block) => block.illustrative !== undefined && block.illustrative.reason === '').map((block) => block.where);
    expect(unexplained).toEqual([]);
  });

  it('every runner still has its command in the documentation, outside illustrative blocks', () => {
    const runnable = new Set(blocks.filter((block) => block.illustrative === undefined).flatMap((block) => block.commands.map((command) => command.text)));
    expect(Object.keys(RUNNERS).filter((text) => !runnable.has(text))).toEqual([]);
  });

  it('a console command that shows output has that output to compare', () => {
    const [block] = shellBlocks('```console\n$ node dist/main.js explain -f x.yaml   # why\nline 1\n  line 2\n\nnot output\n$ next\n```\n', 'p.md');
    expect(block?.commands).toEqual([
      { text: 'node dist/main.js explain -f x.yaml', output: 'line 1\n  line 2', where: 'p.md:2' },
      { text: 'next', output: '', where: 'p.md:7' },
    ]);
  });
});

describe('shellBlocks', () => {
  it('reads sh blocks line by line: comments dropped, backslash continuations joined', () => {
    const markdown = ['text', '```sh', '# a comment', 'npm ci', 'helm install a \\', '  --set b=c   # trailing', '```'].join('\n');
    expect(shellBlocks(markdown, 'p.md')).toEqual([
      {
        where: 'p.md:2',
        commands: [
          { text: 'npm ci', output: '', where: 'p.md:4' },
          { text: 'helm install a --set b=c', output: '', where: 'p.md:5' },
        ],
      },
    ]);
  });

  it('takes the illustrative marker from the line before the fence, blank lines aside, also when indented in a list', () => {
    const markdown = ['- item', '  <!-- illustrative: needs a cluster -->', '', '  ```bash', '  kubectl get pods', '  ```'].join('\n');
    expect(shellBlocks(markdown, 'p.md')).toEqual([
      { where: 'p.md:4', illustrative: { reason: 'needs a cluster' }, commands: [{ text: 'kubectl get pods', output: '', where: 'p.md:5' }] },
    ]);
  });

  it('counts an untagged block with $ lines as a console block, and ignores other languages and plain output', () => {
    const markdown = ['```', '$ kubectl get sct', 'NAME', '```', '```yaml', 'a: b', '```', '```', 'Warning: something', '```', '```json', '{}', '```'].join('\n');
    expect(shellBlocks(markdown, 'p.md')).toEqual([{ where: 'p.md:1', commands: [{ text: 'kubectl get sct', output: 'NAME', where: 'p.md:2' }] }]);
  });

  it('runByCi accepts the command as .ci/run has it or with only -- options added', () => {
    const ci = ['npm ci --no-audit --no-fund', 'npm test', 'npm run test:e2e'];
    expect(runByCi('npm ci', ci)).toBe(true);
    expect(runByCi('npm test', ci)).toBe(true);
    expect(runByCi('npm run test', ci)).toBe(false);
    expect(runByCi('npm run test:e2e -- --runInBand', ci)).toBe(false);
  });
});
