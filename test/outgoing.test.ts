// The headers that cross the proxy, as tables on plain data: what outgoingHeaders sends upstream
// (Go's ReverseProxy hop-by-hop rules, X-Forwarded-For, client-go's User-Agent, impersonation and
// gzip choices) and what responseHeaders relays back. Modelled on @fastify/reply-from's
// strip-connection-headers test.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { responseHeaders, type ResponseState } from '../src/headers.js';
import { outgoingHeaders, withCredentials, type OutgoingContext } from '../src/outgoing.js';
import type { Credentials } from '../src/auth/credentials.js';

function creds(impersonation: string[] = [], authorization: ReturnType<Credentials['authorization']> = 'Bearer kube'): Credentials {
  return { authorization: () => authorization, rejected: () => {}, impersonation, close: () => {} };
}

const ctx: OutgoingContext = { upstream: { hostHeader: 'api.example:6443' }, credentials: creds(), disableCompression: false, userAgent: 'kproxy/test' };

/** Header pairs as [name, value] tuples, for readable rows. */
function pairs(flat: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

interface Row {
  name: string;
  method?: string;
  raw: string[];
  remote?: string | undefined;
  ctx?: Partial<OutgoingContext>;
  upgrade?: boolean;
  want: Array<[string, string]>;
  gzip: boolean;
  needsAuth: boolean;
}

const rows: Row[] = [
  {
    name: 'plain request: Host replaced, peer appended, User-Agent and gzip added',
    raw: ['Host', 'localhost:8001', 'Accept', 'application/json'],
    remote: '127.0.0.1',
    want: [['host', 'api.example:6443'], ['Accept', 'application/json'], ['X-Forwarded-For', '127.0.0.1'], ['User-Agent', 'kproxy/test'], ['Accept-Encoding', 'gzip']],
    gzip: true,
    needsAuth: true,
  },
  {
    name: 'hop-by-hop and Connection-listed headers dropped, Te: trailers kept',
    raw: ['Connection', 'keep-alive, X-Secret', 'Keep-Alive', '5', 'X-Secret', 's', 'Te', 'trailers', 'Proxy-Authorization', 'Basic x', 'Upgrade', 'h2c', 'User-Agent', 'curl'],
    remote: '127.0.0.1',
    want: [['host', 'api.example:6443'], ['Te', 'trailers'], ['User-Agent', 'curl'], ['X-Forwarded-For', '127.0.0.1'], ['Accept-Encoding', 'gzip']],
    gzip: true,
    needsAuth: true,
  },
  {
    name: 'Te other than trailers dropped',
    raw: ['Te', 'gzip', 'User-Agent', 'c'],
    remote: undefined,
    want: [['host', 'api.example:6443'], ['User-Agent', 'c'], ['Accept-Encoding', 'gzip']],
    gzip: true,
    needsAuth: true,
  },
  {
    name: 'X-Forwarded-For values joined and the peer appended',
    raw: ['X-Forwarded-For', '10.0.0.1', 'x-forwarded-for', '10.0.0.2', 'User-Agent', 'c'],
    remote: '::1',
    want: [['host', 'api.example:6443'], ['User-Agent', 'c'], ['X-Forwarded-For', '10.0.0.1, 10.0.0.2, ::1'], ['Accept-Encoding', 'gzip']],
    gzip: true,
    needsAuth: true,
  },
  {
    name: 'unix socket peer: X-Forwarded-For passed on as it came',
    raw: ['X-Forwarded-For', '10.0.0.1', 'User-Agent', 'c'],
    remote: undefined,
    want: [['host', 'api.example:6443'], ['User-Agent', 'c'], ['X-Forwarded-For', '10.0.0.1'], ['Accept-Encoding', 'gzip']],
    gzip: true,
    needsAuth: true,
  },
  {
    name: "client's own Authorization wins: no credential to add",
    raw: ['Authorization', 'Bearer mine', 'User-Agent', 'c'],
    want: [['host', 'api.example:6443'], ['Authorization', 'Bearer mine'], ['User-Agent', 'c'], ['Accept-Encoding', 'gzip']],
    gzip: true,
    needsAuth: false,
  },
  {
    name: 'impersonation added when the client sent none',
    raw: ['User-Agent', 'c'],
    ctx: { credentials: creds(['Impersonate-User', 'jane', 'Impersonate-Group', 'a', 'Impersonate-Group', 'b']) },
    want: [['host', 'api.example:6443'], ['User-Agent', 'c'], ['Impersonate-User', 'jane'], ['Impersonate-Group', 'a'], ['Impersonate-Group', 'b'], ['Accept-Encoding', 'gzip']],
    gzip: true,
    needsAuth: true,
  },
  {
    name: "client's own Impersonate-User wins over the kubeconfig's",
    raw: ['Impersonate-User', 'bob', 'User-Agent', 'c'],
    ctx: { credentials: creds(['Impersonate-User', 'jane']) },
    want: [['host', 'api.example:6443'], ['Impersonate-User', 'bob'], ['User-Agent', 'c'], ['Accept-Encoding', 'gzip']],
    gzip: true,
    needsAuth: true,
  },
  {
    name: "client's Accept-Encoding kept and not decoded",
    raw: ['Accept-Encoding', 'br', 'User-Agent', 'c'],
    want: [['host', 'api.example:6443'], ['Accept-Encoding', 'br'], ['User-Agent', 'c']],
    gzip: false,
    needsAuth: true,
  },
  { name: 'no gzip for HEAD', method: 'HEAD', raw: ['User-Agent', 'c'], want: [['host', 'api.example:6443'], ['User-Agent', 'c']], gzip: false, needsAuth: true },
  { name: 'no gzip for Range', raw: ['Range', 'bytes=0-1', 'User-Agent', 'c'], want: [['host', 'api.example:6443'], ['Range', 'bytes=0-1'], ['User-Agent', 'c']], gzip: false, needsAuth: true },
  { name: 'no gzip with --disable-compression', raw: ['User-Agent', 'c'], ctx: { disableCompression: true }, want: [['host', 'api.example:6443'], ['User-Agent', 'c']], gzip: false, needsAuth: true },
  { name: 'no gzip on an upgrade', raw: ['User-Agent', 'c', 'Upgrade', 'websocket', 'Connection', 'Upgrade'], upgrade: true, want: [['host', 'api.example:6443'], ['User-Agent', 'c']], gzip: false, needsAuth: true },
  {
    name: '--auth-token: the client token, its cookie and Impersonate-* never leave; the kubeconfig identity is used',
    raw: ['Authorization', 'Bearer local-token', 'Impersonate-User', 'admin', 'Impersonate-Group', 'system:masters', 'Cookie', 'a=1; kproxy-token=local-token', 'User-Agent', 'c'],
    ctx: { tokenAuth: true, credentials: creds(['Impersonate-User', 'jane']) },
    want: [['host', 'api.example:6443'], ['Cookie', 'a=1'], ['User-Agent', 'c'], ['Impersonate-User', 'jane'], ['Accept-Encoding', 'gzip']],
    gzip: true,
    needsAuth: true,
  },
  {
    name: '--auth-token: a Cookie holding only the token is dropped',
    raw: ['Cookie', 'kproxy-token=local-token', 'User-Agent', 'c'],
    ctx: { tokenAuth: true },
    want: [['host', 'api.example:6443'], ['User-Agent', 'c'], ['Accept-Encoding', 'gzip']],
    gzip: true,
    needsAuth: true,
  },
  { name: 'Expect dropped (Node answered 100-continue)', raw: ['Expect', '100-continue', 'User-Agent', 'c'], want: [['host', 'api.example:6443'], ['User-Agent', 'c'], ['Accept-Encoding', 'gzip']], gzip: true, needsAuth: true },
];

for (const r of rows) {
  test(`outgoingHeaders: ${r.name}`, () => {
    const out = outgoingHeaders({ method: r.method ?? 'GET', rawHeaders: r.raw, remoteAddress: r.remote }, { ...ctx, ...r.ctx }, r.upgrade ? { upgrade: true } : undefined);
    assert.deepEqual(pairs(out.headers), r.want);
    assert.equal(out.decodeGzip, r.gzip);
    assert.equal(out.needsAuth, r.needsAuth);
  });
}

test('withCredentials: a static credential is added at once', () => {
  const out = outgoingHeaders({ method: 'GET', rawHeaders: ['User-Agent', 'c'], remoteAddress: undefined }, ctx);
  let got: string | undefined = 'unset';
  withCredentials(ctx, out, (auth) => (got = auth), assert.fail);
  assert.equal(got, 'Bearer kube');
  assert.deepEqual(pairs(out.headers).at(-1), ['Authorization', 'Bearer kube']);
});

test('withCredentials: nothing added when the client brought its own', () => {
  const out = outgoingHeaders({ method: 'GET', rawHeaders: ['Authorization', 'Bearer mine'], remoteAddress: undefined }, ctx);
  let got: string | undefined = 'unset';
  withCredentials(ctx, out, (auth) => (got = auth), assert.fail);
  assert.equal(got, undefined);
  assert.equal(pairs(out.headers).filter(([n]) => n.toLowerCase() === 'authorization').length, 1);
});

test('withCredentials: an obtained credential arrives later; a failure goes to failed()', async () => {
  const later = { ...ctx, credentials: creds([], Promise.resolve('Bearer fresh')) };
  const out = outgoingHeaders({ method: 'GET', rawHeaders: [], remoteAddress: undefined }, later);
  const auth = await new Promise<string | undefined>((resolve, reject) => withCredentials(later, out, resolve, reject));
  assert.equal(auth, 'Bearer fresh');
  const failing = { ...ctx, credentials: creds([], Promise.reject(new Error('plugin failed'))) };
  const out2 = outgoingHeaders({ method: 'GET', rawHeaders: [], remoteAddress: undefined }, failing);
  const err = await new Promise<Error>((resolve) => withCredentials(failing, out2, () => assert.fail('no credential expected'), resolve));
  assert.equal(err.message, 'plugin failed');
});

function buf(flat: string[]): Buffer[] {
  return flat.map((s) => Buffer.from(s, 'latin1'));
}

const responseRows: Array<[string, string[], boolean, string[], Omit<ResponseState, never>]> = [
  ['hop-by-hop dropped, repeats kept', ['Connection', 'close, X-Hop', 'X-Hop', '1', 'Set-Cookie', 'a', 'Set-Cookie', 'b', 'Content-Length', '3'], false, ['Set-Cookie', 'a', 'Set-Cookie', 'b', 'Content-Length', '3'], { gzip: false, trailers: false, sized: true }],
  ['gzip that kproxy asked for: encoding and length dropped', ['Content-Encoding', 'gzip', 'Content-Length', '20', 'Content-Type', 'application/json'], true, ['Content-Type', 'application/json'], { gzip: true, trailers: false, sized: false }],
  ['gzip kproxy did not ask for is relayed as is', ['Content-Encoding', 'gzip', 'Content-Length', '20'], false, ['Content-Encoding', 'gzip', 'Content-Length', '20'], { gzip: false, trailers: false, sized: true }],
  ['asked for gzip, got identity', ['Content-Length', '5'], true, ['Content-Length', '5'], { gzip: false, trailers: false, sized: true }],
  ['trailers re-announced on a chunked body', ['Transfer-Encoding', 'chunked', 'Trailer', 'X-Checksum'], false, ['Trailer', 'X-Checksum'], { gzip: false, trailers: true, sized: false }],
  ['no trailers on a sized body', ['Content-Length', '1', 'Trailer', 'X-Checksum'], false, ['Content-Length', '1'], { gzip: false, trailers: false, sized: true }],
];

for (const [name, raw, askedGzip, want, state] of responseRows) {
  test(`responseHeaders: ${name}`, () => {
    const s: ResponseState = { gzip: askedGzip, trailers: false, sized: false };
    assert.deepEqual(responseHeaders(buf(raw), s), want);
    assert.deepEqual(s, state);
  });
}
