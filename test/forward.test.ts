// Forwarding behaviour of the running proxy, end to end: bytes of the request target, streamed
// bodies in both directions, watches and log follows, aborts in both directions, upstream
// failures, header rules, the filter, prefixes and server paths, and the unix socket listener.
// (Encoded dot segments and the IPv6 Host are in test/security/, named by their advisories.)
// Every kproxy is a child process started on loopback; readiness and streaming are observed
// through events of the fake upstream (test/helpers/upstream.ts), never through sleeps.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { openStream, parseRawResponse, rawRequest, request, type Response } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { type Running, launcher } from './helpers/proc.js';
import { freePort } from './helpers/net.js';
import { bigBody, bigSha256, GZIP_DOCUMENT, podList, startUpstream, type RecordedRequest, type Upstream } from './helpers/upstream.js';

// Secrets that must never reach stderr, whatever the verbosity.
const TOKEN = 'fwd-token-SECRET-7f3a';
const BASIC_USER = 'bob';
const BASIC_PASS = 'pw-SECRET-9c1e';
const SERVER_PATH = '/k8s/clusters/c-1';
const SERVER_PATH_WARNING = `Your kube context contains a server path ${SERVER_PATH}, use --append-server-path to automatically append the path to each request`;

let pki: Pki;
let up: Upstream; // HTTPS, no authentication required: records whatever credential arrives
let wrongUp: Upstream; // HTTPS with a certificate for other.example only
let dir: TempDir;
let closedPort: number;

const { launch, stopAll } = launcher();


let P: {
  main: Promise<Running>; // default flags, -v=3, bearer token
  v9token: Promise<Running>; // -v=9, token + client certificate data, --disable-compression
  v9basic: Promise<Running>; // -v=9, basic auth, kubeconfig disable-compression
  unreachable: Promise<Running>;
  wrongName: Promise<Running>;
  unknownCa: Promise<Running>;
  custom: Promise<Running>; // --api-prefix=/custom/
  append: Promise<Running>; // --append-server-path, server path in the kubeconfig, -v=3
  serverPath: Promise<Running>; // server path in the kubeconfig, no --append-server-path
  unix: Promise<Running>; // --unix-socket
};
let socketPath: string;

before(async () => {
  pki = await makePki();
  [up, wrongUp] = await Promise.all([startUpstream({ pki }), startUpstream({ pki, serverCert: pki.wrongName })]);
  dir = tempDir('kproxy-fwd');
  closedPort = await freePort();
  socketPath = join(dir.path, 'k.sock');
  const kc = (fileName: string, spec: Omit<Parameters<typeof writeKubeconfig>[1], 'fileName'>) => writeKubeconfig(dir.path, { ...spec, fileName });
  const main = kc('main', { server: up.url, caData: pki.ca, token: TOKEN });
  const tokenKey = kc('token-key', { server: up.url, caData: pki.ca, token: TOKEN, clientCertData: pki.client.cert, clientKeyData: pki.client.key });
  const basic = kc('basic', { server: up.url, caData: pki.ca, basic: { user: BASIC_USER, pass: BASIC_PASS }, disableCompression: true });
  const unreachable = kc('unreachable', { server: `https://127.0.0.1:${closedPort}`, caData: pki.ca, token: TOKEN });
  const wrongName = kc('wrong-name', { server: wrongUp.url, caData: pki.ca, token: TOKEN });
  const unknownCa = kc('unknown-ca', { server: up.url, caData: pki.otherCa, token: TOKEN });
  const withPath = kc('server-path', { server: `${up.url}${SERVER_PATH}`, caData: pki.ca, token: TOKEN });
  P = {
    main: launch(['--port=0', '-v=3', '--kubeconfig', main]),
    v9token: launch(['--port=0', '-v=9', '--disable-compression', '--kubeconfig', tokenKey]),
    v9basic: launch(['--port=0', '-v=9', '--kubeconfig', basic]),
    unreachable: launch(['--port=0', '--kubeconfig', unreachable]),
    wrongName: launch(['--port=0', '--kubeconfig', wrongName]),
    unknownCa: launch(['--port=0', '--kubeconfig', unknownCa]),
    custom: launch(['--port=0', '--api-prefix=/custom/', '--kubeconfig', main]),
    append: launch(['--port=0', '-v=3', '--append-server-path', '--kubeconfig', withPath]),
    serverPath: launch(['--port=0', '--kubeconfig', withPath]),
    unix: launch(['--unix-socket', socketPath, '--kubeconfig', main]),
  };
});

