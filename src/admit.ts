// Admission: for one request, ordinary or upgrade, what kproxy answers itself or where the
// request goes. In order: Go's Host checks (before any handler, redirects included) made strict,
// an upgrade's body refused, the route (route.ts), the browser check (browser.ts), the access
// token (access-token.ts), then the filter (filter/). Nothing is sent upstream unless this says
// `forward`. Pure: it takes the request line and headers as plain data, and is tested as a table.

import { checkToken, tokenCookie, type AccessToken } from './access-token.js';
import {
  ambiguousClusterAnswer,
  FORBIDDEN,
  goBadRequest,
  jsonAnswer,
  METHOD_NOT_ALLOWED,
  NOT_FOUND,
  outsideClustersAnswer,
  plainAnswer,
  redirectAnswer,
  unknownClusterAnswer,
  type LocalAnswer,
} from './answers.js';
import { crossOriginRefusal, type BrowserPolicy } from './browser.js';
import { clusterBase, clusterList, pickCluster, type ServedCluster } from './cluster-path.js';
import { decide, extractHost, hostAccepted, type FilterRules } from './filter/filter.js';
import { validHost } from './hostport.js';
import * as log from './log.js';
import { route, type Mounts } from './route.js';
import { checkRequest, type Rules } from './rules/rules.js';

/** What admission reads of a request. */
export interface RequestHead {
  method: string;
  /** The request target as received. */
  url: string;
  /** Node's rawHeaders: [name, value, name, value, ...]. */
  rawHeaders: readonly string[];
  /** '1.1' or '1.0'. */
  httpVersion: string;
  /** The request asks for a protocol upgrade (exec, attach, port-forward, WebSocket watches). */
  upgrade?: boolean;
}

export interface AdmitOptions {
  /** With `serverPath` set for --append-server-path. */
  mounts: Mounts;
  /** Undefined with --disable-filter. */
  filter: FilterRules | undefined;
  /** The cross-origin check; undefined with --disable-filter. */
  browser?: BrowserPolicy;
  /** --auth-token: every request must present it. */
  accessToken?: AccessToken;
  /** --read-only, --allow, --deny, --rules-file; undefined when none is set. */
  rules?: Rules;
  /** --contexts / --all-contexts: the served clusters by context name, each with its own filter. */
  clusters?: ReadonlyMap<string, ServedCluster>;
}

/** How the request was decided, for the access log: the pattern that matched, or why none did. */
export interface Verdict {
  decision: 'accept' | 'reject' | 'local' | 'unfiltered';
  rule: string;
  /** For a rejection: which kind of rule (reject-paths, auth-token, browser...), for metrics. */
  kind?: string;
}

export type Admission = (
  | { kind: 'answer'; answer: LocalAnswer }
  | { kind: 'static'; path: string }
  /** `target` already carries the server path when --append-server-path is set. */
  | { kind: 'forward'; target: string }
) & { verdict: Verdict; /** --contexts: the context the request named. */ cluster?: ServedCluster };

const LOCAL: Verdict = { decision: 'local', rule: 'router' };
const UNFILTERED: Verdict = { decision: 'unfiltered', rule: '--disable-filter' };
const HOST_CHECK: Verdict = { decision: 'accept', rule: 'accept-hosts' };

function local(answer: LocalAnswer): Admission {
  return { kind: 'answer', answer, verdict: LOCAL };
}

/**
 * The Host the filter matches, or Go's own 400 answer: an HTTP/1.1 request needs exactly one
 * Host header (an empty one is allowed, and then matches no default pattern).
 */
function requestHost(req: RequestHead, authority: string | undefined): string | LocalAnswer {
  let host: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') {
      if (host !== undefined) return goBadRequest('400 Bad Request');
      host = raw[i + 1]!;
    }
  }
  if (host === undefined && req.httpVersion === '1.1') {
    return goBadRequest('400 Bad Request: missing required Host header', 'Bad Request: missing required Host header');
  }
  return authority ?? host ?? '';
}

