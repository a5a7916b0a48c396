// Listeners and signals: the unix socket (mode 0700, a stale socket replaced, anything else in the
// way refused, removed on exit), IPv6 loopback with and without brackets, and graceful stop on
// SIGINT/SIGTERM (stop accepting, let ordinary requests finish, end watches cleanly, close
// upgraded sessions, exit 0; a second signal exits at once). Every step waits for an event of
// the fake upstream, of a client socket or of the process, never for a timer.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStream, parseRawResponse, request, type StreamResponse } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { runKproxy, type ExitInfo, launcher, within } from './helpers/proc.js';
import { canListenOn } from './helpers/net.js';
import { bigSha256, startUpstream, VERSION_INFO, type Upstream } from './helpers/upstream.js';
import { isLongRunning } from '../src/route.js';

const TOKEN = 'life-token-8e21';
const WAIT_MS = 10_000;

let pki: Pki;
let up: Upstream;
let dir: TempDir;
let kc: string;
let hasV6 = false;

const { launch, stopAll } = launcher();


before(async () => {
  pki = await makePki();
  up = await startUpstream({ pki, tokens: [TOKEN] });
  dir = tempDir('kproxy-life');
  kc = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, token: TOKEN });
  hasV6 = await canListenOn('::1');
});

after(async () => {
  await stopAll();
  await up?.close();
  dir?.cleanup();
});

