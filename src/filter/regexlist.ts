// kubectl's MakeRegexpArray and matchesRegexp: a flag value is split on ',' (no trimming, no
// escaping) and every piece is a Go regexp, searched unanchored. The pieces are compiled by RE2
// (Google's C++ library, as WebAssembly), which is the engine Go's regexp package was written to
// mirror: same syntax, linear time, no lookaround or backreferences.
//
// Why WrappedRE2 and not re2-wasm's `RE2` class: that class accepts JavaScript syntax and
// rewrites it before RE2 sees it, which changes the meaning of Go patterns. Measured on 1.0.2:
// `\Q/api/v1/secrets\E` becomes `\Q\/api\/v1\/secrets\E` and silently never matches (a reject
// rule that rejects nothing), `\cA` and `\u0041` compile although Go rejects them, `[(?<a]`
// gains a `P`, and `(?P<n>a)(?P<n>b)` is refused although Go accepts it. Handing the pattern to
// RE2 directly leaves only the two syntax differences handled in `toRe2Syntax`.
//
// Subjects are JavaScript strings, so they are matched as their UTF-8 encoding. Go matches the
// raw bytes of a path, which may be invalid UTF-8; callers decode paths first (invalid bytes
// become U+FFFD), and patterns that only differ on invalid UTF-8 (`.` against a lone 0xFF byte,
// `\x{FFFD}`) can therefore answer differently from kubectl. Lone surrogates never reach here
// from HTTP (UTF-8 and latin1 decoding cannot produce them).

import { createRequire } from 'node:module';
import { UserError } from '../errors.js';
import { literalMatcher, type Matcher } from './literal.js';

// Loaded on first use: kubectl's default patterns never need it, and compiling the WebAssembly
// module is most of kproxy's start-up time otherwise.
type Re2Module = typeof import('re2-wasm/build/wasm/re2.js');
let re2module: Re2Module | undefined;
function re2(): Re2Module {
  return (re2module ??= createRequire(import.meta.url)('re2-wasm/build/wasm/re2.js') as Re2Module);
}

type WrappedRE2 = InstanceType<Re2Module['WrappedRE2']>;

export class RegexListError extends UserError {
  override name = 'RegexListError';
  constructor(
    readonly flag: string,
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`invalid regular expression ${quote(pattern)} in ${flag}: ${oneLine(reason)}`);
  }
}

/**
 * A subject could not be matched: longer than MAX_SUBJECT_BYTES, or RE2's fixed 16 MiB
 * WebAssembly heap ran out. Callers must treat it as "reject", never as "no match".
 */
export class RegexMatchError extends Error {
  override name = 'RegexMatchError';
}

export interface RegexList {
  readonly flag: string;
  readonly sources: readonly string[];
  /** The source of the first matching piece. Throws RegexMatchError, see above. */
  firstMatch(s: string): string | undefined;
  /** Throws RegexMatchError, see above. */
  matches(s: string): boolean;
}

/**
 * re2-wasm copies every subject into a heap that cannot grow (16 MiB, most of it taken by the
 * stack and RE2's tables); measured, subjects above about 2.5 MB abort the module. Go's server
 * caps the request line and headers at 1 MiB + 4 KiB (MaxHeaderBytes plus bufio slack), so kubectl
 * never filters anything longer and refusing longer subjects cannot turn away a request it
 * would have let through.
 */
export const MAX_SUBJECT_BYTES = (1 << 20) + 4096;

/** One piece: a literal fast path when the pattern allows it, RE2 otherwise or for `\n`. */
interface Piece {
  readonly source: string;
  readonly fast: Matcher | undefined;
  /** Compiled on first need when `fast` exists (literal patterns are valid RE2 by construction). */
  re: WrappedRE2 | undefined;
}

class CompiledList implements RegexList {
  constructor(
    readonly flag: string,
    readonly sources: readonly string[],
    private readonly pieces: readonly Piece[],
  ) {}

  firstMatch(s: string): string | undefined {
    const pieces = this.pieces;
    if (pieces.length === 0) return undefined;
    // UTF-8 is at most 3 bytes per UTF-16 unit, so short strings skip the exact count.
    if (s.length > MAX_SUBJECT_BYTES / 3 && Buffer.byteLength(s, 'utf8') > MAX_SUBJECT_BYTES) {
      throw new RegexMatchError(`${this.flag}: subject of ${Buffer.byteLength(s, 'utf8')} bytes is longer than ${MAX_SUBJECT_BYTES}`);
    }
    // Go's `.` stops at a newline, which the literal matchers do not model.
    const plain = !s.includes('\n');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (plain && p.fast) {
        if (p.fast(s)) return p.source;
        continue;
      }
      let found: boolean;
      try {
        p.re ??= compileOne(this.flag, p.source);
        // `false`: no capture groups wanted, so RE2 only reports the overall match.
        found = p.re.match(s, 0, false).index >= 0;
      } catch (err) {
        // An emscripten abort (heap exhausted by DFA caches of expensive patterns). Once the
        // heap is full every later call aborts too, so this fails closed for good.
        if (!(err instanceof WebAssembly.RuntimeError)) throw err;
        throw new RegexMatchError(`${this.flag}: RE2 failed: ${firstLine(err)}`);
      }
      if (found) return p.source;
    }
    return undefined;
  }

  matches(s: string): boolean {
    return this.firstMatch(s) !== undefined;
  }
}

