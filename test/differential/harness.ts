// Differential test harness: the real `kubectl proxy` (1.32) and kproxy, started with identical
// flags and the same kubeconfig, in front of ONE fake API server. Every row of a table is sent to
// kubectl first, then to kproxy, with `upstream.reset()` before each, so the upstream records of
// each proxy are its own. For every row we compare what the client got (status, reason, end-to-end
// headers, body, trailers) and what the API server got (method, raw target, body hash, headers).
//
// Rows where kproxy deliberately differs carry a `kproxy` field (a `Difference`) that asserts
// kproxy's own result. Differences discovered by this test and not (yet) decided carry a
// `knownDifference` field instead: it asserts kproxy's CURRENT behaviour, so a fix shows up as a
// failing row to update, and the summary lists them by name.
//
// This file holds the types, the row builders, the masks, observing and comparing; runner.ts
// turns groups of rows into tests; the rows themselves are in the *-flags.ts files next to it
// (run by differential.test.ts) and in test/security/.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { parseRawResponse, rawRequest, request } from '../helpers/http.js';
import type { TempDir } from '../helpers/kubeconfig.js';
import type { Pki } from '../helpers/pki.js';
import type { Running } from '../helpers/proc.js';
import { multimap, type Recorder } from '../helpers/recording-upstream.js';
import type { RecordedRequest, Upstream } from '../helpers/upstream.js';

// ---- configuration --------------------------------------------------------------------------

export const TOKEN = 'tok-diff';
/** A second valid token, sent by the client itself to show that its Authorization wins. */
export const CLIENT_TOKEN = 'tok-client';
const REQUEST_TIMEOUT_MS = 15_000;

/** client-go's default User-Agent for the real binary (`kubectl.1.32/v1.32.5 (linux/amd64) kubernetes/<commit>`). */
export const KUBECTL_UA = /^kubectl(?:\.\d+\.\d+)?\/v1\.\d+\.\d+\S* \([a-z0-9]+\/[a-z0-9]+\) kubernetes\/[0-9a-f]+$/;
/** kproxy's default User-Agent (`kproxy/<ver> (linux/amd64)`). */
export const KPROXY_UA = /^kproxy\/\S+ \([a-z0-9]+\/[a-z0-9]+\)$/;

// ---- what a row sends -----------------------------------------------------------------------

/** `{port}` in a string is replaced by the port of the proxy under test. */
export type Templ = string;

export interface HttpSend {
  kind: 'http';
  method?: string;
  /** Raw request-target (never normalised by the client). */
  path: Templ;
  /** Flat raw list [name, value, …] so duplicates and casing are kept. Host defaults to 127.0.0.1:{port}. */
  headers?: Templ[];
  /** A fresh body per send (a stream can only be sent once). */
  body?: () => Buffer | string | Readable;
}

export interface RawSend {
  kind: 'raw';
  /** Bytes written on a fresh TCP connection (latin1). */
  bytes: Templ;
}

export type Send = HttpSend | RawSend;

// ---- what a proxy did -----------------------------------------------------------------------

