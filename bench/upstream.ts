// The benchmark's API server: a lean, Kubernetes-like HTTPS upstream, run as its own process
// (forked by bench/run.ts) so that it does not share an event loop with the load generator.
//
// It offers h2 and http/1.1 through ALPN on one port, as kube-apiserver does, with the HTTP/2
// settings kube-apiserver uses (250 concurrent streams, 256 KiB upload window per stream, a
// connection window of 256 KiB x 250) and its 90 s idle timeout for HTTP/1.1 connections, without
// a `Keep-Alive` hint (as Go). It keeps nothing per request beyond a few counters.
//
//   GET  /api/v1/namespaces/default/pods             a small PodList (one pod, about 1 KB)
//   GET  /api/v1/pods?bytes=N                         a PodList of exactly N bytes (cached)
//   GET  /api/v1/namespaces/default/pods?watch=true   a watch: one ADDED event at once, then
//                                                     MODIFIED events at the configured rate
//   POST /api/v1/namespaces/default/configmaps        reads the body, answers 201 with its size
//   GET  /version
//
// Every request must carry `Authorization: Bearer <token>` (401 otherwise). Bodies of 128 KiB or
// more are gzip-compressed (level 1, precomputed) when the request accepts gzip, as
// kube-apiserver does. Each watch event carries the moment it was written, as CLOCK_MONOTONIC
// nanoseconds (`process.hrtime.bigint()`, the same clock in every process on the machine), in
// the annotation `bench.kproxy.dev/emitted-ns`.
//
// Control is over the fork IPC channel: {id, cmd: 'stats' | 'set-rate', ...} -> {id, result}.

