// Reaching the API server through a proxy: kubeconfig `proxy-url` (http, https, socks5) and
// HTTPS_PROXY/NO_PROXY, for ordinary and upgrade requests. The API server is given a name that
// does not resolve on this machine (`api.kproxy.invalid`); only the test proxies know it, so a
// success proves the proxy was used and that it received the name, not an address. Error texts
// are compared with kubectl proxy's where kubectl behaves the same way.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chooseProxy, noProxyMatcher, proxyFromEnvironment } from '../src/proxy-env.js';
import { request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type KubeconfigSpec, type TempDir } from './helpers/kubeconfig.js';
import { makePki, writePkiFiles, type Pki, type PkiPaths } from './helpers/pki.js';
import { findKubectl, kubectlMissing, runKproxy, runProcess, startKproxy, startKubectlProxy, type Running } from './helpers/proc.js';
import { startConnectProxy, startSocksProxy, type TestProxy } from './helpers/proxies.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { upgradeEcho } from './helpers/upgrade-client.js';

const NAME = 'api.kproxy.invalid';
const hosts = { [NAME]: '127.0.0.1' };

let pki: Pki;
let files: PkiPaths;
let up: Upstream;
let dir: TempDir;
let httpProxy: TestProxy;
let authProxy: TestProxy;
let tlsProxy: TestProxy;
let socksProxy: TestProxy;
let socksAuthProxy: TestProxy;
const running: Running[] = [];

before(async () => {
  pki = await makePki();
  dir = tempDir('kproxy-proxy');
  files = writePkiFiles(join(dir.path, 'pki'), pki);
  [up, httpProxy, authProxy, tlsProxy, socksProxy, socksAuthProxy] = await Promise.all([
    startUpstream({ pki, tokens: ['tok-1'] }),
    startConnectProxy({ hosts }),
    startConnectProxy({ hosts, auth: { user: 'pxuser', pass: 'p@ss:word' } }),
    startConnectProxy({ hosts, tls: pki.server }),
    startSocksProxy({ hosts }),
    startSocksProxy({ hosts, auth: { user: 'sockser', pass: 'secret' } }),
  ]);
});

after(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await Promise.all([up, httpProxy, authProxy, tlsProxy, socksProxy, socksAuthProxy].map((x) => x?.close()));
  dir?.cleanup();
});

/** The API server under its unresolvable name; SNI and verification use `kubernetes.local` (in the test certificate). */
function kubeconfig(name: string, extra: Partial<KubeconfigSpec> = {}): string {
  return writeKubeconfig(dir.path, {
    server: `https://${NAME}:${up.port}`,
    tlsServerName: 'kubernetes.local',
    caFile: files.ca,
    token: 'tok-1',
    ...extra,
    fileName: `${name}.kubeconfig`,
  });
}

/** Environment without any proxy variable from the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const k of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']) env[k] = undefined;
  return { ...env, ...extra };
}

async function launch(kc: string, env: Record<string, string> = {}, args: string[] = []): Promise<Running> {
  const r = await startKproxy(['--port=0', '--kubeconfig', kc, ...args], { env: cleanEnv(env) });
  running.push(r);
  return r;
}

let seq = 0;
async function get(r: Running): Promise<{ status: number; body: string; path: string }> {
  const path = `/api/v1/namespaces/px-${++seq}/configmaps`;
  const res = await request(`${r.url}${path}`);
  return { status: res.status, body: res.text(), path };
}

/** The body kubectl proxy answers for the same kubeconfig and environment. */
async function kubectlProxyBody(kc: string, env: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const k = await startKubectlProxy(['--port=0', '--kubeconfig', kc], { env: cleanEnv(env) });
  running.push(k);
  try {
    const res = await request(`${k.url}/api/v1/pods`);
    return { status: res.status, body: res.text() };
  } finally {
    await k.stop();
  }
}

async function kubectlGet(kc: string, env: Record<string, string> = {}): Promise<void> {
  const r = await runProcess(findKubectl()!, ['get', '--raw', '/api/v1/pods', '--kubeconfig', kc], { env: cleanEnv(env) });
  assert.equal(r.code, 0, r.stderr);
}

function recordsFor(p: TestProxy, from: number): string[] {
  return p.records.slice(from).map((r) => `${r.kind} ${r.target} ${r.status}${r.addressType ? ' ' + r.addressType : ''}`);
}

