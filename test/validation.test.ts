// Every input that names a file or holds certificate data, checked before the start line: one
// table of flags and kubeconfig fields, each run through bin/kproxy. A bad one must end kproxy
// with exit 1, exactly one `error:` line, no stack trace and no `Starting to serve`; in `--`
// mode the command must never run. Where kubectl 1.32 refuses the same input at start-up, its
// stderr is compared byte for byte (when the binary is here); where kubectl starts anyway
// (client certificate files, which it only logs per request), kproxy's line must still carry
// kubectl's reason.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type KubeconfigSpec, type TempDir } from './helpers/kubeconfig.js';
import { makePki, writePkiFiles, type Pki, type PkiPaths } from './helpers/pki.js';
import { findKubectl, runKproxy, runProcess, startKproxy, type RunResult } from './helpers/proc.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

const KUBECTL = findKubectl();
const JUNK = 'this is not PEM\n';
const BROKEN_CERT_BLOCK = '-----BEGIN CERTIFICATE-----\nMIIBAAAAAA==\n-----END CERTIFICATE-----\n';

let pki: Pki;
let files: PkiPaths;
let up: Upstream;
let dir: TempDir;
let junk: string;
let rsaKey: string;

before(async () => {
  pki = await makePki();
  up = await startUpstream({ pki, tokens: ['tok'] });
  dir = tempDir('kproxy-validate');
  files = writePkiFiles(join(dir.path, 'pki'), pki);
  junk = join(dir.path, 'junk.pem');
  writeFileSync(junk, JUNK);
  rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
});

after(async () => {
  await up?.close();
  dir?.cleanup();
});

/** What kubectl 1.32 does with the same input. */
type Kubectl = 'same' | 'starts' | 'n/a';

interface Case {
  name: string;
  /** Builds the arguments (and environment) in the temp dir; `kc(spec)` writes a kubeconfig. */
  args: (kc: (spec: Partial<KubeconfigSpec>) => string) => { args: string[]; env?: Record<string, string | undefined> };
  /** The one line kproxy prints, without `error: `. */
  error: string | ((d: string) => string);
  kubectl: Kubectl;
}

