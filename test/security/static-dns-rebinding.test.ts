// DNS rebinding of static files (kubernetes#8871 is where the Host check comes from). kubectl
// mounts --www outside its filter, so a web page whose name an attacker re-points at 127.0.0.1 is
// served the files with `Host: attacker.example:8001` (observed with kubectl 1.32: `Host:
// evil.com` gets the file). kproxy applies the --accept-hosts check to static files too, and
// only --disable-filter turns it off (docs/kubectl-proxy-reference.md §1.4, §7 row 15).

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request, type Response } from '../helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from '../helpers/kubeconfig.js';
import { makePki } from '../helpers/pki.js';
import { launcher, type Running } from '../helpers/proc.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const TOKEN = 'static-token-51c2';

let up: Upstream;
let dir: TempDir;
const files: Record<string, Buffer> = {};

const { launch, stopAll } = launcher();

let P: {
  main: Promise<Running>; // --www, default prefix /static/
  nofilter: Promise<Running>; // --www --disable-filter
};

before(async () => {
  const pki = await makePki();
  up = await startUpstream({ pki, tokens: [TOKEN] });
  dir = tempDir('kproxy-rebinding');
  const www = join(dir.path, 'www');
  mkdirSync(www);
  files['index.html'] = Buffer.from('<!doctype html><title>home</title><h1>home</h1>\n');
  writeFileSync(join(www, 'index.html'), files['index.html']);
  const kc = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, token: TOKEN });
  P = {
    main: launch(['--port=0', `--www=${www}`, '--kubeconfig', kc]),
    nofilter: launch(['--port=0', `--www=${www}`, '--disable-filter', '--kubeconfig', kc]),
  };
});

after(async () => {
  await stopAll();
  await up?.close();
  dir?.cleanup();
});

function get(p: Running, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return request(`${p.url}${target}`, { method, headers });
}

describe('Host check', () => {
  test('static files are behind --accept-hosts (kubectl would serve Host: evil.com)', async () => {
    const p = await P.main;
    const evil = await get(p, '/static/index.html', { Host: 'evil.com' });
    assert.equal(evil.status, 403);
    assert.equal(evil.text(), 'Forbidden\n');
    const rebinding = await get(p, '/static/', { Host: 'attacker.example:8001' });
    assert.equal(rebinding.status, 403);
    for (const host of ['localhost', `localhost:${p.port}`, `127.0.0.1:${p.port}`, '[::1]']) {
      const ok = await get(p, '/static/index.html', { Host: host });
      assert.equal(ok.status, 200, host);
    }
  });

  test('--disable-filter serves whatever the Host', async () => {
    const p = await P.nofilter;
    const res = await get(p, '/static/index.html', { Host: 'evil.com' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, files['index.html']);
  });
});
