// Exec credential plugins end to end: kubeconfig `exec` → running kproxy → plugin scripts
// written at test time → what the fake API server receives. Where kubectl is the reference
// (the environment a plugin gets, error texts) the same plugin is run by the real kubectl 1.32
// and the two are compared. Caching, single flight and back-off are also checked in process
// with a fake clock, so no test depends on how fast this machine is.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeExecCredential, ExecPlugin, cleanANSIEscapeCodes, execInfo, interactive, parseRFC3339 } from '../src/auth/exec.js';
import { RefreshingCredential, type Obtained } from '../src/auth/refresh.js';
import { CredentialError } from '../src/auth/credentials.js';
import { issueClientCert } from './helpers/certs.js';
import { request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type KubeconfigSpec, type TempDir } from './helpers/kubeconfig.js';
import { makePki, writePkiFiles, type KeyPair, type Pki, type PkiPaths } from './helpers/pki.js';
import { EXEC_V1, EXEC_V1BETA1, execCredentialJson, writePlugin, type PluginRun, type ScriptedPlugin } from './helpers/plugins.js';
import { findKubectl, kproxyBin, kubectlMissing, runKproxy, runProcess, startKproxy, startKubectlProxy, type Running, type RunResult } from './helpers/proc.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { upgradeEcho } from './helpers/upgrade-client.js';

let pki: Pki;
let files: PkiPaths;
let bob: KeyPair;
let up: Upstream;
let dir: TempDir;
let bin: string;
const running: Running[] = [];

const TOKENS = ['tok-1', 'tok-2', 'tok-good', 'tok-static', 'tok-slow', 'tok-env', 'tok-tty'];
const FAR = '2099-01-01T00:00:00Z';
const PAST = '2020-01-01T00:00:00Z';

before(async () => {
  pki = await makePki();
  [up, bob] = await Promise.all([startUpstream({ pki, tokens: TOKENS }), issueClientCert(pki, 'bob')]);
  dir = tempDir('kproxy-exec');
  files = writePkiFiles(join(dir.path, 'pki'), pki);
  bin = join(dir.path, 'bin');
  mkdirSync(bin);
});

after(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await up?.close();
  dir?.cleanup();
});

/** PATH with the plugin folder first, for plugins named without a path. */
function pathEnv(): Record<string, string> {
  return { PATH: `${bin}:${process.env.PATH ?? ''}` };
}

function kubeconfig(name: string, exec: Record<string, unknown> | undefined, extra: Partial<KubeconfigSpec> = {}): string {
  return writeKubeconfig(dir.path, { server: up.url, caFile: files.ca, ...(exec ? { exec } : {}), ...extra, fileName: `${name}.kubeconfig` });
}

function plugin(name: string, runs: Array<string | PluginRun>, gated = false): ScriptedPlugin {
  return writePlugin(bin, name, { runs, gated });
}

