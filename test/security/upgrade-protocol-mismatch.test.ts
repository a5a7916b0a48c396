// A 101 that switches to a protocol the client did not offer must not be relayed (Go's
// httputil.ReverseProxy: "backend tried to switch protocol X when Y was requested"): the client
// would be handed a connection speaking something it never asked for. kproxy answers 502 and
// closes both connections.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Running } from '../helpers/proc.js';
import { send, startFixture, type Fixture } from './fixture.js';

let fx: Fixture;
let p: Running;

before(async () => {
  fx = await startFixture();
  p = await fx.launch(['--reject-paths=^$']);
});
after(() => fx.close());

test('a 101 to another protocol becomes 502', async () => {
  const r = await send(p, 'GET /upgrade/switch-to/h2c HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  assert.equal(r.status, 502);
  assert.equal(r.body.toString(), 'backend tried to switch protocol "h2c" when "websocket" was requested\n');
  assert.equal(r.headerMap.connection?.[0], 'close');
  const seen = await fx.up.waitForRequest((q) => q.path === '/upgrade/switch-to/h2c');
  assert.equal(seen.status, 101, 'the upstream did switch, and kproxy refused to relay it');
});

test('a 101 to one of the offered protocols is relayed (case-insensitive)', async () => {
  const r = await send(p, 'GET /upgrade/switch-to/SPDY%2F3.1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket, spdy/3.1\r\nConnection: Upgrade\r\n\r\n');
  assert.equal(r.status, 101);
});
