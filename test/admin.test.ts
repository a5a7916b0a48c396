// --admin-address: /healthz, /readyz per served cluster (reached with its own credentials), and
// /metrics read back with a strict Prometheus text parser (helpers/prom-text.ts): requests
// accepted, refused and failed, by context; open watches; upstream connections; credential
// refreshes. Two fake API servers with different credentials, and a third context whose server
// refuses connections.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseAdminAddress } from '../src/admin.js';
import { decisionLabel, methodLabel, statusClass, streamKind } from '../src/metrics.js';
import { makePod, startKubeApi, type KubeApi } from './helpers/kube-api.js';
import { openStream, request } from './helpers/http.js';
import { tempDir, writeContextsKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { closedPort } from './helpers/net.js';
import { makePki, type Pki } from './helpers/pki.js';
import { execCredentialJson, writePlugin } from './helpers/plugins.js';
import { runKproxy, startKproxy, type Running } from './helpers/proc.js';
import { parsePrometheusText, sampleValue, type Family } from './helpers/prom-text.js';

const A = 'admin@alpha:1';
const B = 'arn:aws:eks:eu-west-1:1:cluster/beta';
const DOWN = 'down';
const PODS = '/api/v1/namespaces/default/pods';

let pki: Pki;
let apiA: KubeApi;
let apiB: KubeApi;
let dir: TempDir;
let kubeconfig: string;
let p: Running;
let admin: string;

const seg = (c: string) => `/clusters/${encodeURIComponent(c)}`;

async function scrape(): Promise<Map<string, Family>> {
  const r = await request(`${admin}/metrics`);
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(r.text());
}

before(async () => {
  pki = await makePki();
  apiA = await startKubeApi({ pki, tokens: ['tok-a'] });
  apiB = await startKubeApi({ pki, tokens: ['tok-b'] });
  dir = tempDir('kproxy-admin');
  const plugin = writePlugin(dir.path, 'beta-auth', { runs: [execCredentialJson({ token: 'tok-b' })] });
  kubeconfig = writeContextsKubeconfig(
    dir.path,
    [
      { name: A, server: apiA.url, caData: pki.ca, token: 'tok-a' },
      { name: B, server: apiB.url, caData: pki.ca, exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin.path, interactiveMode: 'Never' } },
      { name: DOWN, server: `https://127.0.0.1:${await closedPort()}`, caData: pki.ca, token: 'tok-down' },
    ],
    A,
  );
  p = await startKproxy(['--kubeconfig', kubeconfig, '--port=0', '--all-contexts', '--admin-address=127.0.0.1:0']);
  const line = await p.waitForStderr(/Serving \/healthz, \/readyz and \/metrics on (\S+)\n/);
  admin = `http://${/Serving \/healthz, \/readyz and \/metrics on (\S+)\n/.exec(line)![1]}`;
});

after(async () => {
  await p?.stop();
  await apiA?.close();
  await apiB?.close();
  dir?.cleanup();
});