async function launch(kc: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<Running> {
  const r = await startKproxy(['--port=0', '--kubeconfig', kc, ...args], { env: { ...pathEnv(), ...env } });
  running.push(r);
  return r;
}

let seq = 0;
async function get(r: Running, path?: string): Promise<{ status: number; body: string; identity: string | undefined }> {
  const p = path ?? `/api/v1/namespaces/exec-${++seq}/configmaps`;
  const res = await request(`${r.url}${p}`);
  const rec = up.requests.find((x) => x.path === p);
  return { status: res.status, body: res.text(), identity: rec?.identity };
}

/** What kubectl says after `Unable to connect to the server: ` (its request-level error). */
async function kubectlError(kc: string, env: Record<string, string> = {}): Promise<string> {
  const r: RunResult = await runProcess(findKubectl()!, ['get', '--raw', '/api/v1/pods', '--kubeconfig', kc], { env: { ...pathEnv(), ...env } });
  const marker = 'Unable to connect to the server: ';
  const at = r.stderr.indexOf(marker);
  assert.ok(at >= 0, `kubectl did not fail as expected: code ${r.code}, stderr ${JSON.stringify(r.stderr)}`);
  return r.stderr.slice(at + marker.length).trimEnd();
}

function withoutShellVars(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  for (const k of ['PWD', 'OLDPWD', 'SHLVL', '_']) delete out[k];
  return out;
}

describe('token plugins', () => {
  test('run lazily, once, found on PATH; args, env and KUBERNETES_EXEC_INFO as configured; stderr reaches the user', async () => {
    const p = plugin('kp-token', [{ stdout: execCredentialJson({ token: 'tok-1' }), stderr: 'To sign in, open https://example.test/device and enter the code ABCD-EFGH' }]);
    const kc = kubeconfig('token', {
      apiVersion: EXEC_V1,
      command: 'kp-token',
      args: ['--flag', 'two words'],
      env: [
        { name: 'KP_FOO', value: 'bar' },
        { name: 'KP_FOO', value: 'later wins' },
      ],
      interactiveMode: 'Never',
    });
    const r = await launch(kc);
    assert.equal(p.runs(), 0, 'no plugin run at start-up');
    const a = await get(r);
    const b = await get(r);
    assert.deepEqual([a.status, a.identity], [200, 'bearer:tok-1']);
    assert.deepEqual([b.status, b.identity], [200, 'bearer:tok-1']);
    assert.equal(p.runs(), 1, 'one run, then the cached token');
    assert.deepEqual(p.args(1), ['--flag', 'two words']);
    const env = p.env(1);
    assert.equal(env.KP_FOO, 'later wins');
    assert.equal(env.KUBERNETES_EXEC_INFO, '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}\n');
    assert.equal(p.stdinTTY(1), false);
    await r.waitForStderr('enter the code ABCD-EFGH');
  });

  test('the environment is the one kubectl gives the plugin (v1beta1, provideClusterInfo, CA file inlined, exec extension)', { skip: kubectlMissing() }, async () => {
    const spec = (name: string) => ({
      apiVersion: EXEC_V1BETA1,
      command: name,
      env: [{ name: 'KP_MODE', value: 'compare' }],
      provideClusterInfo: true,
    });
    const answer = execCredentialJson({ token: 'tok-env' }, EXEC_V1BETA1);
    const mine = plugin('kp-env-kproxy', [answer]);
    const theirs = plugin('kp-env-kubectl', [answer]);
    const extra = {
      tlsServerName: 'localhost',
      disableCompression: true,
      extraCluster: { extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'kproxy-test', nested: { count: 1 } } }] },
    };
    const r = await launch(kubeconfig('env-kproxy', spec('kp-env-kproxy'), extra));
    assert.equal((await get(r)).identity, 'bearer:tok-env');
    const k = await runProcess(findKubectl()!, ['get', '--raw', '/api/v1/pods', '--kubeconfig', kubeconfig('env-kubectl', spec('kp-env-kubectl'), extra)], {
      env: pathEnv(),
    });
    assert.equal(k.code, 0, k.stderr);
    const info = JSON.parse(mine.env(1).KUBERNETES_EXEC_INFO!);
    assert.equal(info.apiVersion, EXEC_V1BETA1);
    assert.equal(info.spec.interactive, false, 'interactiveMode defaults to IfAvailable for v1beta1; stdin is no terminal');
    assert.equal(Buffer.from(info.spec.cluster['certificate-authority-data'], 'base64').toString(), pki.ca);
    assert.deepEqual(info.spec.cluster.config, { audience: 'kproxy-test', nested: { count: 1 } });
    assert.deepEqual(withoutShellVars(mine.env(1)), withoutShellVars(theirs.env(1)));
  });

  test('a configured apiVersion other than v1/v1beta1 is refused at start-up, as kubectl does', async () => {
    const kc = kubeconfig('v1alpha1', { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'kp-never-run' });
    const r = await runKproxy(['--port=0', '--kubeconfig', kc]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: exec plugin: invalid apiVersion "client.authentication.k8s.io/v1alpha1"\n');
    if (!kubectlMissing()) {
      const k = await runProcess(findKubectl()!, ['get', '--raw', '/api/v1/pods', '--kubeconfig', kc]);
      assert.equal(k.stderr, r.stderr);
    }
  });

  test('a static token beside exec shadows the plugin, with a warning (as client-go)', async () => {
    const p = plugin('kp-shadowed', [execCredentialJson({ token: 'tok-1' })]);
    const r = await launch(kubeconfig('shadowed', { apiVersion: EXEC_V1, command: 'kp-shadowed', interactiveMode: 'Never' }, { token: 'tok-static' }));
    assert.equal((await get(r)).identity, 'bearer:tok-static');
    assert.equal(p.runs(), 0);
    await r.waitForStderr('the exec plugin is not used');
  });

  test('a command with a path separator is resolved against the kubeconfig folder, not the working directory', async () => {
    const sub = join(dir.path, 'conf');
    mkdirSync(join(sub, 'plugins'), { recursive: true });
    const p = writePlugin(join(sub, 'plugins'), 'kp-relative', { runs: [execCredentialJson({ token: 'tok-1' })] });
    const kc = writeKubeconfig(sub, {
      server: up.url,
      caFile: files.ca,
      exec: { apiVersion: EXEC_V1, command: './plugins/kp-relative', interactiveMode: 'Never' },
      fileName: 'kubeconfig',
    });
    const r = await startKproxy(['--port=0', '--kubeconfig', kc], { cwd: dir.path });
    running.push(r);
    assert.equal((await get(r)).identity, 'bearer:tok-1');
    assert.equal(p.runs(), 1);
  });
});

