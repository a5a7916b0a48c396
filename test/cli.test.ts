// The command line: every bad input ends the process with exit status 1, exactly one
// `error: ...` line on stderr, no stack trace and nothing on stdout; good input prints exactly
// one `Starting to serve on <addr>` line, with the address formats kubectl prints.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { repoRoot, runKproxy, startKproxy, type RunResult, type Running, type StartOptions } from './helpers/proc.js';
import { canListenOn } from './helpers/net.js';
import { startUpstream, VERSION_INFO, type Upstream } from './helpers/upstream.js';

const NO_IPV6 = (await canListenOn('::1')) ? undefined : 'no IPv6 loopback (::1) on this machine';

const XSRF_WARNING = 'Request filter disabled, your proxy is vulnerable to XSRF attacks, please be cautious';

let pki: Pki;
let up: Upstream;
let dir: TempDir;
let kc: string;
const running = new Set<Running>();
const servers = new Set<net.Server>();

before(async () => {
  pki = await makePki();
  up = await startUpstream({ pki });
  dir = tempDir('kproxy-cli');
  kc = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, token: 'tok-cli' });
});

after(async () => {
  await Promise.all([...running].map((p) => p.stop()));
  await Promise.all([...servers].map((s) => new Promise<void>((res) => s.close(() => res()))));
  await up?.close();
  dir?.cleanup();
});

async function start(args: string[], opts?: StartOptions): Promise<Running> {
  const p = await startKproxy(args, opts);
  running.add(p);
  return p;
}

/** Stops the proxy and waits until its stdout and stderr are fully read. */
async function stopAndDrain(p: Running): Promise<void> {
  const drained = Promise.all(
    [p.child.stdout!, p.child.stderr!].map((s) => (s.readableEnded || s.destroyed ? undefined : new Promise((res) => s.once('close', res)))),
  );
  await p.stop();
  await drained;
}

function describeRun(r: RunResult): string {
  return `\n--- exit ${r.code} (signal ${r.signal}) ---\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Exit 1, one `error:` line on stderr, no stack trace, empty stdout; stderr contains every needle. */
function assertCleanFailure(r: RunResult, ...needles: Array<string | RegExp>): void {
  const ctx = describeRun(r);
  assert.equal(r.code, 1, `exit status${ctx}`);
  assert.equal(r.stdout, '', `nothing on stdout${ctx}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `no stack trace${ctx}`);
  assert.match(r.stderr, /^error: [^\n]+\n$/, `exactly one "error: ..." line${ctx}`);
  for (const n of needles) {
    if (typeof n === 'string') assert.ok(r.stderr.includes(n), `stderr should contain ${JSON.stringify(n)}${ctx}`);
    else assert.match(r.stderr, n, ctx);
  }
}

/** Binds a listener on 127.0.0.1 and keeps it until `after`. */
async function occupyPort(): Promise<number> {
  const s = net.createServer();
  servers.add(s);
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  return (s.address() as net.AddressInfo).port;
}

