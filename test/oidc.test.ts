// The `oidc` auth-provider end to end: id-token use and expiry, refresh through a test issuer's
// discovery document and token endpoint (own CA), tokens written back into the kubeconfig file
// that defined the user without disturbing the rest of it, one refresh at a time, and
// client-go's messages (compared with kubectl's). Also the removed gcp/azure providers.

import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { updateProviderConfig } from '../src/auth/persist.js';
import { goQueryEscape, idTokenExpiry } from '../src/auth/oidc.js';
import { request } from './helpers/http.js';
import { tempDir, type TempDir } from './helpers/kubeconfig.js';
import { makeJwt, startIssuer, type Issuer } from './helpers/oidc.js';
import { makePki, writePkiFiles, type Pki, type PkiPaths } from './helpers/pki.js';
import { findKubectl, kubectlMissing, runKproxy, runProcess, startKproxy, startKubectlProxy, type Running } from './helpers/proc.js';
import { startConnectProxy, type TestProxy } from './helpers/proxies.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

const FAR = 4102444800; // 2100-01-01
const ID = (n: number) => makeJwt({ iss: 'kproxy-test', sub: 'alice', aud: 'kproxy-client', n, exp: FAR });
const EXPIRED = makeJwt({ iss: 'kproxy-test', sub: 'alice', exp: 1000 });
const CLIENT = 'kproxy-client';
const SECRET = 's3cr3t/+ &';

let pki: Pki;
let files: PkiPaths;
let up: Upstream;
let issuer: Issuer;
let proxy: TestProxy;
let dir: TempDir;
const running: Running[] = [];

before(async () => {
  pki = await makePki();
  dir = tempDir('kproxy-oidc');
  files = writePkiFiles(join(dir.path, 'pki'), pki);
  [up, issuer, proxy] = await Promise.all([
    startUpstream({ pki, tokens: [1, 2, 3, 4, 5, 6, 7, 8].map(ID) }),
    startIssuer({
      pki,
      clientId: CLIENT,
      clientSecret: SECRET,
      grants: {
        'rt-1': { idToken: ID(2), refreshToken: 'rt-1b' },
        'rt-single': { idToken: ID(3), refreshToken: 'rt-single-b' },
        'rt-mine': { idToken: ID(4), refreshToken: 'rt-mine-b' },
        'rt-theirs': { idToken: ID(4), refreshToken: 'rt-theirs-b' },
        'rt-noid': { noIdToken: true },
        'rt-proxy': { idToken: ID(6) },
        'rt-stale': { idToken: ID(7), refreshToken: 'rt-stale-b' },
      },
    }),
    startConnectProxy({ hosts: { 'kubernetes.local': '127.0.0.1' } }),
  ]);
});

after(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await Promise.all([up?.close(), issuer?.close(), proxy?.close()]);
  dir?.cleanup();
});

function providerLines(cfg: Record<string, string>, indent = '        '): string {
  return Object.entries(cfg)
    .map(([k, v]) => `${indent}${k}: ${v}`)
    .join('\n');
}

/** A hand-written kubeconfig with comments, another user and unusual quoting, mode 0644. */
function kubeconfigText(cfg: Record<string, string>): string {
  return `# written by hand: every comment must survive a refresh
apiVersion: v1
kind: Config
current-context: oidc   # the only context
clusters:
- name: test
  cluster:
    server: ${up.url}
    certificate-authority: ${files.ca}
contexts:
- name: oidc
  context: {cluster: test, user: alice}
users:
- name: bob
  user:
    token: unrelated   # untouched
- name: alice
  user:
    auth-provider:
      name: oidc
      config:
${providerLines(cfg)}
preferences: {}
`;
}

function writeConfig(name: string, cfg: Record<string, string>): string {
  const p = join(dir.path, `${name}.kubeconfig`);
  writeFileSync(p, kubeconfigText(cfg), { mode: 0o644 });
  return p;
}

function baseCfg(extra: Record<string, string>, issuerURL = issuer.url): Record<string, string> {
  return {
    'idp-issuer-url': issuerURL,
    'client-id': CLIENT,
    'client-secret': JSON.stringify(SECRET),
    'idp-certificate-authority': files.ca,
    ...extra,
  };
}

async function launch(kc: string, env: Record<string, string | undefined> = {}): Promise<Running> {
  const r = await startKproxy(['--port=0', '--kubeconfig', kc], { env: { HTTPS_PROXY: undefined, https_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined, ...env } });
  running.push(r);
  return r;
}

