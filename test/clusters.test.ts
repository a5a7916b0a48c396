// Several clusters on one port (--contexts, --all-contexts), end to end: two fake API servers
// with different credentials (a static token, and an exec plugin) and routes (direct, and
// through the HTTP CONNECT proxy of its kubeconfig's proxy-url) behind one kproxy, reached as
// /clusters/<context>/ with context names holding '/', '@' and ':' as EKS and kind names do;
// GET /clusters; unknown contexts; the filter on the path after the prefix; the access log's
// context; and -- mode, whose kubeconfig the real kubectl and the Python kubernetes client use.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startKubeApi, type KubeApi } from './helpers/kube-api.js';
import { request } from './helpers/http.js';
import { tempDir, writeContextsKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { startConnectProxy, type TestProxy } from './helpers/proxies.js';
import { execCredentialJson, writePlugin } from './helpers/plugins.js';
import { findKubectl, kubectlMissing, runKproxy, startKproxy, type Running } from './helpers/proc.js';

const EKS = 'arn:aws:eks:us-west-2:123456789012:cluster/prod';
const KIND = 'admin@kind:dev';
const OTHER = 'other';
const TOKEN_A = 'tok-eks';
const TOKEN_B = 'tok-kind-from-plugin';
const PODS = '/api/v1/namespaces/default/pods';

/** A Python with the kubernetes client: the one on PATH, or Debian's (python3-kubernetes). */
const PYTHON = ['python3', '/usr/bin/python3'].find((py) => {
  try {
    execFileSync(py, ['-c', 'import kubernetes'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

let pki: Pki;
let apiA: KubeApi;
let apiB: KubeApi;
let connectProxy: TestProxy;
let dir: TempDir;
let kubeconfig: string;
const running = new Set<Running>();

async function start(args: string[]): Promise<Running> {
  const p = await startKproxy(['--kubeconfig', kubeconfig, '--port=0', ...args]);
  running.add(p);
  return p;
}

before(async () => {
  pki = await makePki();
  apiA = await startKubeApi({ pki, tokens: [TOKEN_A] });
  apiB = await startKubeApi({ pki, tokens: [TOKEN_B] });
  connectProxy = await startConnectProxy();
  dir = tempDir('kproxy-clusters');
  const plugin = writePlugin(dir.path, 'kind-auth', { runs: [execCredentialJson({ token: TOKEN_B })] });
  kubeconfig = writeContextsKubeconfig(
    dir.path,
    [
      { name: EKS, server: apiA.url, caData: pki.ca, token: TOKEN_A },
      {
        name: KIND,
        server: apiB.url,
        caData: pki.ca,
        proxyUrl: connectProxy.url,
        exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin.path, interactiveMode: 'Never' },
      },
      // Served by --all-contexts only; its server is never reached.
      { name: OTHER, server: 'https://127.0.0.1:9', caData: pki.ca, token: 'unused' },
    ],
    KIND,
  );
});

after(async () => {
  await Promise.all([...running].map((p) => p.stop()));
  await apiA?.close();
  await apiB?.close();
  await connectProxy?.close();
  dir?.cleanup();
});

describe('--contexts', () => {
  let p: Running;
  before(async () => {
    p = await start([`--contexts=${EKS},${KIND}`, '--access-log=-', '--access-log-format=json']);
  });

  test('GET /clusters lists the served contexts and nothing secret', async () => {
    const r = await request(`${p.url}/clusters`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /application\/json/);
    assert.deepEqual(r.json(), [
      { context: EKS, cluster: 'c-0', server: apiA.url, path: `/clusters/${encodeURIComponent(EKS)}/` },
      { context: KIND, cluster: 'c-1', server: apiB.url, path: `/clusters/${encodeURIComponent(KIND)}/` },
    ]);
    for (const secret of [TOKEN_A, TOKEN_B, 'unused']) assert.ok(!r.text().includes(secret));
  });

  test('each context reaches its own server with its own credential and route', async () => {
    apiA.reset();
    apiB.reset();
    connectProxy.reset();
    const a = await request(`${p.url}/clusters/${encodeURIComponent(EKS)}${PODS}?limit=1`);
    assert.equal(a.status, 200, a.text());
    const b = await request(`${p.url}/clusters/${encodeURIComponent(KIND)}${PODS}`);
    assert.equal(b.status, 200, b.text());
    assert.deepEqual(apiA.requests.map((r) => [r.target, r.headers.authorization]), [[`${PODS}?limit=1`, `Bearer ${TOKEN_A}`]]);
    assert.deepEqual(apiB.requests.map((r) => [r.target, r.headers.authorization]), [[PODS, `Bearer ${TOKEN_B}`]]);
    // Only the second context's kubeconfig names the proxy.
    assert.deepEqual(connectProxy.records.map((r) => [r.kind, r.target, r.status]), [['connect', `127.0.0.1:${apiB.port}`, 200]]);
  });

  test('the unescaped spelling client-go sends reaches the same context', async () => {
    apiA.reset();
    const r = await request(`${p.url}/clusters/${EKS}${PODS}`);
    assert.equal(r.status, 200, r.text());
    assert.equal(apiA.requests[0]?.target, PODS);
  });

  test('an unknown context is a 404 naming the served ones', async () => {
    const r = await request(`${p.url}/clusters/${OTHER}${PODS}`);
    assert.equal(r.status, 404);
    assert.ok(r.text().includes(JSON.stringify(EKS)) && r.text().includes(JSON.stringify(KIND)), r.text());
  });

  test('paths outside /clusters/ are not served', async () => {
    apiA.reset();
    apiB.reset();
    const r = await request(`${p.url}${PODS}`);
    assert.equal(r.status, 404);
    assert.equal(apiA.requests.length + apiB.requests.length, 0);
  });

  test('the filter sees the path after the prefix', async () => {
    apiA.reset();
    const r = await request(`${p.url}/clusters/${encodeURIComponent(EKS)}${PODS}/web-1/exec?command=ls`);
    assert.equal(r.status, 403);
    assert.equal(apiA.requests.length, 0);
  });

  test('the access log carries the context', async () => {
    await request(`${p.url}/clusters/${encodeURIComponent(KIND)}/version`);
    const line = await p.waitForStderr(/\{[^\n]*"path":"\/clusters\/admin%40kind%3Adev\/version"[^\n]*\}/);
    const entry = JSON.parse(/\{[^\n]*"path":"\/clusters\/admin%40kind%3Adev\/version"[^\n]*\}/.exec(line)![0]);
    assert.equal(entry.context, KIND);
    assert.equal(entry.status, 200);
  });
});

describe('--all-contexts', () => {
  test('serves every context of the kubeconfig', async () => {
    const p = await start(['--all-contexts']);
    const r = await request(`${p.url}/clusters/`);
    assert.deepEqual(
      r.json().map((c: { context: string }) => c.context),
      [EKS, KIND, OTHER],
    );
  });
});

describe('bad combinations', () => {
  const rows: Array<[string, string[], RegExp]> = [
    ['--context with --contexts', [`--contexts=${EKS}`, `--context=${KIND}`], /^error: --context cannot be used with --contexts/],
    ['--token with --all-contexts', ['--all-contexts', '--token=x'], /^error: --token cannot be used with --contexts/],
    ['both', [`--contexts=${EKS}`, '--all-contexts'], /^error: --contexts and --all-contexts cannot be used together/],
    ['a missing context', ['--contexts=nope'], /^error: context "nope" does not exist \(contexts: /],
  ];
  for (const [label, args, want] of rows) {
    test(label, async () => {
      const r = await runKproxy(['--kubeconfig', kubeconfig, '--port=0', ...args]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, want);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }
});

describe('-- mode with several contexts', () => {
  test('kubectl --context=<served context> get pods, and the current context kept', { skip: kubectlMissing() }, async () => {
    apiA.reset();
    const kubectl = findKubectl()!;
    const r = await runKproxy(['--kubeconfig', kubeconfig, `--contexts=${EKS},${KIND}`, '--', 'sh', '-c', `"$0" config current-context && "$0" --context="$1" get pods`, kubectl, EKS]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${KIND.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    assert.match(r.stdout, /web-1\s+1\/1\s+Running/);
    assert.ok(apiA.requests.some((q) => q.path === PODS && q.headers.authorization === `Bearer ${TOKEN_A}`));
  });

  test('the Python kubernetes client through /clusters/<context>', { skip: PYTHON === undefined ? 'the Python kubernetes client is not installed (apt-get install python3-kubernetes)' : undefined }, async () => {
    apiB.reset();
    const script = [
      'import sys',
      'from kubernetes import client, config',
      'config.load_kube_config(context=sys.argv[1])',
      "print(' '.join(p.metadata.name for p in client.CoreV1Api().list_namespaced_pod('default').items))",
    ].join('\n');
    const r = await runKproxy(['--kubeconfig', kubeconfig, `--contexts=${EKS},${KIND}`, '--', PYTHON!, '-c', script, KIND]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'web-1 web-2');
    assert.ok(apiB.requests.some((q) => q.path === PODS && q.headers.authorization === `Bearer ${TOKEN_B}`));
  });
});
