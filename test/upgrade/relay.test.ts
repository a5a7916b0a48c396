// Upgrades through kproxy that the API server accepts (101): the 101 relayed verbatim, then bytes
// both ways, for WebSocket and SPDY, with the same credentials, Host, impersonation, TLS identity
// and ALPN as ordinary requests; bytes sent together with the request or the 101, a real ws
// client and server, and 16 MB each way. (The fixture: test/helpers/upgrade-harness.ts.)

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { pumpPattern } from '../helpers/net.js';
import { within } from '../helpers/proc.js';
import { RawClient } from '../helpers/raw-upgrade-client.js';
import { echo, header, headerValues, K8S_PROTOCOLS, P, PF, raw, spdyHead, TOKEN, up, useUpgradeFixture, WS_ACCEPT, WS_KEY, wsHead } from '../helpers/upgrade-harness.js';
import { bigBody, bigSha256 } from '../helpers/upstream.js';

useUpgradeFixture(['main', 'raw']);

describe('101: relayed verbatim, then bytes both ways', () => {
  test('WebSocket GET with the k8s subprotocols: credentials, Host, impersonation, TLS identity and ALPN as for ordinary requests', async () => {
    const p = await P.main;
    const target = PF + '&ws=1';
    // The request and the first protocol bytes in one write: they arrive at the proxy together.
    const c = RawClient.to(p.port, wsHead(target, [['X-Custom', 'kept']]) + 'early-client-bytes');
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    assert.equal(res.reason, 'Switching Protocols');
    assert.equal(header(res, 'upgrade'), 'websocket');
    assert.equal(header(res, 'sec-websocket-accept'), WS_ACCEPT);
    assert.equal(header(res, 'sec-websocket-protocol'), 'v5.channel.k8s.io');
    await c.waitFor((b) => b.subarray(res.consumed).toString() === 'early-client-bytes', 'echo of the bytes sent with the request');
    await echo(c, 'stdin-frame-1');
    await echo(c, '\x00\x01binary\xff');

    const rec = (await up.waitForRequest((r) => r.upgrade && r.target === target))!;
    assert.equal(rec.method, 'GET');
    assert.equal(rec.httpVersion, '1.1');
    assert.equal(rec.headers.host, `127.0.0.1:${up.port}`);
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(rec.credentials, ['cert:alice', `bearer:${TOKEN}`], 'the kubeconfig client certificate and token');
    assert.equal(rec.tls, true);
    assert.equal(rec.alpn, 'http/1.1');
    assert.equal(rec.sni, 'kubernetes.local', 'tls-server-name applies to upgrades too');
    assert.deepEqual(headerValues(rec, 'impersonate-user'), ['jane']);
    assert.deepEqual(headerValues(rec, 'impersonate-group'), ['g1', 'g2']);
    assert.deepEqual(headerValues(rec, 'upgrade'), ['websocket']);
    assert.match(String(rec.headers.connection), /upgrade/i);
    assert.equal(rec.headers['sec-websocket-key'], WS_KEY);
    assert.equal(rec.headers['sec-websocket-version'], '13');
    assert.equal(rec.headers['sec-websocket-protocol'], K8S_PROTOCOLS);
    assert.equal(rec.headers['x-custom'], 'kept');
    assert.equal(rec.headers['x-forwarded-for'], '127.0.0.1');

    // The client closes: the upstream's echo loop sees the end, and the proxy closes the client.
    c.socket.end();
    await within(c.closeP, 'c.closeP');
  });

  test('SPDY POST (Upgrade: SPDY/3.1) to port-forward', async () => {
    const p = await P.main;
    const target = PF + '&spdy=1';
    const c = RawClient.to(p.port, spdyHead(target));
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    assert.equal(header(res, 'upgrade'), 'SPDY/3.1');
    assert.equal(header(res, 'x-stream-protocol-version'), 'portforward.k8s.io');
    await echo(c, 'spdy-frame');
    const rec = await up.waitForRequest((r) => r.upgrade && r.target === target);
    assert.equal(rec.method, 'POST');
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(rec.headers.upgrade, 'SPDY/3.1');
    assert.equal(rec.headers['x-stream-protocol-version'], 'portforward.k8s.io');
    c.destroy();
  });

  test('the upgrade connection offers only http/1.1 in ALPN (ordinary requests may use h2)', async () => {
    const p = await P.raw;
    const before = raw.offers.length;
    const c = RawClient.to(p.port, wsHead(PF));
    assert.equal((await c.switched()).res.status, 101);
    assert.deepEqual(raw.offers.slice(before), [['http/1.1']]);
    c.destroy();
  });

  test('bytes the upstream sent together with its 101 reach the client right after the head', async () => {
    const p = await P.raw;
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'early101']]));
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    await c.waitFor((b) => b.subarray(res.consumed).toString() === 'early-from-upstream', 'the upstream bytes');
    c.destroy();
  });

  test('bytes the client sends before the 101 arrives reach the upstream after it, in order', async () => {
    const p = await P.raw;
    raw.handlers.set('late101', (conn) => {
      conn.socket.removeAllListeners('data');
      conn.socket.pause();
    });
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'late101']]));
    const conn = await within(next, 'the upstream connection');
    c.socket.write('sent-before-101;');
    // The upstream answers only now, then echoes.
    const s = conn.socket;
    s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    s.on('data', (d: Buffer) => s.write(d));
    s.resume();
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    c.socket.write('sent-after-101');
    await c.waitFor((b) => b.subarray(res.consumed).toString() === 'sent-before-101;sent-after-101', 'both echoes, in order');
    c.destroy();
    await within(conn.closeP, 'conn.closeP');
    raw.handlers.delete('late101');
  });

  test('a real WebSocket client (ws) and server: subprotocol negotiated, binary channel frames both ways', async () => {
    const p = await P.raw;
    // (ws refuses to offer `SPDY/3.1+portforward.k8s.io`: '/' is not a token character.)
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}${PF}`, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], {
      headers: { 'X-Test': 'ws' },
    });
    await new Promise<void>((res, rej) => {
      ws.once('open', res);
      ws.once('error', rej);
      ws.once('unexpected-response', (_req, r) => rej(new Error(`unexpected ${r.statusCode}`)));
    });
    assert.equal(ws.protocol, 'v5.channel.k8s.io');
    const frames = [Buffer.from([0, 0x68, 0x69]), Buffer.from([1, ...bigBody(70_000)]), Buffer.from([255])];
    const got: Buffer[] = [];
    const all = new Promise<void>((res) =>
      ws.on('message', (d: Buffer, isBinary: boolean) => {
        assert.equal(isBinary, true);
        got.push(d);
        if (got.length === frames.length) res();
      }),
    );
    for (const f of frames) ws.send(f);
    await within(all, 'all');
    assert.deepEqual(got, frames);
    const closed = new Promise<number>((res) => ws.once('close', (code: number) => res(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);
  });

  test('16 MB each way at once through the echo arrive intact', async () => {
    const p = await P.main;
    const c = RawClient.to(p.port, spdyHead(PF + '&big=1'));
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    const size = 16 * 1024 * 1024;
    const start = res.consumed;
    pumpPattern(c.socket, size);
    await within(c.closeP, 'c.closeP');
    const body = c.buf.subarray(start);
    assert.equal(body.length, size);
    assert.equal(createHash('sha256').update(body).digest('hex'), bigSha256(size));
  });
});
