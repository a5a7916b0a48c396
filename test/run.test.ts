// Issue 6: `kproxy -- <command>`, the JSON start-up line and the access log, end to end against
// the fake API server.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, writePkiFiles, type Pki } from './helpers/pki.js';
import { findKubectl, kproxyBin, kubectlMissing, runKproxy, startKproxy } from './helpers/proc.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

let pki: Pki;
let up: Upstream;
let dir: TempDir;
let kubeconfig: string;

before(async () => {
  pki = await makePki();
  up = await startUpstream({ pki, tokens: ['tok-run'] });
  dir = tempDir('kproxy-run');
  const paths = writePkiFiles(dir.path, pki);
  kubeconfig = writeKubeconfig(dir.path, { server: up.url, caFile: paths.ca, token: 'tok-run' });
});

after(async () => {
  await up?.close();
  dir?.cleanup();
});

/** A node one-liner run as the child command. */
const nodeChild = (code: string) => [process.execPath, '-e', code];

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('command mode', () => {
  test('the child sees KPROXY_URL and a KUBECONFIG that reaches the API server through kproxy', async () => {
    up.reset();
    const child = `
      const fs = require('fs');
      const url = process.env.KPROXY_URL;
      const cfg = fs.readFileSync(process.env.KUBECONFIG, 'utf8');
      fetch(url + '/api/v1/pods').then(async (r) => {
        console.log(JSON.stringify({ url, kubeconfig: process.env.KUBECONFIG, cfg, status: r.status, kind: (await r.json()).kind }));
      });`;
    const r = await runKproxy(['--kubeconfig', kubeconfig, '--', ...nodeChild(child)]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { url: string; kubeconfig: string; cfg: string; status: number; kind: string };
    assert.match(out.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(out.status, 200);
    assert.equal(out.kind, 'PodList');
    assert.ok(out.cfg.includes(`server: "${out.url}"`), out.cfg);
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0]!.identity, 'bearer:tok-run');
    // Nothing is left behind: the temporary kubeconfig and the listening port are gone.
    assert.equal(existsSync(out.kubeconfig), false);
    assert.equal(await portRefuses(Number(new URL(out.url).port)), true);
  });

  test('a real kubectl inside the command needs no flags', { skip: kubectlMissing() }, async () => {
    up.reset();
    const r = await runKproxy(['--kubeconfig', kubeconfig, '--', findKubectl()!, 'get', '--raw', '/api/v1/pods']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).kind, 'PodList');
    assert.ok(up.requests.some((q) => q.path === '/api/v1/pods' && q.identity === 'bearer:tok-run'));
  });

  test('exit statuses propagate: 0, 3, and 128+N for a signal', async () => {
    assert.equal((await runKproxy(['--kubeconfig', kubeconfig, '--', ...nodeChild('process.exit(0)')])).code, 0);
    assert.equal((await runKproxy(['--kubeconfig', kubeconfig, '--', ...nodeChild('process.exit(3)')])).code, 3);
    const killed = await runKproxy(['--kubeconfig', kubeconfig, '--', ...nodeChild("process.kill(process.pid, 'SIGKILL')")]);
    assert.equal(killed.code, 137);
  });

  test('a missing command exits 127 with one line', async () => {
    const r = await runKproxy(['--kubeconfig', kubeconfig, '--', join(dir.path, 'no-such-command')]);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /^error: cannot run .*no-such-command: executable file not found\n$/);
  });

  test('errors before the command starts exit 1 without running it', async () => {
    const marker = join(dir.path, 'ran');
    const r = await runKproxy(['--kubeconfig', join(dir.path, 'missing-kubeconfig'), '--', ...nodeChild(`require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`)]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(existsSync(marker), false);
  });

  test('SIGTERM to kproxy reaches the child first; kproxy ends with its status', async () => {
    const child = spawn(
      process.execPath,
      [kproxyBin(), '--kubeconfig', kubeconfig, '--', ...nodeChild("process.on('SIGTERM', () => process.exit(5)); console.log('ready'); setInterval(() => {}, 1000);")],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready')) resolve();
        });
        child.once('exit', () => reject(new Error('kproxy exited before the child was ready')));
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 5);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('machine-readable start-up', () => {
  test('--output=json prints one JSON object once the port accepts connections', async () => {
    const p = spawn(process.execPath, [kproxyBin(), '--kubeconfig', kubeconfig, '--port=0', '--output=json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out);
        });
        p.once('exit', () => reject(new Error('exited')));
      });
      const info = JSON.parse(line) as { address: string; host: string; port: number; url: string; pid: number };
      assert.equal(info.pid, p.pid);
      assert.equal(info.address, `127.0.0.1:${info.port}`);
      assert.equal(info.url, `http://127.0.0.1:${info.port}`);
      const r = await request(`${info.url}/api/v1/pods`);
      assert.equal(r.status, 200);
    } finally {
      p.kill('SIGKILL');
    }
  });

  test('--output with an unknown format is a usage error', async () => {
    const r = await runKproxy(['--kubeconfig', kubeconfig, '--output=yaml']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: invalid --output "yaml": must be one of text, json\n');
  });
});

describe('access log', () => {
  test('JSON lines carry the decision and deciding rule, and no secret', async () => {
    const log = join(dir.path, 'access.jsonl');
    const k = await startKproxy(['--kubeconfig', kubeconfig, '--port=0', `--access-log=${log}`, '--access-log-format=json']);
    try {
      const secret = 'S3CRET-VALUE';
      await request({ url: k.url, path: `/api/v1/pods?token=${secret}` }, { headers: { Authorization: `Bearer ${secret}`, Cookie: `session=${secret}` } });
      await request({ url: k.url, path: '/api/v1/namespaces/default/pods/web/exec?command=ls' });
      await request({ url: k.url, path: '/api/v1/pods', hostHeader: 'evil.example' });
    } finally {
      await k.stop();
    }
    const text = readFileSync(log, 'utf8');
    assert.equal(text.includes('S3CRET'), false, text);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3);
    assert.deepEqual(
      lines.map((l) => [l.method, l.path, l.status, l.decision, l.rule]),
      [
        ['GET', '/api/v1/pods', 401, 'accept', '--accept-paths ^.* and --accept-hosts ^127\\.0\\.0\\.1$'],
        ['GET', '/api/v1/namespaces/default/pods/web/exec', 403, 'reject', '^/api/.*/pods/.*/exec'],
        ['GET', '/api/v1/pods', 403, 'reject', 'no --accept-hosts pattern matched'],
      ],
    );
    for (const l of lines) {
      assert.equal(typeof l.time, 'string');
      assert.equal(typeof l.bytes, 'number');
      assert.equal(typeof l.durationMs, 'number');
    }
    assert.equal(lines[1]!.bytes, 10);
  });

  test('text lines on stderr with --access-log=-', async () => {
    const k = await startKproxy(['--kubeconfig', kubeconfig, '--port=0', '--access-log=-']);
    try {
      await request({ url: k.url, path: '/api/v1/pods' });
      const line = await k.waitForStderr(/GET "\/api\/v1\/pods" 200 \d+ [\d.]+ms accept "--accept-paths \^\.\* and --accept-hosts [^"]+"\n/);
      assert.ok(line);
    } finally {
      await k.stop();
    }
  });
});
