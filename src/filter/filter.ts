// TEMPORARY minimal version (to be replaced by the full implementation being written).
import { compileRegexList, type RegexList } from './regexlist.js';

export const DEFAULT_PATH_ACCEPT_RE = '^.*';
export const DEFAULT_PATH_REJECT_RE = '^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach';
export const DEFAULT_METHOD_REJECT_RE = '^$';
export const DEFAULT_HOST_ACCEPT_RE = '^localhost$,^127\\.0\\.0\\.1$,^\\[::1\\]$';

export interface FilterRules {
  acceptPaths: RegexList;
  rejectPaths: RegexList;
  acceptHosts: RegexList;
  rejectMethods: RegexList;
}

export function compileFilterRules(f: { acceptPaths: string; rejectPaths: string; acceptHosts: string; rejectMethods: string }): FilterRules {
  return {
    acceptPaths: compileRegexList('--accept-paths', f.acceptPaths),
    rejectPaths: compileRegexList('--reject-paths', f.rejectPaths),
    acceptHosts: compileRegexList('--accept-hosts', f.acceptHosts),
    rejectMethods: compileRegexList('--reject-methods', f.rejectMethods),
  };
}

export function extractHost(h: string): string {
  const m = /^\[([^\]]*)\]:(\d*)$/.exec(h);
  if (m) return m[1]!;
  const i = h.lastIndexOf(':');
  if (i === -1 || h.indexOf(':') !== i || h.startsWith('[')) return h;
  return h.slice(0, i);
}

export type FilterDecision =
  | { accept: true; rule: string }
  | { accept: false; rule: string; check: 'reject-paths' | 'reject-methods' | 'accept-paths' | 'accept-hosts' };

export function hostAccepted(rules: FilterRules, host: string): string | undefined {
  const m = rules.acceptHosts.firstMatch(host);
  if (m !== undefined) return m;
  if (host.includes(':') && !host.startsWith('[')) return rules.acceptHosts.firstMatch('[' + host + ']');
  if (host.startsWith('[') && host.endsWith(']')) return rules.acceptHosts.firstMatch(host.slice(1, -1));
  return undefined;
}

export function decide(rules: FilterRules, method: string, path: string, host: string): FilterDecision {
  let r = rules.rejectPaths.firstMatch(path);
  if (r !== undefined) return { accept: false, rule: r, check: 'reject-paths' };
  r = rules.rejectMethods.firstMatch(method);
  if (r !== undefined) return { accept: false, rule: r, check: 'reject-methods' };
  const p = rules.acceptPaths.firstMatch(path);
  if (p === undefined) return { accept: false, rule: 'no --accept-paths pattern matched', check: 'accept-paths' };
  const h = hostAccepted(rules, host);
  if (h === undefined) return { accept: false, rule: 'no --accept-hosts pattern matched', check: 'accept-hosts' };
  return { accept: true, rule: p };
}