after(async () => {
  await stopAll();
  await Promise.all([up?.close(), wrongUp?.close()]);
  dir?.cleanup();
});

beforeEach(() => {
  up?.reset();
});

/** Values of one header, in order, from a flat raw header list. */
function values(raw: string[], name: string): string[] {
  const lower = name.toLowerCase();
  return raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === lower);
}

/** The one upstream record for `target` (exact raw target). */
function recordFor(target: string): RecordedRequest {
  const found = up.requests.filter((r) => r.target === target);
  assert.equal(found.length, 1, `expected exactly one upstream request for ${target}, got ${up.requests.map((r) => r.target).join(', ') || 'none'}`);
  return found[0]!;
}

/** Streams a GET and hashes the body without holding it in memory. */
function hashGet(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; length: number; sha256: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const h = createHash('sha256');
      let length = 0;
      res.on('data', (c: Buffer) => {
        h.update(c);
        length += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, length, sha256: h.digest('hex'), complete: res.complete }));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new Error(`${url}: body cut after ${length} bytes`));
      });
    });
    req.on('error', reject);
  });
}

function assertPlainError(res: Response, status: number, pattern: RegExp): void {
  const ctx = `body: ${JSON.stringify(res.text())}`;
  assert.equal(res.status, status, ctx);
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8', ctx);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', ctx);
  const body = res.text();
  assert.ok(body.endsWith('\n') && body.indexOf('\n') === body.length - 1, `exactly one line: ${ctx}`);
  assert.match(body, pattern);
}

describe('request target', () => {
  test('path and query reach the upstream byte for byte with the default prefix', async () => {
    const main = await P.main;
    const targets = [
      '/api/v1/namespaces/default/services/s:8080/proxy/a%20b/c?x=%2F&y=1&y=2',
      '/api/v1/namespaces/default/services/https:s:443/proxy/?q=a+b&empty=&flag',
      '/api/v1/nodes/node-1:10250/proxy/stats/summary?only_cpu_and_memory=true',
      '/api/v1/nodes/n%2Ea/proxy/metrics%2Fcadvisor?x=%7E%20',
      '/api/v1/namespaces/default/pods/foo%2Fbar',
      "/apis/apps/v1/namespaces/default/deployments/d;x=1?labelSelector=app%3Dweb,tier!%3Dfront&fieldSelector=a=b",
    ];
    for (const target of targets) {
      const res = await request(`${main.url}${target}`);
      assert.equal(res.status, 200, target);
      assert.equal(res.json().target, target, 'upstream echo');
      assert.equal(recordFor(target).target, target);
    }
  });
});

