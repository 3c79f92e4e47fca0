// The logger gathers lines into batches (observability/batched-lines.ts);
// what is gathered when the process exits is written, even by process.exit
// (no timer or later turn of the event loop runs then).
import { expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertBuilt } from '../support/cli.js';
import { ROOT } from '../support/paths.js';

it('writes the lines it gathered when the process exits at once, to a pipe', () => {
  assertBuilt();
  const logger = pathToFileURL(join(ROOT, 'dist', 'observability', 'logger.js')).href;
  const script = `
    const { createLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger({ level: 'info' });
    for (let n = 0; n < 3; n++) log.info({ n }, 'gathered');
    process.exit(0);
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  expect(child.status).toBe(0);
  const lines = child.stdout
    .split('\n')
    .filter((text) => text !== '')
    .map((text) => JSON.parse(text) as Record<string, unknown>);
  expect(lines.map((entry) => [entry['msg'], entry['n']])).toEqual([
    ['gathered', 0],
    ['gathered', 1],
    ['gathered', 2],
  ]);
  expect(lines[0]).toMatchObject({ level: 'info', service: 'sidecar-injector' });
  expect(typeof lines[0]?.['time']).toBe('string');
});