/** Connects and resolves with the connect error code ('' when it connected). */
function connectError(opts: net.NetConnectOpts): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(opts);
    s.once('connect', () => {
      s.destroy();
      resolve('');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** An established WebSocket-style upgrade to the fixture's echo, through `where`. */
async function openUpgrade(where: net.NetConnectOpts, tag: string): Promise<{ socket: net.Socket; closed: Promise<void>; received: () => string }> {
  const socket = net.connect(where);
  socket.on('error', () => {});
  let buf = '';
  const waiters = new Set<() => void>();
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (const w of waiters) w();
  });
  const closed = new Promise<void>((res) => socket.once('close', () => res()));
  const waitFor = (s: string) =>
    within(
      new Promise<void>((res, rej) => {
        const check = () => {
          if (buf.includes(s)) {
            waiters.delete(check);
            res();
          } else if (socket.destroyed) rej(new Error(`closed before ${s}: ${buf}`));
        };
        waiters.add(check);
        check();
      }),
      `upgrade ${tag}: ${s}`,
    );
  socket.write(
    `GET /api/v1/namespaces/default/pods/${tag}/portforward HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
  );
  await waitFor('\r\n\r\n');
  assert.equal(parseRawResponse(Buffer.from(buf, 'latin1'))?.status, 101, buf);
  socket.write(`hello-${tag}`);
  await waitFor(`hello-${tag}`);
  return { socket, closed, received: () => buf };
}

/** A streamed GET whose body the test reads only when it says so, hashed on the way. */
function pausedDownload(url: string | { socketPath: string; path: string }): Promise<{ res: http.IncomingMessage; resume: () => Promise<{ length: number; sha256: string; complete: boolean }> }> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      res.pause();
      resolve({
        res,
        resume: () =>
          new Promise((done) => {
            const h = createHash('sha256');
            let length = 0;
            res.on('data', (c: Buffer) => {
              h.update(c);
              length += c.length;
            });
            let result: { length: number; sha256: string; complete: boolean } | undefined;
            const finish = () => done((result ??= { length, sha256: h.digest('hex'), complete: res.complete }));
            res.on('end', finish);
            res.on('close', finish);
            res.resume();
          }),
      });
    };
    const req = typeof url === 'string' ? http.get(url, { agent: false }, onResponse) : http.get({ ...url, agent: false }, onResponse);
    req.on('error', reject);
  });
}

describe('isLongRunning: what is ended at once on a stop signal (and multiplexed by --upstream-http2)', () => {
  const rows: Array<[string, string, boolean]> = [
    ['GET', '/api/v1/pods?watch=true', true],
    ['GET', '/api/v1/pods?watch=1', true],
    ['GET', '/api/v1/pods?labelSelector=a&watch=True&resourceVersion=5', true],
    ['GET', '/api/v1/pods?watch=TRUE', true],
    ['GET', '/api/v1/pods?watch=t', true],
    ['GET', '/api/v1/namespaces/a/pods/p/log?follow=true', true],
    ['GET', '/api/v1/namespaces/a/pods/p/log?follow=1&container=c', true],
    ['GET', '/api/v1/watch/pods', true],
    ['GET', '/api/v1/watch/namespaces/a/pods?resourceVersion=1', true],
    ['GET', '/apis/apps/v1/watch/deployments', true],
    ['GET', '/custom/api/v1/watch/pods', true],
    ['GET', '/api/v1/pods?watch=false', false],
    ['GET', '/api/v1/pods?watch=0', false],
    ['GET', '/api/v1/pods?watch=yes', false],
    ['GET', '/api/v1/pods?watchx=true', false],
    ['GET', '/api/v1/pods?xwatch=true', false],
    ['GET', '/api/v1/pods?watch=truex', false],
    ['GET', '/api/v1/namespaces/watch/pods', false],
    ['GET', '/api/v1/pods/watch', false],
    ['GET', '/api/v1/pods?q=/api/v1/watch/', false],
    ['GET', '/api/v1/pods', false],
    ['HEAD', '/api/v1/pods?watch=true', false],
    ['POST', '/api/v1/pods?watch=true', false],
  ];
  for (const [method, url, want] of rows) {
    test(`${method} ${url} -> ${want}`, () => assert.equal(isLongRunning(method, url), want));
  }
});

describe('--unix-socket', () => {
  test('mode 0700, serves requests with the filter applied and no X-Forwarded-For; removed on SIGTERM, exit 0', async () => {
    const socketPath = join(dir.path, 'a.sock');
    const p = await launch(['--unix-socket', socketPath, '--kubeconfig', kc]);
    assert.equal(p.raw, socketPath);
    const st = lstatSync(socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o700);
    const res = await request({ socketPath, path: '/version' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), VERSION_INFO);
    const rec = await up.waitForRequest((r) => r.target === '/version' && r.headers['x-forwarded-for'] === undefined);
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
    const evil = await request({ socketPath, path: '/version', hostHeader: 'evil.com' });
    assert.equal(evil.status, 403);

    p.child.kill('SIGTERM');
    const exit = await within(p.exited, 'exit after SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(existsSync(socketPath), false, 'socket file removed');
  });

  test('a stale socket left by a crashed process (kill -9) is replaced', async () => {
    const socketPath = join(dir.path, 'stale.sock');
    // A plain Node listener killed with SIGKILL leaves its socket file behind.
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('ready'))`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await within(new Promise<void>((res) => holder.stdout!.on('data', (d: Buffer) => String(d).includes('ready') && res())), 'holder ready');
    } finally {
      holder.kill('SIGKILL');
    }
    await within(new Promise((res) => holder.once('exit', res)), 'holder exit');
    assert.ok(lstatSync(socketPath).isSocket(), 'stale socket left behind');
    assert.equal(await connectError({ path: socketPath }), 'ECONNREFUSED');

    const p = await launch(['--unix-socket', socketPath, '--kubeconfig', kc]);
    assert.equal((await request({ socketPath, path: '/version' })).status, 200);

    // kill -9 kproxy itself: its socket stays too, and the next run replaces it.
    p.child.kill('SIGKILL');
    assert.equal((await within(p.exited, 'kproxy killed')).signal, 'SIGKILL');
    assert.ok(lstatSync(socketPath).isSocket(), 'kproxy killed with SIGKILL leaves its socket');
    const again = await launch(['--unix-socket', socketPath, '--kubeconfig', kc]);
    assert.equal((await request({ socketPath, path: '/version' })).status, 200);
    assert.equal(lstatSync(socketPath).mode & 0o777, 0o700);
    again.child.kill('SIGINT');
    assert.equal((await within(again.exited, 'exit after SIGINT')).code, 0);
    assert.equal(existsSync(socketPath), false);
  });

  test(
    'a kproxy restarted on the same path while the old one drains keeps its socket',
    async () => {
      const socketPath = join(dir.path, 'restart.sock');
      const old = await launch(['--unix-socket', socketPath, '--kubeconfig', kc]);
      // Holds the old process in its drain until the test lets the download finish.
      const download = await pausedDownload({ socketPath, path: '/big?size=16777216&tag=restart' });
      const watch = await openStream({ socketPath, path: '/api/v1/pods?watch=1&tag=restart' });
      old.child.kill('SIGTERM');
      await within(watch.ended, 'the old process handling SIGTERM');
      assert.match(await connectError({ path: socketPath }), /^(ENOENT|ECONNREFUSED)$/, 'the old listener is closed');
      const fresh = await launch(['--unix-socket', socketPath, '--kubeconfig', kc]);
      assert.equal((await request({ socketPath, path: '/version' })).status, 200);
      const got = await within(download.resume(), 'the old process finishing its download');
      assert.equal(got.complete, true);
      assert.equal((await within(old.exited, 'the old process exiting')).code, 0);
      assert.ok(existsSync(socketPath), 'the new process\'s socket file is still there');
      assert.equal((await request({ socketPath, path: '/version' })).status, 200);
      await fresh.stop();
    },
  );

  test('a regular file (or a directory) in the way is an error, exit 1, and is left alone', async () => {
    const filePath = join(dir.path, 'not-a-socket');
    writeFileSync(filePath, 'precious\n');
    const dirPath = join(dir.path, 'a-dir');
    mkdirSync(dirPath);
    for (const path of [filePath, dirPath]) {
      const r = await runKproxy(['--unix-socket', path, '--kubeconfig', kc]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `error: listen unix ${path}: bind: address already in use\n`);
    }
    assert.equal(readFileSync(filePath, 'utf8'), 'precious\n');
    assert.ok(lstatSync(dirPath).isDirectory());
  });
});