describe('labels', () => {
  test('decisions, methods, status classes, streams', () => {
    assert.equal(decisionLabel({ decision: 'accept', rule: 'x' }), 'accepted');
    assert.equal(decisionLabel({ decision: 'reject', rule: '^/api/.*/exec', kind: 'reject-paths' }), 'refused:reject-paths');
    assert.equal(decisionLabel({ decision: 'reject', rule: 'y' }), 'refused:other');
    assert.equal(decisionLabel({ decision: 'local', rule: 'router' }), 'local');
    assert.equal(decisionLabel({ decision: 'unfiltered', rule: '--disable-filter' }), 'unfiltered');
    assert.equal(methodLabel('GET'), 'GET');
    assert.equal(methodLabel('BREW'), 'other');
    assert.deepEqual([101, 200, 404, 503, 0].map(statusClass), ['1xx', '2xx', '4xx', '5xx', 'none']);
    assert.equal(streamKind('GET', '/api/v1/pods?watch=true'), 'watch');
    assert.equal(streamKind('GET', '/api/v1/watch/pods'), 'watch');
    assert.equal(streamKind('GET', '/api/v1/namespaces/d/pods/p/log?follow=1'), 'follow');
    assert.equal(streamKind('GET', '/api/v1/pods'), undefined);
    assert.equal(streamKind('POST', '/api/v1/pods?watch=true'), undefined);
  });

  test('--admin-address values', () => {
    assert.deepEqual(parseAdminAddress('127.0.0.1:9090'), { host: '127.0.0.1', port: 9090 });
    assert.deepEqual(parseAdminAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseAdminAddress('localhost:1'), { host: 'localhost', port: 1 });
    for (const bad of ['9090', ':9090', '127.0.0.1', '127.0.0.1:99999', '::1:9090', 'a:b']) assert.throws(() => parseAdminAddress(bad), /invalid --admin-address/, bad);
  });

  test('a bad --admin-address stops kproxy with one line', async () => {
    const r = await runKproxy(['--kubeconfig', kubeconfig, '--admin-address=9090']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: invalid --admin-address "9090": must be HOST:PORT/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});

describe('the admin listener', () => {
  test('/healthz', async () => {
    const r = await request(`${admin}/healthz`);
    assert.equal(r.status, 200);
    assert.equal(r.text(), 'ok\n');
  });

  test('/readyz asks each cluster with its credentials and names the one that is down', async () => {
    apiA.reset();
    apiB.reset();
    const r = await request(`${admin}/readyz`);
    assert.equal(r.status, 503);
    const lines = r.text().split('\n');
    assert.equal(lines[0], `[+]context ${JSON.stringify(A)} ok`);
    assert.equal(lines[1], `[+]context ${JSON.stringify(B)} ok`);
    assert.match(lines[2]!, /^\[-\]context "down" failed: .*connect: connection refused/);
    assert.equal(lines[3], 'readyz check failed');
    assert.deepEqual(apiA.requests.map((q) => [q.path, q.headers.authorization]), [['/readyz', 'Bearer tok-a']]);
    assert.deepEqual(apiB.requests.map((q) => [q.path, q.headers.authorization]), [['/readyz', 'Bearer tok-b']]);
  });

  test('/readyz quotes a cluster that answers not ready', async () => {
    apiB.ready = false;
    try {
      const r = await request(`${admin}/readyz`);
      assert.equal(r.status, 503);
      assert.match(r.text(), new RegExp(`\\[-\\]context ${JSON.stringify(B).replace(/[/.]/g, '\\$&')} failed: 500: \\[\\+\\]ping ok \\[-\\]etcd failed`));
    } finally {
      apiB.ready = true;
    }
  });

  test('other paths and methods', async () => {
    assert.equal((await request(`${admin}/api/v1/pods`)).status, 404);
    assert.equal((await request(`${admin}/metrics`, { method: 'POST' })).status, 405);
  });
});

describe('/metrics', () => {
  test('accepted, refused and failed requests by context; bytes; first-byte latency', async () => {
    const before = await scrape();
    const count = (m: Map<string, Family>, labels: Record<string, string>) => sampleValue(m, 'kproxy_requests_total', labels);
    assert.equal((await request(`${p.url}${seg(A)}${PODS}`)).status, 200);
    assert.equal((await request(`${p.url}${seg(A)}${PODS}`)).status, 200);
    assert.equal((await request(`${p.url}${seg(A)}${PODS}/web-1/exec`)).status, 403);
    assert.equal((await request(`${p.url}${seg(DOWN)}${PODS}`)).status, 500);
    assert.equal((await request(`${p.url}/clusters/nope/api`)).status, 404);
    // Counted when a response finishes writing, a turn of kproxy's loop before it can read the scrape.
    const after = await scrape();
    const delta = (labels: Record<string, string>) => count(after, labels) - count(before, labels);
    assert.equal(delta({ cluster: A, method: 'GET', decision: 'accepted', code: '2xx' }), 2);
    assert.equal(delta({ cluster: A, method: 'GET', decision: 'refused:reject-paths', code: '4xx' }), 1);
    assert.equal(delta({ cluster: DOWN, method: 'GET', decision: 'accepted', code: '5xx' }), 1);
    assert.equal(delta({ cluster: '', decision: 'local', code: '4xx' }), 1);
    assert.ok(sampleValue(after, 'kproxy_sent_bytes_total', { cluster: A }) > sampleValue(before, 'kproxy_sent_bytes_total', { cluster: A }));
    assert.ok(sampleValue(after, 'kproxy_request_first_byte_seconds_count', { cluster: A }) >= 3);
    assert.ok(sampleValue(after, 'kproxy_upstream_connections', { cluster: A, protocol: 'http/1.1' }) >= 1);
  });

  test('open watches are counted while open', async () => {
    const watch = await openStream(`${p.url}${seg(B)}${PODS}?watch=true`);
    try {
      await apiB.waitForWatchers(1);
      assert.equal(sampleValue(await scrape(), 'kproxy_open_streams', { cluster: B, kind: 'watch' }), 1);
      apiB.emit('ADDED', makePod('new-1'));
      await watch.waitFor('new-1');
    } finally {
      watch.close();
    }
    await apiB.waitForStreamsClosed();
  });

  test('exec plugin runs are counted as credential refreshes', async () => {
    const m = await scrape();
    assert.ok(sampleValue(m, 'kproxy_credential_refreshes_total', { kind: 'exec', result: 'success' }) >= 1);
    assert.equal(sampleValue(m, 'kproxy_reloads_total', { result: 'failure' }), 0);
  });
});
