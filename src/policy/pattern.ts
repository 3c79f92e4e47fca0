// A parameter's pattern is a JavaScript regular expression (the webhook tests
// overrides with `new RegExp('^(?:…)$', 'u')`); CEL's matches() is RE2. The
// two agree on a common subset, which is translated here; anything outside it
// is refused, since a pattern that admits other values in the apiserver than
// in the webhook would inject where the webhook would not.

/** Escapes whose meaning is the same in both (ASCII classes, control characters, escaped punctuation). */
const SAME_ESCAPES = new Set([...'dDwWnrtfv', ...'^$\\.*+?()[]{}|/-']);

/** JavaScript's `.` with the u flag: any code point but the line terminators. */
const JS_DOT = '[^\\n\\r\\x{2028}\\x{2029}]';

export type PatternTranslation = { ok: true; re2: string } | { ok: false; reason: string };

function escapeAt(source: string, index: number, inClass: boolean): string | undefined {
  const next = source[index + 1];
  if (next === undefined || !SAME_ESCAPES.has(next)) return undefined;
  // Inside a class JavaScript reads \b as a backspace, RE2 refuses it; \d and \w are fine there too.
  if (inClass && next === 'b') return undefined;
  return `\\${next}`;
}

/** The anchored RE2 form of a template pattern, or why it has none. */
export function translatePattern(source: string): PatternTranslation {
  let out = '';
  for (let i = 0; i < source.length; i += 1) {
    const char = source[i] as string;
    if (char === '\\') {
      const escape = escapeAt(source, i, false);
      if (escape === undefined) return { ok: false, reason: `the escape ${source.slice(i, i + 2)} means something else (or nothing) in RE2` };
      out += escape;
      i += 1;
    } else if (char === '.') {
      out += JS_DOT;
    } else if (char === '(' && source[i + 1] === '?') {
      if (source[i + 2] !== ':') return { ok: false, reason: 'lookaround and named groups are not in RE2' };
      out += '(?:';
      i += 2;
    } else if (char === '[') {
      let j = i + 1;
      let cls = '[';
      if (source[j] === '^') {
        cls += '^';
        j += 1;
      }
      if (source[j] === ']') return { ok: false, reason: 'a class starting with "]" ([] or [^]) reads differently in RE2' };
      for (; j < source.length && source[j] !== ']'; j += 1) {
        if (source[j] === '\\') {
          const escape = escapeAt(source, j, true);
          if (escape === undefined) return { ok: false, reason: `the escape ${source.slice(j, j + 2)} means something else (or nothing) in RE2` };
          cls += escape;
          j += 1;
        } else if (source[j] === '[') {
          cls += '\\[';
        } else {
          cls += source[j];
        }
      }
      out += `${cls}]`;
      i = j;
    } else {
      out += char;
    }
  }
  return { ok: true, re2: `^(?:${out})$` };
}
