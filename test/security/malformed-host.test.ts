// Host values that are not `host[:port]`: Go's httpguts.ValidHostHeader lets lists, junk after
// the port and (in absolute-form targets) userinfo through, and kubectl's filter then matches
// only their beginning (`--accept-hosts='^localhost'` admits `localhost:1@evil`). kproxy answers
// Go's bare `400 Bad Request: malformed Host header` and sends nothing upstream.

import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import type { Running } from '../helpers/proc.js';
import { assertNothingForwarded, send, startFixture, type Fixture } from './fixture.js';

let fx: Fixture;
let loose: Running;

before(async () => {
  fx = await startFixture();
  // An unanchored pattern, as users write them: the case where the beginning is all that counts.
  loose = await fx.launch(['--accept-hosts=^localhost,^127\\.0\\.0\\.1']);
});
beforeEach(() => fx.up.reset());
after(() => fx.close());

const requests: Array<[string, string]> = [
  ['junk after the port', 'GET /api/v1/secrets HTTP/1.1\r\nHost: localhost:8001junk\r\nConnection: close\r\n\r\n'],
  ['a list of hosts', 'GET /api/v1/secrets HTTP/1.1\r\nHost: localhost, evil.example\r\nConnection: close\r\n\r\n'],
  ['a host after the port', 'GET /api/v1/secrets HTTP/1.1\r\nHost: localhost:8001,evil.example\r\nConnection: close\r\n\r\n'],
  ['userinfo in the Host header', 'GET /api/v1/secrets HTTP/1.1\r\nHost: localhost:1@evil.example\r\nConnection: close\r\n\r\n'],
  ['userinfo in an absolute-form target', 'GET http://localhost@evil.example/api/v1/secrets HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['a port out of range', 'GET /api/v1/secrets HTTP/1.1\r\nHost: localhost:99999\r\nConnection: close\r\n\r\n'],
  ['an unbracketed IPv6 address', 'GET /api/v1/secrets HTTP/1.1\r\nHost: ::1\r\nConnection: close\r\n\r\n'],
];

for (const [name, bytes] of requests) {
  test(`malformed Host: ${name}`, async () => {
    const r = await send(loose, bytes);
    assert.equal(r.status, 400);
    assert.equal(r.reason, 'Bad Request: malformed Host header');
    assert.equal(r.body.toString(), '400 Bad Request: malformed Host header');
    await assertNothingForwarded(fx.up, loose);
  });
}

test('well-formed Hosts still pass the same unanchored filter', async () => {
  for (const host of ['localhost:8001', 'localhost', '127.0.0.1:8001']) {
    const r = await send(loose, `GET /api/v1/pods HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 200, host);
  }
});
