// Self-test of the conformance fixture (test/helpers/*): if these fail, every differential test
// built on them is meaningless. Runs against the real kubectl 1.32 when present, never kproxy, so
// the fixture can be trusted before kproxy exists.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { openStream, parseRawResponse, rawRequest, request } from './helpers/http.js';
import { kubeconfigYaml, tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, writePkiFiles, type Pki } from './helpers/pki.js';
import {
  findKubectl,
  kproxyBin,
  kubectlMissing,
  parseServeAddress,
  runKubectlProxy,
  runProcess,
  startKubectlProxy,
  startProcess,
} from './helpers/proc.js';
import { bigBody, bigSha256, GZIP_DOCUMENT, podList, startUpstream, UNAUTHORIZED_STATUS, VERSION_INFO, type Upstream } from './helpers/upstream.js';

let pki: Pki;
let up: Upstream; // HTTPS, no auth required
let authUp: Upstream; // HTTPS, token tok-1 or basic bob:secret
let plainUp: Upstream; // plain HTTP
let dir: TempDir;

before(async () => {
  pki = await makePki();
  [up, authUp, plainUp] = await Promise.all([
    startUpstream({ pki }),
    startUpstream({ pki, tokens: ['tok-1'], basic: [{ user: 'bob', pass: 'secret' }] }),
    startUpstream({ pki, http: true }),
  ]);
  dir = tempDir('kproxy-helpers');
});

after(async () => {
  await Promise.all([up?.close(), authUp?.close(), plainUp?.close()]);
  dir?.cleanup();
});

const last = (u: Upstream) => u.requests[u.requests.length - 1]!;

describe('pki', () => {
  test('server cert chains to the CA with the required SANs; the other CA does not verify it', () => {
    const ca = new X509Certificate(pki.ca);
    const server = new X509Certificate(pki.server.cert);
    assert.ok(server.checkIssued(ca));
    assert.ok(server.verify(ca.publicKey));
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.equal(server.checkHost('kubernetes.local'), 'kubernetes.local');
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(server.checkIP('::1'), '::1');
    assert.equal(server.verify(new X509Certificate(pki.otherCa).publicKey), false);

    const wrong = new X509Certificate(pki.wrongName.cert);
    assert.ok(wrong.verify(ca.publicKey));
    assert.equal(wrong.checkHost('localhost'), undefined);
    assert.equal(wrong.checkIP('127.0.0.1'), undefined);
    assert.equal(wrong.checkHost('other.example'), 'other.example');

    const client = new X509Certificate(pki.client.cert);
    assert.ok(client.verify(ca.publicKey));
    assert.match(client.subject, /CN=alice/);
    assert.match(client.subject, /O=devs/);
  });

  test('generated once per process; files written with private keys 0600', async () => {
    assert.equal(await makePki(), pki);
    const paths = writePkiFiles(join(dir.path, 'pki'), pki);
    assert.equal(readFileSync(paths.ca, 'utf8'), pki.ca);
    assert.equal(readFileSync(paths.clientKey, 'utf8'), pki.client.key);
    assert.equal(statSync(paths.serverKey).mode & 0o777, 0o600);
  });
});

