// The browser attacks of cross-site-websocket-hijacking.test.ts, made by a real browser: headless
// Chromium opens a page from another origin that tries a WebSocket watch of secrets, a
// port-forward WebSocket, a cross-site form POST and a no-cors fetch through kproxy. Each is
// refused and nothing reaches the API server. The same page served by kproxy's own --www works.
// Skipped, with a message, where Debian's chromium is not installed (.ci/run installs it).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Running } from '../helpers/proc.js';
import { startFixture, type Fixture } from './fixture.js';

const CHROMIUM = process.env.KPROXY_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`;

/** The attacks, as one page script; each reports what the page could observe. */
const ATTACK_PAGE = (proxy: string) => `<!doctype html><meta charset="utf-8"><title>attack</title><link rel="icon" href="data:,">
<iframe name="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" target="sink" action="${proxy}/api/v1/namespaces/default/pods">
<input name='{"kind":"Pod","x' value='"}'></form>
<script>
function ws(path) {
  return new Promise((resolve) => {
    const s = new WebSocket('${proxy.replace('http:', 'ws:')}' + path, path.includes('portforward') ? ['v4.channel.k8s.io'] : []);
    s.onopen = () => { s.close(); resolve('open'); };
    s.onerror = () => resolve('refused');
    setTimeout(() => resolve('timeout'), 10000);
  });
}
async function run() {
  const out = {};
  out.watch = await ws('/api/v1/namespaces/kube-system/secrets?watch=1');
  out.portforward = await ws('/api/v1/namespaces/default/pods/web-1/portforward?ports=5432');
  try { const r = await fetch('${proxy}/api/v1/namespaces/kube-system/secrets', { mode: 'no-cors' }); out.noCors = r.type + ':' + r.status; } catch (e) { out.noCors = 'error'; }
  try { const r = await fetch('${proxy}/api/v1/namespaces/kube-system/secrets'); out.cors = String(r.status); } catch (e) { out.cors = 'error'; }
  out.form = await new Promise((resolve) => {
    const frame = document.querySelector('iframe');
    frame.onload = () => { try { resolve('read:' + frame.contentDocument.body.innerText.trim()); } catch (e) { resolve('loaded (not readable)'); } };
    document.getElementById('f').submit();
  });
  return out;
}
</script>`;

let fx: Fixture;
let p: Running;
let evil: http.Server;
let evilURL: string;
let browser: Browser | undefined;

before(async () => {
  if (skip) return;
  fx = await startFixture();
  const www = join(fx.dir.path, 'www');
  mkdirSync(www);
  // kproxy's own page talks to kproxy by the same origin it was loaded from.
  writeFileSync(join(www, 'attack.html'), ATTACK_PAGE(''));
  p = await fx.launch(['--reject-paths=^$', `--www=${www}`]);
  evil = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(ATTACK_PAGE(`http://localhost:${p.port}`));
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  evilURL = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  if (evil) await new Promise<void>((resolve) => evil.close(() => resolve()));
  await fx?.close();
});

async function attack(url: string): Promise<Record<string, string>> {
  const page = await browser!.newPage();
  try {
    await page.goto(url);
    return (await page.evaluate('run()')) as Record<string, string>;
  } finally {
    await page.close();
  }
}

test('a page from another origin: every attack refused, nothing reaches the API server', { skip }, async () => {
  fx.up.reset();
  const got = await attack(evilURL);
  assert.deepEqual(got, {
    watch: 'refused',
    portforward: 'refused',
    // An opaque response: the page learns nothing, and the request never went upstream.
    noCors: 'opaque:0',
    cors: 'error',
    form: 'loaded (not readable)',
  });
  assert.deepEqual(
    fx.up.requests.map((r) => `${r.method} ${r.target}`),
    [],
  );
});

test("kproxy's own --www page: the same requests work", { skip }, async () => {
  fx.up.reset();
  const got = await attack(`http://localhost:${p.port}/static/attack.html`);
  assert.equal(got.watch, 'open');
  assert.equal(got.portforward, 'open');
  assert.equal(got.cors, '200');
  assert.match(got.form!, /^read:/);
  const seen = fx.up.requests.map((r) => `${r.method} ${r.path}`).sort();
  assert.deepEqual(seen, [
    'GET /api/v1/namespaces/default/pods/web-1/portforward',
    'GET /api/v1/namespaces/kube-system/secrets',
    'GET /api/v1/namespaces/kube-system/secrets',
    'GET /api/v1/namespaces/kube-system/secrets',
    'POST /api/v1/namespaces/default/pods',
  ]);
});
