// TEMPORARY minimal version (to be replaced by the full implementation being written).
import re2 from 're2-wasm';
const { RE2 } = re2;

export class RegexListError extends Error {
  override name = 'RegexListError';
}

export interface RegexList {
  readonly flag: string;
  readonly sources: readonly string[];
  firstMatch(s: string): string | undefined;
  matches(s: string): boolean;
}

export function compileRegexList(flag: string, value: string): RegexList {
  const sources = value === '' ? [] : value.split(',');
  const res = sources.map((src) => {
    try {
      return new RE2(src, 'u');
    } catch (err) {
      const reason = (err as Error).message.replace(/^Invalid regular expression: \/.*\/u: /s, '');
      throw new RegexListError(`invalid regular expression "${src}" in ${flag}: ${reason}`);
    }
  });
  return {
    flag,
    sources,
    firstMatch(s) {
      for (let i = 0; i < res.length; i++) if (res[i]!.test(s)) return sources[i];
      return undefined;
    },
    matches(s) {
      for (let i = 0; i < res.length; i++) if (res[i]!.test(s)) return true;
      return false;
    },
  };
}

export function warnRegexList(list: RegexList): string[] {
  const out: string[] = [];
  for (const s of list.sources) {
    if (s === '') out.push(`${list.flag} contains an empty pattern, which matches every request`);
    else if (s.trim() !== s) out.push(`${list.flag} pattern "${s}" has surrounding spaces; patterns are not trimmed`);
  }
  return out;
}
