import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { compileTemplate, formatProblem } from '../../src/templates/compile.js';
import { loadTemplateDirectory } from '../../src/templates/load-directory.js';
import { TemplateStore } from '../../src/templates/store.js';
import { buildTemplateSet } from '../../src/templates/template-set.js';
import { templateDocument } from '../support/templates.js';

function problemsOf(document: unknown): string[] {
  const result = compileTemplate(document, 'file.yaml');
  return result.ok ? [] : result.problems.map(formatProblem);
}

describe('template validation names the file, the template and the field', () => {
  it.each([
    ['a container name that is not a DNS label', { containers: [{ name: 'Bad_Name', image: 'x' }] }, 'file.yaml: template "t": spec.containers[0].name: must match pattern'],
    ['a container without image', { containers: [{ name: 'c' }] }, 'spec.containers[0].image: is required'],
    ['an unknown spec field', { sidecars: [] }, 'spec.sidecars: is not a known field'],
    ['restartPolicy set by hand', { containers: [{ name: 'c', image: 'x', restartPolicy: 'Always' }] }, 'spec.containers[0].restartPolicy: must not be set'],
    ['no containers at all', { containers: [] }, 'spec: needs at least one entry in containers or initContainers'],
    ['a bad mode', { mode: 'sidecar' }, 'spec.mode: must be equal to one of the allowed values'],
    ['a mount of an undefined volume', { appContainers: { volumeMounts: [{ name: 'nope', mountPath: '/x' }] } }, 'spec.appContainers.volumeMounts[0].name: mounts volume "nope"'],
    ['an undeclared parameter', { containers: [{ name: 'c', image: 'x', args: ['{{ params.port }}'] }] }, 'spec.containers[0].args[0]: {{ params.port }} is not a declared parameter'],
    ['a placeholder in a name', { volumes: [{ name: 'v' }], appContainers: { env: [{ name: '{{ pod.name }}' }] } }, 'spec.appContainers.env[0].name: names cannot contain placeholders'],
    ['a default that breaks its pattern', { parameters: [{ name: 'port', default: 'http', pattern: '[0-9]+' }] }, 'spec.parameters[0].default: "http" does not match the pattern [0-9]+'],
    ['an invalid regular expression', { parameters: [{ name: 'p', default: 'a', pattern: '(' }] }, 'spec.parameters[0].pattern: is not a valid regular expression'],
    ['a duplicate container name', { containers: [{ name: 'c', image: 'x' }], initContainers: [{ name: 'c', image: 'y' }] }, 'container name "c" is used twice'],
  ])('%s', (_what, spec, message) => {
    const problems = problemsOf(templateDocument('t', spec));
    expect(problems.join('\n')).toContain(message);
  });

  it('rejects a template name with a dot (override annotations use <template>.<param>)', () => {
    expect(problemsOf(templateDocument('a.b')).join('\n')).toContain('metadata.name: must match pattern');
  });

  it('accepts the minimal template and defaults mode, position and version', () => {
    const result = compileTemplate(templateDocument('t'), 'file.yaml');
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.template).toMatchObject({ mode: 'regular', position: 'after', access: { namespaces: undefined, namespaceSelector: undefined, serviceAccounts: undefined }, privileged: [] });
      expect(result.template.version).toMatch(/^[0-9a-f]{12}$/);
    }
  });

  it('rejects the same template name defined twice, naming both sources', () => {
    const result = buildTemplateSet([
      { source: 'a.yaml', document: templateDocument('t') },
      { source: 'b.yaml', document: templateDocument('t') },
    ]);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(formatProblem(result.problems[0]!)).toBe('b.yaml: template "t": metadata.name: duplicate template name, also defined in a.yaml');
  });
});

describe('loading a directory', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'templates-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads several documents per file, skips empty documents and dot-entries', async () => {
    writeFileSync(join(dir, 'two.yaml'), `${stringify(templateDocument('a'))}---\n${stringify(templateDocument('b'))}---\n`);
    writeFileSync(join(dir, '.hidden.yaml'), 'not: [valid');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const result = await loadTemplateDirectory(dir);
    expect(result.ok && [...result.set.templates.keys()]).toEqual(['a', 'b']);
  });

  it('names the file, the document and the line of invalid YAML', async () => {
    writeFileSync(join(dir, 'two.yaml'), `${stringify(templateDocument('a'))}---\nmetadata: [unclosed\n`);
    const result = await loadTemplateDirectory(dir);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(formatProblem(result.problems[0]!)).toMatch(/two\.yaml \(document 2\): line \d+: invalid YAML/);
  });

  it('reports a missing directory instead of throwing', async () => {
    const result = await loadTemplateDirectory(join(dir, 'missing'));
    expect(result.ok).toBe(false);
  });
});

describe('TemplateStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the last good set when a reload fails, and says why', async () => {
    writeFileSync(join(dir, 'a.yaml'), stringify(templateDocument('a')));
    const events: unknown[] = [];
    const store = new TemplateStore({ directory: dir, pollIntervalMs: 0, onReload: (e) => events.push(e) });
    expect(store.isReady()).toBe(false);
    await store.reload();
    const good = store.current();
    expect([...good.templates.keys()]).toEqual(['a']);

    writeFileSync(join(dir, 'b.yaml'), stringify(templateDocument('b', { mode: 'wrong' })));
    const failed = await store.reload();
    expect(failed.ok).toBe(false);
    expect(store.current()).toBe(good);
    expect(store.isReady()).toBe(true);
    expect(store.lastErrors().join('\n')).toContain('b.yaml: template "b": spec.mode');

    writeFileSync(join(dir, 'b.yaml'), stringify(templateDocument('b')));
    await store.reload();
    expect([...store.current().templates.keys()]).toEqual(['a', 'b']);
    expect(store.lastErrors()).toEqual([]);
    expect(events).toHaveLength(3);
  });

  it('is not ready while no valid set was ever loaded', async () => {
    writeFileSync(join(dir, 'a.yaml'), 'apiVersion: nope');
    const store = new TemplateStore({ directory: dir, pollIntervalMs: 0 });
    await store.reload();
    expect(store.isReady()).toBe(false);
    expect(store.current().templates.size).toBe(0);
  });
});
