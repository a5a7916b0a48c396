// The package as a user gets it: `npm pack` of this checkout (the bundle `npm test` just built),
// `npm install -g` of the tarball into a temporary prefix with no registry at all (`--offline`:
// the runtime dependencies travel inside the tarball), then the installed `kproxy` against the
// fake API server, with an RE2 filter (re2-wasm and its .wasm file must have come along).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { npm, packInto } from './helpers/pack.js';
import { repoRoot, runProcess, startProcess } from './helpers/proc.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

let pki: Pki;
let up: Upstream;
let dir: TempDir;
let tarball: string;
let files: string[];
let installed: string;
const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { name: string; version: string };

before(async () => {
  pki = await makePki();
  up = await startUpstream({ pki, tokens: ['tok-pkg'] });
  dir = tempDir('kproxy-pkg');
  ({ tarball, files } = packInto(dir.path));
  const prefix = join(dir.path, 'prefix');
  npm(['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], dir.path);
  installed = join(prefix, 'bin', 'kproxy');
});

after(async () => {
  await up?.close();
  dir?.cleanup();
});

test('the tarball holds the bundle, its runtime dependencies and the licence; no sources, tests or bench', () => {
  for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/kproxy', 'dist/kproxy.mjs', 'node_modules/re2-wasm/build/wasm/re2.wasm', 'node_modules/undici/lib/dispatcher/pool.js']) {
    assert.ok(files.includes(f), `${f} missing from ${tarball}`);
  }
  const own = files.filter((f) => !f.startsWith('node_modules/'));
  assert.deepEqual(own.sort(), ['LICENSE', 'README.md', 'bin/kproxy', 'dist/kproxy.mjs', 'package.json']);
  assert.match(readFileSync(join(repoRoot(), 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
});

test('the installed kproxy reports its version, Node\'s and a commit', async () => {
  const r = await runProcess(installed, ['version', '--output=json']);
  assert.equal(r.code, 0, r.stderr);
  const info = (JSON.parse(r.stdout) as { kproxyVersion: Record<string, string> }).kproxyVersion;
  assert.equal(info.gitVersion, `v${pkg.version}`);
  assert.equal(info.nodeVersion, process.version);
  // Packed from a git checkout: the commit it was built from (or "unknown" outside one).
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot(), encoding: 'utf8' });
  assert.equal(info.gitCommit, head.status === 0 ? head.stdout.trim() : 'unknown');
  const line = await runProcess(installed, ['--version']);
  assert.equal(line.stdout, `kproxy v${pkg.version} (commit ${info.gitCommit}, node ${process.version})\n`);
});

test('the installed kproxy proxies to the API server and filters with RE2', async () => {
  const kc = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, token: 'tok-pkg' });
  // (?i) is RE2 syntax JavaScript's RegExp refuses: only re2-wasm can compile it.
  const p = await startProcess(installed, ['--port=0', `--kubeconfig=${kc}`, '--reject-paths=(?i)^/API/V1/SECRETS']);
  try {
    const ok = await request(`${p.url}/api/v1/namespaces`);
    assert.equal(ok.status, 200, ok.body.toString());
    const refused = await request(`${p.url}/api/v1/secrets`);
    assert.equal(refused.status, 403);
  } finally {
    await p.stop();
  }
});
