// Differential test: the real `kubectl proxy` (1.32) and kproxy, started with identical flags and
// the same kubeconfig, in front of ONE fake API server. Every row of the table is sent to kubectl
// first, then to kproxy, with `upstream.reset()` before each, so the upstream records of each proxy
// are its own. For every row we compare what the client got (status, reason, end-to-end headers,
// body, trailers) and what the API server got (method, raw target, body hash, headers).
//
// Rows where kproxy deliberately differs carry a `kproxy` field (a `Difference`) that asserts
// kproxy's own result. Differences discovered by this test and not (yet) decided carry a
// `knownDifference` field instead: it asserts kproxy's CURRENT behaviour, so a fix shows up as a
// failing row to update, and the summary lists them by name.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Readable } from 'node:stream';
import { after, before, describe, test, type TestContext } from 'node:test';
import { parseRawResponse, rawRequest, request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { findKubectl, kubectlMissing, startKproxy, startKubectlProxy, type Running } from './helpers/proc.js';
import { bigBody, bigSha256, GZIP_DOCUMENT, podList, startUpstream, type RecordedRequest, type Upstream } from './helpers/upstream.js';
import { closedPort } from './helpers/net.js';

// ---- configuration --------------------------------------------------------------------------

const TOKEN = 'tok-diff';
/** A second valid token, sent by the client itself to show that its Authorization wins. */
const CLIENT_TOKEN = 'tok-client';
const REQUEST_TIMEOUT_MS = 15_000;

/** client-go's default User-Agent for the real binary (`kubectl.1.32/v1.32.5 (linux/amd64) kubernetes/<commit>`). */
const KUBECTL_UA = /^kubectl(?:\.\d+\.\d+)?\/v1\.\d+\.\d+\S* \([a-z0-9]+\/[a-z0-9]+\) kubernetes\/[0-9a-f]+$/;
/** kproxy's default User-Agent (`kproxy/<ver> (linux/amd64)`). */
const KPROXY_UA = /^kproxy\/\S+ \([a-z0-9]+\/[a-z0-9]+\)$/;

// ---- what a row sends -----------------------------------------------------------------------

/** `{port}` in a string is replaced by the port of the proxy under test. */
type Templ = string;

interface HttpSend {
  kind: 'http';
  method?: string;
  /** Raw request-target (never normalised by the client). */
  path: Templ;
  /** Flat raw list [name, value, …] so duplicates and casing are kept. Host defaults to 127.0.0.1:{port}. */
  headers?: Templ[];
  /** A fresh body per send (a stream can only be sent once). */
  body?: () => Buffer | string | Readable;
}

interface RawSend {
  kind: 'raw';
  /** Bytes written on a fresh TCP connection (latin1). */
  bytes: Templ;
}

type Send = HttpSend | RawSend;

// ---- what a proxy did -----------------------------------------------------------------------

interface Observed {
  httpVersion: string;
  status: number;
  reason: string;
  /** Lower-case name → values in order. */
  headers: Record<string, string[]>;
  body: Buffer;
  trailers: Record<string, string[]>;
  /** What reached the API server for this request, in arrival order. */
  upstream: RecordedRequest[];
  /** The proxy's port, for normalising per-proxy data. */
  port: number;
}

/** The expected result of one proxy for a row (always asserted for kubectl; for kproxy on differing rows). */
interface Expect {
  status: number;
  /** Raw targets that reached the API server, in order ([] = nothing was forwarded). */
  upstream: string[];
  /** Exact body (after `{port}` substitution), or a pattern. */
  body?: string | RegExp;
  location?: string;
}

/** A row on which kproxy does not behave like kubectl. */
interface Difference {
  /** Why, with the observed values of both proxies. */
  why: string;
  /** kproxy's result. */
  expect: Expect;
  /** Removes the differing part from both comparable views; the rest must still be identical. Omit when the results differ as a whole. */
  mask?: (v: Comparable) => void;
  /** Further assertions on kproxy's result. */
  check?: (p: Observed) => void;
}

interface Row {
  name: string;
  send: Send;
  /** kubectl 1.32's result, pinned so that the table also documents the reference. */
  kubectl: Expect;
  /** Assertions on kubectl's result, and on kproxy's when the row has no difference field (run after the comparison). */
  check?: (o: Observed, who: 'kubectl' | 'kproxy') => void;
  /** Deliberate, documented difference (the README / reference says kproxy improves on kubectl here). */
  kproxy?: Difference;
  /** Unexpected difference found by this test; asserts kproxy's current behaviour so it stays visible. */
  knownDifference?: Difference;
  /** Compare status and the one-line text/plain shape of the body only (error wording may differ). */
  shapeOnly?: boolean;
}

interface Group {
  name: string;
  /** The API server both proxies talk to; default the fake upstream. */
  upstream?: (ctx: SuiteContext) => Recorder;
  /** Flags given to both proxies, after `--port=0 --kubeconfig <file>`. */
  flags: string[];
  /** Kubeconfig for this group; default: the shared token kubeconfig. */
  kubeconfig?: (ctx: SuiteContext) => Promise<string> | string;
  rows: Row[];
}

/** What a row needs from an API server: its port and the requests it recorded since `reset()`. */
interface Recorder {
  readonly port: number;
  readonly url: string;
  readonly requests: RecordedRequest[];
  reset(): void;
  close(): Promise<void>;
}

interface SuiteContext {
  pki: Pki;
  up: Upstream;
  /** Accepts any method token (Node's parser, and so the fake upstream, refuses `post` or `FOO`). */
  rawUp: Recorder;
  dir: TempDir;
  kubeconfig: string;
}

// ---- an API server that accepts any method ------------------------------------------------------

/**
 * A minimal HTTPS/1.1 server that records the raw request head and answers `200 ok`. Node's HTTP
 * parser (and so the fake upstream) answers 400 to a method it does not know, such as `post` or
 * `FOO`, so only this one can show what kubectl forwards then.
 */
async function startRawUpstream(pki: Pki): Promise<Recorder> {
  let requests: RecordedRequest[] = [];
  let seq = 0;
  const sockets = new Set<Socket>();
  const server = createTlsServer({ key: pki.server.key, cert: pki.server.cert }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method = '', target = '', version = ''] = lines[0]!.split(' ');
        const rawHeaders: string[] = [];
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':');
          rawHeaders.push(l.slice(0, c), l.slice(c + 1).trim());
        }
        const cl = Number(multimap(rawHeaders)['content-length']?.[0] ?? '0');
        if (buf.length < end + 4 + cl) return;
        const body = buf.subarray(end + 4, end + 4 + cl);
        buf = buf.subarray(end + 4 + cl);
        const q = target.indexOf('?');
        requests.push({
          seq: ++seq,
          method,
          target,
          path: q < 0 ? target : target.slice(0, q),
          query: q < 0 ? '' : target.slice(q + 1),
          httpVersion: version.replace('HTTP/', ''),
          rawHeaders,
          headers: {},
          identity: 'anonymous',
          credentials: [],
          clientCert: undefined,
          sni: undefined,
          alpn: undefined,
          tls: true,
          remoteAddress: sock.remoteAddress,
          remotePort: sock.remotePort,
          bodyLength: body.length,
          bodySha256: createHash('sha256').update(body).digest('hex'),
          bodyComplete: true,
          upgrade: false,
          aborted: false,
          cut: false,
          status: 200,
        });
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    reset() {
      requests = [];
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---- helpers for building rows ----------------------------------------------------------------

const sub = (s: Templ, port: number): string => s.replaceAll('{port}', String(port));

function http(method: string, path: Templ, headers?: Templ[], body?: () => Buffer | string | Readable): HttpSend {
  return { kind: 'http', method, path, headers, body };
}
const GET = (path: Templ, headers?: Templ[]): HttpSend => http('GET', path, headers);
const raw = (bytes: Templ): RawSend => ({ kind: 'raw', bytes });

/** A request forwarded unchanged and answered by the upstream. */
const fwd = (status: number, ...upstream: string[]): Expect => ({ status, upstream });
const FORBIDDEN: Expect = { status: 403, upstream: [], body: 'Forbidden\n' };
const NOT_FOUND: Expect = { status: 404, upstream: [], body: '404 page not found\n' };
const moved = (location: string, method = 'GET'): Expect => ({
  status: 301,
  upstream: [],
  location,
  body: method === 'GET' ? `<a href="${location.replaceAll('&', '&amp;')}">Moved Permanently</a>.\n\n` : '',
});

function header(o: Observed, name: string): string[] {
  return o.headers[name] ?? [];
}
function upHeader(r: RecordedRequest, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) if (r.rawHeaders[i]!.toLowerCase() === name) out.push(r.rawHeaders[i + 1]!);
  return out;
}
function onlyUpstream(o: Observed): RecordedRequest {
  assert.equal(o.upstream.length, 1, 'exactly one upstream request');
  return o.upstream[0]!;
}

