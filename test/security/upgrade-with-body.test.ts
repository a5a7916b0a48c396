// An upgrade request that declares a body was forwarded with its length but not its bytes: the
// API server waited for the body, kproxy for the answer, and both connections stayed pinned.
// kproxy answers 400 and sends nothing upstream.

import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import type { Running } from '../helpers/proc.js';
import { assertNothingForwarded, send, startFixture, type Fixture } from './fixture.js';

let fx: Fixture;
let p: Running;

before(async () => {
  fx = await startFixture();
  p = await fx.launch([]);
});
beforeEach(() => fx.up.reset());
after(() => fx.close());

const WS = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

const requests: Array<[string, string]> = [
  ['Content-Length', `GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: localhost\r\n${WS}Content-Length: 5\r\n\r\nhello`],
  ['Content-Length without the bytes', `GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: localhost\r\n${WS}Content-Length: 100\r\n\r\n`],
  ['Transfer-Encoding: chunked', `POST /api/v1/namespaces/default/pods/web-1/portforward HTTP/1.1\r\nHost: localhost\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`],
];

for (const [name, bytes] of requests) {
  test(`upgrade with a body (${name}) is 400`, async () => {
    const r = await send(p, bytes);
    assert.equal(r.status, 400);
    assert.equal(r.body.toString(), '400 Bad Request: an upgrade request cannot carry a body\n');
    await assertNothingForwarded(fx.up, p);
  });
}

test('an upgrade with Content-Length: 0 is still relayed', async () => {
  const r = await send(p, `GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: localhost\r\n${WS}Content-Length: 0\r\n\r\n`);
  assert.equal(r.status, 101);
});
