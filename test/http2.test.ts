// HTTP/2 to the API server by default, as kubectl's client-go transport: kproxy (a real process)
// against a fixture that offers h2 and http/1.1 through ALPN, as kube-apiserver does. Watches and
// log follows share multiplexed connections; DISABLE_HTTP2 and --upstream-http2=false force
// HTTP/1.1; a server without h2 gets HTTP/1.1; proxies carry HTTP/2 too; a dead connection found
// by PING ends the watch with an error. Every wait is on an event.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { H2Api } from './helpers/h2api.js';
import { openStream, request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { launcher, within } from './helpers/proc.js';
import { startConnectProxy, startSocksProxy, startTcpForwarder } from './helpers/proxies.js';

const TOKEN = 'h2-token-51c9';
const WATCH = '/api/v1/namespaces/default/pods?watch=true';
const FOLLOW = '/api/v1/namespaces/default/pods/web-0/log?follow=true';
const LIST = '/api/v1/namespaces/default/pods';

let pki: Pki;
let api: H2Api;
let h1only: https.Server;
let h1url: string;
let dir: TempDir;
let kc: string;
const { launch, stopAll } = launcher();

before(async () => {
  pki = await makePki();
  api = await H2Api.start(pki, { token: TOKEN });
  h1only = https.createServer({ key: pki.server.key, cert: pki.server.cert }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-http-version': req.httpVersion });
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

describe('HTTP/2 to the API server (default)', () => {
  test('watches and log follows share one HTTP/2 connection, with credentials and Go-style header names', async () => {
    api.reset();
    const p = await launch(['--port=0', `--kubeconfig=${kc}`]);
    // The first stream makes the connection; the others, opened together, multiplex on it.
    const first = await openStream({ url: p.url, path: WATCH });
    const streams = [first, ...(await Promise.all([WATCH, WATCH, FOLLOW].map((path) => openStream({ url: p.url, path }))))];
    try {
      for (const s of streams) assert.equal(s.status, 200);
      // kubectl's clients see Go's canonical names, whatever the protocol upstream.
      assert.ok(first.rawHeaders.includes('Audit-Id'), JSON.stringify(first.rawHeaders));
      const list = await request({ url: p.url, path: LIST });
      assert.equal(list.status, 200);
      assert.equal(JSON.parse(list.body.toString()).kind, 'PodList');

      const long = api.seen.filter((s) => s.path !== LIST);
      assert.equal(long.length, 4);
      for (const s of long) {
        assert.equal(s.httpVersion, '2.0', s.path);
        assert.equal(s.authorization, `Bearer ${TOKEN}`);
        assert.equal(s.headers[':authority'], new URL(api.url).host);
        assert.match(String(s.headers['user-agent']), /^kproxy\//);
        assert.equal(s.headers['x-forwarded-for'], '127.0.0.1');
      }
      assert.equal(api.h2Conns((path) => path !== LIST).size, 1, 'one multiplexed connection');

      // Each event reaches every client while the streams stay open.
      api.emit('{"type":"ADDED","object":{"metadata":{"name":"web-1"}}}');
      await within(Promise.all(streams.map((s) => s.waitFor('web-1'))), 'event through HTTP/2');
    } finally {
      for (const s of streams) s.close();
    }
  });

  test('a client going away resets its stream upstream; the connection and the other streams stay', async () => {
    api.reset();
    const p = await launch(['--port=0', `--kubeconfig=${kc}`]);
    // Paths of their own: streams of earlier tests may still be closing upstream.
    const keepPath = `${WATCH}&resourceVersion=keep`;
    const gonePath = `${FOLLOW}&tailLines=7`;
    const keep = await openStream({ url: p.url, path: keepPath });
    const gone = await openStream({ url: p.url, path: gonePath });
    try {
      gone.close();
      await api.changed.until('the follow stream closed upstream', () => api.closedEarly.includes(gonePath), 10_000);
      api.emit('{"type":"MODIFIED","object":{"metadata":{"name":"still-here"}}}');
      await within(keep.waitFor('still-here'), 'event on the remaining stream');
      assert.equal(api.closedEarly.includes(keepPath), false);
      assert.equal(api.h2Conns((path) => path === keepPath || path === gonePath).size, 1);
    } finally {
      keep.close();
    }
  });

  test('an API server connection that dies cuts the watch for the client (never a clean end)', async () => {
    api.reset();
    const p = await launch(['--port=0', `--kubeconfig=${kc}`]);
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

  test('a connection that goes dark: the PING is not answered, the watch ends with an error (HTTP2_*_TIMEOUT_SECONDS)', async () => {
    const fwd = await startTcpForwarder('127.0.0.1', api.port);
    try {
      const kcf = writeKubeconfig(dir.path, { server: `https://127.0.0.1:${fwd.port}`, caData: pki.ca, token: TOKEN, fileName: 'forwarded' });
      const p = await launch(['--port=0', `--kubeconfig=${kcf}`], { env: { HTTP2_READ_IDLE_TIMEOUT_SECONDS: '1', HTTP2_PING_TIMEOUT_SECONDS: '1' } });
      const w = await openStream({ url: p.url, path: `${WATCH}&dark=1` });
      api.emit('{"type":"ADDED","object":{"metadata":{"name":"lit"}}}', (path) => path.endsWith('dark=1'));
      await within(w.waitFor('lit'), 'event before the network drops');
      fwd.blackhole();
      const end = await within(w.ended, 'watch ended after the PING timeout');
      assert.equal(end.complete, false);
      await within(p.waitForStderr('http2: client connection lost'), 'logged');
    } finally {
      await fwd.close();
    }
  });

  for (const [kind, start] of [
    ['an HTTP CONNECT proxy', startConnectProxy],
    ['a SOCKS5 proxy', startSocksProxy],
  ] as const) {
    test(`through ${kind} (proxy-url): HTTP/2 inside the tunnel`, async () => {
      api.reset();
      const proxy = await start();
      try {
        const kcp = writeKubeconfig(dir.path, { server: api.url, caData: pki.ca, token: TOKEN, proxyUrl: proxy.url, fileName: `proxied-${proxy.port}` });
        const p = await launch(['--port=0', `--kubeconfig=${kcp}`]);
        const ws = [await openStream({ url: p.url, path: WATCH }), await openStream({ url: p.url, path: FOLLOW })];
        try {
          for (const w of ws) assert.equal(w.status, 200);
          assert.deepEqual(
            api.seen.map((s) => s.httpVersion),
            ['2.0', '2.0'],
          );
          assert.equal(api.h2Conns().size, 1);
          assert.equal(proxy.records.filter((r) => r.port === api.port).length, 1);
        } finally {
          for (const w of ws) w.close();
        }
      } finally {
        await proxy.close();
      }
    });
  }
});

describe('HTTP/1.1 to the API server', () => {
  for (const [what, args, env] of [
    ['DISABLE_HTTP2=1', [], { DISABLE_HTTP2: '1' }],
    ['--upstream-http2=false', ['--upstream-http2=false'], {}],
  ] as const) {
    test(`${what}: watches use HTTP/1.1 connections`, async () => {
      api.reset();
      const p = await launch(['--port=0', `--kubeconfig=${kc}`, ...args], { env });
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
  }

  test('--upstream-http2 (the old opt-in) is still accepted: HTTP/2', async () => {
    api.reset();
    const p = await launch(['--port=0', `--kubeconfig=${kc}`, '--upstream-http2']);
    const w = await openStream({ url: p.url, path: WATCH });
    try {
      assert.equal(api.seen[0]?.httpVersion, '2.0');
    } finally {
      w.close();
    }
  });

  test('an API server without HTTP/2: watches and other requests work over HTTP/1.1', async () => {
    const kc1 = writeKubeconfig(dir.path, { server: h1url, caData: pki.ca, token: TOKEN, fileName: 'h1only' });
    const p = await launch(['--port=0', `--kubeconfig=${kc1}`]);
    for (const path of [WATCH, LIST, FOLLOW]) {
      const r = await request({ url: p.url, path });
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['x-http-version'], '1.1');
    }
  });
});
