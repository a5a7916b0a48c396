// Every credential kind end to end: kubeconfig (and flags) → running kproxy → what the API
// server receives. The fake upstream requires a valid token, basic password or client
// certificate (401 otherwise) and records the identity it accepted, the SNI and the headers.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type KubeconfigSpec, type TempDir } from './helpers/kubeconfig.js';
import { makePki, writePkiFiles, type Pki, type PkiPaths } from './helpers/pki.js';
import { launcher, runKproxy, type Running } from './helpers/proc.js';
import { canListenOn } from './helpers/net.js';
import { startUpstream, type RecordedRequest, type Upstream } from './helpers/upstream.js';

const NO_IPV6 = (await canListenOn('::1')) ? undefined : 'no IPv6 loopback (::1) on this machine';

let pki: Pki;
let files: PkiPaths;
let up: Upstream; // HTTPS; accepts the tokens and basic users below, or a client cert from pki.ca
let plainUp: Upstream; // plain HTTP, no authentication
let dir: TempDir;

const TOKENS = ['tok-1', 'tok-file', 'tok-flag', 'tok-client', 'tok-other'];
const BASIC = [
  { user: 'bob', pass: 'secret' },
  { user: 'carol', pass: 'flag-pw' },
];

const { launch, stopAll } = launcher();

let P: Record<
  | 'token'
  | 'tokenFile'
  | 'basicKc'
  | 'basicFlags'
  | 'certFiles'
  | 'certData'
  | 'insecure'
  | 'sniKc'
  | 'sniFlag'
  | 'http'
  | 'impKc'
  | 'flags'
  | 'merged',
  Promise<Running>
>;

before(async () => {
  pki = await makePki();
  [up, plainUp] = await Promise.all([startUpstream({ pki, tokens: TOKENS, basic: BASIC }), startUpstream({ pki, http: true })]);
  dir = tempDir('kproxy-cred');
  files = writePkiFiles(join(dir.path, 'pki'), pki);
  const kc = (fileName: string, spec: Omit<KubeconfigSpec, 'fileName'>) => writeKubeconfig(dir.path, { ...spec, fileName });
  const base = { server: up.url, caData: pki.ca };

  const tokenFile = join(dir.path, 'token.txt');
  writeFileSync(tokenFile, '\n  tok-file \t\n\n', { mode: 0o600 });

  // KUBECONFIG merge: the first file picks the context and defines the user; the second defines
  // the context and cluster, a conflicting user (ignored: first wins) and another current-context.
  const first = join(dir.path, 'merge-1');
  const second = join(dir.path, 'merge-2');
  writeFileSync(
    first,
    ['apiVersion: v1', 'kind: Config', 'current-context: merged', 'users:', '- name: merged-user', '  user:', '    token: tok-1', ''].join('\n'),
    { mode: 0o600 },
  );
  writeFileSync(
    second,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: other',
      'clusters:',
      '- name: merged-cluster',
      '  cluster:',
      `    server: ${up.url}`,
      `    certificate-authority-data: ${Buffer.from(pki.ca).toString('base64')}`,
      'contexts:',
      '- name: merged',
      '  context:',
      '    cluster: merged-cluster',
      '    user: merged-user',
      '- name: other',
      '  context:',
      '    cluster: merged-cluster',
      '    user: other-user',
      'users:',
      '- name: merged-user',
      '  user:',
      '    token: tok-other',
      '- name: other-user',
      '  user:',
      '    token: tok-other',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  const start = (file: string, ...flags: string[]) => launch(['--port=0', ...flags, '--kubeconfig', file]);
  P = {
    token: start(kc('token', { ...base, token: 'tok-1' })),
    tokenFile: start(kc('token-file', { ...base, tokenFile })),
    basicKc: start(kc('basic', { ...base, basic: { user: 'bob', pass: 'secret' } })),
    basicFlags: start(kc('no-user', { ...base }), '--username=carol', '--password', 'flag-pw'),
    certFiles: start(kc('cert-files', { server: up.url, caFile: files.ca, clientCertFile: files.clientCert, clientKeyFile: files.clientKey })),
    certData: start(kc('cert-data', { ...base, clientCertData: pki.client.cert, clientKeyData: pki.client.key })),
    insecure: start(kc('other-ca', { server: up.url, caData: pki.otherCa, token: 'tok-1' }), '--insecure-skip-tls-verify'),
    sniKc: start(kc('sni', { ...base, tlsServerName: 'kubernetes.local', token: 'tok-1' })),
    sniFlag: start(kc('sni-flag', { ...base, token: 'tok-1' }), '--tls-server-name=kubernetes.local'),
    http: start(kc('http', { server: plainUp.url, token: 'tok-1' })),
    impKc: start(
      kc('imp', {
        ...base,
        token: 'tok-1',
        as: 'jane',
        asGroups: ['g1', 'g2'],
        asUid: 'uid-7',
        asUserExtra: { 'acme.com/project': ['p1', 'p2'], scopes: ['view'] },
      }),
    ),
    // --token over the kubeconfig token, and impersonation flags.
    flags: start(kc('flags', { ...base, token: 'tok-1' }), '--token=tok-flag', '--as=bob', '--as-group', 'g1', '--as-group=g2', '--as-uid=u-1'),
    merged: launch(['--port=0'], { env: { KUBECONFIG: `${first}:${second}`, HOME: dir.path } }),
  };
});

after(async () => {
  await stopAll();
  await Promise.all([up?.close(), plainUp?.close()]);
  dir?.cleanup();
});

function values(raw: string[], name: string): string[] {
  const lower = name.toLowerCase();
  return raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === lower);
}

