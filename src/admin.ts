// --admin-address: kproxy's own endpoints, on a port of their own because every path of the API
// port belongs to the API server (as with kubectl proxy). /healthz says the process serves;
// /readyz asks each served cluster's /readyz with that cluster's credentials, within a timeout,
// and lists the result per context; /metrics is the Prometheus exposition (metrics.ts).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResponseHandler } from './dispatcher.js';
import { METHOD_NOT_ALLOWED, NOT_FOUND, plainAnswer, writeAnswer } from './answers.js';
import { describeUpstreamError, oneLine } from './errors.js';
import { joinHostPort } from './hostport.js';
import { observeRefreshes } from './auth/refresh.js';
import * as log from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { UsageError } from './options.js';
import { outgoingHeaders, withCredentials, type UpstreamRequestContext } from './outgoing.js';
import type { Serving } from './serving.js';

/** How long a cluster's /readyz may take before it counts as not ready. */
export const READY_TIMEOUT_MS = 5_000;
/** How much of a failing /readyz answer is quoted. */
const DETAIL_CHARS = 200;

export interface ReadyTarget {
  /** The context name. */
  name: string;
  ctx: UpstreamRequestContext;
  /** --append-server-path */
  serverPath?: string;
}

export interface AdminOptions {
  /** HOST:PORT as given (validated by parseAdminAddress). */
  address: string;
  metrics: Metrics;
  /** The clusters served now (they change on reload). */
  targets(): ReadyTarget[];
  readyTimeoutMs?: number;
}

export interface Admin {
  /** HOST:PORT it listens on, the port resolved. */
  address: string;
  close(): Promise<void>;
}

/** --admin-address: HOST:PORT, IPv6 in brackets; the host may not be empty. */
export function parseAdminAddress(value: string): { host: string; port: number } {
  const bad = (why: string) => new UsageError(`invalid --admin-address "${value}": ${why}`);
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) throw bad('must be HOST:PORT, such as 127.0.0.1:9090 or [::1]:9090');
  const port = Number(m[3]);
  if (port > 65535) throw bad('the port must be from 0 to 65535');
  return { host: m[1] ?? m[2]!, port };
}

/** One cluster's /readyz: ok, or why not, in one line. */
export function probeReady(t: ReadyTarget, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    // As an upgrade: no Accept-Encoding added, so the body can be quoted as it comes.
    const out = outgoingHeaders({ method: 'GET', rawHeaders: [], remoteAddress: undefined }, t.ctx, { upgrade: true });
    let abort: ((err?: Error) => void) | undefined;
    let done = false;
    let status = 0;
    let body = '';
    const finish = (ok: boolean, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, detail });
    };
    const timer = setTimeout(() => {
      finish(false, `no answer within ${timeoutMs} ms`);
      abort?.(new Error('readiness timeout'));
    }, timeoutMs);
    timer.unref();
    const path = (t.serverPath ?? '') + '/readyz';
    const handler: ResponseHandler = {
      onConnect(a) {
        abort = a;
        if (done) a(new Error('readiness timeout'));
      },
      onHeaders(code) {
        status = code;
        return true;
      },
      onData(chunk) {
        if (body.length < DETAIL_CHARS) body += chunk.toString('utf8');
        return true;
      },
      onComplete() {
        finish(status === 200, status === 200 ? 'ok' : `${status}: ${oneLine(body).slice(0, DETAIL_CHARS)}`);
      },
      onError(err) {
        finish(false, describeUpstreamError(err));
      },
    };
    withCredentials(
      t.ctx,
      out,
      () => {
        if (!done) t.ctx.upstream.poolFor('GET', path).dispatch({ path, method: 'GET', headers: out.headers, body: null }, handler);
      },
      (err) => finish(false, err.message),
    );
  });
}

async function readyz(opts: AdminOptions): Promise<{ status: number; body: string }> {
  const targets = opts.targets();
  const results = await Promise.all(targets.map((t) => probeReady(t, opts.readyTimeoutMs ?? READY_TIMEOUT_MS)));
  let body = '';
  targets.forEach((t, i) => {
    const r = results[i]!;
    body += `[${r.ok ? '+' : '-'}]context ${JSON.stringify(t.name)} ${r.ok ? 'ok' : `failed: ${r.detail}`}\n`;
  });
  const ok = results.every((r) => r.ok);
  return { status: ok ? 200 : 503, body: body + `readyz check ${ok ? 'passed' : 'failed'}\n` };
}

function handle(opts: AdminOptions, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '').split('?', 1)[0];
  if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') return writeAnswer(res, NOT_FOUND);
  if (req.method !== 'GET' && req.method !== 'HEAD') return writeAnswer(res, METHOD_NOT_ALLOWED);
  const fail = (err: Error) => writeAnswer(res, plainAnswer(500, `${err.message}\n`));
  switch (path) {
    case '/healthz':
      return writeAnswer(res, plainAnswer(200, 'ok\n', { 'Cache-Control': 'no-store' }));
    case '/readyz':
      readyz(opts).then((r) => writeAnswer(res, plainAnswer(r.status, r.body, { 'Cache-Control': 'no-store' })), fail);
      return;
    default:
      opts.metrics.scrape().then((m) => writeAnswer(res, plainAnswer(200, m.body, { 'Content-Type': m.contentType })), fail);
  }
}

export function startAdmin(opts: AdminOptions): Promise<Admin> {
  const { host, port } = parseAdminAddress(opts.address);
  const server = createServer({ requireHostHeader: false }, (req, res) => handle(opts, req, res));
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const reason = err.code === 'EADDRINUSE' ? 'bind: address already in use' : err.code === 'EADDRNOTAVAIL' ? 'bind: cannot assign requested address' : err.message;
      reject(new UsageError(`listen tcp ${joinHostPort(host, port)} (--admin-address): ${reason}`));
    });
    server.listen({ host, port }, () => {
      const a = server.address() as AddressInfo;
      resolve({
        address: joinHostPort(a.address, a.port),
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** --admin-address: the metrics the handlers record into, and the listener that serves them. */
export async function openAdmin(address: string, serving: () => Serving, appendServerPath: boolean): Promise<{ metrics: Metrics; admin: Admin }> {
  const metrics = await createMetrics({
    defaultCluster: () => {
      const s = serving();
      return s.clusters ? '' : s.single.cfg.contextName;
    },
    connections: () => {
      const s = serving();
      const out: Array<{ cluster: string; protocol: string; count: number }> = [];
      for (const d of s.destinations) for (const c of d.connections()) out.push({ cluster: d.cfg.contextName, ...c });
      return out;
    },
  });
  const targets = (): ReadyTarget[] => {
    const s = serving();
    if (s.clusters) return [...s.clusters.values()].map((c) => ({ name: c.name, ctx: c.ctx, serverPath: c.serverPath }));
    return [{ name: s.single.cfg.contextName, ctx: s.single.ctx, serverPath: appendServerPath ? s.single.upstream.serverPath : undefined }];
  };
  const admin = await startAdmin({ address, metrics, targets });
  observeRefreshes((kind, ok) => metrics.credentialRefresh(kind, ok));
  log.info(0, `Serving /healthz, /readyz and /metrics on ${admin.address}`);
  return { metrics, admin };
}
