// Cross-site WebSocket hijacking and cross-site request forgery through the proxy
// (kubernetes/kubernetes#8871, kubetail-org/kubetail PR #6). kubectl proxy never looks at Origin:
// any web page the user opens can watch secrets or port-forward through ws://localhost:8001.
// kproxy refuses browser requests from other origins before anything goes upstream.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Running } from '../helpers/proc.js';
import { assertNothingForwarded, send, startFixture, type Fixture } from './fixture.js';

const WS = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

let fx: Fixture;
let plain: Running;
let allowing: Running;
let unfiltered: Running;
let logged: Running;

before(async () => {
  fx = await startFixture();
  [plain, allowing, unfiltered, logged] = await Promise.all([
    fx.launch([]),
    fx.launch(['--allow-origins=http://localhost:3000']),
    fx.launch(['--disable-filter']),
    fx.launch(['--access-log=-', '--access-log-format=json']),
  ]);
});
beforeEach(() => fx.up.reset());
after(() => fx.close());

const attacks: Array<[string, string, string]> = [
  [
    'WebSocket watch of secrets from another site',
    `GET /api/v1/namespaces/kube-system/secrets?watch=1 HTTP/1.1\r\nHost: localhost:8001\r\n${WS}Origin: https://evil.example\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: websocket\r\nSec-Fetch-Dest: empty\r\n\r\n`,
    'cross-origin request from https://evil.example refused',
  ],
  [
    'WebSocket port-forward from another site',
    `GET /api/v1/namespaces/default/pods/web-1/portforward?ports=5432 HTTP/1.1\r\nHost: localhost:8001\r\n${WS}Sec-WebSocket-Protocol: v4.channel.k8s.io\r\nOrigin: https://evil.example\r\n\r\n`,
    'cross-origin request from https://evil.example refused',
  ],
  [
    'cross-site form POST (text/plain)',
    'POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: localhost:8001\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nOrigin: https://evil.example\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n{}',
    'cross-origin request from https://evil.example refused',
  ],
  [
    'cross-site no-cors GET through a service proxy',
    'GET /api/v1/namespaces/default/services/admin:80/proxy/delete-everything HTTP/1.1\r\nHost: localhost:8001\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: image\r\nConnection: close\r\n\r\n',
    'cross-site browser request refused (Sec-Fetch-Site: cross-site)',
  ],
  [
    'a page from localhost on another port',
    'GET /api/v1/secrets HTTP/1.1\r\nHost: localhost:8001\r\nOrigin: http://localhost:9999\r\nSec-Fetch-Site: same-site\r\nSec-Fetch-Mode: cors\r\nConnection: close\r\n\r\n',
    'cross-origin request from http://localhost:9999 refused',
  ],
  [
    'Origin null (sandboxed iframe)',
    'POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: localhost:8001\r\nOrigin: null\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    'cross-origin request from null refused',
  ],
];

describe('kproxy refuses browser requests from other origins', () => {
  for (const [name, bytes, reason] of attacks) {
    test(name, async () => {
      const r = await send(plain, bytes);
      assert.equal(r.status, 403);
      assert.match(r.body.toString(), new RegExp(reason.replace(/[().]/g, '\\$&')));
      assert.equal(r.body.toString().split('\n').length, 2, 'one line');
      await assertNothingForwarded(fx.up, plain);
    });
  }
});

test('the access log records the refusal and its reason', async () => {
  const r = await send(logged, 'GET /api/v1/secrets HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n');
  assert.equal(r.status, 403);
  const line = await logged.waitForStderr(/\{[^\n]*cross-origin: Origin https:\/\/evil\.example[^\n]*\}/);
  const entry = JSON.parse(line.split('\n').find((l) => l.includes('cross-origin'))!) as Record<string, unknown>;
  assert.equal(entry.status, 403);
  assert.equal(entry.decision, 'reject');
  assert.equal(entry.rule, 'cross-origin: Origin https://evil.example');
});

describe('what still works', () => {
  test('curl-like clients (no browser headers)', async () => {
    const r = await send(plain, 'GET /api/v1/namespaces/kube-system/secrets HTTP/1.1\r\nHost: localhost:8001\r\nUser-Agent: curl/8.5\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 200);
  });
  test('a pasted link (top-level navigation)', async () => {
    const r = await send(plain, 'GET /api/v1/pods HTTP/1.1\r\nHost: localhost:8001\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: document\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 200);
  });
  test('the proxy’s own origin, WebSocket included', async () => {
    const r = await send(plain, `GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: localhost:8001\r\n${WS}Origin: http://localhost:8001\r\nSec-Fetch-Site: same-origin\r\n\r\n`);
    assert.equal(r.status, 101);
  });
  test('--allow-origins admits the named UI', async () => {
    const r = await send(allowing, `GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: localhost:8001\r\n${WS}Origin: http://localhost:3000\r\nSec-Fetch-Site: same-site\r\n\r\n`);
    assert.equal(r.status, 101);
    const other = await send(allowing, `GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: localhost:8001\r\n${WS}Origin: http://localhost:3001\r\n\r\n`);
    assert.equal(other.status, 403);
  });
  test('--disable-filter turns the check off, as it turns off every check', async () => {
    const r = await send(unfiltered, `GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: localhost:8001\r\n${WS}Origin: https://evil.example\r\n\r\n`);
    assert.equal(r.status, 101);
  });
});
