// kubectl proxy serves anyone who can reach its port with the kubeconfig's identity: another
// user on the machine, a container sharing the network, a neighbour when it listens beyond
// loopback. With --auth-token, kproxy serves only clients that present its token, never forwards
// that token, and does not let a client pick its own identity with Impersonate-* headers.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { runKproxy, type Running } from '../helpers/proc.js';
import { assertNothingForwarded, KUBE_TOKEN, send, startFixture, type Fixture } from './fixture.js';

const LOCAL = 'local-token-SECRET-5b1d';
let fx: Fixture;
let p: Running;

before(async () => {
  fx = await startFixture();
  const file = join(fx.dir.path, 'token');
  writeFileSync(file, LOCAL + '\n', { mode: 0o600 });
  const www = join(fx.dir.path, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), '<h1>ui</h1>');
  p = await fx.launch([`--auth-token=${file}`, `--www=${www}`]);
});
beforeEach(() => fx.up.reset());
after(() => fx.close());

describe('--auth-token=FILE', () => {
  const refused: Array<[string, string]> = [
    ['no token', 'GET /api/v1/secrets HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
    ['a wrong token', 'GET /api/v1/secrets HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer nope\r\nConnection: close\r\n\r\n'],
    ['the kubeconfig token itself', `GET /api/v1/secrets HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${KUBE_TOKEN}\r\nConnection: close\r\n\r\n`],
    ['an upgrade without the token', 'GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
  ];
  for (const [name, bytes] of refused) {
    test(`401 for ${name}, nothing forwarded`, async () => {
      const r = await send(p, bytes);
      assert.equal(r.status, 401);
      assert.equal(r.headerMap['www-authenticate']?.[0], 'Bearer realm="kproxy"');
      await assertNothingForwarded(fx.up, p, `Authorization: Bearer ${LOCAL}\r\n`);
    });
  }

  test('with the token: forwarded with the kubeconfig credential, the token and Impersonate-* dropped', async () => {
    const r = await send(
      p,
      `GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${LOCAL}\r\nImpersonate-User: admin\r\nImpersonate-Group: system:masters\r\nCookie: a=1; kproxy-token=${LOCAL}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(r.status, 200);
    const [seen] = await fx.up.waitForRequests(1);
    assert.deepEqual(seen!.credentials, [`bearer:${KUBE_TOKEN}`]);
    assert.equal(seen!.headers['impersonate-user'], undefined);
    assert.equal(seen!.headers['impersonate-group'], undefined);
    assert.equal(seen!.headers.cookie, 'a=1');
    assert.ok(!seen!.rawHeaders.join('\n').includes(LOCAL), 'the local token never leaves the machine');
  });

  test('a browser UI gets the token as a cookie from the printed link', async () => {
    const r = await send(p, `GET /static/?kproxy-token=${LOCAL} HTTP/1.1\r\nHost: localhost\r\nSec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 303);
    assert.equal(r.headerMap.location?.[0], '/static/');
    assert.equal(r.headerMap['set-cookie']?.[0], `kproxy-token=${LOCAL}; Path=/; HttpOnly; SameSite=Strict`);
    const page = await send(p, `GET /static/ HTTP/1.1\r\nHost: localhost\r\nCookie: kproxy-token=${LOCAL}\r\nConnection: close\r\n\r\n`);
    assert.equal(page.status, 200);
    assert.equal(page.body.toString(), '<h1>ui</h1>');
    const api = await send(p, `GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nCookie: kproxy-token=${LOCAL}\r\nOrigin: http://localhost\r\nSec-Fetch-Site: same-origin\r\nConnection: close\r\n\r\n`);
    assert.equal(api.status, 200);
  });
});

describe('--auth-token=auto', () => {
  test('prints the token once; it works; -- mode hands it to the command', async () => {
    const code = `
      const fs = require('node:fs');
      const kc = fs.readFileSync(process.env.KUBECONFIG, 'utf8');
      if (!kc.includes(JSON.stringify(process.env.KPROXY_TOKEN))) process.exit(10);
      fetch(process.env.KPROXY_URL + '/api/v1/pods', { headers: { authorization: 'Bearer ' + process.env.KPROXY_TOKEN } })
        .then((r) => fetch(process.env.KPROXY_URL + '/api/v1/pods').then((anon) => process.exit(r.status === 200 && anon.status === 401 ? 0 : 11)));
    `;
    const r = await runKproxy(['--kubeconfig', fx.kubeconfig, '--auth-token=auto', '--', process.execPath, '-e', code]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('Access token'), '-- mode leaves stdout to the command');
  });

  test('the start-up output carries the token, text and JSON', async () => {
    const text = await fx.launch(['--auth-token=auto']);
    const m = /^Access token: ([A-Za-z0-9_-]{43})$/m.exec(text.stdout);
    assert.ok(m, text.stdout);
    const ok = await send(text, `GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${m[1]}\r\nConnection: close\r\n\r\n`);
    assert.equal(ok.status, 200);
    // In -- mode the JSON line goes to stderr, and the launcher need not parse it.
    const json = await runKproxy(['--kubeconfig', fx.kubeconfig, '--auth-token=auto', '--output=json', '--', process.execPath, '-e', '0']);
    assert.equal(json.code, 0, json.stderr);
    const line = JSON.parse(json.stderr.trim().split('\n').at(-1)!) as { token?: string };
    assert.match(line.token ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(line.token, m[1]);
  });
});

describe('listening beyond loopback', () => {
  test('without a token: one warning line', async () => {
    const open = await fx.launch(['--address=0.0.0.0']);
    await open.waitForStderr('without --auth-token: anyone who can reach the port acts with your cluster credentials');
    const guarded = await fx.launch(['--address=0.0.0.0', '--auth-token=auto']);
    await guarded.stop();
    assert.ok(!guarded.stderr.includes('without --auth-token'), guarded.stderr);
  });

  test('a token file that cannot be read stops kproxy before it starts', async () => {
    const r = await runKproxy(['--kubeconfig', fx.kubeconfig, `--auth-token=${join(fx.dir.path, 'missing')}`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: --auth-token: open ${join(fx.dir.path, 'missing')}: no such file or directory\n`);
    assert.equal(r.stdout, '');
  });
});