let seq = 0;
async function get(r: Running): Promise<{ status: number; body: string; identity: string | undefined }> {
  const path = `/api/v1/namespaces/oidc-${++seq}/configmaps`;
  const res = await request(`${r.url}${path}`);
  return { status: res.status, body: res.text(), identity: up.requests.find((x) => x.path === path)?.identity };
}

function tokenPosts(since: number): Array<{ body: string; auth: string | undefined; type: string | undefined }> {
  return issuer.requests
    .slice(since)
    .filter((r) => r.path === '/token')
    .map((r) => ({ body: r.body, auth: r.headers.authorization, type: r.headers['content-type'] }));
}

describe('id-token and refresh', () => {
  test('a valid id-token is sent as is; the IdP is not asked', async () => {
    const from = issuer.requests.length;
    const r = await launch(writeConfig('valid', baseCfg({ 'id-token': ID(1), 'refresh-token': 'rt-unused' })));
    const a = await get(r);
    assert.deepEqual([a.status, a.identity], [200, `bearer:${ID(1)}`]);
    assert.equal(issuer.requests.length, from);
  });

  test('an expired id-token is refreshed (discovery, own CA); the new tokens are written back, the rest of the file byte for byte', async () => {
    const from = issuer.requests.length;
    const cfg = baseCfg({ 'id-token': `${EXPIRED}   # old token`, 'refresh-token': "'rt-1'", 'extra-scopes': 'groups,email' });
    const kc = writeConfig('refresh', cfg);
    const original = readFileSync(kc, 'utf8');
    const r = await launch(kc);
    const a = await get(r);
    assert.deepEqual([a.status, a.identity], [200, `bearer:${ID(2)}`]);
    assert.deepEqual(
      issuer.requests.slice(from).map((x) => `${x.method} ${x.path} ${x.status}`),
      ['GET /.well-known/openid-configuration 200', 'POST /token 200'],
    );
    const [post] = tokenPosts(from);
    assert.equal(post!.body, 'grant_type=refresh_token&refresh_token=rt-1');
    assert.equal(post!.auth, 'Basic ' + Buffer.from(`${goQueryEscape(CLIENT)}:${goQueryEscape(SECRET)}`).toString('base64'));
    assert.equal(post!.type, 'application/x-www-form-urlencoded');
    const expected = original.replace(`${EXPIRED}   # old token`, `${ID(2)}   # old token`).replace("'rt-1'", "'rt-1b'");
    assert.equal(readFileSync(kc, 'utf8'), expected);
    assert.equal(statSync(kc).mode & 0o777, 0o600);
    // Cached now: no more IdP traffic.
    assert.equal((await get(r)).identity, `bearer:${ID(2)}`);
    assert.equal(issuer.requests.length, from + 2);
  });

  test('one refresh however many requests wait for it', async () => {
    const from = issuer.requests.length;
    const r = await launch(writeConfig('single', baseCfg({ 'id-token': EXPIRED, 'refresh-token': 'rt-single' })));
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map(() => get(r)));
    assert.deepEqual(
      results.map((x) => x.identity),
      results.map(() => `bearer:${ID(3)}`),
    );
    assert.equal(tokenPosts(from).length, 1);
  });

  test('tokens another client refreshed meanwhile are taken from the file instead of spending the old refresh token', async () => {
    const from = issuer.requests.length;
    const kc = writeConfig('stale', baseCfg({ 'id-token': EXPIRED, 'refresh-token': 'rt-stale' }));
    const r = await launch(kc);
    writeFileSync(kc, kubeconfigText(baseCfg({ 'id-token': ID(5), 'refresh-token': 'rt-stale-b' })));
    assert.equal((await get(r)).identity, `bearer:${ID(5)}`);
    assert.equal(issuer.requests.length, from);
  });

  test('the IdP is reached through HTTPS_PROXY like any Go client', async () => {
    const from = proxy.records.length;
    const issuerURL = issuer.url.replace('127.0.0.1', 'kubernetes.local');
    const r = await launch(writeConfig('via-proxy', baseCfg({ 'id-token': EXPIRED, 'refresh-token': 'rt-proxy' }, issuerURL)), { HTTPS_PROXY: proxy.url });
    assert.equal((await get(r)).identity, `bearer:${ID(6)}`);
    const port = new URL(issuer.url).port;
    assert.deepEqual(
      proxy.records.slice(from).map((x) => `${x.target} ${x.status}`),
      [`kubernetes.local:${port} 200`, `kubernetes.local:${port} 200`],
    );
  });

  test('kubectl sends the same refresh request and stores the same tokens', { skip: kubectlMissing() }, async () => {
    const mine = writeConfig('mine', baseCfg({ 'id-token': EXPIRED, 'refresh-token': 'rt-mine' }));
    const theirs = writeConfig('theirs', baseCfg({ 'id-token': EXPIRED, 'refresh-token': 'rt-theirs' }));
    let from = issuer.requests.length;
    assert.equal((await get(await launch(mine))).identity, `bearer:${ID(4)}`);
    const minePost = tokenPosts(from);
    from = issuer.requests.length;
    const k = await runProcess(findKubectl()!, ['get', '--raw', '/api/v1/pods', '--kubeconfig', theirs], { env: { HTTPS_PROXY: undefined, https_proxy: undefined } });
    assert.equal(k.code, 0, k.stderr);
    const theirPost = tokenPosts(from);
    assert.deepEqual(minePost, theirPost.map((p) => ({ ...p, body: p.body.replace('rt-theirs', 'rt-mine') })));
    const stored = (file: string) => {
      const users = (parse(readFileSync(file, 'utf8')) as { users: Array<{ name: string; user: { 'auth-provider': { config: Record<string, string> } } }> }).users;
      return users.find((u) => u.name === 'alice')!.user['auth-provider'].config;
    };
    assert.equal(stored(mine)['id-token'], stored(theirs)['id-token']);
    assert.equal(stored(mine)['refresh-token'], 'rt-mine-b');
    assert.equal(stored(theirs)['refresh-token'], 'rt-theirs-b');
  });
});

