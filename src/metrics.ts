// kproxy's own metrics, served on --admin-address (admin.ts) in Prometheus text format by
// prom-client's Registry. Without --admin-address none of this is loaded and the handlers hold
// no metrics object, so nothing is recorded. With it, a request costs a few increments of plain
// counters (one map lookup per series), one histogram bucket and two socket byte counters read
// at its start and end; the exposition is built only when /metrics is scraped.

import { ServerResponse, type IncomingMessage } from 'node:http';
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

/** A family as prom-client's Registry formats it (what its own metric classes return from get()). */
interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
}

/**
 * Series by label values, counted in plain objects: prom-client's own Counter and Histogram
 * hash the label set on every call (its labels() children too), which cost more per request
 * than all the rest here. Read out only when /metrics is scraped.
 */
class Series<V> {
  private readonly byKey = new Map<string, { labels: string[]; v: V }>();
  constructor(private readonly make: () => V) {}
  get(a: string, b = '', c = '', d = ''): V {
    const key = `${a}\0${b}\0${c}\0${d}`;
    let e = this.byKey.get(key);
    if (e === undefined) this.byKey.set(key, (e = { labels: [a, b, c, d], v: this.make() }));
    return e.v;
  }
  entries(): Iterable<{ labels: string[]; v: V }> {
    return this.byKey.values();
  }
}

type Count = { n: number };
type Buckets = { counts: Float64Array; sum: number; count: number };

function labelled(names: string[], values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((n, i) => (out[n] = values[i]!));
  return out;
}

function counterFamily(name: string, help: string, names: string[], series: Series<Count>, type: 'counter' | 'gauge' = 'counter'): () => Family {
  return () => ({ name, help, type, values: [...series.entries()].map((e) => ({ labels: labelled(names, e.labels), value: e.v.n })) });
}

