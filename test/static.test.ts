// Static files (--www, --www-prefix) through a running kproxy: content types, index.html,
// directory redirects, Range and conditional requests, 404s, and nothing outside the directory
// whatever the spelling (raw or encoded dot segments, double encoding, symlinks, NUL). Unlike
// kubectl, the Host check applies to static files (test/security/static-dns-rebinding.test.ts).
// Start-up: --www-prefix equal to --api-prefix is a clean usage error; a missing or non-directory
// --www is only a warning, as in kubectl.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseRawResponse, rawRequest, request, type Response } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { kubectlMissing, runKproxy, startKubectlProxy, type Running, launcher } from './helpers/proc.js';
import { startUpstream, VERSION_INFO, type Upstream } from './helpers/upstream.js';

const TOKEN = 'static-token-51c2';
const SECRET = `TOP-SECRET-${randomBytes(8).toString('hex')}`;

let pki: Pki;
let up: Upstream;
let dir: TempDir;
let www: string;
let kc: string;
const files: Record<string, Buffer> = {};

const { launch, track, stopAll } = launcher();

let P: {
  main: Promise<Running>; // --www, default prefix /static/
  custom: Promise<Running>; // -w, -P /ui, --api-prefix=/k8s/
  root: Promise<Running>; // --www-prefix=/ with --api-prefix=/k8s/
  missing: Promise<Running>; // --www=<does not exist>
  notDir: Promise<Running>; // --www=<a regular file>
};
let missingDir: string;
let regularFile: string;

function put(rel: string, content: string | Buffer): void {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  writeFileSync(join(www, rel), buf);
  files[rel] = buf;
}

before(async () => {
  pki = await makePki();
  up = await startUpstream({ pki, tokens: [TOKEN] });
  dir = tempDir('kproxy-static');
  // <dir>/secret.txt and <dir>/outside/ are next to the served directory <dir>/www.
  writeFileSync(join(dir.path, 'secret.txt'), SECRET + '\n');
  mkdirSync(join(dir.path, 'outside'));
  writeFileSync(join(dir.path, 'outside', 'secret2.txt'), SECRET + '\n');
  www = join(dir.path, 'www');
  mkdirSync(join(www, 'sub'), { recursive: true });
  mkdirSync(join(www, 'noindex'));
  put('index.html', '<!doctype html><title>home</title><h1>home</h1>\n');
  put('style.css', 'h1 { color: red; }\n');
  put('app.js', 'console.log("hi");\n');
  put('data.json', '{"a":1}\n');
  put('image.png', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
  put('notes.txt', 'plain text\n');
  put('range.txt', Buffer.from(Array.from({ length: 1000 }, (_, i) => 0x41 + (i % 26))));
  put('.hidden', 'dot file\n');
  put('with space.txt', 'spaced\n');
  put('sub/index.html', '<p>sub index</p>\n');
  put('sub/page.html', '<p>sub page</p>\n');
  put('noindex/a.txt', 'a\n');
  symlinkSync('../secret.txt', join(www, 'link-out'));
  symlinkSync('../outside', join(www, 'dirlink-out'));
  symlinkSync(join(dir.path, 'secret.txt'), join(www, 'abs-link-out'));
  symlinkSync('index.html', join(www, 'link-in'));
  symlinkSync('sub', join(www, 'dirlink-in'));
  // A directory whose index.html is a symlink out of --www.
  mkdirSync(join(www, 'trap'));
  symlinkSync('../../secret.txt', join(www, 'trap', 'index.html'));
  files['link-in'] = files['index.html']!;
  missingDir = join(dir.path, 'does-not-exist');
  regularFile = join(dir.path, 'secret.txt');
  kc = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, token: TOKEN });
  P = {
    main: launch(['--port=0', `--www=${www}`, '--kubeconfig', kc]),
    custom: launch(['--port=0', '-w', www, '-P', '/ui', '--api-prefix=/k8s/', '--kubeconfig', kc]),
    root: launch(['--port=0', `--www=${www}`, '--www-prefix=/', '--api-prefix=/k8s/', '--kubeconfig', kc]),
    missing: launch(['--port=0', `--www=${missingDir}`, '--kubeconfig', kc]),
    notDir: launch(['--port=0', `--www=${regularFile}`, '--kubeconfig', kc]),
  };
});

after(async () => {
  await stopAll();
  await up?.close();
  dir?.cleanup();
});

function get(p: Running, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return request(`${p.url}${target}`, { method, headers });
}