let seq = 0;

/** GETs a unique path through the proxy; returns the response status and the upstream record. */
async function through(
  p: Running,
  headers: Record<string, string> = {},
  upstream: Upstream = up,
): Promise<{ status: number; rec: RecordedRequest }> {
  const path = `/api/v1/namespaces/cred-${++seq}/configmaps`;
  const res = await request(`${p.url}${path}`, { headers });
  const rec = await upstream.waitForRequest((r) => r.path === path, 10_000);
  return { status: res.status, rec };
}

describe('bearer tokens', () => {
  test('kubeconfig token (CA from certificate-authority-data; no SNI for an IP server)', async () => {
    const { status, rec } = await through(await P.token);
    assert.equal(status, 200);
    assert.equal(rec.identity, 'bearer:tok-1');
    assert.deepEqual(values(rec.rawHeaders, 'authorization'), ['Bearer tok-1']);
    assert.equal(rec.tls, true);
    assert.equal(rec.sni, undefined, 'no SNI for https://127.0.0.1');
  });

  test('tokenFile: read and trimmed', async () => {
    const { status, rec } = await through(await P.tokenFile);
    assert.equal(status, 200);
    assert.equal(rec.identity, 'bearer:tok-file');
    assert.deepEqual(values(rec.rawHeaders, 'authorization'), ['Bearer tok-file']);
  });

  test('tokenFile missing at start-up: exit 1 with one error line', async () => {
    const missing = join(dir.path, 'no-such-token');
    const kc = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, tokenFile: missing, fileName: 'missing-token' });
    const r = await runKproxy(['--port=0', '--kubeconfig', kc]);
    const ctx = `stdout: ${JSON.stringify(r.stdout)} stderr: ${JSON.stringify(r.stderr)}`;
    assert.equal(r.code, 1, ctx);
    assert.equal(r.stdout, '', ctx);
    assert.match(r.stderr, /^error: [^\n]*\n$/, `one line: ${ctx}`);
    assert.ok(r.stderr.includes(missing), `names the file: ${ctx}`);
    assert.match(r.stderr, /tokenFile|token file/i);
  });

  test('a tokenFile with a line break inside the token fails at start-up, in Go words', async () => {
    const bad = join(dir.path, 'two-line-token');
    writeFileSync(bad, 'abc\ndef\n');
    const kc = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, tokenFile: bad, fileName: 'two-line-token-kc' });
    const r = await runKproxy(['--port=0', '--kubeconfig', kc]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `error: unable to read tokenFile ${bad}: token file ${bad} contains a line break or control character\n`);
    const missing = join(dir.path, 'no-such-token');
    const kc2 = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, tokenFile: missing, fileName: 'missing-token-2' });
    const r2 = await runKproxy(['--port=0', '--kubeconfig', kc2]);
    assert.equal(r2.stderr, `error: unable to read tokenFile ${missing}: open ${missing}: no such file or directory\n`);
  });

  test('--token overrides the kubeconfig token', async () => {
    const { status, rec } = await through(await P.flags);
    assert.equal(status, 200);
    assert.equal(rec.identity, 'bearer:tok-flag');
    assert.deepEqual(values(rec.rawHeaders, 'authorization'), ['Bearer tok-flag']);
  });

  test("a client's own Authorization wins over the kubeconfig token", async () => {
    const { status, rec } = await through(await P.token, { Authorization: 'Bearer tok-client' });
    assert.equal(status, 200);
    assert.equal(rec.identity, 'bearer:tok-client');
    assert.deepEqual(values(rec.rawHeaders, 'authorization'), ['Bearer tok-client']);
  });
});

