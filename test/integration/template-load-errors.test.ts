// A broken templates directory as the real `serve` process tells it
// (docs/running.md "Templates"): broken at start, admissions name the load
// error; broken after start, the last good set serves and /readyz, the metrics
// and the log say why; one syntax break is one error, logged once.
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJson, send } from '../support/http.js';
import { sample } from '../support/metrics.js';
import { podReview, type Json } from '../support/reviews.js';
import { startServeProcess, type ServeProcess } from '../support/serve-process.js';
import { TempDirs } from '../support/temp.js';
import { waitFor } from '../support/wait.js';

jest.setTimeout(90_000);

// One stray bracket: the YAML parser reports it with knock-on errors (three here).
const YAML_BREAK = 'extra: [\nmore: : :\n';

const temps = new TempDirs();
let serve: ServeProcess | undefined;

afterEach(async () => {
  await serve?.kill();
  serve = undefined;
});

afterAll(async () => {
  await temps.cleanup();
});

async function mutate(process: ServeProcess, inject: string): Promise<Json> {
  const result = await send(process, { method: 'POST', path: '/mutate', headers: { 'content-type': 'application/json' }, body: JSON.stringify(podReview({ inject })) });
  expect(result.status).toBe(200);
  return parseJson<Json>(result).response;
}

/** The process's JSON log lines with this message. */
function logLines(process: ServeProcess, msg: string): Array<Record<string, unknown>> {
  return process
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry['msg'] === msg);
}

async function metric(process: ServeProcess, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return sample((await send(process, { path: '/metrics' })).body, name, labels);
}

describe('a templates directory broken at start', () => {
  it('names the load error in the warning of an admission that asks for a template, and says it once', async () => {
    const templatesDir = await temps.copyOfTemplates();
    await appendFile(join(templatesDir, 'log-collector.yaml'), YAML_BREAK);
    serve = await startServeProcess(temps, [], { templatesDir });

    const response = await mutate(serve, 'log-collector');
    expect(response.allowed).toBe(true);
    expect(response.patch).toBeUndefined();
    const warnings = response.warnings as string[];
    expect(warnings).toHaveLength(1);
    const [warning] = warnings as [string];
    expect(warning).toMatch(/^sidecar-injector: "log-collector" not injected, templates failed to load: log-collector\.yaml: line \d+: invalid YAML/);
    expect(warning).not.toContain('unknown template');
    expect([...warning].length).toBeLessThanOrEqual(120);
    // The whole error, path included, is in the admission's log line.
    const running = serve;
    const admission = await waitFor('the admission log line', async () => logLines(running, 'admission').at(-1));
    expect(admission?.['problems']).toEqual(['templates_not_loaded']);
    expect(JSON.stringify(admission?.['problemDetails'])).toContain(join(templatesDir, 'log-collector.yaml'));

    const readiness = await send(serve, { path: '/readyz' });
    expect(readiness.status).toBe(503);
    expect(parseJson<{ problems: string[] }>(readiness).problems.join('\n')).toContain('log-collector.yaml');
    expect(await metric(serve, 'sidecar_injector_template_load_errors')).toBe(1);

    const rejected = logLines(serve, 'templates rejected; the last good set stays in force');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.['errors']).toHaveLength(1);
  });
});

describe('a templates directory that turns invalid after start', () => {
  it('keeps the last good set in force, shows the problem in /readyz and the metrics, and logs it once however often it is re-read', async () => {
    const templatesDir = await temps.copyOfTemplates();
    // A re-read every second besides the watch: the same broken file is read again and again.
    serve = await startServeProcess(temps, ['--reload-poll', '1'], { templatesDir });
    expect(await metric(serve, 'sidecar_injector_template_load_errors')).toBe(0);
    const file = join(templatesDir, 'log-collector.yaml');
    await appendFile(file, YAML_BREAK);

    const running = serve;
    await waitFor('three failed reloads of the broken directory', async () => {
      const failures = (await metric(running, 'sidecar_injector_template_reloads_total', { result: 'failure' })) ?? 0;
      return failures >= 3 ? failures : undefined;
    });
    expect(await metric(serve, 'sidecar_injector_template_load_errors')).toBe(1);

    // The last good set serves.
    const response = await mutate(serve, 'log-collector');
    expect(response.patch).toBeDefined();
    expect(response.warnings).toBeUndefined();

    const readiness = await send(serve, { path: '/readyz' });
    expect(readiness.status).toBe(200);
    const body = parseJson<{ status: string; problems: string[]; templateErrors: string[] }>(readiness);
    expect(body.problems).toEqual([]);
    expect(body.templateErrors).toHaveLength(1);
    expect(body.templateErrors[0]).toMatch(/log-collector\.yaml: line \d+: invalid YAML/);

    const rejected = logLines(serve, 'templates rejected; the last good set stays in force');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.['errors']).toHaveLength(1);
    expect(String((rejected[0]?.['errors'] as string[])[0])).toContain(file);

    // Fixed: the errors are gone from the gauge and /readyz.
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.slice(0, text.length - YAML_BREAK.length));
    await waitFor('the load errors to clear', async () => ((await metric(running, 'sidecar_injector_template_load_errors')) === 0 ? true : undefined));
    expect(parseJson<{ templateErrors?: string[] }>(await send(serve, { path: '/readyz' })).templateErrors).toBeUndefined();
  });
});