describe('upstream', () => {
  test('TLS: trusted through pki.ca only; ALPN http/1.1; SNI recorded', async () => {
    const res = await request(`${up.url}/version`, { tls: { ca: pki.ca, alpn: ['h2', 'http/1.1'] } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), VERSION_INFO);
    const rec = last(up);
    assert.equal(rec.alpn, 'http/1.1');
    assert.equal(rec.sni, undefined, 'no SNI for an IP literal');
    assert.equal(rec.identity, 'anonymous');

    await request(`${up.url}/version`, { tls: { ca: pki.ca, servername: 'kubernetes.local' } });
    assert.equal(last(up).sni, 'kubernetes.local');

    await assert.rejects(request(`${up.url}/version`, { tls: { ca: pki.otherCa } }), /self.signed|unable to (verify|get)/i);
  });

  test('a verified client cert is the identity; an unverified one is anonymous', async () => {
    const mine = await request(`${up.url}/anything`, { tls: { ca: pki.ca, ...pki.client } });
    assert.equal(mine.json().identity, 'cert:alice');
    assert.deepEqual(last(up).clientCert, { cn: 'alice', o: 'devs', issuerCn: 'kproxy-test-ca', verified: true });

    const theirs = await request(`${up.url}/anything`, { tls: { ca: pki.ca, ...pki.otherClient } });
    assert.equal(theirs.json().identity, 'anonymous');
    assert.equal(last(up).clientCert?.verified, false);
  });

  test('auth: 401 Status without a valid credential; bearer, basic and cert identities', async () => {
    const tls = { ca: pki.ca };
    const none = await request(`${authUp.url}/api/v1/pods`, { tls });
    assert.equal(none.status, 401);
    assert.deepEqual(none.json(), UNAUTHORIZED_STATUS);

    const bad = await request(`${authUp.url}/api/v1/pods`, { tls, headers: { Authorization: 'Bearer nope' } });
    assert.equal(bad.status, 401);

    const bearer = await request(`${authUp.url}/api/v1/pods`, { tls, headers: { Authorization: 'Bearer tok-1' } });
    assert.equal(bearer.status, 200);
    assert.equal(last(authUp).identity, 'bearer:tok-1');

    const basic = await request(`${authUp.url}/x`, { tls, headers: { Authorization: `Basic ${Buffer.from('bob:secret').toString('base64')}` } });
    assert.equal(basic.json().identity, 'basic:bob');

    // As kube-apiserver: x509 is tried first, so a good cert wins over a bad token.
    const cert = await request(`${authUp.url}/x`, { tls: { ...tls, ...pki.client }, headers: { Authorization: 'Bearer nope' } });
    assert.equal(cert.status, 200);
    assert.equal(cert.json().identity, 'cert:alice');
  });

  test('records raw target, raw headers (duplicates kept), HTTP version and body hash', async () => {
    const body = bigBody(300_000);
    const target = '/upload?x=%2F&y=a%20b';
    const res = await request(`${plainUp.url}${target}`, {
      method: 'POST',
      headers: ['X-Dup', 'one', 'x-dup', 'two', 'Content-Type', 'application/octet-stream'],
      body,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { bodyLength: body.length, bodySha256: bigSha256(body.length) });
    const rec = last(plainUp);
    assert.equal(rec.target, target);
    assert.equal(rec.path, '/upload');
    assert.equal(rec.query, 'x=%2F&y=a%20b');
    assert.equal(rec.httpVersion, '1.1');
    assert.equal(rec.tls, false);
    assert.ok(rec.bodyComplete);
    const dups = rec.rawHeaders.filter((_, i) => i % 2 === 1 && /^x-dup$/i.test(rec.rawHeaders[i - 1]!));
    assert.deepEqual(dups, ['one', 'two']);
  });

  test('/big with and without Content-Length delivers the deterministic content', async () => {
    const fixed = await request(`${up.url}/big?size=1000000`, { tls: { ca: pki.ca } });
    assert.equal(fixed.headers['content-length'], '1000000');
    assert.ok(fixed.body.equals(bigBody(1_000_000)));
    const chunked = await request(`${up.url}/big?size=200000&chunked=1`, { tls: { ca: pki.ca } });
    assert.equal(chunked.headers['content-length'], undefined);
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    assert.ok(chunked.body.equals(bigBody(200_000)));
  });

  test('/gzip compresses only when asked, and records which', async () => {
    const gz = await request(`${plainUp.url}/gzip`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(JSON.parse(gunzipSync(gz.body).toString()), GZIP_DOCUMENT);
    assert.equal(last(plainUp).gzip, true);
    const plain = await request(`${plainUp.url}/gzip`);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.deepEqual(plain.json(), GZIP_DOCUMENT);
    assert.equal(last(plainUp).gzip, false);
  });

  test('watch: an event reaches the client while the stream is still open', async () => {
    const s = await openStream(`${up.url}/api/v1/namespaces/default/pods?watch=1`, { tls: { ca: pki.ca } });
    assert.equal(s.status, 200);
    await up.waitForWatchers(1);
    const line = up.emitWatchEvent({ metadata: { name: 'p1' } });
    await s.waitFor(line);
    assert.equal(s.done, false, 'stream must still be open after the first event');
    assert.equal(up.endWatches(), 1);
    const end = await s.ended;
    assert.ok(end.complete);
    assert.equal(end.body.toString(), line);
  });

  test('log follow streams like the watch', async () => {
    const s = await openStream(`${plainUp.url}/api/v1/namespaces/default/pods/foo/log?follow=true`);
    await plainUp.waitForLogFollowers(1);
    plainUp.emitLogLine('hello\n');
    await s.waitFor('hello\n');
    assert.equal(s.done, false);
    plainUp.endLogs();
    assert.equal((await s.ended).body.toString(), 'hello\n');
  });

  test('/die-mid-body and /die-mid-chunked cut the response after 100 bytes', async () => {
    for (const path of ['/die-mid-body', '/die-mid-chunked']) {
      const res = await request(`${up.url}${path}`, { tls: { ca: pki.ca }, allowIncomplete: true });
      assert.equal(res.status, 200, path);
      assert.equal(res.complete, false, path);
      assert.ok(res.body.length <= 100, `${path}: ${res.body.length} bytes`);
      assert.ok(res.body.equals(bigBody(res.body.length)), path);
      assert.equal(last(up).cut, true);
      assert.equal(last(up).aborted, false, 'a deliberate cut is not a client abort');
    }
    assert.equal((await request(`${up.url}/die-mid-body`, { tls: { ca: pki.ca }, allowIncomplete: true })).headers['content-length'], '1000');
    await assert.rejects(request(`${plainUp.url}/die-mid-body`), /incomplete/);
  });

  test('/hang records the client going away', async () => {
    const before = up.aborted;
    const s = await openStream(`${up.url}/hang`, { tls: { ca: pki.ca } });
    assert.equal(s.status, 200);
    s.close();
    await up.waitForAborted(before + 1);
    assert.equal(up.requests.find((r) => r.path === '/hang' && r.aborted)?.method, 'GET');
  });

  test('status, redirect, multi-valued and hop-by-hop headers, slow, namespaced list', async () => {
    const tls = { ca: pki.ca };
    const notFound = await request(`${up.url}/status/404`, { tls });
    assert.equal(notFound.status, 404);
    assert.equal(notFound.text(), 'status 404\n');

    const redirect = await request(`${up.url}/redirect`, { tls });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, `https://127.0.0.1:${up.port}/api/v1/elsewhere`);

    const hop = await request(`${up.url}/hop`, { tls });
    const raw = (name: string) => hop.rawHeaders.filter((_, i) => i % 2 === 1 && hop.rawHeaders[i - 1]!.toLowerCase() === name);
    assert.deepEqual(raw('set-cookie'), ['a=1; Path=/', 'b=2; Path=/']);
    assert.equal(raw('warning').length, 2);
    assert.deepEqual(raw('connection'), ['x-custom']);
    assert.deepEqual(raw('x-custom'), ['1']);
    assert.deepEqual(raw('keep-alive'), ['timeout=5']);

    const slow = await request(`${up.url}/slow?ms=30`, { tls });
    assert.equal(slow.json().target, '/slow?ms=30');

    const pods = await request(`${up.url}/api/v1/namespaces/kube-system/pods`, { tls });
    assert.deepEqual(pods.json(), podList('kube-system'));
  });

  test('rawRequest: HTTP/1.0 without Host, OPTIONS *, absolute-form, chunked framing, upgrades', async () => {
    const h = '127.0.0.1';
    const p = plainUp.port;
    const v10 = parseRawResponse(await rawRequest(h, p, 'GET /version HTTP/1.0\r\n\r\n'))!;
    assert.equal(v10.status, 200);
    assert.equal(last(plainUp).httpVersion, '1.0');
    assert.equal(last(plainUp).headers.host, undefined);

    const star = parseRawResponse(await rawRequest(h, p, 'OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n'))!;
    assert.equal(star.status, 200);
    assert.equal(last(plainUp).target, '*');

    await rawRequest(h, p, 'GET http://example.com/api/v1/pods?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n');
    assert.equal(last(plainUp).target, 'http://example.com/api/v1/pods?x=1');

    const chunked = parseRawResponse(await rawRequest(h, p, 'GET /big?size=5000&chunked=1 HTTP/1.1\r\nHost: localhost\r\n\r\n'))!;
    assert.ok(chunked.complete);
    assert.ok(chunked.body.equals(bigBody(5000)));

    const trailers = parseRawResponse(await rawRequest(h, p, 'GET /trailers HTTP/1.1\r\nHost: localhost\r\n\r\n'))!;
    assert.equal(trailers.trailers[0]?.[0], 'X-Body-Sha256');

    const ws = parseRawResponse(
      await rawRequest(h, p, 'GET /api/v1/namespaces/d/pods/p/portforward HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'),
    )!;
    assert.equal(ws.status, 101);
    assert.deepEqual(ws.headerMap['sec-websocket-accept'], ['s3pPLMBiTxaQ9kYGzzhZRbK+xOo=']);
    assert.equal(last(plainUp).upgrade, true);

    const denied = parseRawResponse(await rawRequest(h, p, 'GET /upgrade/status/403 HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n'))!;
    assert.equal(denied.status, 403);
    assert.equal(denied.body.toString(), 'denied\n');
  });
});

describe('kubeconfig', () => {
  test('writes the fields client-go reads, under their serialized names', () => {
    const yaml = kubeconfigYaml({
      server: 'https://127.0.0.1:1',
      caData: 'PEM',
      tlsServerName: 'kubernetes.local',
      tokenFile: '/t',
      basic: { user: 'bob', pass: 'secret' },
      as: 'jane',
      asGroups: ['g1', 'g2'],
      asUserExtra: { scopes: ['a'] },
      disableCompression: true,
      rawYaml: 'preferences: {}',
    });
    for (const s of ['certificate-authority-data: UEVN', 'tls-server-name: kubernetes.local', 'tokenFile: /t', 'username: bob', 'as-groups:', 'as-user-extra:', 'disable-compression: true', 'current-context: test', 'preferences: {}']) {
      assert.ok(yaml.includes(s), `missing ${s} in\n${yaml}`);
    }
    const t = tempDir('kproxy-cleanup');
    writeKubeconfig(t.path, { server: 'https://127.0.0.1:1' });
    t.cleanup();
    t.cleanup();
    assert.equal(existsSync(t.path), false);
  });
});

describe('proc', () => {
  test('parseServeAddress', () => {
    assert.deepEqual(parseServeAddress('127.0.0.1:41234'), { raw: '127.0.0.1:41234', host: '127.0.0.1', port: 41234, url: 'http://127.0.0.1:41234' });
    assert.deepEqual(parseServeAddress('[::1]:41234'), { raw: '[::1]:41234', host: '::1', port: 41234, url: 'http://[::1]:41234' });
    assert.equal(parseServeAddress('[::]:8001').url, 'http://127.0.0.1:8001');
    assert.deepEqual(parseServeAddress('/tmp/x.sock'), { raw: '/tmp/x.sock', host: 'localhost', port: 0, socketPath: '/tmp/x.sock', url: 'http://localhost' });
  });

  test('repo root and bin/kproxy are found', () => {
    assert.ok(kproxyBin().endsWith(join('bin', 'kproxy')));
    assert.ok(existsSync(join(kproxyBin(), '..', '..', 'package.json')));
  });

  test('start-up waits for the ready line; stop is idempotent; failures carry the output', async () => {
    const script = join(dir.path, 'fake-proxy.mjs');
    writeFileSync(
      script,
      `import net from 'node:net';
       const s = net.createServer().listen(0, '127.0.0.1', () => process.stdout.write('Starting to serve on 127.0.0.1:' + s.address().port + '\\n'));`,
    );
    const running = await startProcess(process.execPath, [script]);
    assert.equal(running.host, '127.0.0.1');
    assert.ok(running.port > 0);
    const [a, b] = await Promise.all([running.stop(), running.stop()]);
    assert.equal(a.signal, 'SIGTERM');
    assert.deepEqual(a, b);
    assert.deepEqual(await running.stop(), a);

    await assert.rejects(startProcess(process.execPath, ['-e', 'console.log("out-text"); console.error("err-text"); process.exit(3)']), (err: Error) => {
      assert.match(err.message, /code 3/);
      assert.match(err.message, /out-text/);
      assert.match(err.message, /err-text/);
      return true;
    });
    await assert.rejects(startProcess(process.execPath, ['-e', 'console.error("never-ready"); setInterval(() => {}, 1000)'], { timeoutMs: 500 }), /never-ready/);
    await assert.rejects(runProcess(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 300 }), /killed/);
  });
});

