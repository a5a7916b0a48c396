// The HTTP/2 connection pool (src/h2pool.ts) through createUpstream, against an API server fixture
// that offers h2 and http/1.1: connections open only when the others are full by the server's
// SETTINGS_MAX_CONCURRENT_STREAMS, GOAWAY moves new requests to a new connection while old
// streams finish, a black-holed connection is found by PING (timeouts injected in ms), a client
// going away costs a stream reset, idle connections close, a server without h2 gets HTTP/1.1.
// No timing assertions: every wait is on an event, with a safety timeout.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { loadResolvedConfig } from '../src/kubeconfig/load.js';
import { createUpstream, type Upstream, type UpstreamOptions } from '../src/upstream.js';
import { Call } from './helpers/dispatch.js';
import { H2Api } from './helpers/h2api.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { within } from './helpers/proc.js';
import { startTcpForwarder } from './helpers/proxies.js';

const TOKEN = 'pool-token-7d1e';
const AUTHZ = `Bearer ${TOKEN}`;
const watchPath = (name: string): string => `/api/v1/namespaces/default/pods?watch=true&name=${name}`;
const LIST = '/api/v1/namespaces/default/pods';

let pki: Pki;
let dir: TempDir;
const ups: Upstream[] = [];
const apis: H2Api[] = [];

function upstreamFor(server: string, opts: UpstreamOptions = {}): Upstream {
  const kc = writeKubeconfig(dir.path, { server, caData: pki.ca, token: TOKEN, fileName: `kc-${ups.length}` });
  const up = createUpstream(loadResolvedConfig({ kubeconfig: kc }, {}, dir.path, dir.path), { env: {}, ...opts });
  ups.push(up);
  return up;
}

async function api(maxConcurrentStreams?: number): Promise<H2Api> {
  const a = await H2Api.start(pki, { token: TOKEN, maxConcurrentStreams });
  apis.push(a);
  return a;
}

before(async () => {
  pki = await makePki();
  dir = tempDir('kproxy-h2pool');
});

after(async () => {
  await Promise.all(ups.map((u) => u.close()));
  await Promise.all(apis.map((a) => a.close()));
  dir?.cleanup();
});

