// The filter runs before an upgrade is dialled: the default reject list refuses exec and attach
// upgrades (WebSocket and SPDY) and a foreign Host with 403, and nothing reaches the upstream;
// --reject-paths= and --disable-filter open them.

import assert from 'node:assert/strict';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { RawClient } from '../helpers/raw-upgrade-client.js';
import { ATTACH, echo, EXEC, header, marker, P, PF, spdyHead, TOKEN, up, upgradesFor, useUpgradeFixture, wsHead } from '../helpers/upgrade-harness.js';

useUpgradeFixture(['main', 'open', 'nofilter']);

describe('the filter runs before anything is dialled', () => {
  test('default reject list: exec and attach upgrades (WebSocket and SPDY) get 403 and nothing reaches upstream', async () => {
    const p = await P.main;
    const cases: Array<[string, string]> = [
      ['ws exec', wsHead(EXEC)],
      ['spdy exec', spdyHead(EXEC)],
      ['ws attach', wsHead(ATTACH)],
      ['spdy attach', spdyHead(ATTACH)],
      ['exec in another namespace', spdyHead('/api/v1/namespaces/kube-system/pods/etcd-0/exec?command=id')],
    ];
    for (const [name, bytes] of cases) {
      const res = await RawClient.to(p.port, bytes).closedResponse();
      assert.equal(res.status, 403, name);
      assert.equal(res.body.toString(), 'Forbidden\n', name);
      assert.equal(header(res, 'content-type'), 'text/plain; charset=utf-8', name);
    }
    // The ws library sees the refusal the way kubectl does ("unable to upgrade connection: Forbidden").
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}${EXEC}`, ['v5.channel.k8s.io']);
    const status = await new Promise<number>((res, rej) => {
      ws.once('unexpected-response', (_req: ClientRequest, r: IncomingMessage) => {
        r.resume();
        res(r.statusCode ?? 0);
      });
      ws.once('open', () => rej(new Error('exec upgrade was opened')));
      ws.once('error', () => {});
    });
    assert.equal(status, 403);
    ws.terminate();
    await marker(p, 'filter');
    assert.deepEqual(
      up.requests.filter((r) => /\/(exec|attach)/.test(r.path)).map((r) => r.target),
      [],
      'no exec or attach request reached the upstream',
    );
  });

  test('a Host outside --accept-hosts is refused before the upstream is dialled', async () => {
    const p = await P.main;
    const target = PF + '&evil=1';
    const res = await RawClient.to(p.port, wsHead(target, [], 'evil.com')).closedResponse();
    assert.equal(res.status, 403);
    await marker(p, 'host');
    assert.deepEqual(upgradesFor('evil=1'), []);
  });

  test('--reject-paths= opens exec and attach', async () => {
    const p = await P.open;
    for (const [name, bytes, target] of [
      ['ws exec', wsHead(EXEC + '&open=1'), EXEC + '&open=1'],
      ['spdy attach', spdyHead(ATTACH + '&open=2'), ATTACH + '&open=2'],
    ] as const) {
      const c = RawClient.to(p.port, bytes);
      assert.equal((await c.switched()).res.status, 101, name);
      await echo(c, `hello-${name}`);
      const rec = await up.waitForRequest((r) => r.target === target);
      assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
      c.destroy();
    }
  });

  test('--disable-filter opens exec, whatever the Host', async () => {
    const p = await P.nofilter;
    const target = EXEC + '&nofilter=1';
    const c = RawClient.to(p.port, wsHead(target, [], 'evil.com'));
    assert.equal((await c.switched()).res.status, 101);
    await echo(c, 'id\n');
    const rec = await up.waitForRequest((r) => r.target === target);
    assert.equal(rec.headers.host, `127.0.0.1:${up.port}`, 'Host is still the upstream');
    c.destroy();
  });
});
