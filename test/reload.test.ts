// Live reload with --config: a change of the config file or of the kubeconfig, or SIGHUP, gives
// new requests the new rules, credentials and contexts while an open watch keeps flowing; a
// broken file on reload keeps the running configuration and says why in one line; the selected
// context does not follow `kubectl config use-context`; flags that need a restart say so.
// Every wait is for a line kproxy prints or an event at the fake API server; nothing sleeps.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { makePod, startKubeApi, type KubeApi } from './helpers/kube-api.js';
import { openStream, request, type StreamResponse } from './helpers/http.js';
import { tempDir, writeContextsKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { startKproxy, type Running } from './helpers/proc.js';
import { parsePrometheusText, sampleValue } from './helpers/prom-text.js';
import { parseArgs } from '../src/cli.js';
import type { ProxyFlags } from '../src/options.js';
import { restartOnlyChanges } from '../src/reload.js';

const PODS = '/api/v1/namespaces/default/pods';

let pki: Pki;
let apiA: KubeApi;
let apiB: KubeApi;
let dir: TempDir;
let kubeconfig: string;
let config: string;

function writeKubeconfig(tokenA: string, current: string): void {
  writeContextsKubeconfig(
    dir.path,
    [
      { name: 'ctx-a', server: apiA.url, caData: pki.ca, token: tokenA },
      { name: 'ctx-b', server: apiB.url, caData: pki.ca, token: 'tb' },
    ],
    current,
  );
}

function writeConfig(lines: string[]): void {
  writeFileSync(config, [`kubeconfig: ${kubeconfig}`, ...lines, ''].join('\n'));
}

/** Resolves once stderr holds `n` lines matching `what`. */
function nth(p: Running, what: string, n: number): Promise<string> {
  return p.waitForStderr(new RegExp(`(?:[\\s\\S]*?${what}[^\\n]*\\n){${n}}`));
}

before(async () => {
  pki = await makePki();
  apiA = await startKubeApi({ pki, tokens: ['ta1', 'ta2'] });
  apiB = await startKubeApi({ pki, tokens: ['tb'] });
  dir = tempDir('kproxy-reload');
  kubeconfig = join(dir.path, 'kubeconfig');
  config = join(dir.path, 'kproxy.yaml');
  writeKubeconfig('ta1', 'ctx-a');
});

after(async () => {
  await apiA?.close();
  await apiB?.close();
  dir?.cleanup();
});

describe('what a reload cannot change', () => {
  const flags = (argv: string[]): ProxyFlags => (parseArgs(argv) as { flags: ProxyFlags }).flags;
  const rows: Array<[string[], string[], string[]]> = [
    [[], ['--reject-paths=^/x', '--context=b', '--contexts=a', '--upstream-http2', '-v=4', '--keepalive=5s'], []],
    [[], ['--port=9000', '--address=0.0.0.0'], ['port', 'address']],
    [[], ['--api-prefix=/k8s/', '--www=/srv', '--www-prefix=/s/'], ['api-prefix', 'www', 'www-prefix']],
    [[], ['--auth-token=auto', '--admin-address=127.0.0.1:0', '--access-log=-', '--access-log-format=json', '-o=json'], ['auth-token', 'admin-address', 'access-log', 'access-log-format', 'output']],
    [['--unix-socket=/tmp/a.sock'], ['--unix-socket=/tmp/b.sock'], ['unix-socket']],
  ];
  for (const [base, changed, want] of rows) {
    test(changed.join(' '), () => assert.deepEqual(restartOnlyChanges(flags(base), flags([...base, ...changed])), want));
  }
});

describe('reload of one context', () => {
  let p: Running;
  let admin: string;
  let watch: StreamResponse;
  before(async () => {
    writeConfig(['admin-address: 127.0.0.1:0']);
    p = await startKproxy([`--config=${config}`, '--port=0']);
    const line = await p.waitForStderr(/on (127\.0\.0\.1:\d+)\n/);
    admin = `http://${/on (127\.0\.0\.1:\d+)\n/.exec(line)![1]}`;
  });
  after(async () => {
    watch?.close();
    await p?.stop();
  });

  test('a new rule applies to new requests; an open watch keeps flowing', async () => {
    watch = await openStream(`${p.url}${PODS}?watch=true`);
    await apiA.waitForWatchers(1);
    writeConfig(['admin-address: 127.0.0.1:0', 'reject-paths: "^/api/v1/namespaces/default/pods"']);
    await nth(p, 'Reloaded the configuration \\(kproxy.yaml changed\\)', 1);
    assert.equal((await request(`${p.url}${PODS}`)).status, 403);
    assert.equal((await request(`${p.url}/version`)).status, 200);
    apiA.emit('ADDED', makePod('after-reload-1'));
    await watch.waitFor('after-reload-1');
  });

  test('a broken file keeps the running configuration and says why in one line', async () => {
    writeConfig(['admin-address: 127.0.0.1:0', 'reject-paths: "^/api/(x"']);
    const err = await nth(p, 'Reload failed', 1);
    assert.match(err, new RegExp(`Reload failed \\(kproxy.yaml changed\\), still serving the previous configuration: ${config.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3: reject-paths: invalid regular expression`));
    assert.equal((await request(`${p.url}${PODS}`)).status, 403);
    assert.equal((await request(`${p.url}/version`)).status, 200);
    const m = parsePrometheusText((await request(`${admin}/metrics`)).text());
    assert.equal(sampleValue(m, 'kproxy_reloads_total', { result: 'success' }), 1);
    assert.equal(sampleValue(m, 'kproxy_reloads_total', { result: 'failure' }), 1);
    writeConfig(['admin-address: 127.0.0.1:0', 'reject-paths: "^/api/v1/namespaces/default/pods"']);
    await nth(p, 'Reloaded the configuration', 2);
  });

  test('new credentials from the kubeconfig; the old watch still flows', async () => {
    apiA.reset();
    writeKubeconfig('ta2', 'ctx-a');
    await nth(p, 'Reloaded the configuration \\(kubeconfig changed\\)', 1);
    assert.equal((await request(`${p.url}/version`)).status, 200);
    assert.deepEqual(apiA.requests.map((r) => r.headers.authorization), ['Bearer ta2']);
    assert.equal(apiA.watchers, 1);
    apiA.emit('ADDED', makePod('after-reload-2'));
    await watch.waitFor('after-reload-2');
  });

  test('the context does not follow `kubectl config use-context`', async () => {
    apiA.reset();
    apiB.reset();
    writeKubeconfig('ta2', 'ctx-b');
    await nth(p, 'Reloaded the configuration \\(kubeconfig changed\\)', 2);
    assert.equal((await request(`${p.url}/version`)).status, 200);
    assert.equal(apiA.requests.length, 1);
    assert.equal(apiB.requests.length, 0);
  });

  test('the config file can change the context', async () => {
    apiB.reset();
    writeConfig(['admin-address: 127.0.0.1:0', 'context: ctx-b']);
    await nth(p, 'Reloaded the configuration \\(kproxy.yaml changed\\)', 3);
    assert.equal((await request(`${p.url}${PODS}`)).status, 200);
    assert.deepEqual(apiB.requests.map((r) => r.path), [PODS]);
  });

  test('SIGHUP reloads; a flag that needs a restart says so', async () => {
    writeFileSync(config, [`kubeconfig: ${kubeconfig}`, 'admin-address: 127.0.0.1:0', 'context: ctx-b', 'port: 1234', ''].join('\n'));
    await nth(p, 'Reloaded the configuration \\(kproxy.yaml changed\\)', 4);
    // The command line's --port=0 wins over the file: nothing to restart for.
    assert.ok(!p.stderr.includes('--port changed'));
    writeConfig(['admin-address: 127.0.0.1:1', 'context: ctx-b']);
    await nth(p, 'Reloaded the configuration \\(kproxy.yaml changed\\)', 5);
    assert.match(p.stderr, /Reload: --admin-address changed; restart kproxy to apply it/);
    process.kill(p.pid, 'SIGHUP');
    await nth(p, 'Reloaded the configuration \\(SIGHUP\\)', 1);
  });
});

describe('reload of the served contexts', () => {
  test('a context added to the file is served', async () => {
    writeConfig(['contexts: [ctx-a]']);
    const p = await startKproxy([`--config=${config}`, '--port=0']);
    try {
      const names = async () => (await request(`${p.url}/clusters`)).json().map((c: { context: string }) => c.context);
      assert.deepEqual(await names(), ['ctx-a']);
      assert.equal((await request(`${p.url}/clusters/ctx-b/version`)).status, 404);
      writeConfig(['contexts:', '  - ctx-a', '  - name: ctx-b', '    reject-paths: "^/version"']);
      await nth(p, 'Reloaded the configuration', 1);
      assert.deepEqual(await names(), ['ctx-a', 'ctx-b']);
      assert.equal((await request(`${p.url}/clusters/ctx-b/version`)).status, 403);
      assert.equal((await request(`${p.url}/clusters/ctx-b${PODS}`)).status, 200);
    } finally {
      await p.stop();
    }
  });
});

describe('sessions under way across a reload', () => {
  const EXEC = `${PODS}/web-1/exec?command=cat&stdin=true&stdout=true`;
  const LOG = `${PODS}/web-1/log?follow=true`;

  /** Resolves with the status of an exec upgrade that kproxy or the API server refused. */
  function refusedStatus(url: string): Promise<number> {
    const ws = new WebSocket(url, ['v5.channel.k8s.io']);
    return new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req: ClientRequest, r: IncomingMessage) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      ws.once('open', () => reject(new Error('exec upgrade was opened')));
      ws.once('error', () => {});
    }).finally(() => ws.terminate());
  }

  test('an exec session and a log follow go on with what they started with; new ones meet the new rules', async () => {
    writeKubeconfig('ta1', 'ctx-a');
    writeConfig(['reject-paths: "^/api/.*/pods/.*/attach"']);
    const p = await startKproxy([`--config=${config}`, '--port=0']);
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}${EXEC}`, ['v5.channel.k8s.io']);
    let follow: StreamResponse | undefined;
    try {
      const out: Buffer[] = [];
      ws.on('message', (d: Buffer) => out.push(d));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      follow = await openStream(`${p.url}${LOG}`);
      await apiA.waitForLogFollowers(1);

      writeConfig(['reject-paths: "^/api/.*/pods/.*/attach,^/api/.*/pods/.*/exec,^/api/.*/pods/.*/log"']);
      await nth(p, 'Reloaded the configuration', 1);
      assert.equal(await refusedStatus(`ws://127.0.0.1:${p.port}${EXEC}`), 403);
      assert.equal((await request(`${p.url}${LOG}`)).status, 403);

      // stdin (channel 0) comes back on stdout (channel 1) through the session opened before.
      const echoed = new Promise<void>((resolve) => {
        ws.on('message', () => {
          if (Buffer.concat(out).includes('still here')) resolve();
        });
      });
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('still here')]));
      await echoed;
      apiA.logLine('log after reload\n');
      await follow.waitFor('log after reload');
    } finally {
      ws.terminate();
      follow?.close();
      await p.stop();
    }
  });
});
