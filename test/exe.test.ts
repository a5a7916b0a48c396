// The single executable (`npm run build:exe`): built into a temporary folder from this
// checkout's compiled code, then run with an environment whose PATH holds no node and a working
// directory with no node_modules. Kubeconfig and TLS, an RE2 filter (the WebAssembly asset), an
// exec credential plugin and an upgrade must all work from the one file.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { repoRoot, runProcess, startProcess, type StartOptions } from './helpers/proc.js';
import { upgradeEcho } from './helpers/upgrade-client.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

let pki: Pki;
let up: Upstream;
let dir: TempDir;
let exe: string;
/** Not the test's environment: no node on PATH, no NODE_* variables, an empty folder as cwd. */
let bare: StartOptions;

before(async () => {
  pki = await makePki();
  up = await startUpstream({ pki, tokens: ['tok-exe', 'tok-from-plugin'] });
  dir = tempDir('kproxy-exe');
  const build = spawnSync(process.execPath, [join(repoRoot(), 'scripts', 'build-exe.mjs'), '--out', join(dir.path, 'out')], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(build.status, 0, build.stdout + build.stderr);
  exe = join(dir.path, 'out', 'kproxy');
  const emptyBin = join(dir.path, 'bin');
  const cwd = join(dir.path, 'cwd');
  mkdirSync(emptyBin);
  mkdirSync(cwd);
  const env: Record<string, string | undefined> = Object.fromEntries(Object.keys(process.env).map((k) => [k, undefined]));
  bare = { cwd, env: { ...env, PATH: emptyBin, HOME: cwd } };
});

after(async () => {
  await up?.close();
  dir?.cleanup();
});

test('no node is reachable in the bare environment', () => {
  const r = spawnSync('node', ['--version'], { env: { PATH: bare.env!['PATH']! } });
  assert.equal((r.error as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
});

test('--version and version -o json', async () => {
  const r = await runProcess(exe, ['version', '-o', 'json'], bare);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'no SEA warnings');
  const info = (JSON.parse(r.stdout) as { kproxyVersion: Record<string, string> }).kproxyVersion;
  assert.equal(info.nodeVersion, process.version);
  const line = await runProcess(exe, ['--version'], bare);
  assert.match(line.stdout, /^kproxy v\d+\.\d+\.\d+\S* \(commit \S+, node v[\d.]+\)\n$/);
});

test('a bad certificate is refused with kubectl\'s words', async () => {
  const kc = writeKubeconfig(dir.path, { server: up.url, caData: 'not a certificate', token: 'tok-exe', fileName: 'bad-ca' });
  const r = await runProcess(exe, ['--port=0', `--kubeconfig=${kc}`], bare);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: unable to load root certificates: unable to parse bytes as PEM block\n');
});

test('proxies with TLS and a token, filters with RE2, and passes an upgrade', async () => {
  const kc = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, token: 'tok-exe', fileName: 'token' });
  const p = await startProcess(exe, ['--port=0', `--kubeconfig=${kc}`, '--reject-paths=(?i)^/API/V1/SECRETS'], bare);
  try {
    assert.equal((await request(`${p.url}/api/v1/namespaces`)).status, 200);
    assert.equal((await request(`${p.url}/api/v1/secrets`)).status, 403);
    const u = await upgradeEcho('127.0.0.1', p.port, '/api/v1/namespaces/default/pods/web/portforward');
    assert.equal(u.status, 101, u.head);
    assert.equal(u.echoed, 'ping-through-the-tunnel');
    assert.equal(p.stderr, '', 'no SEA warnings');
  } finally {
    await p.stop();
  }
});

test('runs an exec credential plugin', async () => {
  // A shell script run by its absolute path: the bare PATH finds nothing, and needs nothing.
  const plugin = join(dir.path, 'plugin.sh');
  writeFileSync(
    plugin,
    `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok-from-plugin"}}'\n`,
  );
  chmodSync(plugin, 0o755);
  const kc = writeKubeconfig(dir.path, {
    server: up.url,
    caData: pki.ca,
    exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' },
    fileName: 'exec',
  });
  const p = await startProcess(exe, ['--port=0', `--kubeconfig=${kc}`], bare);
  try {
    const res = await request(`${p.url}/api/v1/namespaces`);
    assert.equal(res.status, 200, res.body.toString());
  } finally {
    await p.stop();
  }
});