let n = 0;
function kubeconfig(spec: Partial<KubeconfigSpec>): string {
  return writeKubeconfig(dir.path, { server: up.url, token: 'tok', ...spec, fileName: `kc-${++n}` });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

const CASES: Case[] = [
  // ---- flags ----
  { name: '--kubeconfig missing', args: () => ({ args: [`--kubeconfig=${dir.path}/none`] }), error: (d) => `stat ${d}/none: no such file or directory`, kubectl: 'same' },
  { name: '--kubeconfig a directory', args: () => ({ args: [`--kubeconfig=${dir.path}`] }), error: (d) => `error loading config file "${d}": read ${d}: is a directory`, kubectl: 'same' },
  { name: 'KUBECONFIG lists a directory', args: () => ({ args: [], env: { KUBECONFIG: dir.path } }), error: (d) => `error loading config file "${d}": read ${d}: is a directory`, kubectl: 'same' },
  { name: '--certificate-authority not PEM', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--certificate-authority=${junk}`] }), error: 'unable to load root certificates: unable to parse bytes as PEM block', kubectl: 'same' },
  {
    name: '--certificate-authority missing',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--certificate-authority=${dir.path}/none.crt`] }),
    error: (d) => `unable to read certificate-authority ${d}/none.crt for test due to open ${d}/none.crt: no such file or directory`,
    kubectl: 'same',
  },
  { name: '--certificate-authority a directory', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--certificate-authority=${dir.path}`] }), error: (d) => `read ${d}: is a directory`, kubectl: 'same' },
  {
    name: '--client-certificate not PEM',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--client-certificate=${junk}`, `--client-key=${files.clientKey}`] }),
    error: (d) => `tls: failed to find any PEM data in certificate input (client-certificate ${d}/junk.pem, client-key ${files.clientKey})`,
    kubectl: 'starts',
  },
  {
    name: '--client-key not PEM',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--client-certificate=${files.clientCert}`, `--client-key=${junk}`] }),
    error: (d) => `tls: failed to find any PEM data in key input (client-certificate ${files.clientCert}, client-key ${d}/junk.pem)`,
    kubectl: 'starts',
  },
  {
    name: '--client-key of another certificate',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--client-certificate=${files.clientCert}`, `--client-key=${files.otherClientKey}`] }),
    error: () => `tls: private key does not match public key (client-certificate ${files.clientCert}, client-key ${files.otherClientKey})`,
    kubectl: 'starts',
  },
  {
    name: '--client-certificate missing',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--client-certificate=${dir.path}/none.crt`, `--client-key=${files.clientKey}`] }),
    error: (d) => `unable to read client-cert ${d}/none.crt for test due to open ${d}/none.crt: no such file or directory`,
    kubectl: 'same',
  },
  {
    name: '--client-key missing',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--client-certificate=${files.clientCert}`, `--client-key=${dir.path}/none.key`] }),
    error: (d) => `unable to read client-key ${d}/none.key for test due to open ${d}/none.key: no such file or directory`,
    kubectl: 'same',
  },
  {
    name: '--client-certificate without a key',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--client-certificate=${files.clientCert}`] }),
    error: 'client-key-data or client-key must be specified for test to use the clientCert authentication method.',
    kubectl: 'same',
  },
  { name: '--unix-socket in a missing folder', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--unix-socket=${dir.path}/no/k.sock`] }), error: (d) => `listen unix ${d}/no/k.sock: bind: no such file or directory`, kubectl: 'same' },
  { name: '--unix-socket below a file', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--unix-socket=${junk}/k.sock`] }), error: (d) => `listen unix ${d}/junk.pem/k.sock: bind: not a directory`, kubectl: 'same' },
  { name: '--access-log a directory', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--access-log=${dir.path}`] }), error: (d) => `--access-log: open ${d}: is a directory`, kubectl: 'n/a' },
  { name: '--access-log in a missing folder', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--access-log=${dir.path}/no/a.log`] }), error: (d) => `--access-log: open ${d}/no/a.log: no such file or directory`, kubectl: 'n/a' },
  { name: '--access-log below a file', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, `--access-log=${junk}/a.log`] }), error: (d) => `--access-log: open ${d}/junk.pem/a.log: not a directory`, kubectl: 'n/a' },
  { name: 'a regex RE2 refuses', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca })}`, '--accept-paths=^/api(?=/v1)'] }), error: 'invalid regular expression "^/api(?=/v1)" in --accept-paths: invalid perl operator: (?=', kubectl: 'n/a' },
  // ---- kubeconfig: the cluster ----
  { name: 'certificate-authority-data not PEM', args: (kc) => ({ args: [`--kubeconfig=${kc({ caData: JUNK })}`] }), error: 'unable to load root certificates: unable to parse bytes as PEM block', kubectl: 'same' },
  { name: 'certificate-authority-data with a broken certificate', args: (kc) => ({ args: [`--kubeconfig=${kc({ caData: BROKEN_CERT_BLOCK })}`] }), error: 'unable to load root certificates: failed to parse certificate: x509: malformed certificate', kubectl: 'same' },
  { name: 'certificate-authority-data holding only a key', args: (kc) => ({ args: [`--kubeconfig=${kc({ caData: pki.client.key })}`] }), error: 'unable to load root certificates: no valid certificate authority data seen', kubectl: 'same' },
  { name: 'certificate-authority not PEM', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: junk })}`] }), error: 'unable to load root certificates: unable to parse bytes as PEM block', kubectl: 'same' },
  {
    name: 'certificate-authority missing',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: `${dir.path}/none.crt` })}`] }),
    error: (d) => `unable to read certificate-authority ${d}/none.crt for test due to open ${d}/none.crt: no such file or directory`,
    kubectl: 'same',
  },
  // ---- kubeconfig: the user ----
  { name: 'client-certificate-data not PEM', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, clientCertData: JUNK, clientKeyData: pki.client.key })}`] }), error: 'tls: failed to find any PEM data in certificate input', kubectl: 'same' },
  { name: 'client-key-data not PEM', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, clientCertData: pki.client.cert, clientKeyData: JUNK })}`] }), error: 'tls: failed to find any PEM data in key input', kubectl: 'same' },
  {
    name: 'client-certificate-data and client-key-data switched',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, clientCertData: pki.client.key, clientKeyData: pki.client.cert })}`] }),
    error: 'tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched',
    kubectl: 'same',
  },
  { name: 'client-key-data holding a certificate', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, clientCertData: pki.client.cert, clientKeyData: pki.client.cert })}`] }), error: 'tls: found a certificate rather than a key in the PEM for the private key', kubectl: 'same' },
  { name: 'client-key-data of another certificate', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, clientCertData: pki.client.cert, clientKeyData: pki.otherClient.key })}`] }), error: 'tls: private key does not match public key', kubectl: 'same' },
  { name: 'client-key-data of another key type', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, clientCertData: pki.client.cert, clientKeyData: rsaKey })}`] }), error: 'tls: private key type does not match public key type', kubectl: 'same' },
  { name: 'client-certificate-data with a broken certificate', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, clientCertData: BROKEN_CERT_BLOCK, clientKeyData: pki.client.key })}`] }), error: 'x509: malformed certificate', kubectl: 'same' },
  {
    name: 'client-certificate file not PEM',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, clientCertFile: junk, clientKeyFile: files.clientKey })}`] }),
    error: (d) => `tls: failed to find any PEM data in certificate input (client-certificate ${d}/junk.pem, client-key ${files.clientKey})`,
    kubectl: 'starts',
  },
  {
    name: 'client-key file missing',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, clientCertFile: files.clientCert, clientKeyFile: `${dir.path}/none.key` })}`] }),
    error: (d) => `unable to read client-key ${d}/none.key for test due to open ${d}/none.key: no such file or directory`,
    kubectl: 'same',
  },
  { name: 'client-key a directory', args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, clientCertFile: files.clientCert, clientKeyFile: dir.path })}`] }), error: (d) => `read ${d}: is a directory`, kubectl: 'n/a' },
  {
    name: 'oidc idp-certificate-authority-data not PEM',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, token: undefined, extraUser: { 'auth-provider': { name: 'oidc', config: { 'idp-issuer-url': 'https://127.0.0.1:1', 'client-id': 'k', 'id-token': 'x', 'idp-certificate-authority-data': b64(JUNK) } } } })}`] }),
    error: 'unable to load root certificates: unable to parse bytes as PEM block',
    kubectl: 'same',
  },
  {
    name: 'oidc idp-certificate-authority not PEM',
    args: (kc) => ({ args: [`--kubeconfig=${kc({ caFile: files.ca, token: undefined, extraUser: { 'auth-provider': { name: 'oidc', config: { 'idp-issuer-url': 'https://127.0.0.1:1', 'client-id': 'k', 'id-token': 'x', 'idp-certificate-authority': junk } } } })}`] }),
    error: 'unable to load root certificates: unable to parse bytes as PEM block',
    kubectl: 'same',
  },
  {
    name: 'in-cluster ca.crt not PEM',
    args: () => {
      const sa = join(dir.path, 'sa');
      mkdirSync(sa, { recursive: true });
      writeFileSync(join(sa, 'token'), 'tok\n');
      writeFileSync(join(sa, 'ca.crt'), JUNK);
      return { args: [], env: { KUBECONFIG: join(dir.path, 'none'), KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1', KPROXY_SERVICE_ACCOUNT_DIR: sa } };
    },
    error: 'unable to load root certificates: unable to parse bytes as PEM block',
    kubectl: 'n/a',
  },
];

function show(r: RunResult): string {
  return `\n--- exit ${r.code} (signal ${r.signal}) ---\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

