// The router: every request, ordinary or upgrade, is classified (static files or API prefix),
// filtered, then handed to the forwarder or the upgrade path. Nothing reaches the API server
// before the filter has accepted it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { decide, extractHost, hostAccepted, type FilterRules } from './filter/filter.js';
import { forward, type ForwardContext } from './forward.js';
import * as log from './log.js';
import { parseTarget, route, type Mounts } from './mux.js';
import { joinServerPath } from './upstream.js';
import { answerOnSocket, upgrade } from './upgrade.js';
import type { Inflight } from './lifecycle.js';
import type { AccessLog } from './accesslog.js';

export interface ProxyOptions {
  mounts: Mounts;
  /** Undefined with --disable-filter. */
  filter: FilterRules | undefined;
  forward: ForwardContext;
  appendServerPath: boolean;
  /** --access-log; undefined when off, and then costs nothing. */
  accessLog?: AccessLog;
  /** Serves a request under --www-prefix; undefined without --www. */
  serveStatic?: (req: IncomingMessage, res: ServerResponse, path: string) => void;
}

/** A response kproxy answers itself, before anything goes upstream. */
export interface LocalAnswer {
  status: number;
  /** A reason phrase other than the standard one. */
  reason?: string;
  /** Written raw and close-delimited, as Go's server does for malformed requests. */
  bare?: boolean;
  headers: Record<string, string | number>;
  body: string;
}

/** How the filter decided, for the access log: the pattern that matched, or why none did. */
export interface Verdict {
  decision: 'accept' | 'reject' | 'local' | 'unfiltered';
  rule: string;
}

export type Admission = (
  | { kind: 'answer'; answer: LocalAnswer }
  | { kind: 'static'; path: string }
  /** `target` already carries the server path when --append-server-path is set. */
  | { kind: 'forward'; target: string }
) & { verdict?: Verdict };

function plainAnswer(status: number, body: string, extra?: Record<string, string>): LocalAnswer {
  return {
    status,
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
      'Content-Length': Buffer.byteLength(body),
      ...extra,
    },
    body,
  };
}

function plain(status: number, body: string, extra?: Record<string, string>): Admission {
  return { kind: 'answer', answer: plainAnswer(status, body, extra) };
}

function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function redirect(method: string, location: string): Admission {
  // http.Redirect: a small HTML body for GET and HEAD only.
  if (method === 'GET' || method === 'HEAD') {
    const body = `<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n`;
    return {
      kind: 'answer',
      answer: { status: 301, headers: { Location: location, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }, body },
    };
  }
  return { kind: 'answer', answer: { status: 301, headers: { Location: location, 'Content-Length': 0 }, body: '' } };
}

/**
 * The Host the filter matches, or Go's own 400 answer: an HTTP/1.1 request needs exactly one
 * Host header (an empty one is allowed, and then matches no default pattern).
 */
function requestHost(req: IncomingMessage, authority: string | undefined): string | Admission {
  let host: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') {
      if (host !== undefined) return goBadRequest('400 Bad Request', '');
      host = raw[i + 1]!;
    }
  }
  if (host === undefined && req.httpVersionMinor === 1 && req.httpVersionMajor === 1) {
    return goBadRequest('400 Bad Request: missing required Host header', 'Bad Request: missing required Host header');
  }
  return authority ?? host ?? '';
}

/** The bare answer Go's server writes for malformed requests, before any handler runs. */
function goBadRequest(body: string, reason: string): Admission {
  return {
    kind: 'answer',
    answer: { status: 400, reason: reason || undefined, bare: true, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body },
  };
}

const FORBIDDEN_ANSWER = plainAnswer(403, 'Forbidden\n');
const UNFILTERED: Verdict = { decision: 'unfiltered', rule: '--disable-filter' };
const HOST_CHECK: Verdict = { decision: 'accept', rule: 'accept-hosts' };

/**
 * Router and filter for one request, ordinary or upgrade: what kproxy answers itself, or
 * where the request goes. Nothing is sent upstream unless this says `forward`.
 */