describe('bad input', { concurrency: 6 }, () => {
  const regexCases: Array<[string, string]> = [
    ['--accept-hosts', '^(localhost'],
    ['--accept-paths', '^/api/('],
    ['--reject-paths', '^/api/.*/pods/.*/exec,^/api/[a-'],
    ['--reject-methods', 'POST|(PUT'],
  ];
  for (const [flag, pattern] of regexCases) {
    test(`invalid regex in ${flag}`, async () => {
      const r = await runKproxy(['--port=0', `${flag}=${pattern}`, '--kubeconfig', kc]);
      const bad = pattern.split(',').pop()!;
      assertCleanFailure(r, flag.slice(2), bad);
    });
  }

  test('bad --port values', async () => {
    const [abc, big] = await Promise.all([runKproxy(['--port=abc', '--kubeconfig', kc]), runKproxy(['--port=70000', '--kubeconfig', kc])]);
    assertCleanFailure(abc, /port/, 'abc');
    assertCleanFailure(big, /port/, '70000');
  });

  test('bad --keepalive values', async () => {
    const [abc, noUnit] = await Promise.all([runKproxy(['--port=0', '--keepalive=abc', '--kubeconfig', kc]), runKproxy(['--port=0', '--keepalive=30', '--kubeconfig', kc])]);
    assertCleanFailure(abc, '--keepalive', '"abc"', /invalid duration/);
    assertCleanFailure(noUnit, '--keepalive', '"30"', /missing unit/);
  });

  test('--api-prefix without a leading slash', async () => {
    assertCleanFailure(await runKproxy(['--port=0', '--api-prefix=custom', '--kubeconfig', kc]), '--api-prefix', 'custom');
  });

  test('--unix-socket with a non-default --port', async () => {
    const r = await runKproxy(['--unix-socket=x', '--port=1234', '--kubeconfig', kc]);
    assertCleanFailure(r);
    assert.equal(r.stderr, 'error: cannot set --unix-socket and --port at the same time\n');
  });

  test('port already in use', async () => {
    const port = await occupyPort();
    const r = await runKproxy([`--port=${port}`, '--kubeconfig', kc]);
    assertCleanFailure(r);
    assert.equal(r.stderr, `error: listen tcp 127.0.0.1:${port}: bind: address already in use\n`);
  });

  test('a regular file where the unix socket should go is refused and left alone', async () => {
    const file = join(dir.path, 'not-a-socket');
    writeFileSync(file, 'keep me\n');
    const r = await runKproxy([`--unix-socket=${file}`, '--kubeconfig', kc]);
    assertCleanFailure(r, file, /address already in use/);
    assert.equal(readFileSync(file, 'utf8'), 'keep me\n');
  });

  test('--kubeconfig pointing at a missing file', async () => {
    assertCleanFailure(await runKproxy(['--port=0', '--kubeconfig=/nonexistent']), '/nonexistent', /no such file/);
  });

  test('KUBECONFIG lists only missing files, HOME has no .kube: the error says what was looked at', async () => {
    const home = join(dir.path, 'empty-home');
    mkdirSync(home, { recursive: true });
    const a = join(dir.path, 'missing-a');
    const b = join(dir.path, 'missing-b');
    const [listed, homeOnly] = await Promise.all([
      runKproxy(['--port=0'], { env: { KUBECONFIG: `${a}:${b}`, HOME: home } }),
      runKproxy(['--port=0'], { env: { KUBECONFIG: undefined, HOME: home } }),
    ]);
    assertCleanFailure(listed, a, b);
    assertCleanFailure(homeOnly, join(home, '.kube', 'config'));
  });

  test('kubeconfig without current-context', async () => {
    const noCurrent = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, token: 't', currentContext: null, fileName: 'no-current' });
    assertCleanFailure(await runKproxy(['--port=0', '--kubeconfig', noCurrent]), /current-context/);
  });

  test('--context=nope', async () => {
    assertCleanFailure(await runKproxy(['--port=0', '--context=nope', '--kubeconfig', kc]), 'context "nope" does not exist');
  });

  test('--www-prefix equal to the API prefix', async () => {
    assertCleanFailure(await runKproxy(['--port=0', '--www=.', '--www-prefix=/', '--kubeconfig', kc]), /www-prefix/);
  });

  test('unknown flag', async () => {
    assertCleanFailure(await runKproxy(['--port=0', '--bogus-flag', '--kubeconfig', kc]), '--bogus-flag');
  });
});

describe('help and version', { concurrency: 2 }, () => {
  test('--help prints the kubectl-style help with its examples', async () => {
    const r = await runKproxy(['--help']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stderr, '');
    for (const s of [
      'Creates a proxy server or application-level gateway between localhost and the Kubernetes API server.',
      'Examples:',
      '# To proxy all of the Kubernetes API and nothing else',
      '--api-prefix=/custom/',
      '--www=/my/files --www-prefix=/static/ --api-prefix=/api/',
      '--port=8011 --www=./local/www/',
      '--port=0',
      'Options:',
      "--accept-hosts='^localhost$,^127\\.0\\.0\\.1$,^\\[::1\\]$'",
      "--reject-paths='^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach'",
      '--unix-socket',
      'Usage:',
    ]) {
      assert.ok(r.stdout.includes(s), `help lacks ${JSON.stringify(s)}${describeRun(r)}`);
    }
  });

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
    const r = await runKproxy(['--version']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^[^\n]+\n$/, 'one line');
    assert.ok(r.stdout.includes(version), describeRun(r));
  });
});