function assertRefused(r: RunResult, expected: string): void {
  const ctx = show(r);
  assert.equal(r.code, 1, `exit status${ctx}`);
  assert.doesNotMatch(r.stdout + r.stderr, /Starting to serve/, `no start line${ctx}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `no stack trace${ctx}`);
  assert.equal(r.stderr, `error: ${expected}\n`, ctx);
}

describe('bad files and certificates are refused before the start line', { concurrency: 4 }, () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const { args, env } = c.args(kubeconfig);
      const expected = typeof c.error === 'string' ? c.error : c.error(dir.path);
      // A free port unless the case listens on a socket (the two flags exclude each other).
      if (!args.some((a) => a.startsWith('--unix-socket'))) args.unshift('--port=0');
      assertRefused(await runKproxy(args, { env }), expected);
      if (c.kubectl === 'n/a') return;
      if (KUBECTL === undefined) return;
      const k = await runProcess(KUBECTL, ['proxy', ...args], { env, timeoutMs: 20_000 }).catch((err: Error) => ({ code: null, signal: null, stdout: '', stderr: err.message }));
      if (c.kubectl === 'same') assert.equal(k.stderr, `error: ${expected}\n`, `kubectl 1.32 says${show(k)}`);
      else assert.match(k.stderr + k.stdout, /Starting to serve/, `kubectl 1.32 starts with this input${show(k)}`);
    });
  }

  test('in -- mode a refused input never runs the command', async () => {
    const marker = join(dir.path, 'command-ran');
    const kc = kubeconfig({ caFile: files.ca });
    for (const bad of [`--access-log=${dir.path}`, `--certificate-authority=${junk}`, `--unix-socket=${dir.path}/no/k.sock`]) {
      const r = await runKproxy([`--kubeconfig=${kc}`, bad, '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`]);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /^error: [^\n]+\n$/, show(r));
      assert.equal(existsSync(marker), false, `the command ran despite ${bad}`);
    }
  });

  test('-- without a command is an error, not a plain proxy', async () => {
    const r = await runKproxy(['--port=0', `--kubeconfig=${kubeconfig({ caFile: files.ca })}`, '--']);
    assertRefused(r, "no command after --: use kproxy [flags] -- COMMAND [ARGS...] (see 'kproxy --help')");
  });
});