export function compileRegexList(flag: string, value: string): RegexList {
  // kubectl ≥1.21 (PR #99617): an empty flag is an empty list, not one empty pattern.
  const sources = value === '' ? [] : value.split(',');
  const pieces = sources.map((source): Piece => {
    const fast = literalMatcher(source);
    return { source, fast, re: fast ? undefined : compileOne(flag, source) };
  });
  return new CompiledList(flag, Object.freeze(sources), pieces);
}

/** RE2 itself, for a pattern that has a literal matcher (tests compare the two). */
export function compileWithRE2(source: string): (s: string) => boolean {
  const re = compileOne('--test', source);
  return (s) => re.match(s, 0, false).index >= 0;
}

function compileOne(flag: string, src: string): WrappedRE2 {
  let syntax: string;
  try {
    syntax = toRe2Syntax(src);
  } catch (err) {
    throw new RegexListError(flag, src, (err as Error).message);
  }
  let re: WrappedRE2;
  try {
    // Go's Perl syntax: case-sensitive, `$` only at the end of text, `.` not matching \n.
    re = new (re2().WrappedRE2)(syntax, false, false, false);
  } catch (err) {
    // An emscripten abort: RE2 ran out of its fixed heap on a pattern Go compiles (`[\pL]{1000}`).
    if (!(err instanceof WebAssembly.RuntimeError)) throw err;
    throw new RegexListError(flag, src, "pattern too large for the RE2 engine's fixed 16 MiB memory");
  }
  if (!re.ok()) {
    // RE2 quotes the failing fragment; show it as the user wrote it.
    const reason = syntax === src || src.includes('(?P<') ? re.error() : re.error().replaceAll('(?P<', '(?<');
    throw new RegexListError(flag, src, reason);
  }
  return re;
}

/**
 * The pattern RE2 must compile to behave as Go's regexp.Compile(src), or throws with Go's
 * reason. Two differences between RE2 (as bundled, 2021) and Go 1.22+ need handling:
 * - Go accepts `(?<name>…)` as well as `(?P<name>…)`; this RE2 only the latter.
 * - RE2 accepts `\C` (any byte); Go rejects it.
 * Escapes, `\Q…\E` and character classes are skipped so that `[(?<]`, `\Q(?<\E` and `\\C` keep
 * their meaning.
 */
function toRe2Syntax(src: string): string {
  if (!src.includes('(?<') && !src.includes('\\C')) return src;
  const n = src.length;
  let out = '';
  let from = 0;
  let i = 0;
  while (i < n) {
    const c = src[i];
    if (c === '\\') {
      const d = src[i + 1];
      if (d === 'Q') {
        // Go: everything up to the first `\E` (or the end) is literal.
        const e = src.indexOf('\\E', i + 2);
        i = e < 0 ? n : e + 2;
      } else if (d === 'C') {
        throw new Error('invalid escape sequence: \\C');
      } else {
        i = escapeEnd(src, i);
      }
    } else if (c === '[') {
      i = classEnd(src, i);
    } else if (c === '(' && src[i + 1] === '?' && src[i + 2] === '<' && src[i + 3] !== '=' && src[i + 3] !== '!') {
      out += src.slice(from, i) + '(?P<';
      i += 3;
      from = i;
    } else {
      i++;
    }
  }
  return out + src.slice(from);
}

/** Index after the escape starting at `i`, treating `\p{Name}` as one unit. */
function escapeEnd(src: string, i: number): number {
  const d = src[i + 1];
  if ((d === 'p' || d === 'P') && src[i + 2] === '{') {
    const e = src.indexOf('}', i + 3);
    return e < 0 ? src.length : e + 1;
  }
  return i + 2;
}

/** Index after the character class starting at `i` (Go's parseClass rules for where it ends). */
function classEnd(src: string, i: number): number {
  const n = src.length;
  let j = i + 1;
  if (src[j] === '^') j++;
  // A `]` right after `[` or `[^` is a literal.
  let first = true;
  while (j < n) {
    const c = src[j];
    if (c === ']' && !first) return j + 1;
    first = false;
    if (c === '[' && src[j + 1] === ':') {
      // `[:alpha:]` runs to the first `:]`; without one the `[` is a literal.
      const e = src.indexOf(':]', j + 2);
      if (e >= 0) {
        j = e + 2;
        continue;
      }
    }
    j = c === '\\' ? escapeEnd(src, j) : j + 1;
  }
  return n;
}

/** Warnings for pieces that are legal but almost certainly not what the user meant. */
export function warnRegexList(list: RegexList): string[] {
  const out: string[] = [];
  if (list.sources.includes('')) out.push(`${list.flag} contains an empty pattern, which matches every request`);
  for (const s of list.sources) {
    if (s !== '' && /^\s|\s$/.test(s)) out.push(`${list.flag} pattern ${quote(s)} has surrounding spaces; patterns are not trimmed`);
  }
  return out;
}

/** Double-quoted and on one line; backslashes stay single so the pattern reads as typed. */
function quote(s: string): string {
  return `"${oneLine(s).replace(/"/g, '\\"')}"`;
}

function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\x{${c.charCodeAt(0).toString(16)}}`;
    }
  });
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const line = msg.split('\n', 1)[0]!;
  return line.length > 160 ? line.slice(0, 160) + '…' : line;
}