import { readFileSync } from 'node:fs';
import {
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { gzipSync } from 'node:zlib';

export interface UpstreamConfig {
  certFile: string;
  keyFile: string;
  token: string;
  /** Watch events per second, per open watch. */
  watchRate: number;
  /** Compress bodies >= 128 KiB when the client accepts gzip (kube-apiserver's behaviour). */
  gzip: boolean;
}

export interface UpstreamConnection {
  remotePort: number;
  alpn: string;
}

export interface UpstreamStats {
  /** Open TCP connections (before and after the TLS handshake). */
  tcpOpen: number;
  /** Open TLS connections with their negotiated protocol and peer port. */
  tls: UpstreamConnection[];
  /** Since start: TLS connections by ALPN protocol. */
  tlsTotal: Record<string, number>;
  h2SessionsOpen: number;
  h2StreamsOpen: number;
  watchesOpen: number;
  requests: number;
  eventsSent: number;
  /** Event-loop lag of the upstream itself, worst since the last `stats` (ms). */
  maxLagMs: number;
}

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

const GZIP_THRESHOLD = 128 * 1024;
const IDLE_TIMEOUT_MS = 90_000;
/** SETTINGS_MAX_CONCURRENT_STREAMS, as kube-apiserver. */
export const H2_STREAMS = 250;

// ---- bodies ---------------------------------------------------------------------------------

function podJson(i: number, rv: number): string {
  const name = `bench-pod-${i.toString(36)}-${(i * 7919).toString(16).padStart(5, '0')}`;
  const uid = `${(0x1000000 + i).toString(16)}-bench-4c5d-9e8f-${(i * 104729).toString(16).padStart(12, '0')}`;
  return (
    `{"metadata":{"name":"${name}","namespace":"default","uid":"${uid}","resourceVersion":"${rv}",` +
    `"creationTimestamp":"2026-01-01T00:00:00Z","labels":{"app":"bench","pod-template-hash":"${(i % 97).toString(16)}"},` +
    `"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"bench-${(i % 13).toString(36)}","uid":"${uid}","controller":true}]},` +
    `"spec":{"containers":[{"name":"app","image":"registry.example/bench/app:1.${i % 10}","ports":[{"containerPort":8080,"protocol":"TCP"}],` +
    `"resources":{"requests":{"cpu":"100m","memory":"64Mi"}},"imagePullPolicy":"IfNotPresent"}],"nodeName":"node-${i % 5}","restartPolicy":"Always"},` +
    `"status":{"phase":"Running","podIP":"10.0.${(i >> 8) & 255}.${i & 255}","startTime":"2026-01-01T00:00:01Z"}}`
  );
}

function podList(items: string[]): string {
  return `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"12345"},"items":[${items.join(',')}]}`;
}

/** A PodList of exactly `size` bytes: whole pods, then JSON whitespace. */
function sizedList(size: number): Buffer {
  const items: string[] = [];
  let len = podList([]).length;
  for (let i = 0; ; i++) {
    const p = podJson(i, 1000 + i);
    const add = p.length + (items.length > 0 ? 1 : 0);
    if (len + add > size) break;
    items.push(p);
    len += add;
  }
  const text = podList(items);
  const buf = Buffer.alloc(Math.max(size, text.length), 0x20);
  buf.write(text.slice(0, -1), 0, 'latin1');
  buf[buf.length - 1] = 0x7d; // '}' closes the list after the padding
  return buf;
}

interface Body {
  plain: Buffer;
  gzip?: Buffer;
}

const bodies = new Map<number, Body>();
function bodyOfSize(size: number, gzip: boolean): Body {
  let b = bodies.get(size);
  if (!b) {
    const plain = sizedList(size);
    b = { plain, gzip: gzip && size >= GZIP_THRESHOLD ? gzipSync(plain, { level: 1 }) : undefined };
    bodies.set(size, b);
  }
  return b;
}

const SMALL = Buffer.from(podList([podJson(1, 4242)]));
const VERSION = Buffer.from('{"major":"1","minor":"32","gitVersion":"v1.32.0-bench","platform":"linux/amd64"}');

// ---- server ---------------------------------------------------------------------------------

export function startUpstream(cfg: UpstreamConfig): Promise<{ port: number; stats: () => UpstreamStats; setRate: (r: number) => void }> {
  const expectedAuth = `Bearer ${cfg.token}`;
  let watchRate = cfg.watchRate;
  let requests = 0;
  let eventsSent = 0;
  let tcpOpen = 0;
  let h2SessionsOpen = 0;
  let h2StreamsOpen = 0;
  const tls = new Map<TLSSocket, UpstreamConnection>();
  const tlsTotal: Record<string, number> = {};
  let auditSeq = 0;

  const server = createSecureServer({
    cert: readFileSync(cfg.certFile),
    key: readFileSync(cfg.keyFile),
    allowHTTP1: true,
    // As k8s.io/apiserver's secure serving configures Go's http2.Server: MaxConcurrentStreams 250
    // (kube-apiserver's default), MaxUploadBufferPerStream and MaxReadFrameSize 256 KiB.
    settings: { maxConcurrentStreams: H2_STREAMS, initialWindowSize: 256 * 1024, maxFrameSize: 256 * 1024 },
    maxSessionMemory: 1024,
  });
  // HTTP/1.1 keep-alive as in Go's server: no `Keep-Alive: timeout=` hint (so clients use their
  // own idle timeout, as they would with kube-apiserver), and idle connections are closed after
  // 90 s (kube-apiserver's IdleTimeout). Node's own keep-alive timer would send the hint: off.
  (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = 0;

  server.on('connection', (s: Socket) => {
    tcpOpen++;
    s.once('close', () => tcpOpen--);
  });
  server.on('secureConnection', (s: TLSSocket) => {
    const alpn = s.alpnProtocol || 'none';
    if (alpn !== 'h2') {
      s.setTimeout(IDLE_TIMEOUT_MS);
      s.on('timeout', () => s.destroy());
    }
    tlsTotal[alpn] = (tlsTotal[alpn] ?? 0) + 1;
    tls.set(s, { remotePort: s.remotePort ?? 0, alpn });
    s.once('close', () => tls.delete(s));
  });
  server.on('session', (session: Http2Session) => {
    h2SessionsOpen++;
    // MaxUploadBufferPerConnection = MaxUploadBufferPerStream x MaxConcurrentStreams.
    session.setLocalWindowSize(256 * 1024 * H2_STREAMS);
    session.once('close', () => h2SessionsOpen--);
  });
  server.on('stream', (stream) => {
    h2StreamsOpen++;
    stream.once('close', () => h2StreamsOpen--);
  });

  // ---- watches: a flat array, events handed out round-robin at watchRate per watch ----
  const watches: Res[] = [];
  let next = 0;
  let due = 0;
  let lastTick = performance.now();
  let rv = 100000;
  const EV_HEAD = '","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"watched-';
  const EV_MID = '","namespace":"default","resourceVersion":"';
  const EV_MID2 = '","annotations":{"bench.kproxy.dev/emitted-ns":"';
  const EV_TAIL =
    '"}},"spec":{"containers":[{"name":"app","image":"registry.example/bench/app:1.0"}],"nodeName":"node-1"},' +
    '"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-01-01T00:00:05Z"}]}}}\n';
  function event(res: Res, i: number, type = 'MODIFIED'): void {
    const line = '{"type":"' + type + EV_HEAD + i + EV_MID + ++rv + EV_MID2 + process.hrtime.bigint() + EV_TAIL;
    (res as ServerResponse).write(line);
    eventsSent++;
  }
  const ticker = setInterval(() => {
    const now = performance.now();
    const n = watches.length;
    if (n === 0 || watchRate <= 0) {
      due = 0;
      lastTick = now;
      return;
    }
    due += ((now - lastTick) / 1000) * watchRate * n;
    lastTick = now;
    let k = Math.min(Math.floor(due), n);
    due -= Math.floor(due);
    while (k-- > 0) {
      if (next >= watches.length) next = 0;
      event(watches[next]!, next);
      next++;
    }
  }, 5);
  ticker.unref();

  let maxLag = 0;
  let lagPrev = performance.now();
  const lagTimer = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - lagPrev - 20);
    lagPrev = now;
  }, 20);
  lagTimer.unref();

  function headers(res: Res, status: number, len: number | undefined, extra?: Record<string, string>): void {
    const h: Record<string, string | number> = {
      'audit-id': `bench-${(++auditSeq).toString(16)}`,
      'cache-control': 'no-cache, private',
      'content-type': 'application/json',
      'x-kubernetes-pf-flowschema-uid': 'b6a5c9c2-8f0e-4d5b-bd1c-2b1f4b7b5c11',
      'x-kubernetes-pf-prioritylevel-uid': '0e6f1c1e-8c9b-4b55-8a57-4e3f7c2c1d22',
      ...extra,
    };
    if (len !== undefined) h['content-length'] = len;
    (res as ServerResponse).writeHead(status, h);
  }

  function send(res: Res, status: number, body: Buffer, extra?: Record<string, string>): void {
    headers(res, status, body.length, extra);
    (res as ServerResponse).end(body);
  }

  server.on('request', (req: Req, res: Res) => {
    requests++;
    if (req.httpVersionMajor === 1) {
      // The idle timer runs only between requests (a quiet watch is not idle).
      const sock = req.socket;
      sock.setTimeout(0);
      res.once('close', () => sock.setTimeout(IDLE_TIMEOUT_MS));
    }
    if (req.headers.authorization !== expectedAuth) {
      req.resume();
      send(res, 401, Buffer.from('{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}'));
      return;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    if (req.method === 'POST' || req.method === 'PUT') {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => send(res, 201, Buffer.from(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"upload"},"data":{"bytes":"${n}"}}`)));
      return;
    }
    if (path === '/api/v1/namespaces/default/pods') {
      if (/(?:^|&)watch=(?:1|true)(?:&|$)/.test(query)) {
        headers(res, 200, undefined);
        (res as ServerResponse).flushHeaders();
        const i = watches.length;
        event(res, i, 'ADDED');
        watches.push(res);
        res.once('close', () => {
          const at = watches.indexOf(res);
          if (at >= 0) {
            watches[at] = watches[watches.length - 1]!;
            watches.pop();
          }
        });
        return;
      }
      send(res, 200, SMALL);
      return;
    }
    if (path === '/api/v1/pods') {
      const m = /(?:^|&)bytes=(\d+)/.exec(query);
      const size = m ? Math.min(Number(m[1]), 256 * 1024 * 1024) : 1024 * 1024;
      const body = bodyOfSize(size, cfg.gzip);
      if (body.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
        send(res, 200, body.gzip, { 'content-encoding': 'gzip' });
      } else {
        send(res, 200, body.plain);
      }
      return;
    }
    if (path === '/version') {
      send(res, 200, VERSION);
      return;
    }
    send(res, 404, Buffer.from('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}'));
  });
  // Resets and protocol errors from aborted clients are expected in this benchmark.
  server.on('sessionError', () => {});
  server.on('tlsClientError', () => {});

  const stats = (): UpstreamStats => {
    const s: UpstreamStats = {
      tcpOpen,
      tls: [...tls.values()],
      tlsTotal: { ...tlsTotal },
      h2SessionsOpen,
      h2StreamsOpen,
      watchesOpen: watches.length,
      requests,
      eventsSent,
      maxLagMs: Math.round(maxLag * 10) / 10,
    };
    maxLag = 0;
    return s;
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : 0,
        stats,
        setRate: (r) => {
          watchRate = r;
        },
      });
    });
  });
}

// Warm the body cache for the sizes the benchmark asks for, so no request pays for building it.
export function prebuild(sizes: number[], gzip: boolean): void {
  for (const s of sizes) bodyOfSize(s, gzip);
}

// ---- child-process entry --------------------------------------------------------------------

interface Message {
  id: number;
  cmd: 'stats' | 'set-rate' | 'exit';
  rate?: number;
}

if (process.send && process.env['KPROXY_BENCH_UPSTREAM']) {
  const cfg = JSON.parse(process.env['KPROXY_BENCH_UPSTREAM']) as UpstreamConfig & { prebuild?: number[] };
  prebuild(cfg.prebuild ?? [], cfg.gzip);
  startUpstream(cfg).then(
    (up) => {
      process.on('message', (m: Message) => {
        if (m.cmd === 'stats') process.send!({ id: m.id, result: up.stats() });
        else if (m.cmd === 'set-rate') {
          up.setRate(m.rate ?? 0);
          process.send!({ id: m.id, result: true });
        } else if (m.cmd === 'exit') process.exit(0);
      });
      process.on('disconnect', () => process.exit(0));
      process.send!({ ready: true, port: up.port });
    },
    (err: Error) => {
      process.stderr.write(`upstream: ${err.message}\n`);
      process.exit(1);
    },
  );
}