describe('expiry, 401 and concurrency', () => {
  test('a token past its expirationTimestamp is replaced on the next request', async () => {
    const p = plugin('kp-expiring', [
      execCredentialJson({ token: 'tok-1', expirationTimestamp: PAST }),
      execCredentialJson({ token: 'tok-2', expirationTimestamp: FAR }),
    ]);
    const r = await launch(kubeconfig('expiring', { apiVersion: EXEC_V1, command: 'kp-expiring', interactiveMode: 'Never' }));
    // Like client-go, a credential that arrives expired still serves the requests waiting for it.
    assert.equal((await get(r)).identity, 'bearer:tok-1');
    assert.equal((await get(r)).identity, 'bearer:tok-2');
    assert.equal((await get(r)).identity, 'bearer:tok-2');
    assert.equal(p.runs(), 2);
  });

  test('a 401 for the token used re-runs the plugin for the next request; the 401 itself is relayed', async () => {
    const p = plugin('kp-401', [execCredentialJson({ token: 'tok-revoked' }), execCredentialJson({ token: 'tok-good' })]);
    const r = await launch(kubeconfig('401', { apiVersion: EXEC_V1, command: 'kp-401', interactiveMode: 'Never' }));
    const first = await get(r);
    assert.equal(first.status, 401);
    assert.match(first.body, /Unauthorized/);
    const second = await get(r);
    assert.deepEqual([second.status, second.identity], [200, 'bearer:tok-good']);
    assert.equal(p.runs(), 2);
    // A client's own token being refused is not the plugin's business.
    const own = await request(`${r.url}/api/v1/namespaces/own/configmaps`, { headers: { Authorization: 'Bearer not-valid' } });
    assert.equal(own.status, 401);
    assert.equal((await get(r)).identity, 'bearer:tok-good');
    assert.equal(p.runs(), 2);
  });

  test('one plugin run however many requests wait for it', async () => {
    const p = plugin('kp-slow', [execCredentialJson({ token: 'tok-slow' })], true);
    const r = await launch(kubeconfig('slow', { apiVersion: EXEC_V1, command: 'kp-slow', interactiveMode: 'Never' }), ['--v=3']);
    const paths = [1, 2, 3, 4, 5].map((i) => `/api/v1/namespaces/slow-${i}/configmaps`);
    const pending = paths.map((path) => get(r, path));
    // Each "Filter accepting" line is logged in the same tick as the request asks for its
    // credential, so once all five are there, all five are waiting on the plugin.
    await r.waitForStderr('plugin kp-slow run 1 waiting');
    for (const path of paths) await r.waitForStderr(`Filter accepting GET ${path} `);
    await p.release();
    const results = await Promise.all(pending);
    assert.deepEqual(
      results.map((x) => [x.status, x.identity]),
      paths.map(() => [200, 'bearer:tok-slow']),
    );
    assert.equal(p.runs(), 1);
  });
});

