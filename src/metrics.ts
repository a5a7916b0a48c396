// kproxy's own metrics, served on --admin-address (admin.ts) in Prometheus text format through
// prom-client. Without --admin-address none of this is loaded and the handlers hold no metrics
// object, so nothing is recorded. With it, a request costs a few counter increments on label
// children cached here (prom-client would hash the label set on every call otherwise), one
// histogram observation and two socket byte counters read at its start and end.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type * as Prom from 'prom-client';
import type { Admission, Verdict } from './admit.js';
import { isLongRunning } from './route.js';

/** What the handlers call; undefined in HandlerOptions when --admin-address is off. */
export interface RequestMetrics {
  request(req: IncomingMessage, res: ServerResponse, a: Admission): void;
  /** `status`: 101 for a forwarded upgrade, else the local answer's. */
  upgrade(req: IncomingMessage, socket: Duplex, a: Admission, status: number): void;
}

export interface Metrics extends RequestMetrics {
  credentialRefresh(kind: string, ok: boolean): void;
  reload(ok: boolean): void;
  /** The exposition, and its Content-Type. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsSources {
  /** The label for requests that reached no context (single mode: the one context). */
  defaultCluster(): string;
  /** Open upstream connections by cluster and protocol, read at scrape time. */
  connections(): Array<{ cluster: string; protocol: string; count: number }>;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE']);
const FOLLOW = /[?&]follow=(?:1|t|T|true|TRUE|True)(?:&|$)/;
/** Seconds to the first response byte: from a local answer's microseconds to a slow list's seconds. */
const TTFB_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** accepted, unfiltered, local, or refused:<rule kind> (reject-paths, auth-token, browser, ...). */
export function decisionLabel(v: Verdict): string {
  switch (v.decision) {
    case 'accept':
      return 'accepted';
    case 'reject':
      return `refused:${v.kind ?? 'other'}`;
    default:
      return v.decision;
  }
}

/** Clients choose methods: anything unusual shares one label so they cannot grow the series. */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : 'other';
}

export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none';
}

/** A watch or a log follow: what stays open. */
export function streamKind(method: string | undefined, url: string): 'watch' | 'follow' | undefined {
  if (!isLongRunning(method, url)) return undefined;
  return FOLLOW.test(url) ? 'follow' : 'watch';
}

/** prom-client hashes a label set on every labels() call; each set's child is looked up once here. */
function cached<C>(metric: { labels(...values: string[]): C }): (...values: string[]) => C {
  const children = new Map<string, C>();
  return (...values) => {
    const key = values.join('\0');
    let c = children.get(key);
    if (c === undefined) children.set(key, (c = metric.labels(...values)));
    return c;
  };
}

export async function createMetrics(src: MetricsSources): Promise<Metrics> {
  const prom = (await import('prom-client')).default as typeof Prom;
  const registry = new prom.Registry();
  const reg = { registers: [registry] };
  const requests = new prom.Counter({ name: 'kproxy_requests_total', help: 'Requests by context, method, decision and status class.', labelNames: ['cluster', 'method', 'decision', 'code'], ...reg });
  const ttfb = new prom.Histogram({ name: 'kproxy_request_first_byte_seconds', help: 'Time from a request to the first byte of its response.', labelNames: ['cluster'], buckets: TTFB_BUCKETS, ...reg });
  const received = new prom.Counter({ name: 'kproxy_received_bytes_total', help: 'Bytes received from clients (request bodies, upgraded sessions).', labelNames: ['cluster'], ...reg });
  const sent = new prom.Counter({ name: 'kproxy_sent_bytes_total', help: 'Bytes sent to clients (responses with their headers, upgraded sessions).', labelNames: ['cluster'], ...reg });
  const open = new prom.Gauge({ name: 'kproxy_open_streams', help: 'Open watches, log follows and upgraded sessions (exec, attach, port-forward).', labelNames: ['cluster', 'kind'], ...reg });
  const refreshes = new prom.Counter({ name: 'kproxy_credential_refreshes_total', help: 'Credentials obtained (exec plugin, OIDC, token file) by kind and result.', labelNames: ['kind', 'result'], ...reg });
  const reloads = new prom.Counter({ name: 'kproxy_reloads_total', help: 'Configuration reloads by result.', labelNames: ['result'], ...reg });
  new prom.Gauge({
    name: 'kproxy_upstream_connections',
    help: 'Open connections to API servers by context and protocol (upgrade: one per upgraded session).',
    labelNames: ['cluster', 'protocol'],
    ...reg,
    collect() {
      this.reset();
      for (const c of src.connections()) this.set({ cluster: c.cluster, protocol: c.protocol }, c.count);
    },
  });
  for (const r of ['success', 'failure']) reloads.labels(r).inc(0);

  const requestsBy = cached(requests);
  const receivedBy = cached(received);
  const sentBy = cached(sent);
  const openBy = cached(open);
  const ttfbBy = cached(ttfb);
  const refreshesBy = cached(refreshes);
  const clusterOf = (a: Admission): string => a.cluster?.name ?? src.defaultCluster();
  const since = (start: number) => (performance.now() - start) / 1000;

  return {
    request(req, res, a) {
      const start = performance.now();
      const cluster = clusterOf(a);
      const socket = req.socket;
      const read0 = socket.bytesRead;
      const written0 = socket.bytesWritten;
      const kind = a.kind === 'forward' ? streamKind(req.method, req.url!) : undefined;
      if (kind) openBy(cluster, kind).inc();
      let first = false;
      const writeHead = res.writeHead;
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        if (!first) {
          first = true;
          ttfbBy(cluster).observe(since(start));
        }
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as typeof res.writeHead;
      res.once('close', () => {
        // Go-style bare answers are written on the socket, without writeHead.
        if (!first) ttfbBy(cluster).observe(since(start));
        if (kind) openBy(cluster, kind).dec();
        requestsBy(cluster, methodLabel(req.method), decisionLabel(a.verdict), statusClass(res.headersSent ? res.statusCode : 0)).inc();
        receivedBy(cluster).inc(Math.max(0, socket.bytesRead - read0));
        sentBy(cluster).inc(Math.max(0, socket.bytesWritten - written0));
      });
    },
    upgrade(req, socket, a, status) {
      // The time to an upgrade's first byte is the API server's 101, seen by upgrade.ts only.
      const cluster = clusterOf(a);
      const forwarded = a.kind === 'forward';
      if (forwarded) openBy(cluster, 'upgrade').inc();
      const s = req.socket;
      const read0 = s.bytesRead;
      socket.once('close', () => {
        if (forwarded) openBy(cluster, 'upgrade').dec();
        requestsBy(cluster, methodLabel(req.method), decisionLabel(a.verdict), statusClass(status)).inc();
        receivedBy(cluster).inc(Math.max(0, s.bytesRead - read0));
        sentBy(cluster).inc(s.bytesWritten);
      });
    },
    credentialRefresh(kind, ok) {
      refreshesBy(kind, ok ? 'success' : 'failure').inc();
    },
    reload(ok) {
      reloads.labels(ok ? 'success' : 'failure').inc();
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