describe('real kubectl proxy', { skip: kubectlMissing() }, () => {
  test(`through ${findKubectl() ?? 'kubectl'}: PodList arrives and the upstream sees the kubeconfig token`, async () => {
    const kubeconfig = writeKubeconfig(dir.path, { server: authUp.url, caData: pki.ca, token: 'tok-1', fileName: 'token.kubeconfig' });
    const proxy = await startKubectlProxy(['--port=0', `--kubeconfig=${kubeconfig}`]);
    try {
      assert.equal(proxy.host, '127.0.0.1');
      authUp.reset();
      const res = await request(`${proxy.url}/api/v1/pods`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), podList());
      const recs = await authUp.waitForRequests(1);
      assert.equal(recs.length, 1, 'exactly one upstream request (no dispatcher GET /version)');
      assert.equal(recs[0]!.identity, 'bearer:tok-1');
      assert.equal(recs[0]!.target, '/api/v1/pods');
      assert.equal(recs[0]!.headers.host, `127.0.0.1:${authUp.port}`);
      assert.equal(recs[0]!.alpn, 'http/1.1');
    } finally {
      await proxy.stop();
    }
  });

  test('unix socket address is parsed and usable; flag validation exits 1', async () => {
    const kubeconfig = writeKubeconfig(dir.path, { server: authUp.url, caData: pki.ca, token: 'tok-1', fileName: 'sock.kubeconfig' });
    const socketPath = join(dir.path, 'k.sock');
    const proxy = await startKubectlProxy([`--unix-socket=${socketPath}`, `--kubeconfig=${kubeconfig}`]);
    try {
      assert.equal(proxy.socketPath, socketPath);
      const res = await request({ socketPath, path: '/version' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), VERSION_INFO);
    } finally {
      await proxy.stop();
    }
    const bad = await runKubectlProxy([`--unix-socket=${socketPath}`, '--port=1', `--kubeconfig=${kubeconfig}`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /cannot set --unix-socket and --port at the same time/);
  });
});
