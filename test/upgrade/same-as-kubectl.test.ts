// Upgrades through kubectl proxy 1.32 and kproxy side by side: the 101 echo (WebSocket and SPDY),
// a relayed 403, h2c → 500 and a filtered exec answer the same; the headers kubectl forwards raw
// on the upgrade path and kproxy removes are pinned.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ParsedResponse } from '../helpers/http.js';
import { kubectlMissing, runKubectlProxy, startKubectlProxy } from '../helpers/proc.js';
import { RawClient } from '../helpers/raw-upgrade-client.js';
import { echo, EXEC, headerValues, mainKc, P, PF, spdyHead, TOKEN, track, up, upgradeHead, useUpgradeFixture, WS_KEY, wsHead } from '../helpers/upgrade-harness.js';

useUpgradeFixture(['main']);

describe('same answers as kubectl proxy', { skip: kubectlMissing() }, () => {
  test('101 echo, 403 relay, h2c → 500 text', async () => {
    const kubectl = await startKubectlProxy(['--port=0', `--kubeconfig=${mainKc}`]);
    track(kubectl);
    const kproxy = await P.main;
    const exchange = async (port: number, bytes: string, payload?: string) => {
      const c = RawClient.to(port, bytes);
      if (payload === undefined) {
        // kubectl keeps the connection open after its own 500 and 403 (kproxy closes it).
        const res = await c.response();
        c.destroy();
        return { res, echoed: '' };
      }
      const { res } = await c.switched();
      await echo(c, payload);
      const echoed = c.buf.subarray(res.consumed).toString();
      c.destroy();
      return { res, echoed };
    };
    const norm = (r: ParsedResponse, names: string[]) => ({
      status: r.status,
      reason: r.reason,
      body: r.body.toString(),
      headers: Object.fromEntries(names.map((n) => [n, r.headerMap[n]])),
    });
    const cases: Array<{ name: string; bytes: string; payload?: string; headers: string[] }> = [
      { name: '101 echo (WebSocket)', bytes: wsHead(PF + '&cmp=1'), payload: 'ping', headers: ['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol'] },
      { name: '101 echo (SPDY)', bytes: spdyHead(PF + '&cmp=2'), payload: 'ping', headers: ['upgrade', 'connection', 'x-stream-protocol-version'] },
      { name: '403 relay', bytes: spdyHead('/upgrade/status/403'), headers: ['content-type', 'content-length'] },
      {
        name: 'h2c → 500',
        bytes: upgradeHead('GET', '/api/v1/pods?cmp=h2c', [['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAMAAABkAAQAoAAAAAIAAAAA']]),
        headers: ['content-type', 'x-content-type-options'],
      },
      { name: 'exec refused by the default filter', bytes: wsHead(EXEC + '&cmp=3'), headers: ['content-type', 'x-content-type-options'] },
    ];
    for (const cs of cases) {
      const [k, m] = await Promise.all([exchange(kubectl.port, cs.bytes, cs.payload), exchange(kproxy.port, cs.bytes, cs.payload)]);
      assert.deepEqual(norm(m.res, cs.headers), norm(k.res, cs.headers), cs.name);
      assert.equal(m.echoed, k.echoed, cs.name);
    }
    // What the upstream saw on the upgrade connection: the same credentials and identity.
    const recs = up.requests.filter((r) => r.target === PF + '&cmp=1');
    assert.equal(recs.length, 2);
    for (const r of recs) {
      assert.deepEqual(r.credentials, ['cert:alice', `bearer:${TOKEN}`]);
      assert.equal(r.alpn, 'http/1.1');
      assert.equal(r.headers.host, `127.0.0.1:${up.port}`);
      assert.deepEqual(headerValues(r, 'impersonate-user'), ['jane']);
    }
    // Pinned difference: kubectl writes the client's headers raw (hop-by-hop ones and those the
    // Connection header lists included); kproxy sends only Connection: Upgrade and Upgrade.
    for (const [port, who] of [
      [kubectl.port, 'kubectl'],
      [kproxy.port, 'kproxy'],
    ] as const) {
      const target = `${PF}&hop=${who}`;
      const c = RawClient.to(
        port,
        upgradeHead('GET', target, [
          ['Connection', 'Upgrade, X-Listed'],
          ['Upgrade', 'websocket'],
          ['X-Listed', '1'],
          ['Keep-Alive', 'timeout=5'],
          ['Sec-WebSocket-Version', '13'],
          ['Sec-WebSocket-Key', WS_KEY],
        ]),
      );
      assert.equal((await c.switched()).res.status, 101);
      c.destroy();
    }
    const hop = (who: string) => up.requests.find((r) => r.target === `${PF}&hop=${who}`)!;
    assert.equal(hop('kubectl').headers['x-listed'], '1');
    assert.equal(hop('kubectl').headers['keep-alive'], 'timeout=5');
    assert.equal(hop('kproxy').headers['x-listed'], undefined);
    assert.equal(hop('kproxy').headers['keep-alive'], undefined);
    assert.match(String(hop('kproxy').headers.connection), /^upgrade$/i);

    const kb = await runKubectlProxy(['--port=0', '--keepalive=abc', `--kubeconfig=${mainKc}`]);
    assert.equal(kb.code, 1);
    assert.match(kb.stderr, /invalid argument "abc" for "--keepalive" flag: time: invalid duration "abc"/);
    await kubectl.stop();
  });
});