// ---- masks for known differences ---------------------------------------------------------------

/** Removes request headers from what the upstream recorded, and from an upstream echo in the body. */
const maskUpstreamHeaders =
  (...names: string[]) =>
  (v: Comparable): void => {
    for (const u of v.upstream) for (const n of names) delete u.headers[n];
    const echo = v.body as { headers?: Record<string, string[]> } | null;
    if (typeof echo === 'object' && echo?.headers) for (const n of names) delete echo.headers[n];
  };
/** Node's server always answers `HTTP/1.1`; Go answers an HTTP/1.0 request with `HTTP/1.0`. */
const HTTP10_RESPONSE: Pick<Difference, 'why' | 'mask' | 'check'> = {
  why: 'kubectl answers an HTTP/1.0 request with an `HTTP/1.0 …` status line; kproxy (Node http.Server) answers `HTTP/1.1 …` (allowed by RFC 9110 §6.2, but not byte-identical)',
  mask: (v) => {
    v.httpVersion = '<1.x>';
  },
  check: (p) => assert.equal(p.httpVersion, '1.1'),
};

// ---- observing ------------------------------------------------------------------------------------

function multimap(rawHeaders: string[]): Record<string, string[]> {
  const m: Record<string, string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) (m[rawHeaders[i]!.toLowerCase()] ??= []).push(rawHeaders[i + 1]!);
  return m;
}

async function observe(proxy: Running, up: Recorder, send: Send): Promise<Observed> {
  up.reset();
  const port = proxy.port;
  let o: Omit<Observed, 'upstream' | 'port'>;
  if (send.kind === 'http') {
    const headers = (send.headers ?? []).map((h) => sub(h, port));
    const res = await request(
      { url: `http://127.0.0.1:${port}`, path: sub(send.path, port), hostHeader: `127.0.0.1:${port}` },
      { method: send.method ?? 'GET', headers, body: send.body?.(), timeoutMs: REQUEST_TIMEOUT_MS, allowIncomplete: true },
    );
    o = {
      httpVersion: res.httpVersion,
      status: res.status,
      reason: res.statusMessage,
      headers: multimap(res.rawHeaders),
      body: res.body,
      trailers: multimap(res.rawTrailers),
    };
    if (!res.complete) (o.headers['x-diff-incomplete'] ??= []).push(String(res.error?.message));
  } else {
    const bytes = sub(send.bytes, port);
    const got = await rawRequest('127.0.0.1', port, bytes, { timeoutMs: REQUEST_TIMEOUT_MS });
    const method = /^(\S+) /.exec(bytes)?.[1] ?? 'GET';
    const p = parseRawResponse(got, method);
    if (!p) throw new Error(`no parsable response to ${JSON.stringify(bytes)}: ${JSON.stringify(got.toString('latin1'))}`);
    const trailers: Record<string, string[]> = {};
    for (const [k, v] of p.trailers) (trailers[k.toLowerCase()] ??= []).push(v);
    o = { httpVersion: p.httpVersion, status: p.status, reason: p.reason, headers: p.headerMap, body: Buffer.from(p.body), trailers };
  }
  // The upstream records a request before it answers it, so once the response is complete the
  // records are too.
  return { ...o, upstream: up.requests.slice(), port };
}

// ---- comparing ---------------------------------------------------------------------------------------

/** Framing and connection management of the client-facing hop: Node and Go differ legitimately. */
const CLIENT_HOP_HEADERS = new Set(['date', 'connection', 'keep-alive']);

interface UpstreamView {
  method: string;
  target: string;
  httpVersion: string;
  bodyLength: number;
  bodySha256: string;
  bodyComplete: boolean;
  upgrade: boolean;
  headers: Record<string, string[]>;
}

interface Comparable {
  httpVersion: string;
  status: number;
  reason: string;
  headers: Record<string, string[]>;
  body: unknown;
  trailers: Record<string, string[]>;
  upstream: UpstreamView[];
}

/**
 * Request headers as the upstream saw them, with the two per-proxy values made comparable: the
 * default User-Agent (each proxy has its own; a client-sent one is kept verbatim) and undici's
 * `Connection: keep-alive` on the proxy→API-server hop (Go sends no Connection header; both mean
 * the same on HTTP/1.1, and the client's own Connection header never gets there).
 */
function upstreamHeaders(raw: string[]): Record<string, string[]> {
  const m = multimap(raw);
  if (m['user-agent']) m['user-agent'] = m['user-agent'].map((v) => (KUBECTL_UA.test(v) || KPROXY_UA.test(v) ? '<default-user-agent>' : v));
  if (m['connection']?.length === 1 && m['connection'][0]!.toLowerCase() === 'keep-alive') delete m['connection'];
  return sortKeys(m);
}

function sortKeys<T>(m: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function isEcho(v: unknown): v is { rawHeaders: string[]; headers: unknown } {
  return typeof v === 'object' && v !== null && Array.isArray((v as { rawHeaders?: unknown }).rawHeaders) && 'target' in v;
}

/** The body as text (proxy port normalised, upstream echo made comparable), or a hash for binary/large bodies. */
function comparableBody(o: Observed): { body: unknown; echo: boolean } {
  const b = o.body;
  const text = b.toString('utf8');
  if (b.length > 16_384 || !Buffer.from(text, 'utf8').equals(b)) {
    return { body: `<${b.length} bytes sha256:${createHash('sha256').update(b).digest('hex')}>`, echo: false };
  }
  if (text.startsWith('{')) {
    try {
      const v: unknown = JSON.parse(text);
      if (isEcho(v)) {
        const { rawHeaders, headers: _joined, ...rest } = v;
        return { body: { ...rest, headers: upstreamHeaders(rawHeaders) }, echo: true };
      }
    } catch {
      // not JSON: compared as text
    }
  }
  return { body: text.replaceAll(`:${o.port}`, ':{port}'), echo: false };
}

function comparable(o: Observed): Comparable {
  const { body, echo } = comparableBody(o);
  const headers: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(o.headers)) {
    if (CLIENT_HOP_HEADERS.has(k)) continue;
    // An echo carries each proxy's own User-Agent, so its length is per-proxy.
    headers[k] = echo && k === 'content-length' ? ['<echo length>'] : v.map((s) => s.replaceAll(`:${o.port}`, ':{port}'));
  }
  return {
    httpVersion: o.httpVersion,
    status: o.status,
    reason: o.reason,
    headers: sortKeys(headers),
    body,
    trailers: sortKeys(o.trailers),
    upstream: o.upstream.map((r) => ({
      method: r.method,
      target: r.target,
      httpVersion: r.httpVersion,
      bodyLength: r.bodyLength,
      bodySha256: r.bodySha256,
      bodyComplete: r.bodyComplete,
      upgrade: r.upgrade,
      headers: upstreamHeaders(r.rawHeaders),
    })),
  };
}

function assertExpect(o: Observed, e: Expect, who: string, upPort: number): void {
  const tag = `${who}: ${o.status} ${JSON.stringify(o.body.toString('utf8').slice(0, 200))}, upstream ${JSON.stringify(o.upstream.map((r) => r.target))}`;
  assert.equal(o.status, e.status, `${who} status (${tag})`);
  assert.deepEqual(
    o.upstream.map((r) => r.target),
    e.upstream,
    `${who} upstream targets (${tag})`,
  );
  for (const r of o.upstream) {
    assert.deepEqual(upHeader(r, 'host'), [`127.0.0.1:${upPort}`], `${who}: Host sent upstream must be the API server's host:port`);
  }
  if (e.body !== undefined) {
    const text = o.body.toString('utf8');
    if (typeof e.body === 'string') assert.equal(text, sub(e.body, o.port), `${who} body`);
    else assert.match(text, e.body, `${who} body`);
  }
  if (e.location !== undefined) assert.deepEqual(header(o, 'location'), [e.location], `${who} Location`);
}

