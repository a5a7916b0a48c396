// --upstream-http2: watches and log follows share multiplexed HTTP/2 connections to the API
// server (as kubectl's Go transport does), everything else keeps HTTP/1.1 keep-alive
// connections. The fixture speaks both through ALPN, as kube-apiserver does, and records which
// protocol and which connection carried each request; every wait is on an event.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2, { type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request as undiciRequest } from 'undici';
import { openStream, request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { launcher, within } from './helpers/proc.js';
import { Waiters } from './helpers/waiters.js';
import { loadResolvedConfig } from '../src/kubeconfig/load.js';
import { createUpstream } from '../src/upstream.js';

const TOKEN = 'h2-token-51c9';
const WATCH = '/api/v1/namespaces/default/pods?watch=true';
const FOLLOW = '/api/v1/namespaces/default/pods/web-0/log?follow=true';
const LIST = '/api/v1/namespaces/default/pods';

interface Seen {
  path: string;
  httpVersion: string;
  /** Which connection carried it (h2 sessions and h1 sockets numbered from 1 in arrival order). */
  conn: number;
  authorization: string | undefined;
}

/** A minimal API server offering h2 and http/1.1; streaming routes stay open until `emit`/`endAll`. */
class H2Api {
  readonly seen: Seen[] = [];
  readonly changed = new Waiters('h2 api', () => this.seen.map((s) => `  ${s.httpVersion} #${s.conn} ${s.path}`).join('\n'));
  private readonly open = new Set<Http2ServerResponse>();
  /** Streams whose client went away (by path), to prove cancellation reaches the server. */
  readonly closedEarly: string[] = [];
  private readonly sessions = new Set<ServerHttp2Session>();
  private conns = 0;
  private readonly ids = new WeakMap<object, number>();
  url = '';

  constructor(private readonly server: Http2SecureServer) {
    server.on('session', (s: ServerHttp2Session) => {
      this.sessions.add(s);
      s.once('close', () => this.sessions.delete(s));
    });
    server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => this.handle(req, res));
  }

  static async start(pki: Pki): Promise<H2Api> {
    const server = http2.createSecureServer({ key: pki.server.key, cert: pki.server.cert, allowHTTP1: true, settings: { maxConcurrentStreams: 250 } });
    const api = new H2Api(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    api.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return api;
  }

  private connOf(req: Http2ServerRequest): number {
    const key: object = req.httpVersion === '2.0' ? req.stream.session! : req.socket;
    let id = this.ids.get(key);
    if (id === undefined) this.ids.set(key, (id = ++this.conns));
    return id;
  }

  private handle(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const url = req.url;
    this.seen.push({ path: url, httpVersion: req.httpVersion, conn: this.connOf(req), authorization: req.headers.authorization });
    this.changed.poke();
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","code":401}');
      return;
    }
    if (/[?&](watch|follow)=true/.test(url)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      this.open.add(res);
      res.once('close', () => {
        this.open.delete(res);
        if (!res.writableEnded) this.closedEarly.push(url);
        this.changed.poke();
      });
      // Headers now, as the API server does for a watch.
      res.write('');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'PodList', items: [] }));
  }

  emit(line: string): void {
    for (const res of this.open) res.write(line + '\n');
  }

  /** Tears every connection down, as an API server that dies does. */
  killSessions(): void {
    for (const s of this.sessions) s.destroy();
  }

  get openStreams(): number {
    return this.open.size;
  }

  h2Sessions(paths: (p: string) => boolean): Set<number> {
    return new Set(this.seen.filter((s) => s.httpVersion === '2.0' && paths(s.path)).map((s) => s.conn));
  }

  reset(): void {
    this.seen.length = 0;
    this.closedEarly.length = 0;
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.killSessions();
    this.server.close();
  }
}

let pki: Pki;
let api: H2Api;
let h1only: https.Server;
let h1url: string;
let dir: TempDir;
let kc: string;
const { launch, stopAll } = launcher();

before(async () => {
  pki = await makePki();
  api = await H2Api.start(pki);
  h1only = https.createServer({ key: pki.server.key, cert: pki.server.cert }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"kind":"PodList","items":[]}');
  });
  h1only.listen(0, '127.0.0.1');
  await once(h1only, 'listening');
  h1url = `https://127.0.0.1:${(h1only.address() as AddressInfo).port}`;
  dir = tempDir('kproxy-h2');
  kc = writeKubeconfig(dir.path, { server: api.url, caData: pki.ca, token: TOKEN });
});

after(async () => {
  await stopAll();
  await api?.close();
  h1only?.closeAllConnections();
  h1only?.close();
  dir?.cleanup();
});