describe('HTTP/2 pool: connections', () => {
  test('a new connection opens only when the open ones are full by SETTINGS_MAX_CONCURRENT_STREAMS', async () => {
    const a = await api(2);
    const up = upstreamFor(a.url);
    const calls: Call[] = [];
    for (let k = 1; k <= 5; k++) {
      const c = new Call(up, AUTHZ, watchPath(`seq-${k}`));
      calls.push(c);
      assert.equal(await within(c.headers, `watch ${k} answered`), 200);
      assert.equal(a.h2Conns().size, Math.ceil(k / 2), `connections after ${k} watches`);
    }
    // A burst on top: the third connection's free stream, then one more connection.
    const burst = [1, 2, 3].map((i) => new Call(up, AUTHZ, watchPath(`burst-${i}`)));
    calls.push(...burst);
    for (const c of burst) assert.equal(await within(c.headers, 'burst watch answered'), 200);
    assert.equal(a.h2Conns().size, 4);
    assert.equal(a.openConns, 4);
    assert.equal(a.openStreams, 8);
    for (const c of calls) c.abort();
  });

  test('a burst from nothing opens ceil(requests / max streams) connections', async () => {
    const a = await api(2);
    const up = upstreamFor(a.url);
    const calls = Array.from({ length: 7 }, (_, i) => new Call(up, AUTHZ, watchPath(`b-${i}`)));
    for (const c of calls) assert.equal(await within(c.headers, 'watch answered'), 200);
    assert.equal(a.h2Conns().size, 4);
    for (const c of calls) c.abort();
  });

  for (const [name, code] of [
    ['NO_ERROR', 0],
    ['INTERNAL_ERROR (an nghttp2 server limiting stream resets)', 2],
  ] as const) {
    test(`GOAWAY ${name}: new requests go to a new connection, streams in flight finish`, async () => {
      const a = await api();
      const up = upstreamFor(a.url);
      const old = new Call(up, AUTHZ, watchPath('old'));
      assert.equal(await within(old.headers, 'old watch answered'), 200);
      const conn = a.last(watchPath('old'))!.conn;
      a.goaway(conn, code);
      const fresh = new Call(up, AUTHZ, watchPath('new'));
      assert.equal(await within(fresh.headers, 'new watch answered'), 200);
      assert.notEqual(a.last(watchPath('new'))!.conn, conn);
      assert.equal((await within(new Call(up, AUTHZ, LIST).ended, 'list after GOAWAY')).complete, true);

      a.emit('{"type":"ADDED","object":{"metadata":{"name":"both"}}}');
      await old.waitFor('both');
      await fresh.waitFor('both');
      // The old stream ends normally, then its connection closes; the new one carries on.
      a.endStreams((p) => p === watchPath('old'));
      assert.deepEqual(await within(old.ended, 'old watch ended'), { complete: true });
      await a.changed.until(`connection #${conn} closed`, () => a.closedConns.includes(conn), 10_000);
      a.emit('{"type":"MODIFIED","object":{"metadata":{"name":"after"}}}');
      await fresh.waitFor('after');
      fresh.abort();
    });
  }

  test('a black-holed connection: the PING goes unanswered and the watch ends with an error', async () => {
    const a = await api();
    const fwd = await startTcpForwarder('127.0.0.1', a.port);
    try {
      const up = upstreamFor(`https://127.0.0.1:${fwd.port}`, { h2Timers: { readIdleMs: 40, pingTimeoutMs: 40 } });
      const w = new Call(up, AUTHZ, watchPath('bh'));
      assert.equal(await within(w.headers, 'watch answered'), 200);
      a.emit('{"type":"ADDED","object":{"metadata":{"name":"before"}}}');
      await w.waitFor('before');
      fwd.blackhole();
      const end = await within(w.ended, 'watch ended after the connection went dark');
      assert.equal(end.complete, false);
      assert.equal(end.error?.message, 'http2: client connection lost');
      // The next request dials a new connection (the forwarder passes new ones through).
      const again = new Call(up, AUTHZ, watchPath('again'));
      assert.equal(await within(again.headers, 'new watch answered'), 200);
      again.abort();
    } finally {
      await fwd.close();
    }
  });

  test('a server that picks h2 and hangs up before its SETTINGS: the request fails, no redial loop', async () => {
    let connections = 0;
    const server = tls.createServer({ key: pki.server.key, cert: pki.server.cert, ALPNProtocols: ['h2'] }, (s) => {
      connections++;
      s.destroy();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const up = upstreamFor(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const w = new Call(up, AUTHZ, watchPath('hangup'));
      const end = await within(w.ended, 'the request failed');
      assert.equal(end.complete, false);
      assert.ok(end.error);
      assert.equal(connections, 1);
    } finally {
      server.close();
    }
  });

  test('a client going away costs a stream reset, not a connection', async () => {
    const a = await api();
    const up = upstreamFor(a.url);
    const keep = new Call(up, AUTHZ, watchPath('keep'));
    assert.equal(await within(keep.headers, 'watch answered'), 200);
    for (let i = 0; i < 20; i++) {
      const c = new Call(up, AUTHZ, watchPath(`gone-${i}`));
      assert.equal(await within(c.headers, 'watch answered'), 200);
      c.abort();
      await a.changed.until(`gone-${i} reset upstream`, () => a.closedEarly.includes(watchPath(`gone-${i}`)), 10_000);
    }
    assert.equal(a.h2Conns().size, 1);
    assert.equal(a.openConns, 1);
    assert.equal(a.closedEarly.includes(watchPath('keep')), false);
    a.emit('{"type":"ADDED","object":{"metadata":{"name":"still"}}}');
    await keep.waitFor('still');
    keep.abort();
  });

  test('an idle connection closes after idleMs', async () => {
    const a = await api();
    const up = upstreamFor(a.url, { h2Timers: { idleMs: 20 } });
    const w = new Call(up, AUTHZ, watchPath('idle'));
    assert.equal(await within(w.headers, 'watch answered'), 200);
    const conn = a.last(watchPath('idle'))!.conn;
    a.endStreams();
    assert.equal((await within(w.ended, 'watch ended')).complete, true);
    await a.changed.until('the idle connection closed', () => a.closedConns.includes(conn), 10_000);
  });

  test('an empty connection closes at once while another has room', async () => {
    const a = await api(2);
    const up = upstreamFor(a.url, { h2Timers: { idleMs: 600_000 } });
    const calls = ['x1', 'x2', 'x3'].map((n) => new Call(up, AUTHZ, watchPath(n)));
    for (const c of calls) assert.equal(await within(c.headers, 'watch answered'), 200);
    const second = a.last(watchPath('x3'))!.conn;
    assert.notEqual(a.last(watchPath('x1'))!.conn, second);
    calls[0]!.abort();
    a.endStreams((p) => p === watchPath('x3'));
    await a.changed.until('the emptied second connection closed', () => a.closedConns.includes(second), 10_000);
    assert.equal(a.openConns, 1);
    calls[1]!.abort();
  });
});