describe('good certificate input still works', () => {
  test('a CA bundle with a broken block before the real CA is trusted, as Go trusts it', async () => {
    const bundle = join(dir.path, 'bundle.pem');
    writeFileSync(bundle, [BROKEN_CERT_BLOCK, pki.otherCa, pki.ca].join('\n'));
    const p = await startKproxy(['--port=0', `--kubeconfig=${kubeconfig({ caFile: bundle })}`]);
    try {
      const res = await request(`${p.url}/api`);
      assert.equal(res.status, 200, res.body.toString());
    } finally {
      await p.stop();
    }
  });

  test('client certificate and key as files and as data are accepted', async () => {
    const asFiles = await startKproxy(['--port=0', `--kubeconfig=${kubeconfig({ caFile: files.ca, clientCertFile: files.clientCert, clientKeyFile: files.clientKey })}`]);
    await asFiles.stop();
    const asData = await startKproxy(['--port=0', `--kubeconfig=${kubeconfig({ caData: pki.ca, clientCertData: pki.client.cert, clientKeyData: pki.client.key })}`]);
    await asData.stop();
  });

  test('--access-log to a new file in an existing folder', async () => {
    const log = join(dir.path, 'access.log');
    const p = await startKproxy(['--port=0', `--kubeconfig=${kubeconfig({ caFile: files.ca })}`, `--access-log=${log}`]);
    await p.stop();
    assert.equal(existsSync(log), true);
  });
});