export function admit(req: IncomingMessage, opts: ProxyOptions): Admission {
  const method = req.method!;
  const url = req.url!;
  // Go's server checks Host before any handler (redirects included) runs.
  const authority = url.charCodeAt(0) === 0x2f ? undefined : parseTarget(url)?.authority;
  const hostHeader = requestHost(req, authority);
  if (typeof hostHeader !== 'string') return hostHeader;
  const r = route(method, url, opts.mounts);
  switch (r.kind) {
    case 'options-star':
      return { kind: 'answer', answer: { status: 200, headers: { 'Content-Length': 0 }, body: '' } };
    case 'redirect':
      return redirect(method, r.location);
    case 'bad-request':
      return plain(400, `400 Bad Request: ${r.reason}\n`, { Connection: 'close' });
    case 'not-found':
      return plain(404, '404 page not found\n');
  }
  const filter = opts.filter;
  if (filter) {
    try {
      return applyFilter(filter, opts, method, r, extractHost(hostHeader));
    } catch (err) {
      // Only an exhausted RE2 heap gets here; a filter that cannot answer refuses.
      log.error(`Filter failed, rejecting ${method} request: ${(err as Error).message}`);
      return { kind: 'answer', answer: FORBIDDEN_ANSWER, verdict: { decision: 'reject', rule: 'filter error' } };
    }
  }
  if (r.kind === 'static') return { kind: 'static', path: r.path, verdict: UNFILTERED };
  return { kind: 'forward', target: forwardTarget(opts, r.target), verdict: UNFILTERED };
}

function applyFilter(
  filter: FilterRules,
  opts: ProxyOptions,
  method: string,
  r: { kind: 'static'; path: string } | { kind: 'api'; path: string; target: string },
  host: string,
): Admission {
  if (r.kind === 'static') {
    // kubectl does not filter static files, so DNS rebinding can read them; kproxy checks Host.
    if (!hostAccepted(filter, host)) {
      if (log.enabled(3)) log.info(3, `Filter rejecting ${method} ${opts.mounts.staticPrefix}${r.path.slice(1)} ${host}`);
      return { kind: 'answer', answer: FORBIDDEN_ANSWER, verdict: { decision: 'reject', rule: 'no --accept-hosts pattern matched' } };
    }
    return { kind: 'static', path: r.path, verdict: HOST_CHECK };
  }
  const d = decide(filter, method, r.path, host);
  if (!d.accept) {
    if (log.enabled(3)) log.info(3, `Filter rejecting ${method} ${r.path} ${host}`);
    return { kind: 'answer', answer: FORBIDDEN_ANSWER, verdict: { decision: 'reject', rule: d.rule } };
  }
  if (log.enabled(3)) log.info(3, `Filter accepting ${method} ${r.path} ${host}`);
  return { kind: 'forward', target: forwardTarget(opts, r.target), verdict: { decision: 'accept', rule: d.rule } };
}

function forwardTarget(opts: ProxyOptions, target: string): string {
  return opts.appendServerPath ? joinServerPath(opts.forward.upstream.serverPath, target) : target;
}

const LOCAL: Verdict = { decision: 'local', rule: 'router' };

export function createHandler(opts: ProxyOptions, inflight?: Inflight): (req: IncomingMessage, res: ServerResponse) => void {
  const accessLog = opts.accessLog;
  return (req, res) => {
    inflight?.track(req, res);
    const a = admit(req, opts);
    if (accessLog) {
      const v = a.verdict ?? LOCAL;
      accessLog.begin(req, res, { method: req.method!, path: req.url!, decision: v.decision, rule: v.rule });
    }
    switch (a.kind) {
      case 'answer':
        if (a.answer.bare) {
          answerOnSocket(req.socket, a.answer);
          return;
        }
        if (a.answer.reason) res.writeHead(a.answer.status, a.answer.reason, a.answer.headers);
        else res.writeHead(a.answer.status, a.answer.headers);
        res.end(a.answer.body);
        return;
      case 'static':
        opts.serveStatic!(req, res, a.path);
        return;
      case 'forward': {
        const stop = forward(req, res, a.target, opts.forward);
        inflight?.setStop(res, stop);
      }
    }
  };
}

export function createUpgradeHandler(
  opts: ProxyOptions,
  keepaliveMs: number,
  inflight?: Inflight,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const ctx = { ...opts.forward, keepaliveMs };
  const accessLog = opts.accessLog;
  return (req, socket, head) => {
    inflight?.trackSocket(socket);
    const a = admit(req, opts);
    if (accessLog) {
      const v = a.verdict ?? LOCAL;
      accessLog.beginUpgrade(req, { method: req.method!, path: req.url!, decision: v.decision, rule: v.rule }, a.kind === 'answer' ? a.answer.status : 101);
    }
    switch (a.kind) {
      case 'answer':
        answerOnSocket(socket, a.answer);
        return;
      case 'static':
        // Static files have nothing to upgrade to.
        answerOnSocket(socket, plainAnswer(400, '400 Bad Request: static files cannot be upgraded\n'));
        return;
      case 'forward':
        upgrade(req, socket, head, a.target, ctx);
    }
  };
}