describe('proxy-url', () => {
  test('http: ordinary and upgrade requests tunnel through CONNECT with the server name; repeated headers survive', async () => {
    const from = httpProxy.records.length;
    const r = await launch(kubeconfig('http', { proxyUrl: httpProxy.url, as: 'jane', asGroups: ['g1', 'g2'] }));
    const a = await get(r);
    assert.equal(a.status, 200, a.body);
    const rec = await up.waitForRequest((x) => x.path === a.path);
    assert.equal(rec.identity, 'bearer:tok-1');
    assert.equal(rec.sni, 'kubernetes.local');
    const groups = rec.rawHeaders.filter((_, i) => i % 2 === 1 && rec.rawHeaders[i - 1]!.toLowerCase() === 'impersonate-group');
    assert.deepEqual(groups, ['g1', 'g2']);
    const path = '/api/v1/namespaces/px-http/pods/web/portforward';
    const u = await upgradeEcho('127.0.0.1', r.port, path);
    assert.equal(u.status, 101, u.head + u.body);
    assert.equal((await up.waitForRequest((x) => x.upgrade && x.path === path)).identity, 'bearer:tok-1');
    // One tunnel for the pool, one for the upgrade.
    assert.deepEqual(recordsFor(httpProxy, from), [`connect ${NAME}:${up.port} 200`, `connect ${NAME}:${up.port} 200`]);
    assert.equal(httpProxy.records[from]!.headers!.host, `${NAME}:${up.port}`);
  });

  test('kubectl asks the proxy for the same destination', { skip: kubectlMissing() }, async () => {
    const from = httpProxy.records.length;
    await kubectlGet(kubeconfig('http-kubectl', { proxyUrl: httpProxy.url }));
    assert.deepEqual(recordsFor(httpProxy, from), [`connect ${NAME}:${up.port} 200`]);
  });

  test('credentials in the proxy URL become Proxy-Authorization; without them the proxy\'s refusal is answered as kubectl does', async () => {
    const url = new URL(authProxy.url);
    url.username = 'pxuser';
    url.password = encodeURIComponent('p@ss:word');
    const from = authProxy.records.length;
    const ok = await launch(kubeconfig('auth-ok', { proxyUrl: url.href }));
    assert.equal((await get(ok)).status, 200);
    assert.equal(authProxy.records[from]!.headers!['proxy-authorization'], 'Basic ' + Buffer.from('pxuser:p@ss:word').toString('base64'));
    const u = await upgradeEcho('127.0.0.1', ok.port, '/api/v1/namespaces/default/pods/web/portforward');
    assert.equal(u.status, 101);

    const kc = kubeconfig('auth-missing', { proxyUrl: authProxy.url });
    const denied = await get(await launch(kc));
    assert.equal(denied.status, 500);
    assert.equal(denied.body, 'Proxy Authentication Required\n');
    if (!kubectlMissing()) {
      const theirs = await kubectlProxyBody(kc);
      assert.deepEqual([denied.status, denied.body], [theirs.status, theirs.body]);
    }
  });

  test('https: TLS to the proxy (trusted through the cluster CA), then TLS to the API server inside it', async () => {
    const from = tlsProxy.records.length;
    const kc = kubeconfig('https', { proxyUrl: tlsProxy.url });
    const r = await launch(kc);
    const a = await get(r);
    assert.equal(a.status, 200, a.body);
    assert.equal((await up.waitForRequest((x) => x.path === a.path)).sni, 'kubernetes.local');
    const u = await upgradeEcho('127.0.0.1', r.port, '/api/v1/namespaces/default/pods/web/portforward');
    assert.equal(u.status, 101);
    assert.deepEqual(recordsFor(tlsProxy, from), [`connect ${NAME}:${up.port} 200`, `connect ${NAME}:${up.port} 200`]);
    if (!kubectlMissing()) {
      const before = tlsProxy.records.length;
      await kubectlGet(kc);
      assert.deepEqual(recordsFor(tlsProxy, before), [`connect ${NAME}:${up.port} 200`]);
    }
  });

  test('socks5: the proxy resolves the name (domain address type), for ordinary and upgrade requests', async () => {
    const from = socksProxy.records.length;
    const kc = kubeconfig('socks', { proxyUrl: socksProxy.url });
    const r = await launch(kc);
    const a = await get(r);
    assert.equal(a.status, 200, a.body);
    const u = await upgradeEcho('127.0.0.1', r.port, '/api/v1/namespaces/default/pods/web/portforward');
    assert.equal(u.status, 101, u.head + u.body);
    assert.deepEqual(recordsFor(socksProxy, from), [`socks ${NAME}:${up.port} 0 domain`, `socks ${NAME}:${up.port} 0 domain`]);
    if (!kubectlMissing()) {
      const before = socksProxy.records.length;
      await kubectlGet(kc);
      assert.deepEqual(recordsFor(socksProxy, before), [`socks ${NAME}:${up.port} 0 domain`]);
    }
  });

  test('socks5 with username and password', async () => {
    const url = `socks5://sockser:secret@127.0.0.1:${socksAuthProxy.port}`;
    const from = socksAuthProxy.records.length;
    const r = await launch(kubeconfig('socks-auth', { proxyUrl: url }));
    assert.equal((await get(r)).status, 200);
    assert.equal(socksAuthProxy.records[from]!.user, 'sockser');
  });

  test('a SOCKS refusal and an unreachable proxy are answered with Go\'s texts', async () => {
    const unknown = writeKubeconfig(dir.path, {
      server: `https://unknown.kproxy.invalid:${up.port}`,
      caFile: files.ca,
      token: 'tok-1',
      proxyUrl: socksProxy.url,
      fileName: 'socks-refused.kubeconfig',
    });
    const refused = await get(await launch(unknown));
    assert.equal(refused.status, 500);
    assert.equal(refused.body, `socks connect tcp 127.0.0.1:${socksProxy.port}->unknown.kproxy.invalid:${up.port}: unknown error host unreachable\n`);
    const dead = kubeconfig('dead-proxy', { proxyUrl: 'http://127.0.0.1:1' });
    const down = await get(await launch(dead));
    assert.equal(down.status, 500);
    assert.equal(down.body, 'proxyconnect tcp: dial tcp 127.0.0.1:1: connect: connection refused\n');
    if (!kubectlMissing()) {
      const [a, b] = await Promise.all([kubectlProxyBody(unknown), kubectlProxyBody(dead)]);
      assert.deepEqual([refused.status, refused.body], [a.status, a.body]);
      assert.deepEqual([down.status, down.body], [b.status, b.body]);
    }
  });

  test('another scheme is refused at start-up with kubectl\'s message', async () => {
    const kc = kubeconfig('ftp', { proxyUrl: 'ftp://127.0.0.1:21' });
    const r = await runKproxy(['--port=0', '--kubeconfig', kc], { env: cleanEnv() });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: invalid 'proxy-url' "ftp://127.0.0.1:21" for cluster "test": unsupported scheme "ftp", must be http, https, or socks5\n`);
    if (!kubectlMissing()) {
      const k = await runProcess(findKubectl()!, ['get', '--raw', '/api/v1/pods', '--kubeconfig', kc], { env: cleanEnv() });
      assert.equal(k.stderr, r.stderr);
    }
  });
});

describe('HTTPS_PROXY, HTTP_PROXY and NO_PROXY', () => {
  test('HTTPS_PROXY carries ordinary and upgrade requests; kubectl uses it the same way', async () => {
    const from = httpProxy.records.length;
    const kc = kubeconfig('env');
    const r = await launch(kc, { HTTPS_PROXY: httpProxy.url });
    assert.equal((await get(r)).status, 200);
    assert.equal((await upgradeEcho('127.0.0.1', r.port, '/api/v1/namespaces/default/pods/web/portforward')).status, 101);
    assert.deepEqual(recordsFor(httpProxy, from), [`connect ${NAME}:${up.port} 200`, `connect ${NAME}:${up.port} 200`]);
    if (!kubectlMissing()) {
      const before = httpProxy.records.length;
      await kubectlGet(kc, { HTTPS_PROXY: httpProxy.url });
      assert.deepEqual(recordsFor(httpProxy, before), [`connect ${NAME}:${up.port} 200`]);
    }
  });

  test('lower-case https_proxy, a socks5 URL, and proxy-url taking precedence', async () => {
    const s = socksProxy.records.length;
    assert.equal((await get(await launch(kubeconfig('env-socks'), { https_proxy: socksProxy.url }))).status, 200);
    assert.deepEqual(recordsFor(socksProxy, s), [`socks ${NAME}:${up.port} 0 domain`]);
    const h = httpProxy.records.length;
    const s2 = socksProxy.records.length;
    assert.equal((await get(await launch(kubeconfig('env-vs-url', { proxyUrl: httpProxy.url }), { HTTPS_PROXY: socksProxy.url }))).status, 200);
    assert.equal(recordsFor(httpProxy, h).length, 1);
    assert.equal(recordsFor(socksProxy, s2).length, 0);
  });

  test('NO_PROXY: a matching entry means a direct connection (here: a name that does not resolve)', async () => {
    for (const noProxy of [NAME, '.kproxy.invalid', `kproxy.invalid:${up.port}`, 'other.example, *']) {
      const from = httpProxy.records.length;
      const res = await get(await launch(kubeconfig('no-proxy'), { HTTPS_PROXY: httpProxy.url, NO_PROXY: noProxy }));
      assert.equal(res.status, 500, noProxy);
      assert.equal(res.body, `dial tcp: lookup ${NAME}: no such host\n`, noProxy);
      assert.equal(recordsFor(httpProxy, from).length, 0, noProxy);
    }
    const from = httpProxy.records.length;
    // A port that differs, or a suffix that is not a domain boundary, does not match.
    const res = await get(await launch(kubeconfig('no-proxy-miss'), { HTTPS_PROXY: httpProxy.url, no_proxy: `${NAME}:1,xkproxy.invalid` }));
    assert.equal(res.status, 200);
    assert.equal(recordsFor(httpProxy, from).length, 1);
  });

  test('loopback API servers are never proxied, as in Go', async () => {
    const from = httpProxy.records.length;
    for (const server of [up.url, `https://localhost:${up.port}`]) {
      const kc = writeKubeconfig(dir.path, { server, caFile: files.ca, token: 'tok-1', fileName: 'loopback.kubeconfig' });
      const r = await launch(kc, { HTTPS_PROXY: httpProxy.url });
      assert.equal((await get(r)).status, 200, server);
      assert.equal((await upgradeEcho('127.0.0.1', r.port, '/api/v1/namespaces/default/pods/web/portforward')).status, 101);
      if (!kubectlMissing()) await kubectlGet(kc, { HTTPS_PROXY: httpProxy.url });
    }
    assert.equal(recordsFor(httpProxy, from).length, 0);
  });
});