describe('errors, as kubectl words them', () => {
  const cases: Array<{ name: string; cfg: () => Record<string, string>; body: string }> = [
    { name: 'expired, no refresh token', cfg: () => baseCfg({ 'id-token': EXPIRED }), body: 'No valid id-token, and cannot refresh without refresh-token' },
    { name: 'id-token that is not a JWT', cfg: () => baseCfg({ 'id-token': 'abc' }), body: 'ID Token is not a valid JWT' },
    {
      name: 'refresh token refused',
      cfg: () => baseCfg({ 'refresh-token': 'rt-unknown' }),
      body: 'failed to refresh token: oauth2: "invalid_grant" "Refresh token is invalid or has already been claimed by another client"',
    },
    {
      name: 'no id_token in the answer',
      cfg: () => baseCfg({ 'refresh-token': 'rt-noid' }),
      body: 'token response did not contain an id_token, either the scope "openid" wasn\'t requested upon login, or the provider doesn\'t support id_tokens as part of the refresh response',
    },
    {
      name: 'discovery document missing',
      cfg: () => baseCfg({ 'refresh-token': 'rt-x' }, `${issuer.url}/nowhere`),
      body: 'oidc: failed to query metadata endpoint 404 Not Found: "{\\"error\\":\\"not found\\"}"',
    },
  ];
  cases.forEach((c, i) => {
    test(c.name, async () => {
      const kc = writeConfig(`err-${i}`, c.cfg());
      const a = await get(await launch(kc));
      assert.deepEqual([a.status, a.body], [500, c.body + '\n']);
      if (!kubectlMissing()) {
        const k = await startKubectlProxy(['--port=0', '--kubeconfig', kc]);
        running.push(k);
        const res = await request(`${k.url}/api/v1/pods`);
        assert.deepEqual([res.status, res.text()], [500, c.body + '\n']);
        await k.stop();
      }
    });
  });

  test('start-up errors: required keys, unreadable IdP CA, removed and unknown providers', async () => {
    const startup: Array<[string, string]> = [
      [providerKubeconfig('oidc', { 'client-id': 'x' }), 'Must provide idp-issuer-url'],
      [providerKubeconfig('oidc', { 'idp-issuer-url': issuer.url }), 'Must provide client-id'],
      [providerKubeconfig('oidc', { 'idp-issuer-url': issuer.url, 'client-id': 'x', 'idp-certificate-authority': '/nonexistent/ca.crt' }), 'open /nonexistent/ca.crt: no such file or directory'],
      [
        providerKubeconfig('gcp', {}),
        'The gcp auth plugin has been removed.\nPlease use the "gke-gcloud-auth-plugin" kubectl/client-go credential plugin instead.\nSee https://cloud.google.com/blog/products/containers-kubernetes/kubectl-auth-changes-in-gke for further details',
      ],
      [
        providerKubeconfig('azure', {}),
        'The azure auth plugin has been removed.\nPlease use the https://github.com/Azure/kubelogin kubectl/client-go credential plugin instead.\nSee https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins for further details',
      ],
      [providerKubeconfig('openstack', {}), 'no Auth Provider found for name "openstack"'],
    ];
    await Promise.all(
      startup.map(async ([kc, message]) => {
        const r = await runKproxy(['--port=0', '--kubeconfig', kc]);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stderr, `error: ${message}\n`);
        if (!kubectlMissing()) {
          const k = await runProcess(findKubectl()!, ['get', '--raw', '/api/v1/pods', '--kubeconfig', kc]);
          assert.equal(k.stderr, r.stderr);
        }
      }),
    );
  });
});