export interface Observed {
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
export interface Expect {
  status: number;
  /** Raw targets that reached the API server, in order ([] = nothing was forwarded). */
  upstream: string[];
  /** Exact body (after `{port}` substitution), or a pattern. */
  body?: string | RegExp;
  location?: string;
}

/** A row on which kproxy does not behave like kubectl. */
export interface Difference {
  /** Why, with the observed values of both proxies. */
  why: string;
  /** kproxy's result. */
  expect: Expect;
  /** Removes the differing part from both comparable views; the rest must still be identical. Omit when the results differ as a whole. */
  mask?: (v: Comparable) => void;
  /** Further assertions on kproxy's result. */
  check?: (p: Observed) => void;
}

export interface Row {
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

export interface Group {
  name: string;
  /** The API server both proxies talk to; default the fake upstream. */
  upstream?: (ctx: SuiteContext) => Recorder;
  /** Flags given to both proxies, after `--port=0 --kubeconfig <file>`. */
  flags: string[];
  /** Kubeconfig for this group; default: the shared token kubeconfig. */
  kubeconfig?: (ctx: SuiteContext) => Promise<string> | string;
  rows: Row[];
}

export interface SuiteContext {
  pki: Pki;
  up: Upstream;
  /** Accepts any method token (Node's parser, and so the fake upstream, refuses `post` or `FOO`). */
  rawUp: Recorder;
  dir: TempDir;
  kubeconfig: string;
}

// ---- helpers for building rows ----------------------------------------------------------------

const sub = (s: Templ, port: number): string => s.replaceAll('{port}', String(port));

export function http(method: string, path: Templ, headers?: Templ[], body?: () => Buffer | string | Readable): HttpSend {
  return { kind: 'http', method, path, headers, body };
}
export const GET = (path: Templ, headers?: Templ[]): HttpSend => http('GET', path, headers);
export const raw = (bytes: Templ): RawSend => ({ kind: 'raw', bytes });

/** A request forwarded unchanged and answered by the upstream. */
export const fwd = (status: number, ...upstream: string[]): Expect => ({ status, upstream });
export const FORBIDDEN: Expect = { status: 403, upstream: [], body: 'Forbidden\n' };
export const NOT_FOUND: Expect = { status: 404, upstream: [], body: '404 page not found\n' };
export const moved = (location: string, method = 'GET'): Expect => ({
  status: 301,
  upstream: [],
  location,
  body: method === 'GET' ? `<a href="${location.replaceAll('&', '&amp;')}">Moved Permanently</a>.\n\n` : '',
});

export function header(o: Observed, name: string): string[] {
  return o.headers[name] ?? [];
}
export function upHeader(r: RecordedRequest, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) if (r.rawHeaders[i]!.toLowerCase() === name) out.push(r.rawHeaders[i + 1]!);
  return out;
}
export function onlyUpstream(o: Observed): RecordedRequest {
  assert.equal(o.upstream.length, 1, 'exactly one upstream request');
  return o.upstream[0]!;
}

// ---- masks for known differences ---------------------------------------------------------------

/** Removes request headers from what the upstream recorded, and from an upstream echo in the body. */
export const maskUpstreamHeaders =
  (...names: string[]) =>
  (v: Comparable): void => {
    for (const u of v.upstream) for (const n of names) delete u.headers[n];
    const echo = v.body as { headers?: Record<string, string[]> } | null;
    if (typeof echo === 'object' && echo?.headers) for (const n of names) delete echo.headers[n];
  };
/** Node's server always answers `HTTP/1.1`; Go answers an HTTP/1.0 request with `HTTP/1.0`. */
export const HTTP10_RESPONSE: Pick<Difference, 'why' | 'mask' | 'check'> = {
  why: 'kubectl answers an HTTP/1.0 request with an `HTTP/1.0 …` status line; kproxy (Node http.Server) answers `HTTP/1.1 …` (allowed by RFC 9110 §6.2, but not byte-identical)',
  mask: (v) => {
    v.httpVersion = '<1.x>';
  },
  check: (p) => assert.equal(p.httpVersion, '1.1'),
};

// ---- observing ------------------------------------------------------------------------------------

export async function observe(proxy: Running, up: Recorder, send: Send): Promise<Observed> {
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

export interface Comparable {
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

export function comparable(o: Observed): Comparable {
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

export function assertExpect(o: Observed, e: Expect, who: string, upPort: number): void {
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
export function assertErrorShape(o: Observed, who: string): void {
  assert.equal(o.status, 500, `${who} status`);
  assert.deepEqual(header(o, 'content-type'), ['text/plain; charset=utf-8'], `${who} Content-Type`);
  assert.deepEqual(header(o, 'x-content-type-options'), ['nosniff'], `${who} nosniff`);
  assert.match(o.body.toString('utf8'), /^[^\n]+\n$/, `${who} body is one line`);
  assert.deepEqual(o.upstream, [], `${who}: nothing can reach a dead upstream`);
}

// ---- shared pieces of rows ---------------------------------------------------------------------

export const EXEC = '/api/v1/namespaces/default/pods/foo/exec';
export const json = (v: unknown) => () => JSON.stringify(v);
export const CT_JSON = ['Content-Type', 'application/json'];
export const MiB = 1 << 20;

/** Node's HTTP parser refuses methods it does not know (or lower-case ones) before kproxy sees them. */
export const NODE_PARSER_400: Expect = { status: 400, upstream: [], body: /^400 Bad Request/ };
