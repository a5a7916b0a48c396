// A pod's service account (client-go rest.InClusterConfig) and credential files that change on
// disk while kproxy runs: the service-account token as the kubelet rotates it, and client
// certificate files. The service-account folder is a temp folder named by
// KPROXY_SERVICE_ACCOUNT_DIR; an IPv6 service address is reached through a [::1] forwarder.

import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCredentials } from '../src/auth/credentials.js';
import { inClusterConfig, inClusterPossible, loadResolvedConfig, SERVICE_ACCOUNT_DIR_ENV } from '../src/kubeconfig/load.js';
import { issueClientCert } from './helpers/certs.js';
import { openStream, request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, writePkiFiles, type KeyPair, type Pki, type PkiPaths } from './helpers/pki.js';
import { runKproxy, startKproxy, type Running } from './helpers/proc.js';
import { startTcpForwarder, type Forwarder } from './helpers/proxies.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { upgradeEcho } from './helpers/upgrade-client.js';

let pki: Pki;
let files: PkiPaths;
let bob: KeyPair;
let up: Upstream;
let v6: Forwarder | undefined;
let dir: TempDir;
const running: Running[] = [];

before(async () => {
  pki = await makePki();
  dir = tempDir('kproxy-incluster');
  files = writePkiFiles(join(dir.path, 'pki'), pki);
  [up, bob] = await Promise.all([startUpstream({ pki, tokens: ['sa-2', 'sa-v6', 'sa-flag'] }), issueClientCert(pki, 'bob')]);
  try {
    v6 = await startTcpForwarder('::1', up.port);
  } catch {
    v6 = undefined;
  }
});

after(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await Promise.all([up?.close(), v6?.close()]);
  dir?.cleanup();
});

/** A service-account folder as the kubelet mounts it. */
function serviceAccount(name: string, token: string, withCa = true): string {
  const sa = join(dir.path, name);
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'token'), token);
  if (withCa) writeFileSync(join(sa, 'ca.crt'), pki.ca);
  writeFileSync(join(sa, 'namespace'), 'default');
  return sa;
}

/** An environment with no kubeconfig anywhere and the pod's variables. */
function podEnv(sa: string, host: string, port: number): Record<string, string | undefined> {
  return {
    KUBECONFIG: join(dir.path, 'no-such-kubeconfig'),
    HOME: join(dir.path, 'empty-home'),
    KUBERNETES_SERVICE_HOST: host,
    KUBERNETES_SERVICE_PORT: String(port),
    [SERVICE_ACCOUNT_DIR_ENV]: sa,
    HTTPS_PROXY: undefined,
    https_proxy: undefined,
  };
}

async function launch(env: Record<string, string | undefined>, args: string[] = []): Promise<Running> {
  const r = await startKproxy(['--port=0', ...args], { env });
  running.push(r);
  return r;
}

let seq = 0;
async function get(r: Running): Promise<{ status: number; body: string; identity: string | undefined; sni: string | undefined }> {
  const path = `/api/v1/namespaces/ic-${++seq}/configmaps`;
  const res = await request(`${r.url}${path}`);
  const rec = up.requests.find((x) => x.path === path);
  return { status: res.status, body: res.text(), identity: rec?.identity, sni: rec?.sni };
}