describe('--upstream-http2', () => {
  test('watches and log follows share one HTTP/2 connection with credentials; other requests stay on HTTP/1.1', async () => {
    api.reset();
    const p = await launch(['--port=0', `--kubeconfig=${kc}`, '--upstream-http2']);
    // The first stream makes the connection; the others, opened together, multiplex on it.
    const first = await openStream({ url: p.url, path: WATCH });
    const streams = [first, ...(await Promise.all([WATCH, WATCH, FOLLOW].map((path) => openStream({ url: p.url, path }))))];
    try {
      for (const s of streams) assert.equal(s.status, 200);
      const list = await request({ url: p.url, path: LIST });
      assert.equal(list.status, 200);
      assert.equal(JSON.parse(list.body.toString()).kind, 'PodList');

      const long = api.seen.filter((s) => s.path !== LIST);
      assert.equal(long.length, 4);
      for (const s of long) {
        assert.equal(s.httpVersion, '2.0', s.path);
        assert.equal(s.authorization, `Bearer ${TOKEN}`);
      }
      assert.equal(api.h2Sessions((path) => path !== LIST).size, 1, 'one multiplexed connection');
      assert.deepEqual(
        api.seen.filter((s) => s.path === LIST).map((s) => s.httpVersion),
        ['1.1'],
      );

      // Each event reaches every client while the streams stay open.
      api.emit('{"type":"ADDED","object":{"metadata":{"name":"web-1"}}}');
      await within(Promise.all(streams.map((s) => s.waitFor('web-1'))), 'event through HTTP/2');
    } finally {
      for (const s of streams) s.close();
    }
  });

  test('a client going away cancels its HTTP/2 stream upstream', async () => {
    api.reset();
    const p = await launch(['--port=0', `--kubeconfig=${kc}`, '--upstream-http2']);
    // Paths of their own: streams of earlier tests may still be closing upstream.
    const keepPath = `${WATCH}&resourceVersion=keep`;
    const gonePath = `${FOLLOW}&tailLines=7`;
    const keep = await openStream({ url: p.url, path: keepPath });
    const gone = await openStream({ url: p.url, path: gonePath });
    try {
      gone.close();
      await api.changed.until('the follow stream closed upstream', () => api.closedEarly.includes(gonePath), 10_000);
      // The other stream on the same connection is unaffected.
      api.emit('{"type":"MODIFIED","object":{"metadata":{"name":"still-here"}}}');
      await within(keep.waitFor('still-here'), 'event on the remaining stream');
      assert.equal(api.closedEarly.includes(keepPath), false);
      assert.equal(api.h2Sessions((path) => path === keepPath || path === gonePath).size, 1);
    } finally {
      keep.close();
    }
  });

  test('an API server connection that dies cuts the watch for the client (never a clean end)', async () => {
    api.reset();
    const p = await launch(['--port=0', `--kubeconfig=${kc}`, '--upstream-http2']);
    const w = await openStream({ url: p.url, path: WATCH });
    api.emit('{"type":"ADDED","object":{"metadata":{"name":"before-cut"}}}');
    await within(w.waitFor('before-cut'), 'first event');
    api.killSessions();
    const end = await within(w.ended, 'client response ends');
    assert.equal(end.complete, false);
    // The next watch opens a new connection.
    const again = await openStream({ url: p.url, path: WATCH });
    try {
      assert.equal(again.status, 200);
    } finally {
      again.close();
    }
  });

  test('without the flag, watches use HTTP/1.1 connections', async () => {
    api.reset();
    const p = await launch(['--port=0', `--kubeconfig=${kc}`]);
    const w = await openStream({ url: p.url, path: WATCH });
    try {
      assert.deepEqual(
        api.seen.map((s) => s.httpVersion),
        ['1.1'],
      );
    } finally {
      w.close();
    }
  });

  test('an API server without HTTP/2: watches get a 500 naming the flag, other requests work', async () => {
    const kc1 = writeKubeconfig(dir.path, { server: h1url, caData: pki.ca, token: TOKEN, fileName: 'h1only' });
    const p = await launch(['--port=0', `--kubeconfig=${kc1}`, '--upstream-http2']);
    const w = await request({ url: p.url, path: WATCH });
    assert.equal(w.status, 500);
    assert.match(w.body.toString(), /does not offer HTTP\/2 \(--upstream-http2\)/);
    assert.equal((await request({ url: p.url, path: LIST })).status, 200);
  });

  test('an http:// server: the flag is ignored with a warning', async () => {
    const kc2 = writeKubeconfig(dir.path, { server: 'http://127.0.0.1:9', fileName: 'plain' });
    const p = await launch(['--port=0', `--kubeconfig=${kc2}`, '--upstream-http2']);
    await within(p.waitForStderr('--upstream-http2 ignored: http://127.0.0.1:9 is not https'), 'warning');
  });
});

describe('HTTP/2 stream pool', () => {
  test('opens another connection once one carries h2StreamsPerConnection streams', async () => {
    api.reset();
    const cfg = loadResolvedConfig({ kubeconfig: kc }, {}, dir.path, dir.path);
    const up = createUpstream(cfg, { http2: true, h2StreamsPerConnection: 2, env: {} });
    const bodies: Array<{ destroy(): void }> = [];
    try {
      for (let i = 0; i < 3; i++) {
        const r = await undiciRequest(api.url + WATCH, { dispatcher: up.poolFor('GET', WATCH), headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(r.statusCode, 200);
        bodies.push(r.body);
      }
      assert.equal(api.openStreams, 3);
      assert.equal(api.h2Sessions(() => true).size, 2);
      assert.notEqual(up.poolFor('GET', WATCH), up.poolFor('GET', LIST));
      assert.equal(up.poolFor('GET', LIST), up.poolFor('PUT', WATCH));
    } finally {
      for (const b of bodies) b.destroy();
      await up.close();
    }
  });
});