const MALFORMED_HOST = goBadRequest('400 Bad Request: malformed Host header', 'Bad Request: malformed Host header');
const UPGRADE_WITH_BODY = plainAnswer(400, '400 Bad Request: an upgrade request cannot carry a body\n', { Connection: 'close' });

/**
 * An upgrade that declares a body would be forwarded with its length but not its bytes: the API
 * server would wait for them, kproxy for its answer, and both connections stay pinned.
 */
function declaresBody(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === 'transfer-encoding') return true;
    if (lower === 'content-length' && raw[i + 1]!.trim() !== '0') return true;
  }
  return false;
}

function unauthorized(reason: string): Admission {
  const answer = plainAnswer(401, `Unauthorized: ${reason}\n`, { 'WWW-Authenticate': 'Bearer realm="kproxy"' });
  return { kind: 'answer', answer, verdict: { decision: 'reject', rule: 'auth-token', kind: 'auth-token' } };
}

export function admit(req: RequestHead, opts: AdmitOptions): Admission {
  const method = req.method;
  const r = route(method, req.url, opts.mounts);
  const hostHeader = requestHost(req, r.authority);
  if (typeof hostHeader !== 'string') return local(hostHeader);
  // Userinfo in an absolute-form target fails here too: '@' is no host character.
  if (!validHost(hostHeader)) return local(MALFORMED_HOST);
  if (req.upgrade && declaresBody(req.rawHeaders)) return local(UPGRADE_WITH_BODY);
  switch (r.kind) {
    case 'options-star':
      return local({ status: 200, headers: { 'Content-Length': 0 }, body: '' });
    case 'redirect':
      return local(redirectAnswer(method, r.location));
    case 'bad-request':
      return local(plainAnswer(400, `400 Bad Request: ${r.reason}\n`, { Connection: 'close' }));
    case 'not-found':
      return local(NOT_FOUND);
  }
  if (opts.browser) {
    const refusal = crossOriginRefusal(method, req.rawHeaders, hostHeader, opts.browser);
    if (refusal) {
      if (log.enabled(3)) log.info(3, `Browser check rejecting ${method} ${req.url.split('?', 1)[0]}: ${refusal.rule}`);
      return { kind: 'answer', answer: plainAnswer(403, refusal.message + '\n'), verdict: { decision: 'reject', rule: refusal.rule, kind: 'browser' } };
    }
  }
  if (opts.accessToken) {
    const t = checkToken(opts.accessToken, method, req.url, req.rawHeaders);
    if (t.ok === false) return unauthorized(t.reason);
    if (t.ok === 'set-cookie') {
      const answer: LocalAnswer = { status: 303, headers: { Location: t.location, 'Set-Cookie': tokenCookie(opts.accessToken), 'Cache-Control': 'no-store', 'Content-Length': 0 }, body: '' };
      return { kind: 'answer', answer, verdict: { decision: 'local', rule: 'auth-token cookie' } };
    }
  }
  if (opts.clusters && r.kind === 'api') return admitCluster(opts.clusters, opts, method, r.target, hostHeader);
  return filtered(opts.filter, opts, method, r, hostHeader);
}

function filtered(
  filter: FilterRules | undefined,
  opts: AdmitOptions,
  method: string,
  r: { kind: 'static'; path: string } | { kind: 'api'; path: string; target: string },
  hostHeader: string,
): Admission {
  if (!filter) {
    if (r.kind === 'static') return { kind: 'static', path: r.path, verdict: UNFILTERED };
    return withRules(opts, method, r, UNFILTERED);
  }
  try {
    return applyFilter(filter, opts, method, r, extractHost(hostHeader));
  } catch (err) {
    // decide() already refuses when RE2 cannot run; anything else the filter throws must
    // refuse too rather than let the request through.
    log.error(`Filter failed, rejecting ${method} request: ${(err as Error).message}`);
    return { kind: 'answer', answer: FORBIDDEN, verdict: { decision: 'reject', rule: 'filter error', kind: 'filter-error' } };
  }
}

