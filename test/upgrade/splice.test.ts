// After a 101, the spliced connection: half-close in either direction and abrupt teardown of
// either side, observed through socket events, never timers.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { within } from '../helpers/proc.js';
import { RawClient } from '../helpers/raw-upgrade-client.js';
import { P, PF, raw, useUpgradeFixture, wsHead } from '../helpers/upgrade-harness.js';

useUpgradeFixture(['raw']);

describe('splice: half-close and teardown, observed through socket events', () => {
  test('client half-close: the upstream sees the FIN after the data and can still answer; then both sides close', async () => {
    const p = await P.raw;
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'halfclose']]), { allowHalfOpen: true });
    const conn = await within(next, 'the upstream connection');
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    c.socket.end('last-words');
    await within(conn.endP, 'conn.endP');
    assert.equal(conn.received().toString(), 'last-words');
    await c.waitFor((b) => b.subarray(res.consumed).toString() === 'bye-after-fin', 'the answer sent after the FIN');
    await within(c.endP, 'c.endP');
    await within(Promise.all([c.closeP, conn.closeP]), 'both sides closed');
  });

  test('upstream finishes first: its last bytes and its FIN reach the client, then both sides close', async () => {
    const p = await P.raw;
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'upfirst']]));
    const conn = await within(next, 'the upstream connection');
    const { res } = await c.switched();
    await within(c.endP, 'c.endP');
    assert.equal(c.buf.subarray(res.consumed).toString(), 'server-done');
    await within(Promise.all([c.closeP, conn.closeP]), 'both sides closed');
  });

  test('the client disconnects abruptly: the upstream connection is closed', async () => {
    const p = await P.raw;
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'updestroy']]));
    const conn = await within(next, 'the upstream connection');
    assert.equal((await c.switched()).res.status, 101);
    c.destroy();
    await within(conn.closeP, 'conn.closeP');
  });

  test('the upstream disconnects abruptly: the client connection is closed', async () => {
    const p = await P.raw;
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'updestroy']]));
    const conn = await within(next, 'the upstream connection');
    assert.equal((await c.switched()).res.status, 101);
    conn.socket.destroy();
    await within(c.closeP, 'c.closeP');
  });
});