describe('client certificates from a plugin', () => {
  test('used for TLS; a new certificate replaces pooled connections, and upgrades use it too', async () => {
    const p = plugin('kp-cert', [
      execCredentialJson({ clientCertificateData: pki.client.cert, clientKeyData: pki.client.key, expirationTimestamp: PAST }),
      execCredentialJson({ clientCertificateData: bob.cert, clientKeyData: bob.key, expirationTimestamp: FAR }),
    ]);
    const r = await launch(kubeconfig('cert', { apiVersion: EXEC_V1, command: 'kp-cert', interactiveMode: 'Never' }));
    assert.equal((await get(r)).identity, 'cert:alice');
    // The pooled connection from the first request is still open; the second must not use it.
    assert.equal((await get(r)).identity, 'cert:bob');
    const path = '/api/v1/namespaces/exec-cert/pods/web/portforward';
    const u = await upgradeEcho('127.0.0.1', r.port, path);
    assert.equal(u.status, 101, u.head);
    const rec = await up.waitForRequest((x) => x.upgrade && x.path === path);
    assert.equal(rec.identity, 'cert:bob');
    assert.equal(p.runs(), 2);
  });

  test('a refused certificate (401) makes the next request run the plugin again', async () => {
    const p = plugin('kp-cert-401', [
      // Signed by a CA the API server does not trust: the request is anonymous, hence 401.
      execCredentialJson({ clientCertificateData: pki.otherClient.cert, clientKeyData: pki.otherClient.key }),
      execCredentialJson({ clientCertificateData: pki.client.cert, clientKeyData: pki.client.key }),
    ]);
    const r = await launch(kubeconfig('cert-401', { apiVersion: EXEC_V1, command: 'kp-cert-401', interactiveMode: 'Never' }));
    assert.equal((await get(r)).status, 401);
    const second = await get(r);
    assert.deepEqual([second.status, second.identity], [200, 'cert:alice']);
    assert.equal(p.runs(), 2);
  });
});

describe('failures: kubectl\'s texts, answered with 500', () => {
  const v1 = (command: string, extra: Record<string, unknown> = {}) => ({ apiVersion: EXEC_V1, command, interactiveMode: 'Never', ...extra });
  const cases: Array<{ name: string; runs?: Array<string | PluginRun>; exec: (name: string) => Record<string, unknown>; expected: (name: string) => string }> = [
    {
      name: 'exit status',
      runs: [{ stderr: 'boom', exit: 3 }],
      exec: (name) => v1(name),
      expected: (name) => `getting credentials: exec: executable ${name} failed with exit code 3`,
    },
    {
      name: 'not on PATH, with installHint (ANSI escapes neutralised)',
      exec: () => v1('kp-not-installed', { installHint: 'install it with \u001b[31mbrew\u001b[0m' }),
      expected: () =>
        'getting credentials: exec: executable kp-not-installed not found\n\nIt looks like you are trying to use a client-go credential plugin that is not installed.\n\nTo learn more about this feature, consult the documentation available at:\n      https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins\n\ninstall it with U+001B[31mbrewU+001B[0m',
    },
    {
      name: 'missing file next to the kubeconfig',
      exec: () => v1('./nowhere/kp-plugin'),
      expected: () => `getting credentials: exec: fork/exec ${join(dir.path, 'nowhere/kp-plugin')}: no such file or directory`,
    },
    {
      name: 'interactiveMode Always without a terminal',
      runs: [execCredentialJson({ token: 'tok-1' })],
      exec: (name) => v1(name, { interactiveMode: 'Always' }),
      expected: () => 'getting credentials: exec plugin cannot support interactive mode: standard input is not a terminal',
    },
    {
      name: 'answer in another apiVersion',
      runs: [execCredentialJson({ token: 'tok-1' }, EXEC_V1BETA1)],
      exec: (name) => v1(name),
      expected: () => `getting credentials: exec plugin is configured to use API version ${EXEC_V1}, plugin returned version ${EXEC_V1BETA1}`,
    },
    {
      name: 'no status',
      runs: [execCredentialJson(null)],
      exec: (name) => v1(name),
      expected: () => "getting credentials: exec plugin didn't return a status field",
    },
    {
      name: 'certificate without key',
      runs: [execCredentialJson({ clientCertificateData: 'x' })],
      exec: (name) => v1(name),
      expected: () => 'getting credentials: exec plugin returned only certificate or key, not both',
    },
    {
      name: 'not an object',
      runs: ['[1]'],
      exec: (name) => v1(name),
      expected: () =>
        'getting credentials: decoding stdout: couldn\'t get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }',
    },
  ];

  cases.forEach((c, i) => {
    test(c.name, async () => {
      const name = `kp-fail-${i}`;
      if (c.runs) plugin(name, c.runs);
      const kc = kubeconfig(`fail-${i}`, c.exec(name));
      const r = await launch(kc);
      const a = await get(r);
      assert.equal(a.status, 500);
      assert.equal(a.body, c.expected(name) + '\n');
      await r.waitForStderr(`Error while proxying request: ${c.expected(name).split('\n')[0]}`);
      // A later request is answered at once from the back-off, or by a new run: never a hang.
      const b = await get(r);
      assert.equal(b.status, 500);
      assert.equal(b.body, a.body);
      if (!kubectlMissing()) assert.equal(await kubectlError(kc), c.expected(name));
    });
  });

  test('kubectl proxy answers a failing plugin with the same status and body', { skip: kubectlMissing() }, async () => {
    plugin('kp-fail-proxy', [{ exit: 7 }]);
    const kc = kubeconfig('fail-proxy', { apiVersion: EXEC_V1, command: 'kp-fail-proxy', interactiveMode: 'Never' });
    const mine = await get(await launch(kc));
    const k = await startKubectlProxy(['--port=0', '--kubeconfig', kc], { env: pathEnv() });
    running.push(k);
    const theirs = await request(`${k.url}/api/v1/pods`);
    assert.equal(mine.status, theirs.status);
    assert.equal(mine.body, theirs.text());
  });
});

