// Which pool and protocol a request to the API server takes (upstream.ts), and how long idle
// HTTP/1.1 connections live: watches on HTTP/2 when the server offers h2, short requests on
// HTTP/1.1; a server without h2, DISABLE_HTTP2 and http2: false (--upstream-http2=false) get
// HTTP/1.1; connections opened for a burst close soon after it while one stays warm.
// Every wait is on an event, with a safety timeout.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadResolvedConfig } from '../src/kubeconfig/load.js';
import { createUpstream, type Upstream, type UpstreamOptions } from '../src/upstream.js';
import { Call } from './helpers/dispatch.js';
import { H2Api } from './helpers/h2api.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { within } from './helpers/proc.js';
import { Waiters } from './helpers/waiters.js';

const TOKEN = 'upstream-token-3a9c';
const AUTHZ = `Bearer ${TOKEN}`;
const WATCH = '/api/v1/namespaces/default/pods?watch=true';
const LIST = '/api/v1/namespaces/default/pods';

let pki: Pki;
let dir: TempDir;
const ups: Upstream[] = [];
const closers: Array<() => Promise<void> | void> = [];

function upstreamFor(server: string, opts: UpstreamOptions = {}): Upstream {
  const kc = writeKubeconfig(dir.path, { server, caData: pki.ca, token: TOKEN, fileName: `kc-${ups.length}` });
  const up = createUpstream(loadResolvedConfig({ kubeconfig: kc }, {}, dir.path, dir.path), { env: {}, ...opts });
  ups.push(up);
  return up;
}

async function h2api(): Promise<H2Api> {
  const a = await H2Api.start(pki, { token: TOKEN });
  closers.push(() => a.close());
  return a;
}

/** An HTTP/1.1-only https server that counts its TLS connections and holds requests until released. */
async function h1server(): Promise<{
  url: string;
  versions: string[];
  connections: () => number;
  open: () => number;
  changed: Waiters;
  held: () => number;
  release: () => void;
  hold: boolean;
}> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const versions: string[] = [];
  const waiting: Array<() => void> = [];
  const changed = new Waiters('h1 server', () => `${sockets.size} open, ${waiting.length} held`);
  const state = {
    hold: false,
    url: '',
    versions,
    changed,
    connections: () => connections,
    open: () => sockets.size,
    held: () => waiting.length,
    release: () => {
      for (const w of waiting.splice(0)) w();
    },
  };
  const server = https.createServer({ key: pki.server.key, cert: pki.server.cert, ALPNProtocols: ['http/1.1'] }, (req, res) => {
    versions.push(req.httpVersion);
    const answer = (): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"kind":"PodList","items":[]}');
    };
    if (state.hold) {
      waiting.push(answer);
      changed.poke();
    } else answer();
  });
  // As Go's server (kube-apiserver): no Keep-Alive hint, so the client's own idle timeouts apply.
  server.keepAliveTimeout = 0;
  server.on('secureConnection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.once('close', () => {
      sockets.delete(s);
      changed.poke();
    });
    changed.poke();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return state;
}

before(async () => {
  pki = await makePki();
  dir = tempDir('kproxy-upstream');
});

after(async () => {
  await Promise.all(ups.map((u) => u.close()));
  for (const c of closers) await c();
  dir?.cleanup();
});

describe('protocol choice', () => {
  test('a server that offers h2: watches over HTTP/2, short requests over HTTP/1.1', async () => {
    const a = await h2api();
    const up = upstreamFor(a.url);
    const w = new Call(up, AUTHZ, WATCH);
    assert.equal(await within(w.headers, 'watch answered'), 200);
    assert.equal((await within(new Call(up, AUTHZ, LIST).ended, 'list')).complete, true);
    assert.deepEqual(
      a.seen.map((s) => [s.path, s.httpVersion]),
      [
        [WATCH, '2.0'],
        [LIST, '1.1'],
      ],
    );
    w.abort();
  });

  test('a server without h2: HTTP/1.1 on the connection that was opened to ask', async () => {
    const h1 = await h1server();
    const up = upstreamFor(h1.url);
    const first = new Call(up, AUTHZ, WATCH);
    assert.equal((await within(first.ended, 'first request')).complete, true);
    assert.equal(first.status, 200);
    assert.equal(h1.connections(), 1, 'the TLS connection that offered h2 serves HTTP/1.1');
    // From a new event-loop turn, as a request from a client would come (undici marks a
    // connection free a microtask after the response ends).
    await new Promise((r) => setImmediate(r));
    assert.equal((await within(new Call(up, AUTHZ, WATCH).ended, 'second request')).complete, true);
    assert.deepEqual(h1.versions, ['1.1', '1.1']);
    assert.equal(h1.connections(), 1);
  });

  for (const [what, opts] of [
    ['DISABLE_HTTP2 set', { env: { DISABLE_HTTP2: 'true' } }],
    ['http2: false (--upstream-http2=false)', { http2: false }],
  ] as const) {
    test(`${what}: HTTP/1.1 to a server that offers h2`, async () => {
      const a = await h2api();
      const up = upstreamFor(a.url, opts);
      const w = new Call(up, AUTHZ, WATCH);
      assert.equal(await within(w.headers, 'watch answered'), 200);
      assert.equal(a.last(WATCH)!.httpVersion, '1.1');
      w.abort();
    });
  }
});

describe('HTTP/1.1 idle connections', () => {
  test('connections opened for a burst close after it; the first stays', async () => {
    const h1 = await h1server();
    const up = upstreamFor(h1.url, { http2: false });
    // Six requests held together make six connections.
    h1.hold = true;
    const calls = Array.from({ length: 6 }, () => new Call(up, AUTHZ, LIST));
    await h1.changed.until('six requests held', () => h1.held() === 6, 10_000);
    assert.equal(h1.open(), 6);
    h1.hold = false;
    h1.release();
    for (const c of calls) assert.equal((await within(c.ended, 'request done')).complete, true);
    await h1.changed.until('the burst connections closed', () => h1.open() === 1, 10_000);
    // The one left serves the next request.
    await new Promise((r) => setImmediate(r));
    assert.equal((await within(new Call(up, AUTHZ, LIST).ended, 'next request')).complete, true);
    assert.equal(h1.connections(), 6);
  });
});