describe('bodies are streamed', () => {
  test('a 20 MB upload reaches the upstream whole (sha256)', async () => {
    const main = await P.main;
    const size = 20_000_000;
    const res = await request(`${main.url}/upload`, { method: 'POST', body: bigBody(size), headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { bodyLength: size, bodySha256: bigSha256(size) });
    const rec = recordFor('/upload');
    assert.equal(rec.bodyComplete, true);
    assert.equal(rec.headers['content-length'], String(size));
  });

  test('a chunked upload (no Content-Length) and an Expect: 100-continue upload arrive whole', async () => {
    const main = await P.main;
    const size = 5_000_000;
    const chunks = function* (): Generator<Buffer> {
      for (let off = 0; off < size; off += 1 << 20) yield bigBody(Math.min(size, off + (1 << 20))).subarray(off);
    };
    const res = await request(`${main.url}/upload?te=chunked`, { method: 'PUT', body: Readable.from(chunks()) });
    assert.deepEqual(res.json(), { bodyLength: size, bodySha256: bigSha256(size) });
    assert.deepEqual(values(recordFor('/upload?te=chunked').rawHeaders, 'content-length'), []);

    const body = bigBody(100_000);
    const cont = await request(`${main.url}/upload?expect=1`, { method: 'POST', body, headers: { Expect: '100-continue' } });
    assert.equal(cont.status, 200);
    assert.deepEqual(cont.json(), { bodyLength: body.length, bodySha256: bigSha256(body.length) });
  });

  test('a 50 MB download arrives intact (sha256), Content-Length kept', async () => {
    const main = await P.main;
    const size = 50_000_000;
    const res = await hashGet(`${main.url}/big?size=${size}`);
    assert.equal(res.status, 200);
    assert.equal(res.complete, true);
    assert.equal(res.headers['content-length'], String(size));
    assert.equal(res.length, size);
    assert.equal(res.sha256, bigSha256(size));
  });

  test('a paused client holds the upstream back: the first chunk arrives while the upstream is still writing', async () => {
    const main = await P.main;
    const size = 50_000_000;
    const s = await openStream(`${main.url}/big?size=${size}&chunked=1`, { timeoutMs: 15_000 });
    assert.equal(s.status, 200);
    const first = await s.waitFor((b) => b.length > 0);
    s.res.pause();
    assert.ok(first.equals(bigBody(first.length)), 'the first bytes are the start of the body');
    assert.equal(s.done, false);
    // Let the proxy work while this response is paused: another 50 MB goes through it completely.
    // A proxy that read ahead of its client would meanwhile have drained the paused response too
    // (with backpressure only a few MB sit in socket buffers).
    const other = await hashGet(`${main.url}/big?size=${size}&other=1`);
    assert.equal(other.sha256, bigSha256(size));
    const rec = up.requests.find((r) => r.target === `/big?size=${size}&chunked=1`);
    assert.ok(rec, 'the upstream received the download request');
    assert.equal(rec.status, 200);
    assert.equal(rec.aborted, false, 'still being written');
    assert.ok(s.received().length < size, 'the client has not received everything');
    // If the proxy had read the whole 50 MB ahead of the client, the upstream response would be
    // finished and closing the client could not abort it.
    s.close();
    await up.waitForAborted(1, 10_000);
    assert.equal(rec.aborted, true, 'the upstream saw the response cut before it finished');
  });
});

describe('watch and log follow', () => {
  test('watch: headers before any event; two events arrive while the stream stays open', async () => {
    const main = await P.main;
    const s = await openStream(`${main.url}/api/v1/namespaces/default/pods?watch=1&resourceVersion=1000`, { timeoutMs: 10_000 });
    assert.equal(s.status, 200);
    assert.equal(s.headers['content-type'], 'application/json');
    assert.equal(s.received().length, 0, 'headers arrived before any event');
    await up.waitForWatchers(1);
    const e1 = up.emitWatchEvent({ metadata: { name: 'p1' } });
    await s.waitFor(e1, 10_000);
    assert.equal(s.done, false, 'open after the first event');
    const e2 = up.emitWatchEvent({ metadata: { name: 'p1' } }, 'MODIFIED');
    await s.waitFor(e1 + e2, 10_000);
    assert.equal(s.done, false, 'open after the second event');
    assert.equal(up.endWatches(), 1);
    const end = await s.ended;
    assert.equal(end.complete, true);
    assert.equal(end.body.toString(), e1 + e2);
  });

  test('log?follow=true: lines arrive while the stream stays open', async () => {
    const main = await P.main;
    const s = await openStream(`${main.url}/api/v1/namespaces/default/pods/foo/log?follow=true&container=main`, { timeoutMs: 10_000 });
    assert.equal(s.status, 200);
    assert.equal(s.received().length, 0);
    await up.waitForLogFollowers(1);
    up.emitLogLine('line one\n');
    await s.waitFor('line one\n', 10_000);
    assert.equal(s.done, false);
    up.emitLogLine('line two\n');
    await s.waitFor('line one\nline two\n', 10_000);
    assert.equal(s.done, false);
    assert.equal(up.endLogs(), 1);
    const end = await s.ended;
    assert.equal(end.complete, true);
    assert.equal(end.body.toString(), 'line one\nline two\n');
  });
});

describe('aborts propagate upstream', () => {
  test('a client closing a /hang response aborts the upstream request', async () => {
    const main = await P.main;
    const s = await openStream(`${main.url}/hang`, { timeoutMs: 10_000 });
    assert.equal(s.status, 200);
    await up.waitForRequest((r) => r.path === '/hang');
    s.close();
    await up.waitForAborted(1, 10_000);
    assert.equal(recordFor('/hang').aborted, true);
  });

  test('a client closing a watch closes the upstream watch', async () => {
    const main = await P.main;
    const s = await openStream(`${main.url}/api/v1/pods?watch=true`, { timeoutMs: 10_000 });
    await up.waitForWatchers(1);
    s.close();
    await up.waitForAborted(1, 10_000);
    assert.equal(up.watchers, 0);
    assert.equal(recordFor('/api/v1/pods?watch=true').aborted, true);
  });
});

describe('upstream failures', () => {
  for (const path of ['/die-mid-chunked', '/die-mid-body']) {
    test(`${path}: the client's response is cut, never completed; the proxy keeps serving`, async () => {
      const main = await P.main;
      let res: Response | undefined;
      try {
        res = await request(`${main.url}${path}`, { allowIncomplete: true, timeoutMs: 15_000 });
      } catch (err) {
        // No response at all is also a cut response.
        assert.doesNotMatch(String(err), /within \d+ ms/, 'the proxy must not leave the client hanging');
      }
      if (res) {
        assert.equal(res.complete, false, `response ended as if complete: status ${res.status}, ${res.body.length} bytes`);
        assert.equal(res.status, 200);
        assert.ok(res.body.length <= 100, `${res.body.length} bytes`);
        assert.ok(res.body.equals(bigBody(res.body.length)));
        if (path === '/die-mid-body') assert.equal(res.headers['content-length'], '1000');
      }
      assert.equal(recordFor(path).cut, true);
      const next = await request(`${main.url}/api/v1/pods`);
      assert.equal(next.status, 200);
      assert.deepEqual(next.json(), podList());
    });
  }

  test('upstream unreachable: 500 text/plain, one line naming connection refused; the proxy stays up', async () => {
    const p = await P.unreachable;
    for (let i = 0; i < 2; i++) {
      const res = await request(`${p.url}/api/v1/pods`);
      assertPlainError(res, 500, new RegExp(`^dial tcp 127\\.0\\.0\\.1:${closedPort}: connect: connection refused\\n$`));
    }
    assert.equal(p.child.exitCode, null, 'still running');
  });

  test('TLS name mismatch: 500, one line about the certificate', async () => {
    const p = await P.wrongName;
    const res = await request(`${p.url}/api/v1/pods`);
    assertPlainError(res, 500, /certificate/);
    assert.equal(wrongUp.requests.length, 0, 'no request was sent over the refused connection');
  });

  test('unknown CA: 500 "certificate signed by unknown authority"', async () => {
    const p = await P.unknownCa;
    const res = await request(`${p.url}/api/v1/pods`);
    assertPlainError(res, 500, /^tls: failed to verify certificate: x509: certificate signed by unknown authority\n$/);
    assert.equal(up.requests.length, 0);
    assert.equal(p.child.exitCode, null);
  });
});

describe('headers', () => {
  test('Host is replaced by the upstream host:port', async () => {
    const main = await P.main;
    await request({ url: main.url, path: '/h/host', hostHeader: `localhost:${main.port}` });
    const rec = recordFor('/h/host');
    assert.deepEqual(values(rec.rawHeaders, 'host'), [`127.0.0.1:${up.port}`]);
  });

  test('hop-by-hop and Connection-listed request headers are removed; others kept', async () => {
    const main = await P.main;
    // Raw bytes: node:http refuses to send a Trailer header without a chunked body.
    const head = [
      'GET /h/hop HTTP/1.1',
      `Host: 127.0.0.1:${main.port}`,
      'Connection: keep-alive, X-Foo, X-Bar',
      'X-Foo: foo',
      'X-Bar: bar',
      'Keep-Alive: timeout=5',
      'Proxy-Connection: keep-alive',
      'Proxy-Authorization: Basic Zm9vOmJhcg==',
      'Te: gzip',
      'Trailer: X-Checksum',
      'X-Kept: kept',
      // The proxy's own origin: a browser page from any other origin is refused (browser.ts).
      `Origin: http://127.0.0.1:${main.port}`,
    ];
    const res = parseRawResponse(await rawRequest('127.0.0.1', main.port, head.join('\r\n') + '\r\n\r\n'))!;
    assert.equal(res.status, 200);
    const rec = recordFor('/h/hop');
    for (const name of ['x-foo', 'x-bar', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer']) {
      assert.deepEqual(values(rec.rawHeaders, name), [], `${name} must not reach the upstream`);
    }
    for (const v of values(rec.rawHeaders, 'connection')) assert.doesNotMatch(v, /x-foo|x-bar/i, 'client Connection tokens not forwarded');
    assert.deepEqual(values(rec.rawHeaders, 'x-kept'), ['kept']);
    assert.deepEqual(values(rec.rawHeaders, 'origin'), [`http://127.0.0.1:${main.port}`]);
  });

  test('hop-by-hop response headers removed; repeated Set-Cookie and Warning kept', async () => {
    const main = await P.main;
    const res = await request(`${main.url}/hop`);
    assert.equal(res.status, 200);
    assert.deepEqual(values(res.rawHeaders, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/']);
    assert.deepEqual(values(res.rawHeaders, 'warning'), ['299 - "first warning"', '299 - "second warning"']);
    assert.deepEqual(values(res.rawHeaders, 'x-custom'), [], 'header named in the upstream Connection is dropped');
    for (const v of values(res.rawHeaders, 'connection')) assert.doesNotMatch(v, /x-custom/i);
    assert.ok(!values(res.rawHeaders, 'keep-alive').includes('timeout=5'), 'upstream Keep-Alive is dropped');
    assert.equal(res.json().target, '/hop');
  });

  test('response trailers are announced and relayed', async () => {
    const main = await P.main;
    const res = await request(`${main.url}/trailers`);
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'body with a trailer\n');
    assert.deepEqual(values(res.rawHeaders, 'trailer'), ['X-Body-Sha256']);
    assert.equal(res.trailers['x-body-sha256'], createHash('sha256').update(res.body).digest('hex'));
  });

  test('X-Forwarded-For: the client address is added, or appended to the client value', async () => {
    const main = await P.main;
    await request(`${main.url}/h/xff1`);
    assert.deepEqual(values(recordFor('/h/xff1').rawHeaders, 'x-forwarded-for'), ['127.0.0.1']);
    await request(`${main.url}/h/xff2`, { headers: { 'X-Forwarded-For': '1.2.3.4' } });
    assert.deepEqual(values(recordFor('/h/xff2').rawHeaders, 'x-forwarded-for'), ['1.2.3.4, 127.0.0.1']);
  });

  test('no client Accept-Encoding: gzip is requested upstream and decoded for the client', async () => {
    const main = await P.main;
    const res = await request(`${main.url}/gzip`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.deepEqual(res.json(), GZIP_DOCUMENT);
    if (res.headers['content-length'] !== undefined) assert.equal(Number(res.headers['content-length']), res.body.length);
    const rec = recordFor('/gzip');
    assert.deepEqual(values(rec.rawHeaders, 'accept-encoding'), ['gzip']);
    assert.equal(rec.gzip, true);
  });

  test('client Accept-Encoding: passed through, compressed bytes relayed as they are', async () => {
    const main = await P.main;
    const gz = await request(`${main.url}/gzip?c=1`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(JSON.parse(gunzipSync(gz.body).toString()), GZIP_DOCUMENT);
    assert.equal(gz.headers['content-length'], String(gz.body.length));
    assert.deepEqual(values(recordFor('/gzip?c=1').rawHeaders, 'accept-encoding'), ['gzip']);

    const id = await request(`${main.url}/gzip?c=2`, { headers: { 'Accept-Encoding': 'identity' } });
    assert.equal(id.headers['content-encoding'], undefined);
    assert.deepEqual(id.json(), GZIP_DOCUMENT);
    const rec = recordFor('/gzip?c=2');
    assert.deepEqual(values(rec.rawHeaders, 'accept-encoding'), ['identity']);
    assert.equal(rec.gzip, false);
  });

  test('disable-compression in the kubeconfig: no Accept-Encoding upstream', async () => {
    const p = await P.v9basic;
    const res = await request(`${p.url}/gzip?kc=1`);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.deepEqual(res.json(), GZIP_DOCUMENT);
    const rec = recordFor('/gzip?kc=1');
    assert.deepEqual(values(rec.rawHeaders, 'accept-encoding'), []);
    assert.equal(rec.gzip, false);
  });

  test('--disable-compression: no Accept-Encoding upstream', async () => {
    const p = await P.v9token;
    const res = await request(`${p.url}/gzip?flag=1`);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.deepEqual(res.json(), GZIP_DOCUMENT);
    const rec = recordFor('/gzip?flag=1');
    assert.deepEqual(values(rec.rawHeaders, 'accept-encoding'), []);
    assert.equal(rec.gzip, false);
  });

  test('redirects are relayed unchanged, not followed', async () => {
    const main = await P.main;
    const res = await request(`${main.url}/redirect`);
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, `https://127.0.0.1:${up.port}/api/v1/elsewhere`);
    assert.equal(res.text(), 'found\n');
    await request(`${main.url}/h/after-redirect`);
    assert.deepEqual(
      up.requests.map((r) => r.target),
      ['/redirect', '/h/after-redirect'],
    );
  });
});

describe('filter', () => {
  test('exec and attach: 403 Forbidden from kproxy, nothing reaches the upstream', async () => {
    const main = await P.main;
    const rejected: Array<[string, string]> = [
      ['GET', '/api/v1/namespaces/default/pods/foo/exec?command=ls&stdout=true'],
      ['POST', '/api/v1/namespaces/default/pods/foo/exec?command=sh'],
      ['POST', '/api/v1/namespaces/kube-system/pods/bar/attach?stdin=true'],
    ];
    for (const [method, path] of rejected) {
      const res = await request(`${main.url}${path}`, { method });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.text(), 'Forbidden\n');
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
    // The same as an upgrade request (what kubectl exec sends).
    const raw = parseRawResponse(
      await rawRequest(
        '127.0.0.1',
        main.port,
        'GET /api/v1/namespaces/default/pods/foo/exec?command=ls HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n',
      ),
    )!;
    assert.equal(raw.status, 403);
    assert.equal(raw.body.toString(), 'Forbidden\n');

    // Rejected host.
    const evil = await request({ url: main.url, path: '/api/v1/pods', hostHeader: `evil.com:${main.port}` });
    assert.equal(evil.status, 403);

    const ok = await request(`${main.url}/api/v1/namespaces/default/pods?after=rejects`);
    assert.equal(ok.status, 200);
    await up.waitForRequests(1);
    assert.deepEqual(
      up.requests.map((r) => r.target),
      ['/api/v1/namespaces/default/pods?after=rejects'],
    );
  });

  test('-v=3 logs "Filter accepting" and "Filter rejecting" lines', async () => {
    const main = await P.main;
    await request(`${main.url}/api/v1/pods`);
    await main.waitForStderr('Filter accepting GET /api/v1/pods 127.0.0.1', 10_000);
    await request(`${main.url}/api/v1/namespaces/default/pods/foo/exec?command=ls`, { method: 'POST' });
    await main.waitForStderr('Filter rejecting POST /api/v1/namespaces/default/pods/foo/exec 127.0.0.1', 10_000);
  });

  test('-v=9: bearer token, basic password and client key never appear on stderr', async () => {
    const [withToken, withBasic] = await Promise.all([P.v9token, P.v9basic]);
    for (const p of [withToken, withBasic]) {
      assert.equal((await request(`${p.url}/api/v1/pods?v=9`)).status, 200);
      assert.equal((await request(`${p.url}/status/401?v=9`, { headers: { 'X-Trace': 'v9' } })).status, 401);
      assert.equal((await request(`${p.url}/api/v1/namespaces/d/pods/p/exec`)).status, 403);
      // Stderr is one ordered stream: the rejection line comes after everything logged for the requests before it.
      await p.waitForStderr('Filter rejecting GET /api/v1/namespaces/d/pods/p/exec', 10_000);
    }
    const tokenRec = up.requests.find((r) => r.target === '/api/v1/pods?v=9' && r.identity.startsWith('cert:'));
    assert.ok(tokenRec, 'the token proxy presented the client certificate');
    assert.deepEqual(values(tokenRec.rawHeaders, 'authorization'), [`Bearer ${TOKEN}`]);
    const basicRec = up.requests.find((r) => r.target === '/api/v1/pods?v=9' && r.identity === `basic:${BASIC_USER}`);
    assert.ok(basicRec, 'the basic proxy sent basic auth');

    const keyBody = pki.client.key.split('\n').filter((l) => l && !l.startsWith('-----'));
    const secrets = [
      TOKEN,
      BASIC_PASS,
      Buffer.from(`${BASIC_USER}:${BASIC_PASS}`).toString('base64'),
      'PRIVATE KEY',
      ...keyBody,
      Buffer.from(pki.client.key).toString('base64').slice(0, 40),
    ];
    for (const p of [withToken, withBasic]) {
      for (const s of secrets) assert.ok(!p.stderr.includes(s), `stderr contains a secret (${s.slice(0, 12)}…):\n${p.stderr}`);
    }
  });
});

describe('prefixes and server paths', () => {
  test('--api-prefix=/custom/ strips the prefix; other paths 404; the filter sees the stripped path', async () => {
    const p = await P.custom;
    const res = await request(`${p.url}/custom/api/v1/pods?x=%2F&y=1`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), podList());
    const notFound = await request(`${p.url}/api/v1/pods`);
    assert.equal(notFound.status, 404);
    const exec = await request(`${p.url}/custom/api/v1/namespaces/d/pods/p/exec`);
    assert.equal(exec.status, 403);
    assert.deepEqual(
      up.requests.map((r) => r.target),
      ['/api/v1/pods?x=%2F&y=1'],
    );
  });

  test('--append-server-path prepends the kubeconfig server path; no warning', async () => {
    const p = await P.append;
    await request(`${p.url}/api/v1/pods?x=1`);
    await request(`${p.url}/`);
    await request(`${p.url}/api/v1/namespaces/default/services/s:80/proxy/a%20b`);
    assert.deepEqual(
      up.requests.map((r) => r.target),
      [`${SERVER_PATH}/api/v1/pods?x=1`, `${SERVER_PATH}/`, `${SERVER_PATH}/api/v1/namespaces/default/services/s:80/proxy/a%20b`],
    );
    await p.waitForStderr('Filter accepting GET /api/v1/pods 127.0.0.1', 10_000);
    assert.ok(!p.stderr.includes('Your kube context contains a server path'), p.stderr);
  });

  test('a server path without --append-server-path: dropped, with the kubectl warning', async () => {
    const p = await P.serverPath;
    await p.waitForStderr(SERVER_PATH_WARNING, 10_000);
    const res = await request(`${p.url}/api/v1/pods`);
    assert.equal(res.status, 200);
    assert.deepEqual(
      up.requests.map((r) => r.target),
      ['/api/v1/pods'],
    );
  });
});

describe('--unix-socket', () => {
  test('serves over the socket (mode 0700), filters, adds no X-Forwarded-For, removes the socket on SIGTERM', async () => {
    const p = await P.unix;
    assert.equal(p.raw, socketPath);
    assert.equal(p.socketPath, socketPath);
    const st = statSync(socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o700);

    const res = await request({ socketPath, path: '/api/v1/pods?via=unix' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), podList());
    assert.deepEqual(values(recordFor('/api/v1/pods?via=unix').rawHeaders, 'x-forwarded-for'), []);

    await request({ socketPath, path: '/h/unix-xff' }, { headers: { 'X-Forwarded-For': '1.2.3.4' } });
    assert.deepEqual(values(recordFor('/h/unix-xff').rawHeaders, 'x-forwarded-for'), ['1.2.3.4']);

    const evil = await request({ socketPath, path: '/api/v1/pods?via=evil', hostHeader: 'evil.com' });
    assert.equal(evil.status, 403);
    const exec = await request({ socketPath, path: '/api/v1/namespaces/d/pods/p/exec' });
    assert.equal(exec.status, 403);
    assert.equal(up.requests.length, 2);

    await p.stop();
    assert.equal(existsSync(socketPath), false, 'socket file removed after SIGTERM');
  });
});