describe('listening', { concurrency: 3 }, () => {
  test('--port=0: the real port is printed, and stdout holds exactly that one line', async () => {
    const p = await start(['--port=0', '--kubeconfig', kc]);
    assert.match(p.raw, /^127\.0\.0\.1:\d+$/);
    assert.ok(p.port > 0);
    const res = await request(`${p.url}/version`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), VERSION_INFO);
    await stopAndDrain(p);
    assert.equal(p.stdout, `Starting to serve on ${p.raw}\n`);
  });

  const forms: Array<[string[], RegExp, string | undefined]> = [
    [['-p=0', '--address=localhost'], /^127\.0\.0\.1:\d+$/, undefined],
    [['--address=::1', '-p', '0'], /^\[::1\]:\d+$/, NO_IPV6],
    [['--address=[::1]', '--port=0'], /^\[::1\]:\d+$/, NO_IPV6],
  ];
  for (const [args, printed, skip] of forms) {
    test(`${args.join(' ')} prints ${printed.source}`, { skip }, async () => {
      const p = await start([...args, '--kubeconfig', kc]);
      assert.match(p.raw, printed);
      assert.ok(p.port > 0);
      const res = await request(`http://${p.raw}/version`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), VERSION_INFO);
    });
  }

  test('--port=8001 -u <socket> is accepted (the port is the default)', async () => {
    const sock = join(dir.path, 'ok.sock');
    const p = await start(['--port=8001', '-u', sock, '--kubeconfig', kc]);
    assert.equal(p.raw, sock);
    assert.equal((await request({ socketPath: sock, path: '/version' })).status, 200);
    await stopAndDrain(p);
    assert.equal(p.stdout, `Starting to serve on ${sock}\n`);
    assert.equal(existsSync(sock), false);
  });
});

describe('--disable-filter', { concurrency: 3 }, () => {
  const exec = '/api/v1/namespaces/default/pods/foo/exec';

  test('--disable-filter: XSRF warning on stderr; exec and any Host are forwarded', async () => {
    const p = await start(['--port=0', '--disable-filter', '--kubeconfig', kc]);
    await p.waitForStderr(XSRF_WARNING, 10_000);
    const res = await request({ url: p.url, path: `${exec}?case=plain`, hostHeader: 'evil.com' });
    assert.equal(res.status, 200);
    await up.waitForRequest((r) => r.target === `${exec}?case=plain`, 10_000);
  });

  test('Go-style --disable-filter=true works the same', async () => {
    const p = await start(['--port=0', '--disable-filter=true', '--kubeconfig', kc]);
    await p.waitForStderr(XSRF_WARNING, 10_000);
    assert.equal((await request(`${p.url}${exec}?case=true`)).status, 200);
    await up.waitForRequest((r) => r.target === `${exec}?case=true`, 10_000);
  });

  test('--disable-filter=false keeps the filter and prints no warning', async () => {
    const p = await start(['--port=0', '--disable-filter=false', '--kubeconfig', kc]);
    assert.equal((await request(`${p.url}${exec}?case=false`)).status, 403);
    await stopAndDrain(p);
    assert.ok(!p.stderr.includes('Request filter disabled'), p.stderr);
  });

  test('--disable-filter with -u: no warning', async () => {
    const sock = join(dir.path, 'nofilter.sock');
    const p = await start(['--disable-filter', '-u', sock, '--kubeconfig', kc]);
    assert.equal((await request({ socketPath: sock, path: `${exec}?case=unix` })).status, 200);
    await stopAndDrain(p);
    assert.ok(!p.stderr.includes('Request filter disabled'), p.stderr);
    assert.equal(p.stdout, `Starting to serve on ${sock}\n`);
  });
});
