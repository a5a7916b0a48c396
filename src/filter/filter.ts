// kubectl proxy's request filter (FilterServer.accept in kubectl's proxy_server.go), with one
// deliberate difference for IPv6 Host headers (see hostAccepted). Pure: no I/O.

import { compileRegexList, RegexMatchError, type RegexList } from './regexlist.js';

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

/** Throws RegexListError (one line, naming flag and pattern) for a pattern Go would refuse. */
export function compileFilterRules(flags: { acceptPaths: string; rejectPaths: string; acceptHosts: string; rejectMethods: string }): FilterRules {
  return {
    acceptPaths: compileRegexList('--accept-paths', flags.acceptPaths),
    rejectPaths: compileRegexList('--reject-paths', flags.rejectPaths),
    acceptHosts: compileRegexList('--accept-hosts', flags.acceptHosts),
    rejectMethods: compileRegexList('--reject-methods', flags.rejectMethods),
  };
}

/**
 * kubectl's extractHost: the host part of Go's net.SplitHostPort(hostHeader), or the whole value
 * when SplitHostPort fails. So `[::1]:8001` gives `::1` but `[::1]` and `localhost` (no port)
 * come back unchanged. The port is never validated.
 */
export function extractHost(hostHeader: string): string {
  const split = splitHostPort(hostHeader);
  return split === undefined ? hostHeader : split;
}

/** net.SplitHostPort's host, or undefined where Go returns an error. */
function splitHostPort(hp: string): string | undefined {
  // The port starts after the last colon.
  const i = hp.lastIndexOf(':');
  if (i < 0) return undefined; // missing port in address
  let host: string;
  let j = 0;
  let k = 0;
  if (hp[0] === '[') {
    // The first ']' must sit just before the last ':'.
    const end = hp.indexOf(']');
    if (end < 0) return undefined; // missing ']' in address
    if (end + 1 !== i) return undefined; // missing port, or too many colons
    host = hp.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hp.slice(0, i);
    if (host.includes(':')) return undefined; // too many colons in address
  }
  if (hp.indexOf('[', j) >= 0) return undefined; // unexpected '[' in address
  if (hp.indexOf(']', k) >= 0) return undefined; // unexpected ']' in address
  return host;
}

export type FilterDecision =
  /** `rule`: the accept-paths and accept-hosts patterns that matched. */
  | { accept: true; rule: string }
  /** `rule`: the reject pattern that matched, or which accept list had no match. */
  | { accept: false; rule: string; check: 'reject-paths' | 'reject-methods' | 'accept-paths' | 'accept-hosts' };

type Check = 'reject-paths' | 'reject-methods' | 'accept-paths' | 'accept-hosts';

/**
 * The accept-hosts pattern that admits `host` (already extracted), or undefined.
 *
 * Deliberate fix of kubernetes#77496: SplitHostPort strips the brackets from `[::1]:8001`, so
 * kubectl's own default `^\[::1\]$` can never match an IPv6 Host that carries a port. An IPv6
 * literal is therefore tried in both spellings, bracketed and bare; the bare form keeps
 * kubectl's documented workaround `--accept-hosts='^::1$'` working. Only hosts containing ':'
 * get a second spelling: a DNS name in brackets is not something a browser can be made to send,
 * and nothing else needs the leniency.
 */
function matchHost(list: RegexList, host: string): string | undefined {
  const m = list.firstMatch(host);
  if (m !== undefined || !host.includes(':')) return m;
  if (host[0] !== '[') return list.firstMatch(`[${host}]`);
  if (host.length > 2 && host[host.length - 1] === ']') return list.firstMatch(host.slice(1, -1));
  return undefined;
}

/**
 * Whether the accept-hosts list admits `host` (already extracted). Fails closed: false when
 * RE2 cannot run.
 */
export function hostAccepted(rules: FilterRules, host: string): boolean {
  try {
    return matchHost(rules.acceptHosts, host) !== undefined;
  } catch (err) {
    if (err instanceof RegexMatchError) return false;
    throw err;
  }
}

/**
 * FilterServer.accept, in kubectl's order: a reject-paths match rejects, then a reject-methods
 * match rejects, then the request is accepted only if both accept-paths and accept-hosts match.
 * `path` is the decoded path after the api-prefix strip; `host` is extractHost(Host). Matching
 * is case-sensitive and unanchored, as in Go. If RE2 cannot run (its heap is exhausted) the
 * request is rejected, attributed to the check that was being evaluated.
 */
export function decide(rules: FilterRules, method: string, path: string, host: string): FilterDecision {
  let check: Check = 'reject-paths';
  try {
    const rp = rules.rejectPaths.firstMatch(path);
    if (rp !== undefined) return { accept: false, rule: rp, check };
    check = 'reject-methods';
    const rm = rules.rejectMethods.firstMatch(method);
    if (rm !== undefined) return { accept: false, rule: rm, check };
    check = 'accept-paths';
    const ap = rules.acceptPaths.firstMatch(path);
    if (ap === undefined) return { accept: false, rule: 'no --accept-paths pattern matched', check };
    check = 'accept-hosts';
    const ah = matchHost(rules.acceptHosts, host);
    if (ah === undefined) return { accept: false, rule: 'no --accept-hosts pattern matched', check };
    return { accept: true, rule: `--accept-paths ${ap} and --accept-hosts ${ah}` };
  } catch (err) {
    if (err instanceof RegexMatchError) return { accept: false, rule: err.message, check };
    throw err;
  }
}