/** Follows redirects by hand (at most 5), keeping every hop's target raw. */
async function follow(p: Running, target: string): Promise<{ final: Response; hops: string[] }> {
  const hops = [target];
  let res = await get(p, target);
  while (res.status >= 300 && res.status < 400 && res.headers.location && hops.length < 6) {
    const next = new URL(res.headers.location, `http://localhost${hops[hops.length - 1]}`);
    const t = next.pathname + next.search;
    hops.push(t);
    res = await get(p, t);
  }
  return { final: res, hops };
}

function mediaType(res: Response): string {
  return String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

describe('serving', () => {
  test('content type by extension; body and length are the file', async () => {
    const p = await P.main;
    const cases: Array<[string, RegExp]> = [
      ['index.html', /^text\/html; charset=utf-8$/i],
      ['style.css', /^text\/css(; charset=utf-8)?$/i],
      ['app.js', /^(text|application)\/javascript(; charset=utf-8)?$/i],
      ['data.json', /^application\/json(; charset=utf-8)?$/i],
      ['image.png', /^image\/png$/],
      ['notes.txt', /^text\/plain(; charset=utf-8)?$/i],
      ['.hidden', /./],
    ];
    for (const [file, type] of cases) {
      const res = await get(p, `/static/${file}`);
      assert.equal(res.status, 200, file);
      assert.match(String(res.headers['content-type']), type, file);
      assert.deepEqual(res.body, files[file], file);
      assert.equal(res.headers['content-length'], String(files[file]!.length), file);
    }
    const spaced = await get(p, '/static/with%20space.txt');
    assert.equal(spaced.text(), 'spaced\n');
    const head = await get(p, '/static/style.css', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(files['style.css']!.length));
  });

  test('index.html for a directory; dir → 301 to dir/ under the prefix, query kept', async () => {
    const p = await P.main;
    const home = await get(p, '/static/');
    assert.equal(home.status, 200);
    assert.deepEqual(home.body, files['index.html']);
    assert.match(String(home.headers['content-type']), /^text\/html/);
    const sub = await get(p, '/static/sub/');
    assert.deepEqual(sub.body, files['sub/index.html']);

    for (const [target, want] of [
      ['/static/sub', '/static/sub/'],
      ['/static/sub?x=1&y=2', '/static/sub/?x=1&y=2'],
      ['/static/noindex', '/static/noindex/'],
      ['/static', '/static/'],
    ]) {
      const res = await get(p, target!);
      assert.equal(res.status, 301, target);
      const loc = new URL(res.headers.location!, `http://localhost${target}`);
      assert.equal(loc.pathname + loc.search, want, `${target} → ${res.headers.location}`);
    }
  });

  test('a custom prefix (-P /ui) next to a custom API prefix', async () => {
    const p = await P.custom;
    assert.deepEqual((await get(p, '/ui/style.css')).body, files['style.css']);
    assert.deepEqual((await get(p, '/ui/')).body, files['index.html']);
    const redirect = await get(p, '/ui/sub');
    assert.equal(redirect.status, 301);
    assert.equal(new URL(redirect.headers.location!, 'http://localhost/ui/sub').pathname, '/ui/sub/');
    const api = await get(p, '/k8s/version');
    assert.equal(api.status, 200);
    assert.deepEqual(api.json(), VERSION_INFO);
    assert.equal((await get(p, '/static/style.css')).status, 404, 'the default prefix is not mounted');
  });

  test('static files at the root (--www-prefix=/) with the API under --api-prefix=/k8s/', async () => {
    const p = await P.root;
    assert.deepEqual((await get(p, '/')).body, files['index.html']);
    assert.deepEqual((await get(p, '/data.json')).body, files['data.json']);
    assert.deepEqual((await get(p, '/k8s/version')).json(), VERSION_INFO);
    const redirect = await get(p, '/sub');
    assert.equal(redirect.status, 301);
    assert.equal(new URL(redirect.headers.location!, 'http://localhost/sub').pathname, '/sub/');
  });

  test('Range: 206 with Content-Range; suffix and open ranges; 416 when unsatisfiable', async () => {
    const p = await P.main;
    const all = files['range.txt']!;
    const full = await get(p, '/static/range.txt');
    assert.equal(full.headers['accept-ranges'], 'bytes');
    for (const [range, start, end] of [
      ['bytes=0-9', 0, 9],
      ['bytes=990-', 990, 999],
      ['bytes=-5', 995, 999],
      ['bytes=100-199', 100, 199],
    ] as const) {
      const res = await get(p, '/static/range.txt', { Range: range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/1000`, range);
      assert.deepEqual(res.body, all.subarray(start, end + 1), range);
      assert.equal(res.headers['content-length'], String(end - start + 1), range);
    }
    const bad = await get(p, '/static/range.txt', { Range: 'bytes=5000-' });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers['content-range'], 'bytes */1000');
  });

  test('conditional requests: 304 for If-None-Match and If-Modified-Since, 200 when changed', async () => {
    const p = await P.main;
    const first = await get(p, '/static/data.json');
    const lastModified = first.headers['last-modified'];
    assert.ok(lastModified, 'Last-Modified is sent');
    assert.equal(new Date(lastModified).getTime(), Math.floor(statSync(join(www, 'data.json')).mtimeMs / 1000) * 1000);
    const etag = first.headers.etag;
    assert.ok(etag, 'ETag is sent');

    const byTag = await get(p, '/static/data.json', { 'If-None-Match': etag });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.body.length, 0);
    const byDate = await get(p, '/static/data.json', { 'If-Modified-Since': lastModified });
    assert.equal(byDate.status, 304);
    assert.equal(byDate.body.length, 0);

    const otherTag = await get(p, '/static/data.json', { 'If-None-Match': '"something-else"' });
    assert.equal(otherTag.status, 200);
    const older = await get(p, '/static/data.json', { 'If-Modified-Since': new Date(Date.parse(lastModified) - 3600_000).toUTCString() });
    assert.equal(older.status, 200);
    assert.deepEqual(older.body, files['data.json']);
  });

  test('404 for what does not exist', async () => {
    const p = await P.main;
    for (const target of ['/static/nope.txt', '/static/sub/nope.html', '/static/nope/', '/static/noindex/']) {
      const res = await get(p, target);
      assert.equal(res.status, 404, target);
      assert.equal(res.text(), '404 page not found\n', target);
    }
  });

  test('an upgrade request under the static prefix is refused without reaching anything', async () => {
    const p = await P.main;
    const res = parseRawResponse(
      await rawRequest('127.0.0.1', p.port, 'GET /static/index.html HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'),
    )!;
    assert.equal(res.status, 400);
  });
});

describe('nothing outside the directory', () => {
  const noSecret = (res: Response, what: string): void => {
    assert.ok(!res.body.toString('latin1').includes(SECRET), `${what} served the file outside --www (status ${res.status})`);
  };

  test('raw ../ : the router redirects to the cleaned path, which is not the file outside', async () => {
    const p = await P.main;
    for (const target of ['/static/../secret.txt', '/static/sub/../../secret.txt', '/static/./../secret.txt', '/static/..', '/static/../']) {
      const first = await get(p, target);
      assert.equal(first.status, 301, target);
      const { final, hops } = await follow(p, target);
      noSecret(final, hops.join(' → '));
      assert.ok(!hops.slice(1).some((h) => h.startsWith('/static/') && h.includes('..')), hops.join(' → '));
    }
    // The cleaned /secret.txt is an API path: it went to the upstream, not to the disk.
    await up.waitForRequest((r) => r.path === '/secret.txt');
  });

  test('encoded dot segments: %2e%2e, %2E%2E, .%2e, ..%2f, ..%5c → 404', async () => {
    const p = await P.main;
    for (const target of [
      '/static/%2e%2e/secret.txt',
      '/static/%2E%2E/secret.txt',
      '/static/.%2e/secret.txt',
      '/static/%2e./secret.txt',
      '/static/sub/%2e%2e/%2e%2e/secret.txt',
      '/static/..%2fsecret.txt',
      '/static/..%2Fsecret.txt',
      '/static/%2e%2e%2fsecret.txt',
      '/static/sub%2f..%2f..%2fsecret.txt',
      '/static/..%5csecret.txt',
      '/static/%2e%2e/outside/secret2.txt',
    ]) {
      const res = await get(p, target);
      noSecret(res, target);
      assert.equal(res.status, 404, target);
    }
  });

  test('double-encoded %252e%252e → 404 (decoded once only)', async () => {
    const p = await P.main;
    for (const target of ['/static/%252e%252e/secret.txt', '/static/%252e%252e%252fsecret.txt', '/static/%25252e%25252e/secret.txt']) {
      const res = await get(p, target);
      noSecret(res, target);
      assert.equal(res.status, 404, target);
    }
  });

  test('symlinks inside the directory that point outside → 404; one pointing inside is served', async () => {
    const p = await P.main;
    for (const target of [
      '/static/link-out',
      '/static/abs-link-out',
      '/static/dirlink-out/secret2.txt',
      '/static/dirlink-out/',
      '/static/trap/',
      '/static/trap/index.html',
    ]) {
      const res = await get(p, target);
      noSecret(res, target);
      assert.equal(res.status, 404, target);
    }
    const inside = await get(p, '/static/link-in');
    assert.equal(inside.status, 200);
    assert.deepEqual(inside.body, files['index.html']);
    const dirInside = await get(p, '/static/dirlink-in/');
    assert.equal(dirInside.status, 200);
    assert.deepEqual(dirInside.body, files['sub/index.html']);
  });

  test('NUL, encoded or raw, never serves a file', async () => {
    const p = await P.main;
    for (const target of ['/static/index.html%00', '/static/index.html%00.txt', '/static/%00/../secret.txt', '/static/link-out%00']) {
      const { final, hops } = await follow(p, target);
      noSecret(final, hops.join(' → '));
      assert.ok(final.status === 404 || final.status === 400, `${hops.join(' → ')}: ${final.status}`);
    }
    const rawNul = parseRawResponse(await rawRequest('127.0.0.1', p.port, Buffer.from('GET /static/index.html\0 HTTP/1.1\r\nHost: localhost\r\n\r\n', 'latin1')))!;
    assert.equal(rawNul.status, 400);
  });
});

describe('start-up', () => {
  test('--www-prefix equal to --api-prefix: one-line usage error, exit 1', async () => {
    for (const args of [
      [`--www=${www}`, '--www-prefix=/'],
      [`--www=${www}`, '--www-prefix=/x', '--api-prefix=/x/'],
      [`-w`, www, '-P', '/k8s/', '--api-prefix=/k8s'],
    ]) {
      const r = await runKproxy(['--port=0', ...args, '--kubeconfig', kc]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^error: .*--www-prefix/);
      assert.doesNotMatch(r.stderr, /panic|at .*\.js:\d+/);
    }
  });

  test('--www-prefix=/ without --www is ignored, as in kubectl', async () => {
    const p = await launch(['--port=0', '--www-prefix=/', '--kubeconfig', kc]);
    assert.deepEqual((await get(p, '/version')).json(), VERSION_INFO);
  });

  test('a missing --www directory is a warning; the proxy starts and the API works', async () => {
    const p = await P.missing;
    const stderr = await p.waitForStderr('Failed to stat static file directory');
    assert.match(stderr, new RegExp(`^W\\d{4} \\d\\d:\\d\\d:\\d\\d\\.\\d{6} +\\d+ [^\\]]+\\] Failed to stat static file directory ${missingDir}: .*no such file or directory`, 'm'));
    assert.equal((await get(p, '/static/index.html')).status, 404);
    assert.deepEqual((await get(p, '/version')).json(), VERSION_INFO);
  });

  test('a --www that is not a directory is a warning; the proxy starts', async () => {
    const p = await P.notDir;
    const stderr = await p.waitForStderr('is not a directory');
    assert.match(stderr, new RegExp(`^W.* Static file directory ${regularFile} is not a directory$`, 'm'));
    const res = await get(p, '/static/');
    assert.equal(res.status, 404);
    noLeak(res);
    assert.deepEqual((await get(p, '/version')).json(), VERSION_INFO);
  });
});

function noLeak(res: Response): void {
  assert.ok(!res.body.toString('latin1').includes(SECRET));
}

describe('compared with kubectl proxy', { skip: kubectlMissing() }, () => {
  test('same answers where kproxy does not deliberately differ; the differences are pinned', async () => {
    const k = await startKubectlProxy(['--port=0', `--www=${www}`, `--kubeconfig=${kc}`]);
    track(k);
    const m = await P.main;
    const same = [
      '/static/notes.txt?x',
      '/static/style.css',
      '/static/data.json',
      '/static/image.png',
      '/static/',
      '/static/sub/',
      '/static/nope.txt',
      '/static/%2e%2e/secret.txt',
      '/static/%252e%252e/secret.txt',
    ];
    for (const target of same) {
      const [kr, mr] = await Promise.all([get(k, target), get(m, target)]);
      assert.equal(mr.status, kr.status, target);
      assert.deepEqual(mr.body, kr.body, target);
      assert.equal(mediaType(mr), mediaType(kr), target);
    }
    const range = await Promise.all([get(k, '/static/range.txt', { Range: 'bytes=10-19' }), get(m, '/static/range.txt', { Range: 'bytes=10-19' })]);
    for (const r of range) assert.deepEqual([r.status, r.headers['content-range'], r.body.toString()], [206, 'bytes 10-19/1000', 'KLMNOPQRST']);
    const ims = (r: Running, lm: string) => get(r, '/static/notes.txt', { 'If-Modified-Since': lm });
    const lm = (await get(k, '/static/notes.txt')).headers['last-modified']!;
    assert.deepEqual([(await ims(k, lm)).status, (await ims(m, lm)).status], [304, 304]);

    // Deliberate differences, pinned so that a change on either side is noticed.
    const pairs = async (target: string, headers: Record<string, string> = {}) => Promise.all([get(k, target, headers), get(m, target, headers)]);
    // 1. Host check: kubectl serves static files to any Host (DNS rebinding); kproxy answers 403.
    const [kEvil, mEvil] = await pairs('/static/notes.txt', { Host: 'evil.com' });
    assert.deepEqual([kEvil.status, mEvil.status], [200, 403]);
    // 2. A symlink out of the directory: kubectl follows it, kproxy refuses.
    const [kLink, mLink] = await pairs('/static/link-out');
    assert.equal(kLink.status, 200);
    assert.ok(kLink.text().includes(SECRET), 'kubectl serves the file the symlink points to');
    assert.equal(mLink.status, 404);
    const [kTrap, mTrap] = await pairs('/static/trap/');
    assert.equal(kTrap.status, 200);
    assert.ok(kTrap.text().includes(SECRET), 'kubectl serves an index.html that links out');
    assert.equal(mTrap.status, 404);
    // 3. A directory without index.html: kubectl lists it, kproxy does not.
    const [kList, mList] = await pairs('/static/noindex/');
    assert.equal(kList.status, 200);
    assert.match(kList.text(), /a\.txt/);
    assert.equal(mList.status, 404);
    // 4. …/index.html: kubectl redirects to ./, kproxy serves the file.
    const [kIdx, mIdx] = await pairs('/static/sub/index.html');
    assert.deepEqual([kIdx.status, kIdx.headers.location], [301, './']);
    assert.equal(mIdx.status, 200);
    // 5. dir → dir/: same target, kubectl as a relative Location, kproxy as an absolute path.
    const [kDir, mDir] = await pairs('/static/sub');
    assert.deepEqual([kDir.status, mDir.status], [301, 301]);
    assert.equal(new URL(kDir.headers.location!, 'http://h/static/sub').pathname, new URL(mDir.headers.location!, 'http://h/static/sub').pathname);
    // 6. ETag: Go's FileServer sends none; kproxy (send) does.
    assert.deepEqual([kEvil.headers.etag, typeof mIdx.headers.etag], [undefined, 'string']);
    // 7. No known extension: Go sniffs the content (text/plain), kproxy does not (octet-stream).
    const [kDot, mDot] = await pairs('/static/.hidden');
    assert.deepEqual([kDot.status, mDot.status], [200, 200]);
    assert.deepEqual(mDot.body, kDot.body);
    assert.deepEqual([mediaType(kDot), mediaType(mDot)], ['text/plain', 'application/octet-stream']);
    const [kIn, mIn] = await pairs('/static/link-in');
    assert.deepEqual(mIn.body, kIn.body);
    assert.deepEqual([mediaType(kIn), mediaType(mIn)], ['text/html', 'application/octet-stream']);
    await k.stop();
  });

  test('start-up warnings for a missing or non-directory --www, as kubectl prints them', async () => {
    const k1 = await startKubectlProxy(['--port=0', `--www=${missingDir}`, `--kubeconfig=${kc}`]);
    track(k1);
    const k2 = await startKubectlProxy(['--port=0', `--www=${regularFile}`, `--kubeconfig=${kc}`]);
    track(k2);
    const kMissing = (await k1.waitForStderr('Failed to stat')).split('\n').find((l) => l.includes('Failed to stat'))!;
    const kNotDir = (await k2.waitForStderr('is not a directory')).split('\n').find((l) => l.includes('is not a directory'))!;
    const mMissing = (await (await P.missing).waitForStderr('Failed to stat')).split('\n').find((l) => l.includes('Failed to stat'))!;
    const mNotDir = (await (await P.notDir).waitForStderr('is not a directory')).split('\n').find((l) => l.includes('is not a directory'))!;
    const msg = (line: string) => line.replace(/^.*?\] /, '');
    assert.equal(msg(mNotDir), msg(kNotDir));
    // kubectl: `Failed to stat static file directory X: stat X: no such file or directory`.
    assert.equal(msg(kMissing), `Failed to stat static file directory ${missingDir}: stat ${missingDir}: no such file or directory`);
    assert.match(msg(mMissing), new RegExp(`^Failed to stat static file directory ${missingDir}: `));
    await Promise.all([k1.stop(), k2.stop()]);
  });
});