/** One line of text/plain, as Go's http.Error writes it. */
function assertErrorShape(o: Observed, who: string): void {
  assert.equal(o.status, 500, `${who} status`);
  assert.deepEqual(header(o, 'content-type'), ['text/plain; charset=utf-8'], `${who} Content-Type`);
  assert.deepEqual(header(o, 'x-content-type-options'), ['nosniff'], `${who} nosniff`);
  assert.match(o.body.toString('utf8'), /^[^\n]+\n$/, `${who} body is one line`);
  assert.deepEqual(o.upstream, [], `${who}: nothing can reach a dead upstream`);
}

// ---- the summary ------------------------------------------------------------------------------------

interface Tally {
  rows: number;
  identical: number;
  deliberate: number;
  /** Compared by status and one-line shape only; `shapeSameBytes` of them turned out byte-identical. */
  shapeOnly: number;
  shapeSameBytes: number;
  unexpected: string[];
}
const tally = new Map<string, Tally>();
function tallyOf(group: string): Tally {
  let t = tally.get(group);
  if (!t) tally.set(group, (t = { rows: 0, identical: 0, deliberate: 0, shapeOnly: 0, shapeSameBytes: 0, unexpected: [] }));
  return t;
}
function count(group: string, row: Row): void {
  const t = tallyOf(group);
  t.rows++;
  if (row.knownDifference) t.unexpected.push(row.name);
  else if (row.kproxy) t.deliberate++;
  else if (row.shapeOnly) t.shapeOnly++;
  else t.identical++;
}

// ---- the table ------------------------------------------------------------------------------------

const EXEC = '/api/v1/namespaces/default/pods/foo/exec';
const json = (v: unknown) => () => JSON.stringify(v);
const CT_JSON = ['Content-Type', 'application/json'];
const MiB = 1 << 20;

/** Node's HTTP parser refuses methods it does not know (or lower-case ones) before kproxy sees them. */
const NODE_PARSER_400: Expect = { status: 400, upstream: [], body: /^400 Bad Request/ };

