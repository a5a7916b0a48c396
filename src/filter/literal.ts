// A fast path for the patterns nearly everyone uses (kubectl's defaults and their kin): literal
// text, `.*` and the `^`/`$` anchors. Such a pattern is answered with indexOf instead of a call
// into WebAssembly, with exactly RE2's answer: test/filter-literal.test.ts compares the two on
// generated subjects. Anything else (classes, groups, flags, other escapes) goes to RE2.

const META = new Set(['\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$']);
/** Escaped ASCII punctuation stands for itself in Go's syntax. */
const ESCAPED_LITERAL = /^[!-/:-@[-`{-~]$/;

export type Matcher = (s: string) => boolean;

/**
 * A matcher for `src` when it is `^?` (literal | `.*`)* `$?`, else undefined. Newlines are the
 * caller's business: Go's `.` does not match `\n`, so subjects containing one must go to RE2.
 */
export function literalMatcher(src: string): Matcher | undefined {
  let i = 0;
  const n = src.length;
  const startAnchor = src[0] === '^';
  if (startAnchor) i = 1;
  let endAnchor = false;
  const pieces: string[] = [''];
  while (i < n) {
    const c = src[i]!;
    if (c === '$') {
      if (i !== n - 1) return undefined;
      endAnchor = true;
      i++;
    } else if (c === '.') {
      if (src[i + 1] !== '*' || src[i + 2] === '?' || src[i + 2] === '*' || src[i + 2] === '+') return undefined;
      pieces.push('');
      i += 2;
    } else if (c === '\\') {
      const d = src[i + 1];
      if (d === undefined || !ESCAPED_LITERAL.test(d)) return undefined;
      const next = src[i + 2];
      if (next === '*' || next === '+' || next === '?' || next === '{') return undefined;
      pieces[pieces.length - 1] += d;
      i += 2;
    } else if (META.has(c)) {
      return undefined;
    } else {
      // A literal must not be followed by a quantifier that applies to it alone.
      const next = src[i + 1];
      if (next === '*' || next === '+' || next === '?' || next === '{') return undefined;
      pieces[pieces.length - 1] += c;
      i++;
    }
  }
  return compile(pieces, startAnchor, endAnchor);
}

function compile(pieces: string[], start: boolean, end: boolean): Matcher {
  const first = pieces[0]!;
  if (pieces.length === 1) {
    if (start && end) return (s) => s === first;
    if (start) return (s) => s.startsWith(first);
    if (end) return (s) => s.endsWith(first);
    return (s) => s.includes(first);
  }
  const last = pieces[pieces.length - 1]!;
  const middle = pieces.slice(1, -1).filter((p) => p !== '');
  return (s) => {
    let pos: number;
    if (start) {
      if (!s.startsWith(first)) return false;
      pos = first.length;
    } else {
      // Leftmost is optimal: every later piece is searched after it.
      const at = s.indexOf(first);
      if (at < 0) return false;
      pos = at + first.length;
    }
    for (const p of middle) {
      const at = s.indexOf(p, pos);
      if (at < 0) return false;
      pos = at + p.length;
    }
    if (end) return s.length - last.length >= pos && s.endsWith(last);
    return s.indexOf(last, pos) >= 0;
  };
}