describe('interactive plugins', () => {
  const script = '/usr/bin/script';
  test('with a terminal on stdin, IfAvailable hands it to the plugin, as kubectl does', { skip: existsSync(script) ? kubectlMissing() : 'util-linux script(1) not found' }, async () => {
    const answer = execCredentialJson({ token: 'tok-tty' });
    const mine = plugin('kp-tty-kproxy', [answer]);
    const theirs = plugin('kp-tty-kubectl', [answer]);
    const spec = (cmd: string) => ({ apiVersion: EXEC_V1, command: cmd, interactiveMode: 'IfAvailable' });
    const kcMine = kubeconfig('tty-kproxy', spec('kp-tty-kproxy'));
    const kcTheirs = kubeconfig('tty-kubectl', spec('kp-tty-kubectl'));
    // Command mode: kproxy serves while the command runs, then exits; script(1) gives both a pty.
    const fetcher = `${process.execPath} -e "fetch(process.env.KPROXY_URL + '/api/v1/namespaces/tty/configmaps').then((r) => console.log('STATUS ' + r.status))"`;
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const r = await runProcess(script, ['-qec', `${q(process.execPath)} ${q(kproxyBin())} --kubeconfig ${q(kcMine)} -- ${fetcher}`, '/dev/null'], { env: pathEnv() });
    assert.match(r.stdout, /STATUS 200/, r.stdout + r.stderr);
    assert.equal(up.requests.find((x) => x.path === '/api/v1/namespaces/tty/configmaps')?.identity, 'bearer:tok-tty');
    const k = await runProcess(script, ['-qec', `${q(findKubectl()!)} get --raw /api/v1/pods --kubeconfig ${q(kcTheirs)}`, '/dev/null'], { env: pathEnv() });
    assert.equal(k.code, 0, k.stdout + k.stderr);
    assert.equal(mine.stdinTTY(1), true);
    assert.equal(theirs.stdinTTY(1), true);
    assert.equal(mine.env(1).KUBERNETES_EXEC_INFO, theirs.env(1).KUBERNETES_EXEC_INFO);
    assert.equal(JSON.parse(mine.env(1).KUBERNETES_EXEC_INFO!).spec.interactive, true);
  });

  test('Never keeps stdin from the plugin even when it is a terminal; Always requires one', async () => {
    const p = plugin('kp-never', [execCredentialJson({ token: 'tok-1' })]);
    const base = { apiVersion: EXEC_V1, command: p.path, args: [], env: [], provideClusterInfo: false };
    const never = new ExecPlugin({ ...base, interactiveMode: 'Never' }, { env: process.env, stdinIsTTY: true });
    assert.equal((await never.run()).token, 'tok-1');
    assert.equal(JSON.parse(p.env(1).KUBERNETES_EXEC_INFO!).spec.interactive, false);
    assert.equal(interactive('IfAvailable', true), true);
    assert.equal(interactive('IfAvailable', false), false);
    assert.equal(interactive('Always', true), true);
    assert.throws(() => interactive('Always', false), /standard input is not a terminal/);
    assert.equal(execInfo({ ...base, interactiveMode: 'Always' }, true, undefined), '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}\n');
  });
});