const defaultRows: Row[] = [
  // ordinary methods and bodies
  { name: 'GET /api/v1/pods', send: GET('/api/v1/pods'), kubectl: { ...fwd(200, '/api/v1/pods'), body: JSON.stringify(podList()) } },
  { name: 'GET namespaced list', send: GET('/api/v1/namespaces/default/pods'), kubectl: fwd(200, '/api/v1/namespaces/default/pods') },
  { name: 'GET /version', send: GET('/version'), kubectl: fwd(200, '/version') },
  { name: 'GET / (root)', send: GET('/'), kubectl: fwd(200, '/') },
  {
    name: 'HEAD /api/v1/pods',
    send: http('HEAD', '/api/v1/pods'),
    kubectl: { ...fwd(200, '/api/v1/pods'), body: '' },
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'accept-encoding'), []),
    knownDifference: {
      why: 'kubectl sends no Connection header upstream and keeps the connection; kproxy sends `Connection: close` on a HEAD (undici closes the pooled API-server connection after every HEAD, so the next request pays a new TLS handshake)',
      expect: { ...fwd(200, '/api/v1/pods'), body: '' },
      mask: maskUpstreamHeaders('connection'),
      check: (p) => assert.deepEqual(upHeader(onlyUpstream(p), 'connection'), ['close']),
    },
  },
  {
    name: 'GET with Range: no Accept-Encoding added',
    send: GET('/gzip', ['Range', 'bytes=0-9']),
    kubectl: { ...fwd(200, '/gzip'), body: JSON.stringify(GZIP_DOCUMENT) },
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'accept-encoding'), []),
  },
  {
    name: 'POST without a body (the client sends an empty chunked body)',
    send: http('POST', '/api/v1/namespaces/default/pods'),
    kubectl: fwd(200, '/api/v1/namespaces/default/pods'),
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'transfer-encoding'), ['chunked']),
    knownDifference: {
      why: 'the client sends `Transfer-Encoding: chunked` with an empty body: kubectl forwards it as `Transfer-Encoding: chunked` (empty); kproxy forwards `Content-Length: 0` (same empty body, different framing)',
      expect: fwd(200, '/api/v1/namespaces/default/pods'),
      mask: maskUpstreamHeaders('transfer-encoding', 'content-length'),
      check: (p) => {
        assert.deepEqual(upHeader(onlyUpstream(p), 'content-length'), ['0']);
        assert.deepEqual(upHeader(onlyUpstream(p), 'transfer-encoding'), []);
      },
    },
  },
  { name: 'POST JSON body', send: http('POST', '/api/v1/namespaces/default/pods', CT_JSON, json({ kind: 'Pod', metadata: { name: 'p' } })), kubectl: fwd(200, '/api/v1/namespaces/default/pods') },
  { name: 'PUT JSON body', send: http('PUT', '/api/v1/namespaces/default/pods/foo', CT_JSON, json({ kind: 'Pod', metadata: { name: 'foo' } })), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo') },
  {
    name: 'PATCH merge-patch body',
    send: http('PATCH', '/api/v1/namespaces/default/pods/foo', ['Content-Type', 'application/merge-patch+json'], json({ metadata: { labels: { a: 'b' } } })),
    kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo'),
  },
  { name: 'DELETE without body', send: http('DELETE', '/api/v1/namespaces/default/pods/foo'), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo') },
  {
    name: 'DELETE with DeleteOptions body',
    send: http('DELETE', '/api/v1/namespaces/default/pods/foo', CT_JSON, json({ kind: 'DeleteOptions', gracePeriodSeconds: 0 })),
    kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo'),
  },
  { name: 'POST with Content-Length: 0', send: http('POST', '/api/v1/namespaces/default/pods', ['Content-Length', '0']), kubectl: fwd(200, '/api/v1/namespaces/default/pods') },
  { name: 'OPTIONS /api/v1/pods (forwarded)', send: http('OPTIONS', '/api/v1/pods'), kubectl: fwd(200, '/api/v1/pods') },
  {
    name: 'POST 1 MiB upload (Content-Length)',
    send: http('POST', '/upload', ['Content-Type', 'application/octet-stream'], () => bigBody(MiB)),
    kubectl: { ...fwd(200, '/upload'), body: JSON.stringify({ bodyLength: MiB, bodySha256: bigSha256(MiB) }) },
  },
  {
    name: 'PUT 300 KB upload (chunked)',
    send: http('PUT', '/upload', ['Content-Type', 'application/octet-stream'], () => Readable.from([bigBody(300_000)])),
    kubectl: { ...fwd(200, '/upload'), body: JSON.stringify({ bodyLength: 300_000, bodySha256: bigSha256(300_000) }) },
  },
  {
    name: 'GET /big 3 MB download (Content-Length)',
    send: GET('/big?size=3000000'),
    kubectl: fwd(200, '/big?size=3000000'),
    check: (o) => assert.ok(o.body.equals(bigBody(3_000_000)), 'body is /big byte for byte'),
  },
  {
    name: 'GET /big 500 KB download (chunked upstream)',
    send: GET('/big?size=500000&chunked=1'),
    kubectl: fwd(200, '/big?size=500000&chunked=1'),
    check: (o) => assert.ok(o.body.equals(bigBody(500_000)), 'body is /big byte for byte'),
  },

  // the default reject list
  { name: 'exec → 403', send: GET(`${EXEC}?command=ls&stdout=true`), kubectl: FORBIDDEN },
  { name: 'attach → 403', send: http('POST', '/api/v1/namespaces/default/pods/foo/attach?stdin=true'), kubectl: FORBIDDEN },
  { name: 'pod named attachfoo (accepted)', send: GET('/api/v1/namespaces/default/pods/attachfoo'), kubectl: fwd(200, '/api/v1/namespaces/default/pods/attachfoo') },
  { name: 'pod named execfoo (accepted)', send: GET('/api/v1/namespaces/default/pods/execfoo'), kubectl: fwd(200, '/api/v1/namespaces/default/pods/execfoo') },
  { name: 'portforward (accepted)', send: GET('/api/v1/namespaces/default/pods/foo/portforward?ports=80'), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo/portforward?ports=80') },
  {
    name: 'nodes/<n>/proxy kubelet exec path with query (accepted)',
    send: GET('/api/v1/nodes/node-1/proxy/exec/default/foo/main?command=ls&command=-l'),
    kubectl: fwd(200, '/api/v1/nodes/node-1/proxy/exec/default/foo/main?command=ls&command=-l'),
  },
  {
    name: 'services/<s>/proxy path with query',
    send: GET('/api/v1/namespaces/default/services/https:web:443/proxy/ui/?tab=a%2Fb&x=1'),
    kubectl: fwd(200, '/api/v1/namespaces/default/services/https:web:443/proxy/ui/?tab=a%2Fb&x=1'),
  },
  { name: 'ephemeralcontainers (accepted)', send: http('PATCH', '/api/v1/namespaces/default/pods/foo/ephemeralcontainers', ['Content-Type', 'application/strategic-merge-patch+json'], json({})), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo/ephemeralcontainers') },

  // Host variants
  { name: 'Host: localhost', send: GET('/api/v1/pods', ['Host', 'localhost']), kubectl: fwd(200, '/api/v1/pods') },
  { name: 'Host: localhost:port', send: GET('/api/v1/pods', ['Host', 'localhost:{port}']), kubectl: fwd(200, '/api/v1/pods') },
  { name: 'Host: 127.0.0.1:port', send: GET('/api/v1/pods', ['Host', '127.0.0.1:{port}']), kubectl: fwd(200, '/api/v1/pods') },
  { name: 'Host: evil.com', send: GET('/api/v1/pods', ['Host', 'evil.com']), kubectl: FORBIDDEN },
  { name: 'Host: localhost.evil.com', send: GET('/api/v1/pods', ['Host', 'localhost.evil.com']), kubectl: FORBIDDEN },
  { name: 'Host: LOCALHOST (case-sensitive)', send: GET('/api/v1/pods', ['Host', 'LOCALHOST']), kubectl: FORBIDDEN },
  { name: 'Host: localhost.:port (trailing dot)', send: GET('/api/v1/pods', ['Host', 'localhost.:{port}']), kubectl: FORBIDDEN },
  { name: 'Host: [::1]', send: GET('/api/v1/pods', ['Host', '[::1]']), kubectl: fwd(200, '/api/v1/pods') },
  {
    name: 'Host: [::1]:port',
    send: GET('/api/v1/pods', ['Host', '[::1]:{port}']),
    kubectl: FORBIDDEN,
    kproxy: {
      why: 'kubernetes#77496: kubectl strips the brackets before matching ^\\[::1\\]$, so an IPv6 Host with a port is always rejected; kproxy matches it with and without brackets',
      expect: fwd(200, '/api/v1/pods'),
    },
  },

  // ServeMux cleaning and the decoded path the filter sees
  { name: '//api/v1/pods → 301', send: GET('//api/v1/pods'), kubectl: moved('/api/v1/pods') },
  { name: '/api/v1/./pods?x=1 → 301 (query kept)', send: GET('/api/v1/./pods?x=1'), kubectl: moved('/api/v1/pods?x=1') },
  { name: '/apis/../api/…/exec → 301', send: GET(`/apis/../api/v1/namespaces/default/pods/foo/exec`), kubectl: moved(EXEC) },
  { name: 'POST //api/v1/pods → 301 without body', send: http('POST', '//api/v1/pods', CT_JSON, json({})), kubectl: moved('/api/v1/pods', 'POST') },
  { name: 'pods/foo%2Fexec → 403', send: GET('/api/v1/namespaces/default/pods/foo%2Fexec'), kubectl: FORBIDDEN },
  { name: 'pods/foo/ex%65c → 403', send: GET('/api/v1/namespaces/default/pods/foo/ex%65c'), kubectl: FORBIDDEN },
  { name: '/%61pi/…/exec → 403', send: GET('/%61pi/v1/namespaces/default/pods/foo/exec'), kubectl: FORBIDDEN },
  {
    name: '/apis/%2e%2e/api/…/exec',
    send: GET('/apis/%2e%2e/api/v1/namespaces/default/pods/foo/exec'),
    kubectl: fwd(200, '/apis/%2e%2e/api/v1/namespaces/default/pods/foo/exec'),
    kproxy: {
      why: 'kubectl ≥1.30 (Go ≥1.22 ServeMux) does not clean %2e%2e, the filter sees /apis/../api/…/exec and lets it through (golang/go#70130); kproxy answers 400 and forwards nothing',
      expect: { status: 400, upstream: [] },
    },
  },
  { name: 'a%20b in the path (raw target upstream)', send: GET('/api/v1/namespaces/a%20b/pods'), kubectl: fwd(200, '/api/v1/namespaces/a%20b/pods') },
  { name: 'backslash in the path (re-escaped %5C)', send: GET('/api/v1/namespaces/a\\b/pods'), kubectl: fwd(200, '/api/v1/namespaces/a%5Cb/pods') },
  { name: '%2F kept in the path', send: GET('/api/v1/namespaces/a%2Fb/pods'), kubectl: fwd(200, '/api/v1/namespaces/a%2Fb/pods') },
  {
    name: 'byte-exact query',
    send: GET('/api/v1/pods?labelSelector=app%3Dweb%2Ctier!%3Dfe&fieldSelector=a=b&x=%2F&y=a+b&z=%C3%A9&empty=&flag&dup=1&dup=2'),
    kubectl: fwd(200, '/api/v1/pods?labelSelector=app%3Dweb%2Ctier!%3Dfe&fieldSelector=a=b&x=%2F&y=a+b&z=%C3%A9&empty=&flag&dup=1&dup=2'),
  },
  { name: 'query with ; and a bad escape', send: GET('/api/v1/pods?b=2;a=1&c=%zz'), kubectl: fwd(200, '/api/v1/pods?b=2;a=1&c=%zz') },
  { name: 'empty query /api/v1/pods? (the ? is kept)', send: GET('/api/v1/pods?'), kubectl: fwd(200, '/api/v1/pods?') },

  // request forms node:http will not send
  {
    name: 'absolute-form target wins over Host: evil.com',
    send: raw('GET http://localhost:{port}/api/v1/pods?x=1 HTTP/1.1\r\nHost: evil.com\r\n\r\n'),
    kubectl: fwd(200, '/api/v1/pods?x=1'),
  },
  { name: 'absolute-form evil authority, Host: localhost', send: raw('GET http://evil.com/api/v1/pods HTTP/1.1\r\nHost: localhost\r\n\r\n'), kubectl: FORBIDDEN },
  {
    name: 'HTTP/1.0 without Host → 403',
    send: raw('GET /api/v1/pods HTTP/1.0\r\n\r\n'),
    kubectl: FORBIDDEN,
    knownDifference: { ...HTTP10_RESPONSE, expect: FORBIDDEN },
  },
  {
    name: 'HTTP/1.0 with Host: localhost',
    send: raw('GET /api/v1/pods HTTP/1.0\r\nHost: localhost\r\n\r\n'),
    kubectl: fwd(200, '/api/v1/pods'),
    knownDifference: { ...HTTP10_RESPONSE, expect: fwd(200, '/api/v1/pods') },
  },
  {
    name: 'HTTP/1.1 without Host → 400',
    send: raw('GET /api/v1/pods HTTP/1.1\r\n\r\n'),
    kubectl: { status: 400, upstream: [], body: '400 Bad Request: missing required Host header' },
    check: (o, who) => who === 'kubectl' && assert.equal(o.reason, 'Bad Request: missing required Host header'),
  },
  {
    name: 'duplicate Host → 400',
    send: raw('GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n'),
    kubectl: { status: 400, upstream: [], body: '400 Bad Request' },
  },
  {
    name: 'empty Host on HTTP/1.1',
    send: raw('GET /api/v1/pods HTTP/1.1\r\nHost:\r\n\r\n'),
    kubectl: FORBIDDEN,
  },
  { name: 'OPTIONS * → 200 locally', send: raw('OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n'), kubectl: { status: 200, upstream: [], body: '' } },
  { name: 'target without leading slash → 400', send: raw('GET api/v1/pods HTTP/1.1\r\nHost: localhost\r\n\r\n'), kubectl: { status: 400, upstream: [] } },
  { name: 'CONNECT → 301 to /', send: raw('CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n'), kubectl: { status: 301, upstream: [], location: '/' } },

  // responses
  { name: '/status/404 relayed', send: GET('/status/404'), kubectl: { ...fwd(404, '/status/404'), body: 'status 404\n' } },
  { name: '/status/500 relayed', send: GET('/status/500'), kubectl: { ...fwd(500, '/status/500'), body: 'status 500\n' } },
  { name: '/status/204 relayed', send: GET('/status/204'), kubectl: { ...fwd(204, '/status/204'), body: '' } },
  { name: '/redirect: Location unchanged, not followed', send: GET('/redirect'), kubectl: { ...fwd(302, '/redirect'), body: 'found\n' }, check: (o) => assert.match(header(o, 'location')[0] ?? '', /^https:\/\/127\.0\.0\.1:\d+\/api\/v1\/elsewhere$/) },
  {
    name: '/hop: hop-by-hop response headers dropped, 2×Set-Cookie and 2×Warning kept',
    send: GET('/hop'),
    kubectl: fwd(200, '/hop'),
    check: (o) => {
      assert.deepEqual(header(o, 'x-custom'), [], 'Connection-listed X-Custom dropped');
      assert.ok(!header(o, 'keep-alive').includes('timeout=5'), "upstream's Keep-Alive dropped");
      assert.ok(!header(o, 'connection').includes('x-custom'), "upstream's Connection dropped");
      assert.deepEqual(header(o, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/']);
      assert.equal(header(o, 'warning').length, 2);
    },
  },
  {
    name: '/cors: CORS headers passed through',
    send: GET('/cors', ['Origin', 'http://evil.example']),
    kubectl: fwd(200, '/cors'),
    check: (o) => {
      assert.deepEqual(header(o, 'access-control-allow-origin'), ['*']);
      assert.deepEqual(upHeader(onlyUpstream(o), 'origin'), ['http://evil.example']);
    },
  },
  {
    name: '/trailers: response trailer relayed',
    send: GET('/trailers'),
    kubectl: { ...fwd(200, '/trailers'), body: 'body with a trailer\n' },
    check: (o, who) => who === 'kubectl' && assert.equal(o.trailers['x-body-sha256']?.length, 1),
  },

  // request headers
  {
    name: 'Connection: x-foo + X-Foo → X-Foo not forwarded',
    send: GET('/api/v1/pods', ['Connection', 'x-foo', 'X-Foo', 'bar', 'X-Bar', 'kept']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => {
      const r = onlyUpstream(o);
      assert.deepEqual(upHeader(r, 'x-foo'), []);
      assert.deepEqual(upHeader(r, 'x-bar'), ['kept']);
    },
  },
  {
    name: 'hop-by-hop request headers dropped (Keep-Alive, Proxy-*, Te: gzip, Trailer, Upgrade)',
    send: raw(
      'GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\nTe: gzip\r\nTrailer: X-T\r\nUpgrade: foo/1\r\nX-Kept: 1\r\n\r\n',
    ),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => {
      const r = onlyUpstream(o);
      for (const h of ['keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'upgrade']) assert.deepEqual(upHeader(r, h), [], h);
    },
  },
  { name: 'Te: trailers kept', send: GET('/api/v1/pods', ['Te', 'trailers']), kubectl: fwd(200, '/api/v1/pods'), check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'te'), ['trailers']) },
  {
    name: 'X-Forwarded-For: 1.2.3.4 → appended',
    send: GET('/api/v1/pods', ['X-Forwarded-For', '1.2.3.4']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'x-forwarded-for'), ['1.2.3.4, 127.0.0.1']),
  },
  {
    name: 'two X-Forwarded-For lines → joined and appended',
    send: GET('/api/v1/pods', ['X-Forwarded-For', '1.2.3.4', 'X-Forwarded-For', '5.6.7.8']),
    kubectl: fwd(200, '/api/v1/pods'),
  },
  {
    name: 'no client X-Forwarded-For → 127.0.0.1; XFH/XFP/Forwarded/Cookie/Referer passed through',
    send: GET('/api/v1/pods', ['X-Forwarded-Host', 'a.example', 'X-Forwarded-Proto', 'https', 'Forwarded', 'for=9.9.9.9', 'Cookie', 'c=1', 'Referer', 'http://r.example/']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'x-forwarded-for'), ['127.0.0.1']),
  },
  {
    name: 'client Authorization forwarded instead of the token',
    send: GET('/api/v1/pods', ['Authorization', `Bearer ${CLIENT_TOKEN}`]),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'authorization'), [`Bearer ${CLIENT_TOKEN}`]),
  },
  {
    name: 'client Authorization with a bad token → upstream 401 relayed',
    send: GET('/api/v1/pods', ['Authorization', 'Bearer wrong']),
    kubectl: fwd(401, '/api/v1/pods'),
  },
  {
    name: 'no client Authorization → kubeconfig token',
    send: GET('/api/v1/pods'),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'authorization'), [`Bearer ${TOKEN}`]),
  },
  {
    name: 'client Impersonate-User/Group passed through (no --as)',
    send: GET('/api/v1/pods', ['Impersonate-User', 'bob', 'Impersonate-Group', 'admins', 'Impersonate-Extra-Scopes', 'x']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'impersonate-user'), ['bob']),
  },
  {
    name: '/gzip without client Accept-Encoding → requested and decoded',
    send: GET('/gzip'),
    kubectl: { ...fwd(200, '/gzip'), body: JSON.stringify(GZIP_DOCUMENT) },
    check: (o) => {
      assert.deepEqual(upHeader(onlyUpstream(o), 'accept-encoding'), ['gzip']);
      assert.deepEqual(header(o, 'content-encoding'), []);
    },
  },
  {
    name: '/gzip with client Accept-Encoding: gzip → passed through compressed',
    send: GET('/gzip', ['Accept-Encoding', 'gzip']),
    kubectl: fwd(200, '/gzip'),
    check: (o) => assert.deepEqual(header(o, 'content-encoding'), ['gzip']),
  },
  {
    name: '/gzip with client Accept-Encoding: identity → not compressed',
    send: GET('/gzip', ['Accept-Encoding', 'identity']),
    kubectl: { ...fwd(200, '/gzip'), body: JSON.stringify(GZIP_DOCUMENT) },
  },
  {
    name: 'client User-Agent kept',
    send: GET('/api/v1/pods', ['User-Agent', 'diff-client/1.0']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'user-agent'), ['diff-client/1.0']),
  },
  {
    name: 'no client User-Agent → each proxy sends its own',
    send: GET('/api/v1/pods'),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o, who) => assert.match(upHeader(onlyUpstream(o), 'user-agent')[0] ?? '', who === 'kubectl' ? KUBECTL_UA : KPROXY_UA),
  },
  {
    name: 'Expect: 100-continue POST',
    send: http('POST', '/upload', ['Expect', '100-continue', 'Content-Type', 'application/octet-stream'], () => bigBody(70_000)),
    kubectl: { ...fwd(200, '/upload'), body: JSON.stringify({ bodyLength: 70_000, bodySha256: bigSha256(70_000) }) },
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'expect'), ['100-continue']),
    knownDifference: {
      why: 'kubectl forwards `Expect: 100-continue` to the API server; kproxy drops it (the body is forwarded intact either way)',
      expect: { ...fwd(200, '/upload'), body: JSON.stringify({ bodyLength: 70_000, bodySha256: bigSha256(70_000) }) },
      mask: maskUpstreamHeaders('expect'),
      check: (p) => assert.deepEqual(upHeader(onlyUpstream(p), 'expect'), []),
    },
  },
  {
    name: 'Connection: close from the client is not forwarded',
    send: GET('/api/v1/pods', ['Connection', 'close']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.ok(!upHeader(onlyUpstream(o), 'connection').includes('close'), "the client's Connection: close is not forwarded"),
  },

  // upgrades (raw bytes: the proxy hands the connection over)
  {
    name: 'WebSocket upgrade on portforward → 101 relayed',
    send: raw(
      'GET /api/v1/namespaces/default/pods/foo/portforward?ports=80 HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n',
    ),
    kubectl: fwd(101, '/api/v1/namespaces/default/pods/foo/portforward?ports=80'),
    check: (o) => {
      assert.match(header(o, 'connection').join(', '), /upgrade/i);
      assert.deepEqual(header(o, 'sec-websocket-accept'), ['s3pPLMBiTxaQ9kYGzzhZRbK+xOo=']);
      assert.equal(onlyUpstream(o).upgrade, true);
    },
  },
  {
    name: 'SPDY upgrade answered 403 upstream → relayed',
    send: raw('POST /upgrade/status/403 HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n'),
    kubectl: { ...fwd(403, '/upgrade/status/403'), body: 'denied\n' },
  },
  {
    name: 'WebSocket upgrade on exec → 403 (filter first)',
    send: raw(`GET ${EXEC}?command=sh HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    kubectl: FORBIDDEN,
  },
  {
    name: 'h2c upgrade answered 200 upstream → 500',
    send: raw('GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n'),
    kubectl: { status: 500, upstream: ['/api/v1/pods'], body: 'invalid upgrade response: status code 200\n' },
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'http2-settings'), ['AAMAAABkAAQCAAAAAAIAAAAA']),
    knownDifference: {
      why: 'on the upgrade path kubectl forwards the client headers verbatim (`Connection: Upgrade, HTTP2-Settings` and `HTTP2-Settings: …`); kproxy removes Connection-listed headers there too and sends `Connection: Upgrade` without HTTP2-Settings (reference §7 row 18 suggests this is intended: "do it on the upgrade path too")',
      expect: { status: 500, upstream: ['/api/v1/pods'], body: 'invalid upgrade response: status code 200\n' },
      mask: maskUpstreamHeaders('connection', 'http2-settings'),
      check: (p) => {
        assert.deepEqual(upHeader(onlyUpstream(p), 'http2-settings'), []);
        assert.deepEqual(upHeader(onlyUpstream(p), 'connection'), ['Upgrade']);
      },
    },
  },
  {
    name: 'WebSocket upgrade with Connection: Upgrade, X-Foo + X-Foo',
    send: raw(
      'GET /api/v1/namespaces/default/pods/foo/portforward HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, X-Foo\r\nX-Foo: bar\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    ),
    kubectl: fwd(101, '/api/v1/namespaces/default/pods/foo/portforward'),
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'x-foo'), ['bar']),
    knownDifference: {
      why: 'on the upgrade path kubectl forwards the client headers verbatim (`Connection: Upgrade, X-Foo` and `X-Foo: bar` reach the API server); kproxy drops X-Foo and sends `Connection: Upgrade` (reference §7 row 18 suggests this is intended)',
      expect: fwd(101, '/api/v1/namespaces/default/pods/foo/portforward'),
      mask: maskUpstreamHeaders('connection', 'x-foo'),
      check: (p) => {
        assert.deepEqual(upHeader(onlyUpstream(p), 'x-foo'), []);
        assert.deepEqual(upHeader(onlyUpstream(p), 'connection'), ['Upgrade']);
      },
    },
  },
  {
    name: 'Content-Type, Accept and custom headers passed through (casing and repeats)',
    send: GET('/api/v1/pods', ['Accept', 'application/json;as=Table;v=v1;g=meta.k8s.io', 'x-lower', 'a', 'X-Multi', '1', 'X-Multi', '2']),
    kubectl: fwd(200, '/api/v1/pods'),
  },
];

const rejectMethodRows: Row[] = [
  { name: 'GET allowed', send: GET('/api/v1/pods'), kubectl: fwd(200, '/api/v1/pods') },
  { name: 'POST rejected', send: http('POST', '/api/v1/namespaces/default/pods', CT_JSON, json({})), kubectl: FORBIDDEN },
  { name: 'PUT rejected', send: http('PUT', '/api/v1/namespaces/default/pods/foo', CT_JSON, json({})), kubectl: FORBIDDEN },
  { name: 'PATCH allowed', send: http('PATCH', '/api/v1/namespaces/default/pods/foo', ['Content-Type', 'application/merge-patch+json'], json({})), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo') },
  { name: 'DELETE allowed', send: http('DELETE', '/api/v1/namespaces/default/pods/foo'), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo') },
];

/** Against the raw upstream, which answers `ok\n` to any method. */
const anyMethodRows: Row[] = [
  { name: 'GET allowed', send: GET('/api/v1/pods'), kubectl: { ...fwd(200, '/api/v1/pods'), body: 'ok\n' } },
  { name: 'POST rejected', send: http('POST', '/api/v1/namespaces/default/pods', CT_JSON, json({})), kubectl: FORBIDDEN },
  {
    name: 'lower-case method post',
    send: raw('post /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}'),
    kubectl: { ...fwd(200, '/api/v1/namespaces/default/pods'), body: 'ok\n' },
    check: (o, who) => who === 'kubectl' && assert.equal(onlyUpstream(o).method, 'post'),
    kproxy: {
      why: "kubectl's regex is case-sensitive and Go keeps the method case, so `post` bypasses --reject-methods=POST and reaches the API server as `post`; Node's HTTP parser refuses the lower-case method with 400 before kproxy, so nothing reaches the upstream",
      expect: NODE_PARSER_400,
    },
  },
  {
    name: 'unknown method FOO',
    send: raw('FOO /api/v1/pods HTTP/1.1\r\nHost: localhost\r\n\r\n'),
    kubectl: { ...fwd(200, '/api/v1/pods'), body: 'ok\n' },
    check: (o, who) => who === 'kubectl' && assert.equal(onlyUpstream(o).method, 'FOO'),
    knownDifference: {
      why: 'kubectl forwards any method token (`FOO /api/v1/pods` reaches the API server, 200); Node\'s HTTP parser refuses methods it does not know, so kproxy answers `400 Bad Request` and forwards nothing (same cause as lower-case `post`)',
      expect: NODE_PARSER_400,
    },
  },
  {
    name: 'PROPFIND without a body (a method Node knows) forwarded',
    send: raw('PROPFIND /api/v1/pods HTTP/1.1\r\nHost: localhost\r\n\r\n'),
    kubectl: { ...fwd(200, '/api/v1/pods'), body: 'ok\n' },
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'content-length'), []),
    knownDifference: {
      why: 'a bodiless PROPFIND (no Content-Length from the client): kubectl forwards it without Content-Length; kproxy adds `Content-Length: 0` (undici adds it to a bodiless request whose method may carry a payload, as it does for POST)',
      expect: { ...fwd(200, '/api/v1/pods'), body: 'ok\n' },
      mask: maskUpstreamHeaders('content-length'),
      check: (p) => assert.deepEqual(upHeader(onlyUpstream(p), 'content-length'), ['0']),
    },
  },
];

const customPrefixRows: Row[] = [
  { name: '/custom/api/v1/pods → /api/v1/pods', send: GET('/custom/api/v1/pods'), kubectl: fwd(200, '/api/v1/pods') },
  { name: '/custom/ → /', send: GET('/custom/'), kubectl: fwd(200, '/') },
  { name: '/custom → 301 /custom/', send: GET('/custom'), kubectl: moved('/custom/') },
  { name: '/api/v1/pods outside the prefix → 404', send: GET('/api/v1/pods'), kubectl: NOT_FOUND },
  { name: '/customapi/v1/pods → 404', send: GET('/customapi/v1/pods'), kubectl: NOT_FOUND },
  { name: '/custom/…/exec → 403 (filter sees the stripped path)', send: GET(`/custom${EXEC}`), kubectl: FORBIDDEN },
  { name: '/custom query and %20 kept', send: GET('/custom/api/v1/namespaces/a%20b/pods?x=%2F&y=1'), kubectl: fwd(200, '/api/v1/namespaces/a%20b/pods?x=%2F&y=1') },
  {
    name: '/custom/…/a%2Fb/… in the stripped path',
    send: GET('/custom/api/v1/namespaces/a%2Fb/pods'),
    kubectl: fwd(200, '/api/v1/namespaces/a/b/pods'),
    kproxy: {
      why: 'kubectl rewrites URL.Path after stripping the prefix, which drops RawPath, so %2F is decoded to a real / upstream (kubernetes#14193); kproxy forwards the bytes the client sent',
      expect: fwd(200, '/api/v1/namespaces/a%2Fb/pods'),
    },
  },
];

const apiPrefixRows: Row[] = [
  { name: '/api/v1/pods forwarded unstripped', send: GET('/api/v1/pods'), kubectl: fwd(200, '/api/v1/pods') },
  { name: '/apis/apps/v1 → 404', send: GET('/apis/apps/v1'), kubectl: NOT_FOUND },
  { name: '/api → 301 /api/', send: GET('/api'), kubectl: moved('/api/') },
  { name: '/api/…/exec → 403', send: GET(EXEC), kubectl: FORBIDDEN },
  { name: '/api/v1/namespaces/a%2Fb/pods kept raw', send: GET('/api/v1/namespaces/a%2Fb/pods'), kubectl: fwd(200, '/api/v1/namespaces/a%2Fb/pods') },
];

const acceptPathRows: Row[] = [
  { name: 'default namespace accepted', send: GET('/api/v1/namespaces/default/pods'), kubectl: fwd(200, '/api/v1/namespaces/default/pods') },
  { name: '/api/v1/pods rejected', send: GET('/api/v1/pods'), kubectl: FORBIDDEN },
  { name: 'kube-system rejected', send: GET('/api/v1/namespaces/kube-system/pods'), kubectl: FORBIDDEN },
  { name: 'default/…/exec still rejected by --reject-paths', send: GET(EXEC), kubectl: FORBIDDEN },
  {
    name: 'default/%2e%2e/kube-system/secrets',
    send: GET('/api/v1/namespaces/default/%2e%2e/kube-system/secrets'),
    kubectl: fwd(200, '/api/v1/namespaces/default/%2e%2e/kube-system/secrets'),
    kproxy: {
      why: 'kubectl ≥1.30 does not clean %2e%2e, so the accept prefix matches and the request escapes the namespace; kproxy answers 400 and forwards nothing',
      expect: { status: 400, upstream: [] },
    },
  },
];

const trailingCommaRows: Row[] = [
  { name: '/api/v1/pods rejected (empty piece matches all)', send: GET('/api/v1/pods'), kubectl: FORBIDDEN },
  { name: '/version rejected', send: GET('/version'), kubectl: FORBIDDEN },
  { name: '/ rejected', send: GET('/'), kubectl: FORBIDDEN },
  { name: '/api/v1/secrets rejected', send: GET('/api/v1/secrets'), kubectl: FORBIDDEN },
];

const emptyAcceptHostsRows: Row[] = [
  { name: 'Host 127.0.0.1:port rejected', send: GET('/api/v1/pods'), kubectl: FORBIDDEN },
  { name: 'Host localhost rejected', send: GET('/api/v1/pods', ['Host', 'localhost']), kubectl: FORBIDDEN },
  {
    name: 'HTTP/1.0 without Host rejected',
    send: raw('GET /version HTTP/1.0\r\n\r\n'),
    kubectl: FORBIDDEN,
    knownDifference: { ...HTTP10_RESPONSE, expect: FORBIDDEN },
  },
];

const disableFilterRows: Row[] = [
  { name: 'exec forwarded', send: GET(`${EXEC}?command=ls`), kubectl: fwd(200, `${EXEC}?command=ls`) },
  { name: 'attach forwarded', send: http('POST', '/api/v1/namespaces/default/pods/foo/attach?stdin=true', CT_JSON, json({})), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo/attach?stdin=true') },
  { name: 'Host: evil.com accepted', send: GET('/api/v1/pods', ['Host', 'evil.com']), kubectl: fwd(200, '/api/v1/pods') },
  {
    name: 'HTTP/1.0 without Host accepted',
    send: raw('GET /version HTTP/1.0\r\n\r\n'),
    kubectl: fwd(200, '/version'),
    knownDifference: { ...HTTP10_RESPONSE, expect: fwd(200, '/version') },
  },
  { name: '//api/v1/pods still 301 (ServeMux, not the filter)', send: GET('//api/v1/pods'), kubectl: moved('/api/v1/pods') },
];

const appendServerPathRows: Row[] = [
  { name: '/api/v1/pods → /k8s/clusters/c-1/api/v1/pods', send: GET('/api/v1/pods'), kubectl: fwd(200, '/k8s/clusters/c-1/api/v1/pods') },
  { name: '/ → /k8s/clusters/c-1/', send: GET('/'), kubectl: fwd(200, '/k8s/clusters/c-1/') },
  { name: 'trailing slash and query kept', send: GET('/api/v1/pods/?x=1'), kubectl: fwd(200, '/k8s/clusters/c-1/api/v1/pods/?x=1') },
  { name: 'already-prefixed request is prefixed twice', send: GET('/k8s/clusters/c-1/api'), kubectl: fwd(200, '/k8s/clusters/c-1/k8s/clusters/c-1/api') },
  { name: '%2F kept under the server path', send: GET('/api/v1/namespaces/a%2Fb/pods'), kubectl: fwd(200, '/k8s/clusters/c-1/api/v1/namespaces/a%2Fb/pods') },
  { name: 'exec still rejected', send: GET(EXEC), kubectl: FORBIDDEN },
];

const serverPathDroppedRows: Row[] = [
  { name: 'server path dropped without --append-server-path', send: GET('/api/v1/pods'), kubectl: { ...fwd(200, '/api/v1/pods'), body: JSON.stringify(podList()) } },
];

const impersonationRows: Row[] = [
  {
    name: '--as/--as-group headers added',
    send: GET('/api/v1/pods'),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => {
      const r = onlyUpstream(o);
      assert.deepEqual(upHeader(r, 'impersonate-user'), ['jane']);
      assert.deepEqual(upHeader(r, 'impersonate-group'), ['g1', 'g2']);
    },
  },
  {
    name: 'client Impersonate-Group merged with --as-group',
    send: GET('/api/v1/pods', ['Impersonate-Group', 'hackers']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => {
      const r = onlyUpstream(o);
      assert.deepEqual(upHeader(r, 'impersonate-user'), ['jane']);
      assert.deepEqual(upHeader(r, 'impersonate-group'), ['hackers', 'g1', 'g2']);
    },
  },
  {
    name: 'client Impersonate-User wins with its own set',
    send: GET('/api/v1/pods', ['Impersonate-User', 'bob', 'Impersonate-Group', 'b-team']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => {
      const r = onlyUpstream(o);
      assert.deepEqual(upHeader(r, 'impersonate-user'), ['bob']);
      assert.deepEqual(upHeader(r, 'impersonate-group'), ['b-team']);
    },
  },
  {
    name: 'client Authorization plus --as',
    send: GET('/api/v1/pods', ['Authorization', `Bearer ${CLIENT_TOKEN}`]),
    kubectl: fwd(200, '/api/v1/pods'),
  },
];

const disableCompressionRows: Row[] = [
  {
    name: '/gzip without client Accept-Encoding → not requested',
    send: GET('/gzip'),
    kubectl: { ...fwd(200, '/gzip'), body: JSON.stringify(GZIP_DOCUMENT) },
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'accept-encoding'), []),
  },
  { name: '/gzip with client Accept-Encoding: gzip → passed through', send: GET('/gzip', ['Accept-Encoding', 'gzip']), kubectl: fwd(200, '/gzip') },
];

const deadUpstreamRows: Row[] = [
  { name: 'GET → 500 one line', send: GET('/api/v1/pods'), kubectl: { status: 500, upstream: [], body: /^dial tcp 127\.0\.0\.1:\d+: connect: connection refused\n$/ }, shapeOnly: true },
  { name: 'POST with body → 500 one line', send: http('POST', '/api/v1/namespaces/default/pods', CT_JSON, json({ kind: 'Pod' })), kubectl: { status: 500, upstream: [] }, shapeOnly: true },
  { name: 'exec still 403 (filter first)', send: GET(EXEC), kubectl: FORBIDDEN },
];

const groups: Group[] = [
  { name: 'default flags', flags: [], rows: defaultRows },
  { name: '--reject-methods=POST,PUT', flags: ['--reject-methods=POST,PUT'], rows: rejectMethodRows },
  {
    name: '--reject-methods=POST against an API server that accepts any method',
    flags: ['--reject-methods=POST'],
    upstream: (c) => c.rawUp,
    kubeconfig: (c) => writeKubeconfig(c.dir.path, { server: c.rawUp.url, caData: c.pki.ca, token: TOKEN, fileName: 'raw.kubeconfig' }),
    rows: anyMethodRows,
  },
  { name: '--api-prefix=/custom/', flags: ['--api-prefix=/custom/'], rows: customPrefixRows },
  { name: '--api-prefix=/api/', flags: ['--api-prefix=/api/'], rows: apiPrefixRows },
  { name: "--accept-paths='^/api/v1/namespaces/default/'", flags: ['--accept-paths=^/api/v1/namespaces/default/'], rows: acceptPathRows },
  { name: "--reject-paths='^/api/v1/secrets,'", flags: ['--reject-paths=^/api/v1/secrets,'], rows: trailingCommaRows },
  { name: "--accept-hosts=''", flags: ['--accept-hosts='], rows: emptyAcceptHostsRows },
  { name: '--disable-filter', flags: ['--disable-filter'], rows: disableFilterRows },
  {
    name: '--append-server-path (server https://127.0.0.1:<port>/k8s/clusters/c-1)',
    flags: ['--append-server-path'],
    kubeconfig: (c) => writeKubeconfig(c.dir.path, { server: `${c.up.url}/k8s/clusters/c-1`, caData: c.pki.ca, token: TOKEN, fileName: 'server-path.kubeconfig' }),
    rows: appendServerPathRows,
  },
  {
    name: 'server path in the kubeconfig, no --append-server-path',
    flags: [],
    kubeconfig: (c) => writeKubeconfig(c.dir.path, { server: `${c.up.url}/k8s/clusters/c-1`, caData: c.pki.ca, token: TOKEN, fileName: 'server-path.kubeconfig' }),
    rows: serverPathDroppedRows,
  },
  { name: '--as=jane --as-group=g1 --as-group=g2', flags: ['--as=jane', '--as-group=g1', '--as-group=g2'], rows: impersonationRows },
  { name: '--disable-compression', flags: ['--disable-compression'], rows: disableCompressionRows },
  {
    name: 'dead upstream (kubeconfig server on a closed port)',
    flags: [],
    kubeconfig: async (c) => writeKubeconfig(c.dir.path, { server: `https://127.0.0.1:${await closedPort()}`, caData: c.pki.ca, token: TOKEN, fileName: 'dead.kubeconfig' }),
    rows: deadUpstreamRows,
  },
];

// ---- running the table ------------------------------------------------------------------------------

interface Pair {
  kubectl: Running;
  kproxy: Running;
  up: Recorder;
}

/** `KPROXY_DIFF_DUMP=<file>` appends both comparable views of every row as JSON lines, for investigating a difference. */
const DUMP = process.env['KPROXY_DIFF_DUMP'];

function runRow(pair: () => Pair, group: string, row: Row): void {
  count(group, row);
  test(row.name, async () => {
    const { kubectl, kproxy, up } = pair();
    const k = await observe(kubectl, up, row.send);
    const p = await observe(kproxy, up, row.send);
    if (DUMP) appendFileSync(DUMP, JSON.stringify({ row: `${group} / ${row.name}`, kubectl: comparable(k), kproxy: comparable(p) }) + '\n');

    assertExpect(k, row.kubectl, 'kubectl', up.port);
    if (row.shapeOnly) {
      assertErrorShape(k, 'kubectl');
      assertErrorShape(p, 'kproxy');
      if (k.body.equals(p.body)) tallyOf(group).shapeSameBytes++;
      return;
    }
    row.check?.(k, 'kubectl');
    const diff = row.kproxy ?? row.knownDifference;
    if (diff) {
      assertExpect(p, diff.expect, 'kproxy', up.port);
      diff.check?.(p);
      if (diff.mask) {
        const kv = comparable(k);
        const pv = comparable(p);
        diff.mask(kv);
        diff.mask(pv);
        assert.deepEqual(pv, kv, `kproxy must match kubectl outside the known difference (${diff.why})`);
      }
      return;
    }
    assert.deepEqual(comparable(p), comparable(k), 'kproxy (actual) must match kubectl (expected)');
    row.check?.(p, 'kproxy');
  });
}

describe('differential: kubectl proxy 1.32 vs kproxy', { skip: kubectlMissing() }, () => {
  let suite: SuiteContext | undefined;
  const ctx = (): SuiteContext => {
    if (!suite) throw new Error('suite not started');
    return suite;
  };

  before(async () => {
    const pki = await makePki();
    const [up, rawUp] = await Promise.all([startUpstream({ pki, tokens: [TOKEN, CLIENT_TOKEN] }), startRawUpstream(pki)]);
    const dir = tempDir('kproxy-diff');
    const kubeconfig = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, token: TOKEN });
    suite = { pki, up, rawUp, dir, kubeconfig };
  });

  after(async () => {
    await Promise.all([suite?.up.close(), suite?.rawUp.close()]);
    suite?.dir.cleanup();
  });

  for (const group of groups) {
    describe(group.name, () => {
      let running: Pair | undefined;
      const started: Running[] = [];
      before(async () => {
        const c = ctx();
        const kubeconfig = group.kubeconfig ? await group.kubeconfig(c) : c.kubeconfig;
        const args = ['--port=0', '--kubeconfig', kubeconfig, ...group.flags];
        const [k, p] = await Promise.allSettled([startKubectlProxy(args), startKproxy(args)]);
        for (const s of [k, p]) if (s.status === 'fulfilled') started.push(s.value);
        if (k.status === 'rejected') throw k.reason;
        if (p.status === 'rejected') throw p.reason;
        running = { kubectl: k.value, kproxy: p.value, up: group.upstream?.(c) ?? c.up };
      });
      after(async () => {
        await Promise.all(started.map((r) => r.stop()));
      });
      for (const row of group.rows) {
        runRow(
          () => {
            if (!running) throw new Error('proxies not started');
            return running;
          },
          group.name,
          row,
        );
      }
    });
  }

  test('summary', (t: TestContext) => {
    let rows = 0;
    let identical = 0;
    let deliberate = 0;
    const unexpected: string[] = [];
    t.diagnostic(`kubectl: ${findKubectl()}`);
    let shapeOnly = 0;
    let shapeSameBytes = 0;
    t.diagnostic('group | rows | identical | deliberate (kproxy field) | error shape only (of which byte-identical) | unexpected (knownDifference)');
    for (const [name, g] of tally) {
      rows += g.rows;
      identical += g.identical;
      deliberate += g.deliberate;
      shapeOnly += g.shapeOnly;
      shapeSameBytes += g.shapeSameBytes;
      unexpected.push(...g.unexpected.map((n) => `${name}: ${n}`));
      t.diagnostic(`${name} | ${g.rows} | ${g.identical} | ${g.deliberate} | ${g.shapeOnly} (${g.shapeSameBytes}) | ${g.unexpected.length}`);
    }
    t.diagnostic(`TOTAL | ${rows} | ${identical} | ${deliberate} | ${shapeOnly} (${shapeSameBytes}) | ${unexpected.length}`);
    for (const u of unexpected) t.diagnostic(`knownDifference: ${u}`);
    assert.equal(rows, identical + deliberate + shapeOnly + unexpected.length);
    assert.ok(rows >= 45, `at least 45 rows (${rows})`);
  });
});
