// The documentation's relative links resolve: every linked file exists and
// every `#anchor` names a heading of its target (GitHub's slugs), so moving a
// section between README.md and docs/ cannot leave a dead link behind.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from '../support/paths.js';

const DOCS_DIR = join(ROOT, 'docs');
const PAGES = [
  join(ROOT, 'README.md'),
  ...readdirSync(DOCS_DIR)
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(DOCS_DIR, name)),
  join(ROOT, 'charts', 'sidecar-injector', 'README.md'),
  join(ROOT, 'certs', 'README.md'),
];

/** Lines outside fenced code blocks, which GitHub renders literally. */
function proseLines(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const opener = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && opener !== undefined) fence = opener[0];
    else if (fence !== undefined && opener?.[0] === fence) fence = undefined;
    else if (fence === undefined) lines.push(line);
  }
  return lines;
}

/**
 * GitHub's heading anchor: lower case, punctuation dropped (letters, digits,
 * `-`, `_` and spaces kept), spaces to `-`; a repeated slug gets `-1`, `-2`…
 */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const text = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (text === undefined) continue;
    const plain = text
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '');
    const base = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    slugs.add(count === 0 ? base : `${base}-${count}`);
  }
  return slugs;
}

/** `[text](target)` links in prose, inline code removed first. */
function links(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(markdown)) {
    const prose = line.replace(/(`+)[^`]*?\1/g, '');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(match[1] as string);
  }
  return targets;
}

const isExternal = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target);

describe('documentation links', () => {
  for (const page of PAGES) {
    const name = relative(ROOT, page);
    it(`${name}: every relative link and anchor resolves`, () => {
      const markdown = readFileSync(page, 'utf8');
      const broken: string[] = [];
      for (const target of links(markdown)) {
        if (isExternal(target)) continue;
        const [path = '', anchor] = target.split('#', 2);
        const file = path === '' ? page : join(dirname(page), decodeURIComponent(path));
        if (!existsSync(file)) {
          broken.push(`${target}: no such file`);
          continue;
        }
        if (anchor === undefined) continue;
        if (statSync(file).isDirectory() || !file.endsWith('.md')) {
          broken.push(`${target}: an anchor into a file that is not Markdown`);
          continue;
        }
        if (!headingSlugs(readFileSync(file, 'utf8')).has(decodeURIComponent(anchor))) broken.push(`${target}: no heading with that anchor`);
      }
      expect(broken).toEqual([]);
    });
  }

  it('README.md links every page of docs/', () => {
    const linked = new Set(
      links(readFileSync(join(ROOT, 'README.md'), 'utf8'))
        .map((target) => target.split('#')[0])
        .filter((path): path is string => path !== undefined && path.startsWith('docs/')),
    );
    const pages = readdirSync(DOCS_DIR).filter((name) => name.endsWith('.md'));
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.filter((name) => !linked.has(`docs/${name}`))).toEqual([]);
  });

  it('computes GitHub slugs', () => {
    const slugs = headingSlugs('# End-to-end tests on a real control plane\n## `--on-problem` (flags)\n```\n# not a heading\n```\n## Notes\n## Notes\n');
    expect([...slugs]).toEqual(['end-to-end-tests-on-a-real-control-plane', '--on-problem-flags', 'notes', 'notes-1']);
  });
});
