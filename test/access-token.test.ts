// --auth-token's checks as tables: how a request presents the token, and what crosses upstream.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkToken, loadAccessToken, tokenCookie, withoutTokenCookie } from '../src/access-token.js';
import { tempDir } from './helpers/kubeconfig.js';

const dir = tempDir('kproxy-token');
const file = join(dir.path, 'token');
writeFileSync(file, 'sEcReT-123\n');
const token = loadAccessToken(file);

const rows: Array<[string, string, string, string[], ReturnType<typeof checkToken>]> = [
  ['Bearer token', 'GET', '/api', ['Authorization', 'Bearer sEcReT-123'], { ok: true }],
  ['scheme compared without case', 'GET', '/api', ['authorization', 'bearer sEcReT-123'], { ok: true }],
  ['wrong token', 'GET', '/api', ['Authorization', 'Bearer sEcReT-124'], { ok: false, reason: "the Authorization header does not carry kproxy's access token" }],
  ['a prefix of the token', 'GET', '/api', ['Authorization', 'Bearer sEcReT'], { ok: false, reason: "the Authorization header does not carry kproxy's access token" }],
  ['Basic credentials', 'GET', '/api', ['Authorization', 'Basic c0VjUmVULTEyMw=='], { ok: false, reason: "the Authorization header does not carry kproxy's access token" }],
  ['two Authorization headers', 'GET', '/api', ['Authorization', 'Bearer sEcReT-123', 'Authorization', 'Bearer x'], { ok: false, reason: 'more than one Authorization header' }],
  ['no token at all', 'GET', '/api', ['User-Agent', 'curl'], { ok: false, reason: 'kproxy needs its access token: send Authorization: Bearer <token> (see --auth-token)' }],
  ['cookie', 'GET', '/static/', ['Cookie', 'a=1; kproxy-token=sEcReT-123; b=2'], { ok: true }],
  ['wrong cookie', 'GET', '/static/', ['Cookie', 'kproxy-token=nope'], { ok: false, reason: "the kproxy-token cookie does not carry kproxy's access token" }],
  ['query parameter on a GET sets the cookie', 'GET', '/static/?kproxy-token=sEcReT-123&x=1', [], { ok: 'set-cookie', location: '/static/?x=1' }],
  ['query parameter alone', 'GET', '/static/?kproxy-token=sEcReT-123', [], { ok: 'set-cookie', location: '/static/' }],
  ['query parameter on a POST is not accepted', 'POST', '/api?kproxy-token=sEcReT-123', [], { ok: false, reason: 'kproxy needs its access token: send Authorization: Bearer <token> (see --auth-token)' }],
  ['wrong query parameter', 'GET', '/static/?kproxy-token=x', [], { ok: false, reason: 'kproxy needs its access token: send Authorization: Bearer <token> (see --auth-token)' }],
];

for (const [name, method, url, headers, want] of rows) {
  test(`auth token: ${name}`, () => assert.deepEqual(checkToken(token, method, url, headers), want));
}

test('auth token: auto makes a fresh random token each time', () => {
  const a = loadAccessToken('auto');
  const b = loadAccessToken('auto');
  assert.equal(a.generated, true);
  assert.equal(token.generated, false);
  assert.notEqual(a.value, b.value);
  assert.match(a.value, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(checkToken(a, 'GET', '/', ['Authorization', `Bearer ${a.value}`]), { ok: true });
});

test('auth token: bad files are one-line errors', () => {
  const empty = join(dir.path, 'empty');
  writeFileSync(empty, '\n');
  const spaced = join(dir.path, 'spaced');
  writeFileSync(spaced, 'two words');
  assert.throws(() => loadAccessToken(join(dir.path, 'missing')), { message: `--auth-token: open ${join(dir.path, 'missing')}: no such file or directory` });
  assert.throws(() => loadAccessToken(empty), { message: `--auth-token: token file ${empty} is empty` });
  assert.throws(() => loadAccessToken(spaced), /must hold one token of printable ASCII characters without spaces/);
});

test('auth token: the cookie is HttpOnly and SameSite=Strict', () => {
  assert.equal(tokenCookie(token), 'kproxy-token=sEcReT-123; Path=/; HttpOnly; SameSite=Strict');
});

const cookies: Array<[string, string | undefined]> = [
  ['a=1; b=2', 'a=1; b=2'],
  ['kproxy-token=x', undefined],
  ['a=1; kproxy-token=x; b=2', 'a=1; b=2'],
  ['kproxy-token=x;a=1', 'a=1'],
];
for (const [value, want] of cookies) test(`withoutTokenCookie(${value})`, () => assert.equal(withoutTokenCookie(value), want));

test.after(() => dir.cleanup());