describe('--address on IPv6 loopback', () => {
  for (const address of ['::1', '[::1]']) {
    test(`--address=${address}`, async (t) => {
      if (!hasV6) {
        t.skip('no IPv6 loopback here');
        return;
      }
      const p = await launch(['--port=0', `--address=${address}`, '--kubeconfig', kc]);
      assert.match(p.raw, /^\[::1\]:\d+$/);
      assert.equal(p.host, '::1');
      const res = await request(`http://[::1]:${p.port}/version`);
      assert.equal(res.status, 200, 'Host [::1]:port passes the default --accept-hosts');
      assert.deepEqual(res.json(), VERSION_INFO);
      assert.equal(await connectError({ host: '127.0.0.1', port: p.port }), 'ECONNREFUSED', 'bound to ::1 only');
      await p.stop();
    });
  }
});

describe('signals', () => {
  async function gracefulStop(signal: 'SIGINT' | 'SIGTERM', socketPath?: string): Promise<void> {
    const p = await launch(socketPath ? ['--unix-socket', socketPath, '--kubeconfig', kc] : ['--port=0', '--kubeconfig', kc]);
    const where: net.NetConnectOpts = socketPath ? { path: socketPath } : { host: '127.0.0.1', port: p.port };
    const target = (path: string) => (socketPath ? { socketPath, path } : `${p.url}${path}`);
    const tag = `${signal.toLowerCase()}-${socketPath ? 'unix' : 'tcp'}`;

    // 1. An ordinary request the upstream has received and is still working on.
    const slowTarget = `/slow?ms=3000&tag=${tag}`;
    const slow = request(target(slowTarget), { timeoutMs: WAIT_MS });
    slow.catch(() => {});
    await up.waitForRequest((r) => r.target === slowTarget);
    // 2. A watch with one event delivered.
    const watchersBefore = up.watchers;
    const watch: StreamResponse = await openStream(target(`/api/v1/namespaces/default/pods?watch=1&tag=${tag}`));
    await up.waitForWatchers(watchersBefore + 1);
    const line = up.emitWatchEvent({ metadata: { name: tag } });
    await watch.waitFor(line);
    // 3. A log follow with one line delivered.
    const followersBefore = up.logFollowers;
    const logs = await openStream(target(`/api/v1/namespaces/default/pods/${tag}/log?follow=true`));
    await up.waitForLogFollowers(followersBefore + 1);
    up.emitLogLine(`log line of ${tag}\n`);
    await logs.waitFor(`log line of ${tag}\n`);
    // 4. An upgraded session.
    const session = await openUpgrade(where, tag);
    // 5. A large download held back by its client, so it is certainly in flight (TCP only).
    const size = 24 * 1024 * 1024;
    const download = socketPath ? undefined : await pausedDownload(`${p.url}/big?size=${size}&tag=${tag}`);

    p.child.kill(signal);

    // The watch ends cleanly (a complete chunked body), the session is closed.
    const ended = await within(watch.ended, 'the watch ending');
    assert.equal(ended.complete, true, 'the watch ends with the terminating chunk');
    assert.equal(ended.body.toString(), line);
    const logEnd = await within(logs.ended, 'the log follow ending');
    assert.equal(logEnd.complete, true, 'the log follow ends with the terminating chunk');
    assert.equal(logEnd.body.toString(), `log line of ${tag}\n`);
    await within(session.closed, 'the upgraded session closing');
    // The upstream watch was let go as well.
    await up.waitForRequest((r) => r.target === `/api/v1/namespaces/default/pods?watch=1&tag=${tag}` && r.aborted);
    // The listener was closed before the watch was ended: nothing new is accepted.
    assert.match(await connectError(where), /^(ECONNREFUSED|ENOENT)$/);

    // In-flight ordinary requests finish and reach the client complete.
    const slowRes = await slow;
    assert.equal(slowRes.status, 200);
    assert.equal(slowRes.complete, true);
    assert.equal(slowRes.json().target, slowTarget);
    if (download) {
      const got = await within(download.resume(), 'the held-back download');
      assert.equal(got.complete, true);
      assert.equal(got.length, size);
      assert.equal(got.sha256, bigSha256(size));
    }
    const exit: ExitInfo = await within(p.exited, `exit after ${signal}`);
    assert.deepEqual(exit, { code: 0, signal: null }, p.stderr);
    if (socketPath) assert.equal(existsSync(socketPath), false, 'socket file removed');
    assert.doesNotMatch(p.stderr, /Error|at .*\.js:\d+/, p.stderr);
  }

  test('SIGINT: stop accepting, finish in-flight requests, end the watch and log follow cleanly, close the session, exit 0', async () => {
    await gracefulStop('SIGINT');
  });

  test('SIGTERM on a unix socket: the same, and the socket file is removed', async () => {
    await gracefulStop('SIGTERM', join(dir.path, 'term.sock'));
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    test(`a second ${signal} during the grace period exits at once with ${code}`, async () => {
      const p = await launch(['--port=0', '--kubeconfig', kc]);
      const tag = `twice-${signal}`;
      // Something that would hold the grace period open: a request the upstream never answers.
      const hang = await openStream(`${p.url}/hang?tag=${tag}`);
      await up.waitForRequest((r) => r.target === `/hang?tag=${tag}`);
      // A watch, whose clean end shows that the first signal has been handled.
      const before = up.watchers;
      const watch = await openStream(`${p.url}/api/v1/pods?watch=true&tag=${tag}`);
      await up.waitForWatchers(before + 1);

      p.child.kill(signal);
      assert.equal((await within(watch.ended, 'the watch ending')).complete, true);
      assert.equal(hang.done, false, 'the hanging request is still in its grace period');
      p.child.kill(signal);
      const exit = await within(p.exited, `exit after the second ${signal}`);
      assert.deepEqual(exit, { code, signal: null });
      const cut = await within(hang.ended, 'the hanging request ending');
      assert.equal(cut.complete, false, 'the unfinished response was cut, not passed off as complete');
    });
  }
});