describe('in-cluster configuration', () => {
  test('service-account token and ca.crt; the rotated token is read again (at once after a 401)', async () => {
    const sa = serviceAccount('sa-rotate', 'sa-1\n');
    const r = await launch(podEnv(sa, '127.0.0.1', up.port));
    // The kubelet rotates the token; the API server no longer takes the old one.
    writeFileSync(join(sa, 'token'), 'sa-2\n');
    const first = await get(r);
    assert.equal(first.status, 401, 'the cached token is refused and the 401 relayed');
    const second = await get(r);
    assert.deepEqual([second.status, second.identity], [200, 'bearer:sa-2']);
  });

  test('an IPv6 service host is bracketed', async (t) => {
    if (!v6) return t.skip('no IPv6 loopback');
    const sa = serviceAccount('sa-v6', 'sa-v6');
    const r = await launch(podEnv(sa, '::1', v6!.port));
    const a = await get(r);
    assert.deepEqual([a.status, a.identity, a.sni], [200, 'bearer:sa-v6', undefined]);
    assert.ok(v6!.connections > 0);
    const u = await upgradeEcho('127.0.0.1', r.port, '/api/v1/namespaces/default/pods/web/portforward');
    assert.equal(u.status, 101);
  });

  test('flags still apply (--token replaces the token file)', async () => {
    const sa = serviceAccount('sa-flag', 'sa-unused');
    const r = await launch(podEnv(sa, '127.0.0.1', up.port), ['--token=sa-flag']);
    assert.equal((await get(r)).identity, 'bearer:sa-flag');
  });

  test('an unreadable ca.crt is logged and the system roots are used, as client-go does', async () => {
    const sa = serviceAccount('sa-noca', 'sa-2', false);
    const r = await launch(podEnv(sa, '127.0.0.1', up.port));
    await r.waitForStderr(`Expected to load root CA config from ${join(sa, 'ca.crt')}, but got err: open ${join(sa, 'ca.crt')}: no such file or directory`);
    const a = await get(r);
    assert.equal(a.status, 500);
    assert.equal(a.body, 'tls: failed to verify certificate: x509: certificate signed by unknown authority\n');
  });

  test('without the token file kproxy does not pretend to be in a cluster', async () => {
    const sa = join(dir.path, 'sa-missing');
    const r = await runKproxy(['--port=0'], { env: podEnv(sa, '127.0.0.1', up.port) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`in-cluster configuration not used: stat ${join(sa, 'token')}: no such file or directory`));
  });

  test('resolution rules (unit)', () => {
    const sa = serviceAccount('sa-unit', 'tok');
    const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443', [SERVICE_ACCOUNT_DIR_ENV]: sa };
    const cfg = inClusterConfig({}, env, dir.path);
    assert.equal(cfg.server, 'https://[fd00::1]:6443');
    assert.equal(cfg.tokenFile, join(sa, 'token'));
    assert.deepEqual(cfg.certificateAuthority, { file: join(sa, 'ca.crt') });
    assert.equal(cfg.userOrigin, undefined, 'nothing may be written back to a service-account folder');
    assert.equal(inClusterConfig({}, { ...env, KUBERNETES_SERVICE_HOST: '10.96.0.1' }, dir.path).server, 'https://10.96.0.1:6443');
    assert.equal(inClusterPossible({ KUBERNETES_SERVICE_HOST: 'x' }), 'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined');
    // A kubeconfig that selects a cluster wins over the pod's service account.
    const kc = writeKubeconfig(dir.path, { server: up.url, caFile: files.ca, token: 'from-kubeconfig', fileName: 'wins.kubeconfig' });
    assert.equal(loadResolvedConfig({ kubeconfig: kc }, env, dir.path, dir.path).server, up.url);
    // With no kubeconfig at all, the pod's service account is used.
    const noFiles = { ...env, KUBECONFIG: join(dir.path, 'absent') };
    assert.equal(loadResolvedConfig({}, noFiles, join(dir.path, 'empty-home'), dir.path).server, 'https://[fd00::1]:6443');
    // --server makes the choice explicit: no in-cluster configuration.
    assert.equal(loadResolvedConfig({ server: 'https://example.test:6443' }, noFiles, join(dir.path, 'empty-home'), dir.path).server, 'https://example.test:6443');
  });
});

describe('credential files that change on disk', () => {
  test('a token file is re-read every minute (mocked clock)', (t) => {
    const file = join(dir.path, 'periodic-token');
    writeFileSync(file, 'before');
    t.mock.timers.enable({ apis: ['setInterval'] });
    const creds = createCredentials({ contextName: 'c', clusterName: 'c', userName: 'u', server: 'https://x', insecureSkipTLSVerify: false, disableCompression: false, tokenFile: file, warnings: [] }, true);
    try {
      assert.equal(creds.authorization(), 'Bearer before');
      writeFileSync(file, 'after\n');
      t.mock.timers.tick(59_999);
      assert.equal(creds.authorization(), 'Bearer before');
      t.mock.timers.tick(1);
      assert.equal(creds.authorization(), 'Bearer after');
    } finally {
      creds.close();
    }
  });

  test('client certificate files: new connections and upgrades use the new pair; an open watch finishes on the old connection', async () => {
    const certDir = join(dir.path, 'rotating-cert');
    mkdirSync(certDir);
    const cert = join(certDir, 'tls.crt');
    const key = join(certDir, 'tls.key');
    writeFileSync(cert, pki.client.cert);
    writeFileSync(key, pki.client.key, { mode: 0o600 });
    const kc = writeKubeconfig(dir.path, { server: up.url, caFile: files.ca, clientCertFile: cert, clientKeyFile: key, fileName: 'cert-files.kubeconfig' });
    const r = await launch({ HTTPS_PROXY: undefined }, ['--kubeconfig', kc, '--v=2']);
    assert.equal((await get(r)).identity, 'cert:alice');
    const watch = await openStream(`${r.url}/api/v1/namespaces/rot/pods?watch=1`);
    await up.waitForWatchers(1);

    // Key first: between the two writes the pair does not match and is not taken.
    writeFileSync(key, bob.key);
    writeFileSync(cert, bob.cert);
    await r.waitForStderr(`Reloaded the client certificate from ${cert}, ${key}`);

    assert.equal((await get(r)).identity, 'cert:bob');
    const path = '/api/v1/namespaces/rotated/pods/web/portforward';
    assert.equal((await upgradeEcho('127.0.0.1', r.port, path)).status, 101);
    assert.equal((await up.waitForRequest((x) => x.upgrade && x.path === path)).identity, 'cert:bob');
    // The watch opened with the old certificate is still served.
    const line = up.emitWatchEvent({ kind: 'Pod', metadata: { name: 'still-here' } });
    await watch.waitFor(line);
    watch.close();
    rmSync(certDir, { recursive: true });
  });
});