let providerSeq = 0;
function providerKubeconfig(name: string, config: Record<string, string>): string {
  const p = join(dir.path, `provider-${++providerSeq}.kubeconfig`);
  writeFileSync(
    p,
    `apiVersion: v1
kind: Config
current-context: c
clusters:
- name: c
  cluster: {server: "${up.url}", certificate-authority: "${files.ca}"}
contexts:
- name: c
  context: {cluster: c, user: u}
users:
- name: u
  user:
    auth-provider:
      name: ${name}
      config: ${JSON.stringify(config)}
`,
    { mode: 0o600 },
  );
  return p;
}

describe('writing tokens back (unit)', () => {
  const doc = (cfg: string) => `users:\n- name: other\n  user:\n    auth-provider:\n      name: oidc\n      config:\n        id-token: keep\n- name: me # me\n  user:\n    auth-provider:\n      name: oidc\n      config:\n${cfg}\n# trailing comment\n`;

  test('values are spliced in place, keeping quoting and comments', () => {
    const before = doc('        client-id: c\n        id-token: "old" # c1\n        refresh-token: \'r1\'');
    const after = updateProviderConfig(before, 'me', { 'id-token': 'a.b.c', 'refresh-token': "it's" });
    assert.equal(after, before.replace('"old"', '"a.b.c"').replace("'r1'", "'it''s'"));
  });

  test('a missing key is added on its own line at the same indentation', () => {
    const before = doc('        client-id: c   # only key');
    const after = updateProviderConfig(before, 'me', { 'id-token': 'a.b.c', 'refresh-token': 'yes' });
    assert.equal(after, before.replace('c   # only key', 'c   # only key\n        id-token: a.b.c\n        refresh-token: "yes"'));
    assert.equal((parse(after, { version: '1.1' }) as { users: Array<{ user: { 'auth-provider': { config: Record<string, unknown> } } }> }).users[1]!.user['auth-provider'].config['refresh-token'], 'yes');
  });

  test('a flow-style map is rewritten through the YAML document; comments stay', () => {
    const before = '# head\nusers:\n- name: me\n  user:\n    auth-provider: {name: oidc, config: {client-id: c, id-token: old}}  # flow\n';
    const after = updateProviderConfig(before, 'me', { 'id-token': 'new' });
    assert.match(after, /# head/);
    assert.match(after, /# flow/);
    assert.equal((parse(after) as { users: Array<{ user: { 'auth-provider': { config: Record<string, string> } } }> }).users[0]!.user['auth-provider'].config['id-token'], 'new');
  });

  test('a user that is gone is an error, not a new entry', () => {
    assert.throws(() => updateProviderConfig(doc('        id-token: x'), 'nobody', { 'id-token': 'y' }), /user "nobody" has no auth-provider config/);
  });

  test('id-token expiry as client-go reads it', () => {
    assert.equal(idTokenExpiry(ID(1)), FAR * 1000);
    assert.throws(() => idTokenExpiry('a.b'), /ID Token is not a valid JWT/);
    assert.equal(idTokenExpiry(makeJwt({ sub: 'no exp' })), 0);
  });

  test('the lock file kubectl uses keeps two writers apart', async () => {
    const kc = writeConfig('locked', baseCfg({ 'id-token': EXPIRED, 'refresh-token': 'rt-locked' }));
    copyFileSync(kc, kc + '.lock');
    const { persistProviderConfig } = await import('../src/auth/persist.js');
    assert.throws(() => persistProviderConfig(kc, 'alice', { 'id-token': 'x' }), /EEXIST/);
    assert.equal(readFileSync(kc, 'utf8'), kubeconfigText(baseCfg({ 'id-token': EXPIRED, 'refresh-token': 'rt-locked' })));
  });
});