describe('basic auth', () => {
  test('username/password from the kubeconfig', async () => {
    const { status, rec } = await through(await P.basicKc);
    assert.equal(status, 200);
    assert.equal(rec.identity, 'basic:bob');
    assert.deepEqual(values(rec.rawHeaders, 'authorization'), ['Basic Ym9iOnNlY3JldA==']);
  });

  test('--username/--password flags', async () => {
    const { status, rec } = await through(await P.basicFlags);
    assert.equal(status, 200);
    assert.equal(rec.identity, 'basic:carol');
    assert.deepEqual(values(rec.rawHeaders, 'authorization'), [`Basic ${Buffer.from('carol:flag-pw').toString('base64')}`]);
  });
});

describe('client certificates and trust', () => {
  test('client certificate and key files; CA from a certificate-authority file', async () => {
    const { status, rec } = await through(await P.certFiles);
    assert.equal(status, 200);
    assert.equal(rec.identity, 'cert:alice');
    assert.deepEqual(rec.clientCert, { cn: 'alice', o: 'devs', issuerCn: 'kproxy-test-ca', verified: true });
    assert.deepEqual(values(rec.rawHeaders, 'authorization'), []);
  });

  test('client-certificate-data and client-key-data', async () => {
    const { status, rec } = await through(await P.certData);
    assert.equal(status, 200);
    assert.equal(rec.identity, 'cert:alice');
    assert.equal(rec.clientCert?.verified, true);
  });

  test('--insecure-skip-tls-verify with a kubeconfig CA that does not sign the server: works', async () => {
    const { status, rec } = await through(await P.insecure);
    assert.equal(status, 200);
    assert.equal(rec.identity, 'bearer:tok-1');
  });

  test('tls-server-name in the kubeconfig: SNI kubernetes.local to https://127.0.0.1', async () => {
    const { status, rec } = await through(await P.sniKc);
    assert.equal(status, 200);
    assert.equal(rec.sni, 'kubernetes.local');
    assert.equal(rec.identity, 'bearer:tok-1');
    assert.deepEqual(values(rec.rawHeaders, 'host'), [`127.0.0.1:${up.port}`], 'Host stays the server URL host');
  });

  test('--tls-server-name: SNI kubernetes.local', async () => {
    const { status, rec } = await through(await P.sniFlag);
    assert.equal(status, 200);
    assert.equal(rec.sni, 'kubernetes.local');
  });

  test('IPv6 server literal https://[::1]:<port>', { skip: 'test/helpers/upstream.ts listens on 127.0.0.1 only (UpstreamServer.host is fixed), so no ::1 upstream can be started' }, () => {});

  test('IPv6 server literal https://[::1]:<port> is dialled at ::1 (closed port: connection refused names [::1])', { skip: NO_IPV6 }, async () => {
    const s = net.createServer();
    await new Promise<void>((res, rej) => s.once('error', rej).listen(0, '::1', () => res()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((res) => s.close(() => res()));
    const kc = writeKubeconfig(dir.path, { server: `https://[::1]:${port}`, caData: pki.ca, token: 'tok-1', fileName: 'ipv6' });
    const p = await launch(['--port=0', '--kubeconfig', kc]);
    const res = await request(`${p.url}/api/v1/pods`);
    assert.equal(res.status, 500);
    assert.equal(res.text(), `dial tcp [::1]:${port}: connect: connection refused\n`);
  });
});

describe('plain http server', () => {
  test('http:// server: no Authorization is sent, and a warning is printed', async () => {
    const p = await P.http;
    const { status, rec } = await through(p, {}, plainUp);
    assert.equal(status, 200);
    assert.equal(rec.tls, false);
    assert.deepEqual(values(rec.rawHeaders, 'authorization'), []);
    await p.waitForStderr(/^W[^\n]*(credential|token)[^\n]*$/im, 10_000);
    assert.ok(!p.stderr.includes('tok-1'), 'the token itself is not printed');
  });
});

describe('impersonation', () => {
  test('as, as-groups, as-uid and as-user-extra from the kubeconfig', async () => {
    const { status, rec } = await through(await P.impKc);
    assert.equal(status, 200);
    assert.equal(rec.identity, 'bearer:tok-1');
    const raw = rec.rawHeaders;
    assert.deepEqual(values(raw, 'impersonate-user'), ['jane']);
    assert.deepEqual(values(raw, 'impersonate-group'), ['g1', 'g2']);
    assert.deepEqual(values(raw, 'impersonate-uid'), ['uid-7']);
    const extraNames = raw.filter((_, i) => i % 2 === 0 && /^impersonate-extra-/i.test(raw[i]!));
    assert.ok(extraNames.includes('Impersonate-Extra-acme.com%2Fproject'), `got ${extraNames.join(', ')}`);
    assert.deepEqual(values(raw, 'Impersonate-Extra-acme.com%2Fproject'), ['p1', 'p2']);
    assert.deepEqual(values(raw, 'Impersonate-Extra-scopes'), ['view']);
  });

  test('--as, --as-group twice, --as-uid', async () => {
    const { status, rec } = await through(await P.flags);
    assert.equal(status, 200);
    assert.deepEqual(values(rec.rawHeaders, 'impersonate-user'), ['bob']);
    assert.deepEqual(values(rec.rawHeaders, 'impersonate-group'), ['g1', 'g2']);
    assert.deepEqual(values(rec.rawHeaders, 'impersonate-uid'), ['u-1']);
  });

  test("a client's Impersonate-User replaces the configured impersonation", async () => {
    const { status, rec } = await through(await P.impKc, { 'Impersonate-User': 'mallory' });
    assert.equal(status, 200);
    const raw = rec.rawHeaders;
    assert.deepEqual(values(raw, 'impersonate-user'), ['mallory']);
    assert.deepEqual(values(raw, 'impersonate-group'), []);
    assert.deepEqual(values(raw, 'impersonate-uid'), []);
    assert.deepEqual(
      raw.filter((_, i) => i % 2 === 0 && /^impersonate-extra-/i.test(raw[i]!)),
      [],
    );
    assert.equal(rec.identity, 'bearer:tok-1', 'credentials are still added');
  });
});

describe('kubeconfig selection', () => {
  test('KUBECONFIG with two files: current-context from the first, context from the second, first user wins', async () => {
    const { status, rec } = await through(await P.merged);
    assert.equal(status, 200);
    assert.equal(rec.identity, 'bearer:tok-1');
  });

});