function histogramFamily(name: string, help: string, series: Series<Buckets>): () => Family {
  return () => {
    const values: Family['values'] = [];
    for (const { labels, v } of series.entries()) {
      const cluster = labels[0]!;
      let cumulative = 0;
      TTFB_BUCKETS.forEach((le, i) => {
        cumulative += v.counts[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { le, cluster }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', cluster }, value: v.count });
      values.push({ metricName: `${name}_sum`, labels: { cluster }, value: v.sum });
      values.push({ metricName: `${name}_count`, labels: { cluster }, value: v.count });
    }
    return { name, help, type: 'histogram', values };
  };
}

interface Timing {
  start: number;
  ttfb: Buckets;
}

function observe(t: Timing): void {
  const seconds = (performance.now() - t.start) / 1000;
  const h = t.ttfb;
  h.count++;
  h.sum += seconds;
  for (let i = 0; i < TTFB_BUCKETS.length; i++) {
    if (seconds <= TTFB_BUCKETS[i]!) {
      h.counts[i]!++;
      break;
    }
  }
}

/** Responses whose first byte is still to come. */
const firstByte = new WeakMap<ServerResponse, Timing>();
let hooked = false;

/**
 * The first byte of a response is its head, which Node writes in writeHead; it emits no event.
 * One wrapper on the prototype, looking the response up in a WeakMap, rather than a wrapper
 * per response: an own property on each response would give them another hidden class and
 * slow every call the forwarder makes on them.
 */
function installFirstByteHook(): void {
  if (hooked) return;
  hooked = true;
  const proto = ServerResponse.prototype as unknown as { writeHead: (...args: unknown[]) => unknown };
  const writeHead = proto.writeHead;
  proto.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const t = firstByte.get(this);
    if (t !== undefined) {
      firstByte.delete(this);
      observe(t);
    }
    return writeHead.apply(this, args);
  };
}

export async function createMetrics(src: MetricsSources): Promise<Metrics> {
  const prom = (await import('prom-client')).default as typeof Prom;
  const registry = new prom.Registry();
  const requests = new Series<Count>(() => ({ n: 0 }));
  const ttfb = new Series<Buckets>(() => ({ counts: new Float64Array(TTFB_BUCKETS.length), sum: 0, count: 0 }));
  const received = new Series<Count>(() => ({ n: 0 }));
  const sent = new Series<Count>(() => ({ n: 0 }));
  const open = new Series<Count>(() => ({ n: 0 }));
  const refreshes = new Series<Count>(() => ({ n: 0 }));
  const reloads = new Series<Count>(() => ({ n: 0 }));
  for (const r of ['success', 'failure']) reloads.get(r);
  const families: Array<() => Family> = [
    counterFamily('kproxy_requests_total', 'Requests by context, method, decision and status class.', ['cluster', 'method', 'decision', 'code'], requests),
    histogramFamily('kproxy_request_first_byte_seconds', 'Time from a request to the first byte of its response.', ttfb),
    counterFamily('kproxy_received_bytes_total', 'Bytes received from clients (request bodies, upgraded sessions).', ['cluster'], received),
    counterFamily('kproxy_sent_bytes_total', 'Bytes sent to clients (responses with their headers, upgraded sessions).', ['cluster'], sent),
    counterFamily('kproxy_open_streams', 'Open watches, log follows and upgraded sessions (exec, attach, port-forward).', ['cluster', 'kind'], open, 'gauge'),
    () => ({
      name: 'kproxy_upstream_connections',
      help: 'Open pooled connections to API servers by context and protocol.',
      type: 'gauge',
      values: src.connections().map((c) => ({ labels: { cluster: c.cluster, protocol: c.protocol }, value: c.count })),
    }),
    counterFamily('kproxy_credential_refreshes_total', 'Credentials obtained (exec plugin, OIDC, token file) by kind and result.', ['kind', 'result'], refreshes),
    counterFamily('kproxy_reloads_total', 'Configuration reloads by result.', ['result'], reloads),
  ];
  // The Registry formats (escapes, orders) what get() returns, as for its own metric classes.
  for (const f of families) {
    const first = f();
    registry.registerMetric({ name: first.name, help: first.help, type: first.type, get: async () => ({ ...f(), aggregator: 'sum' }) } as unknown as Prom.Metric);
  }

  /** What one context has besides its request counts, found with one lookup per request. */
  type PerCluster = { name: string; ttfb: Buckets; received: Count; sent: Count };
  const clusters = new Map<string, PerCluster>();
  const perCluster = (name: string): PerCluster => {
    let c = clusters.get(name);
    if (c === undefined) clusters.set(name, (c = { name, ttfb: ttfb.get(name), received: received.get(name), sent: sent.get(name) }));
    return c;
  };
  const clusterOf = (a: Admission): PerCluster => perCluster(a.cluster?.name ?? src.defaultCluster());
  installFirstByteHook();

  return {
    request(req, res, a) {
      const c = clusterOf(a);
      const socket = req.socket;
      const read0 = socket.bytesRead;
      const written0 = socket.bytesWritten;
      const kind = a.kind === 'forward' && req.method === 'GET' ? streamKind(req.method, req.url!) : undefined;
      if (kind) open.get(c.name, kind).n++;
      const t: Timing = { start: performance.now(), ttfb: c.ttfb };
      firstByte.set(res, t);
      res.once('close', () => {
        // Go-style bare answers are written on the socket, without writeHead.
        if (firstByte.delete(res)) observe(t);
        if (kind) open.get(c.name, kind).n--;
        requests.get(c.name, methodLabel(req.method), decisionLabel(a.verdict), statusClass(res.headersSent ? res.statusCode : 0)).n++;
        c.received.n += Math.max(0, socket.bytesRead - read0);
        c.sent.n += Math.max(0, socket.bytesWritten - written0);
      });
    },
    upgrade(req, socket, a, status) {
      // The time to an upgrade's first byte is the API server's 101, seen by upgrade.ts only.
      const c = clusterOf(a);
      const forwarded = a.kind === 'forward';
      if (forwarded) open.get(c.name, 'upgrade').n++;
      const s = req.socket;
      const read0 = s.bytesRead;
      socket.once('close', () => {
        if (forwarded) open.get(c.name, 'upgrade').n--;
        requests.get(c.name, methodLabel(req.method), decisionLabel(a.verdict), statusClass(status)).n++;
        c.received.n += Math.max(0, s.bytesRead - read0);
        c.sent.n += s.bytesWritten;
      });
    },
    credentialRefresh(kind, ok) {
      refreshes.get(kind, ok ? 'success' : 'failure').n++;
    },
    reload(ok) {
      reloads.get(ok ? 'success' : 'failure').n++;
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