describe('caching, single flight and back-off (fake clock)', () => {
  function harness(results: Array<Obtained | Error>) {
    let t = 1_000_000;
    let calls = 0;
    const gates: Array<() => void> = [];
    const cred = new RefreshingCredential({
      now: () => t,
      what: 'test credential',
      obtain: () => {
        const r = results[Math.min(calls, results.length - 1)]!;
        calls++;
        return new Promise<Obtained>((resolve, reject) => gates.push(() => (r instanceof Error ? reject(r) : resolve(r))));
      },
    });
    return {
      cred,
      advance: (ms: number) => (t += ms),
      now: () => t,
      calls: () => calls,
      /** Lets the oldest pending obtain() settle. */
      settle: async () => {
        gates.shift()!();
        await new Promise((r) => setImmediate(r));
      },
    };
  }
  const ok = (value: string, freshUntil = Infinity, expiresAt = freshUntil): Obtained => ({ authorization: value, freshUntil, expiresAt });

  test('waiting requests share one run; afterwards the cached value is returned synchronously', async () => {
    const h = harness([ok('Bearer a')]);
    const waits = [h.cred.authorization(), h.cred.authorization(), h.cred.authorization()];
    assert.ok(waits.every((w) => w instanceof Promise));
    assert.equal(new Set(waits).size, 1, 'the same promise');
    await h.settle();
    assert.deepEqual(await Promise.all(waits), ['Bearer a', 'Bearer a', 'Bearer a']);
    assert.equal(h.cred.authorization(), 'Bearer a');
    assert.equal(h.calls(), 1);
  });

  test('shortly before expiry: the old value is still sent while one background run fetches the next', async () => {
    const h = harness([ok('Bearer new')]);
    h.cred.seed(ok('Bearer old', h.now() + 1000, h.now() + 2000));
    assert.equal(h.cred.authorization(), 'Bearer old');
    h.advance(1500);
    assert.equal(h.cred.authorization(), 'Bearer old', 'inside the refresh window: no waiting');
    assert.equal(h.cred.authorization(), 'Bearer old');
    assert.equal(h.calls(), 1, 'one background run');
    await h.settle();
    assert.equal(h.cred.authorization(), 'Bearer new');
  });

  test('past the expiry without a new value, requests wait for it', async () => {
    const h = harness([ok('Bearer next')]);
    h.cred.seed(ok('Bearer stale', h.now() + 10, h.now() + 20));
    h.advance(20);
    const w = h.cred.authorization();
    assert.ok(w instanceof Promise);
    await h.settle();
    assert.equal(await w, 'Bearer next');
  });

  test('a 401 drops the value that was used, not a newer one', async () => {
    const h = harness([ok('Bearer a'), ok('Bearer b')]);
    const w = h.cred.authorization();
    await h.settle();
    assert.equal(await w, 'Bearer a');
    h.cred.rejected('Bearer stale-from-before');
    assert.equal(h.cred.authorization(), 'Bearer a');
    h.cred.rejected('Bearer a');
    const w2 = h.cred.authorization();
    assert.ok(w2 instanceof Promise);
    await h.settle();
    assert.equal(await w2, 'Bearer b');
  });

  test('after a failure: the last error at once until the back-off ends (1 s, doubling, at most 30 s)', async () => {
    const fail = new CredentialError('getting credentials: exec: executable x failed with exit code 1');
    const h = harness([fail]);
    const first = h.cred.authorization() as Promise<string | undefined>;
    await h.settle();
    await assert.rejects(first, (e: Error) => e === fail);
    const delays: number[] = [];
    for (let round = 0; round < 7; round++) {
      // Inside the back-off: answered at once, no run.
      const before = h.calls();
      let waited = 0;
      for (;;) {
        const during = h.cred.authorization();
        assert.ok(during instanceof Promise);
        if (h.calls() !== before) {
          await h.settle();
          await assert.rejects(during as Promise<unknown>, /exit code 1/);
          break;
        }
        await assert.rejects(during as Promise<unknown>, (e: Error) => e === fail);
        h.advance(250);
        waited += 250;
      }
      delays.push(waited);
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  test('a failed background refresh keeps the still valid value', async () => {
    const h = harness([new CredentialError('boom')]);
    h.cred.seed(ok('Bearer current', h.now() + 100, h.now() + 10_000));
    h.advance(200);
    assert.equal(h.cred.authorization(), 'Bearer current');
    await h.settle();
    assert.equal(h.cred.authorization(), 'Bearer current');
    assert.equal(h.calls(), 1, 'the failure starts a back-off: no run per request');
  });
});

describe('ExecCredential decoding (client-go messages)', () => {
  const v1 = EXEC_V1;
  const fails = (out: string, message: string) => assert.throws(() => decodeExecCredential(out, v1), (e: Error) => e.message === message);
  test('errors', () => {
    fails('', `exec plugin is configured to use API version ${v1}, plugin returned version client.authentication.k8s.io/__internal`);
    fails('{"kind":"ExecCredential","status":{"token":"x"}}', `exec plugin is configured to use API version ${v1}, plugin returned version client.authentication.k8s.io/__internal`);
    fails(
      '{"apiVersion":"client.authentication.k8s.io/v2","kind":"ExecCredential","status":{"token":"x"}}',
      'decoding stdout: no kind "ExecCredential" is registered for version "client.authentication.k8s.io/v2" in scheme "pkg/client/auth/exec/exec.go:62"',
    );
    fails('{"apiVersion":"client.authentication.k8s.io/v1","kind":"Foo","status":{"token":"x"}}', 'decoding stdout: no kind "Foo" is registered for version "client.authentication.k8s.io/v1" in scheme "pkg/client/auth/exec/exec.go:62"');
    fails('{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"x"}', "decoding stdout: couldn't get version/kind; json parse error: unexpected end of JSON input");
    fails('{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"x"}} trailing', "decoding stdout: couldn't get version/kind; json parse error: invalid character 't' after top-level value");
    fails('{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":5}}', 'decoding stdout: json: cannot unmarshal number into Go struct field ExecCredentialStatus.status.token of type string');
    fails(
      '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"x","expirationTimestamp":"garbage"}}',
      'decoding stdout: parsing time "garbage" as "2006-01-02T15:04:05Z07:00": cannot parse "garbage" as "2006"',
    );
    fails('{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}', "exec plugin didn't return a token or cert/key pair");
    fails(
      '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"x","clientKeyData":"y"}}',
      'failed parsing client key/certificate: tls: failed to find any PEM data in certificate input',
    );
    fails(
      JSON.stringify({ apiVersion: v1, kind: 'ExecCredential', status: { clientCertificateData: pki.client.cert, clientKeyData: bob.key } }),
      'failed parsing client key/certificate: tls: private key does not match public key',
    );
  });

  test('accepted forms: YAML, missing kind, unknown status fields, RFC 3339 with offsets', () => {
    assert.deepEqual(decodeExecCredential('apiVersion: client.authentication.k8s.io/v1\nkind: ExecCredential\nstatus:\n  token: t\n', v1), { token: 't' });
    assert.deepEqual(decodeExecCredential('{"apiVersion":"client.authentication.k8s.io/v1","status":{"token":"t","bogus":1}}', v1), { token: 't' });
    assert.equal(parseRFC3339('2030-05-06T07:08:09.5+02:00'), Date.parse('2030-05-06T05:08:09.500Z'));
    assert.equal(decodeExecCredential(execCredentialJson({ token: 't', expirationTimestamp: PAST }), v1).expiry, Date.parse(PAST));
  });

  test("installHint's control characters are shown as U+XXXX (cleanANSIEscapeCodes)", () => {
    assert.equal(cleanANSIEscapeCodes('a\u001b[1mb\u0007\tc\n'), 'aU+001B[1mbU+0007\tc\n');
  });
});