const CLUSTERS: Verdict = { decision: 'local', rule: 'clusters' };

function hostRefused(): Admission {
  return { kind: 'answer', answer: FORBIDDEN, verdict: { decision: 'reject', rule: 'no --accept-hosts pattern matched', kind: 'accept-hosts' } };
}

/** --contexts: the list, or the named cluster's filter and destination (cluster-path.ts). */
function admitCluster(served: ReadonlyMap<string, ServedCluster>, opts: AdmitOptions, method: string, target: string, hostHeader: string): Admission {
  const base = clusterBase(opts.mounts.apiPrefix);
  const p = pickCluster(target, base, served);
  if (p.kind !== 'cluster' && opts.filter && !hostAccepted(opts.filter, extractHost(hostHeader))) {
    // The list and the 404s name the served contexts: not for a page that rebinds its name here.
    return hostRefused();
  }
  const answer = (a: LocalAnswer): Admission => ({ kind: 'answer', answer: a, verdict: CLUSTERS });
  switch (p.kind) {
    case 'list':
      return answer(method === 'GET' || method === 'HEAD' ? jsonAnswer(200, clusterList(served.values(), base)) : METHOD_NOT_ALLOWED);
    case 'outside':
      return answer(outsideClustersAnswer(base));
    case 'unknown':
      return answer(unknownClusterAnswer(p.name, [...served.keys()]));
    case 'ambiguous':
      return answer(ambiguousClusterAnswer(p.names));
  }
  const a = filtered(p.cluster.filter, opts, method, { kind: 'api', path: p.path, target: p.target }, hostHeader);
  a.cluster = p.cluster;
  return a;
}

function applyFilter(
  filter: FilterRules,
  opts: AdmitOptions,
  method: string,
  r: { kind: 'static'; path: string } | { kind: 'api'; path: string; target: string },
  host: string,
): Admission {
  if (r.kind === 'static') {
    // kubectl does not filter static files, so DNS rebinding can read them; kproxy checks Host.
    if (!hostAccepted(filter, host)) {
      if (log.enabled(3)) log.info(3, `Filter rejecting ${method} ${opts.mounts.staticPrefix}${r.path.slice(1)} ${host}`);
      return hostRefused();
    }
    return { kind: 'static', path: r.path, verdict: HOST_CHECK };
  }
  const d = decide(filter, method, r.path, host);
  if (!d.accept) {
    if (log.enabled(3)) log.info(3, `Filter rejecting ${method} ${r.path} ${host}`);
    return { kind: 'answer', answer: FORBIDDEN, verdict: { decision: 'reject', rule: d.rule, kind: d.check } };
  }
  if (log.enabled(3)) log.info(3, `Filter accepting ${method} ${r.path} ${host}`);
  return withRules(opts, method, r, { decision: 'accept', rule: d.rule });
}

/**
 * The rules (rules/), on what the API server will read: a request the filter let through (or
 * any, with --disable-filter) and the rules refuse gets the filter's 403.
 */
function withRules(opts: AdmitOptions, method: string, r: { path: string; target: string }, verdict: Verdict): Admission {
  if (!opts.rules) return { kind: 'forward', target: r.target, verdict };
  // The target's first '?' starts the client's raw query: its path part is always escaped.
  const q = r.target.indexOf('?');
  let d: { allow: boolean; rule: string };
  try {
    d = checkRequest(opts.rules, method, r.path, q === -1 ? '' : r.target.slice(q + 1));
  } catch (err) {
    d = { allow: false, rule: `rules error: ${(err as Error).message}` };
  }
  if (!d.allow) {
    if (log.enabled(3)) log.info(3, `Rules rejecting ${method} ${r.path}: ${d.rule}`);
    return { kind: 'answer', answer: FORBIDDEN, verdict: { decision: 'reject', rule: d.rule, kind: 'rules' } };
  }
  return { kind: 'forward', target: r.target, verdict: { decision: verdict.decision, rule: `${verdict.rule}; ${d.rule}` } };
}