describe('proxy selection rules (unit)', () => {
  test('NO_PROXY entries as golang.org/x/net/http/httpproxy reads them', () => {
    const m = (list: string, host: string, port = '443') => noProxyMatcher(list)(host, port);
    assert.equal(m('*', 'anything.example'), true);
    assert.equal(m('example.com', 'example.com'), true);
    assert.equal(m('example.com', 'api.example.com'), true);
    assert.equal(m('example.com', 'notexample.com'), false);
    assert.equal(m('.example.com', 'example.com'), false);
    assert.equal(m('.example.com', 'api.example.com'), true);
    assert.equal(m('*.example.com', 'api.example.com'), true);
    assert.equal(m('*.example.com', 'example.com'), false);
    assert.equal(m('example.com:6443', 'api.example.com', '6443'), true);
    assert.equal(m('example.com:6443', 'api.example.com', '443'), false);
    assert.equal(m(' Example.COM ,', 'api.example.com'), true);
    assert.equal(m('10.1.2.3', '10.1.2.3'), true);
    assert.equal(m('10.1.2.3:443', '10.1.2.3', '6443'), false);
    assert.equal(m('10.0.0.0/8', '10.200.3.4'), true);
    assert.equal(m('10.0.0.0/8', '11.0.0.1'), false);
    assert.equal(m('10.0.0.0/8', 'ten.example'), false, 'CIDRs match IP destinations only');
    assert.equal(m('fd00::/8', 'fd00::1'), true);
    assert.equal(m('[fd00::1]:443', 'fd00::1'), true);
    assert.equal(m('fd00::1', 'fd00:0::1'), true);
    assert.equal(m('', 'example.com'), false);
  });

  test('which variable applies, loopback exclusion, bare host:port, bad schemes', () => {
    const https = new URL('https://api.example.com:6443');
    const http = new URL('http://api.example.com');
    assert.equal(proxyFromEnvironment(https, { HTTPS_PROXY: 'http://p:3128', HTTP_PROXY: 'http://q:3128' })?.url.href, 'http://p:3128/');
    assert.equal(proxyFromEnvironment(http, { HTTPS_PROXY: 'http://p:3128', HTTP_PROXY: 'http://q:3128' })?.url.href, 'http://q:3128/');
    assert.equal(proxyFromEnvironment(http, { HTTP_PROXY: 'http://q:3128', REQUEST_METHOD: 'GET' }), undefined, 'httpoxy: not under CGI');
    assert.equal(proxyFromEnvironment(https, { https_proxy: 'p:3128' })?.url.href, 'http://p:3128/');
    assert.equal(proxyFromEnvironment(https, { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:1' })?.url.hostname, 'upper');
    for (const loop of ['https://127.0.0.1', 'https://127.9.9.9:6443', 'https://[::1]:6443', 'https://localhost:6443']) {
      assert.equal(proxyFromEnvironment(new URL(loop), { HTTPS_PROXY: 'http://p:3128' }), undefined, loop);
    }
    assert.equal(proxyFromEnvironment(new URL('https://[fd00::1]:6443'), { HTTPS_PROXY: 'http://p:3128', NO_PROXY: 'fd00::/16' }), undefined);
    assert.throws(() => proxyFromEnvironment(https, { HTTPS_PROXY: 'ftp://p:21' }), /unsupported scheme "ftp"/);
    assert.equal(chooseProxy('http://fixed:1', new URL('https://127.0.0.1'), {})?.url.hostname, 'fixed', 'proxy-url applies to loopback too');
  });
});
