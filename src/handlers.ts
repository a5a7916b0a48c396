// The two server handlers the listener calls: each admits the request (admit.ts), records it in
// the access log, and hands it to the static files, the forwarder or the upgrade path; a local
// answer is written by answers.ts.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AccessLog } from './accesslog.js';
import { admit, type Admission, type AdmitOptions, type RequestHead } from './admit.js';
import { answerOnSocket, plainAnswer, writeAnswer } from './answers.js';
import { forward } from './forward.js';
import type { Inflight } from './lifecycle.js';
import type { RequestMetrics } from './metrics.js';
import type { UpstreamRequestContext } from './outgoing.js';
import { upgrade } from './upgrade.js';

export interface HandlerOptions extends AdmitOptions {
  upstream: UpstreamRequestContext;
  /** --keepalive for upgraded connections: 0 means Go's default, negative disables. */
  keepaliveMs: number;
  /** --access-log; undefined when off, and then costs nothing. */
  accessLog?: AccessLog;
  /** Serves a request under --www-prefix; undefined without --www. */
  serveStatic?: (req: IncomingMessage, res: ServerResponse, path: string) => void;
  inflight?: Inflight;
  /** --admin-address; undefined when off, and then costs nothing. */
  metrics?: RequestMetrics;
}

const NO_UPGRADE_FOR_STATIC = plainAnswer(400, '400 Bad Request: static files cannot be upgraded\n');

export function createHandler(opts: HandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { accessLog, inflight, metrics } = opts;
  return (req, res) => {
    inflight?.track(req, res);
    const a = admit(req as IncomingMessage & RequestHead, opts);
    if (metrics) metrics.request(req, res, a);
    if (accessLog) accessLog.begin(req, res, { method: req.method!, path: req.url!, decision: a.verdict.decision, rule: a.verdict.rule, context: clusterOf(a) });
    switch (a.kind) {
      case 'answer':
        writeAnswer(res, a.answer);
        return;
      case 'static':
        opts.serveStatic!(req, res, a.path);
        return;
      case 'forward': {
        const stop = forward(req, res, a.target, a.cluster?.ctx ?? opts.upstream);
        inflight?.setStop(res, stop);
      }
    }
  };
}

export function createUpgradeHandler(opts: HandlerOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { accessLog, inflight, metrics } = opts;
  return (req, socket, head) => {
    inflight?.trackSocket(socket);
    const a = admit({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, httpVersion: req.httpVersion, upgrade: true }, opts);
    if (metrics) metrics.upgrade(req, socket, a, a.kind === 'answer' ? a.answer.status : 101);
    if (accessLog) {
      const entry = { method: req.method!, path: req.url!, decision: a.verdict.decision, rule: a.verdict.rule, context: clusterOf(a) };
      accessLog.beginUpgrade(req, entry, a.kind === 'answer' ? a.answer.status : 101);
    }
    switch (a.kind) {
      case 'answer':
        answerOnSocket(socket, a.answer);
        return;
      case 'static':
        // Static files have nothing to upgrade to.
        answerOnSocket(socket, NO_UPGRADE_FOR_STATIC);
        return;
      case 'forward':
        // Read per request: a reload (reload.ts) replaces opts.upstream for new requests only.
        upgrade(req, socket, head, a.target, { ...(a.cluster?.ctx ?? opts.upstream), keepaliveMs: opts.keepaliveMs });
    }
  };
}

/** --contexts: the context a request named, for the access log. */
function clusterOf(a: Admission): string | undefined {
  return a.cluster?.name;
}
