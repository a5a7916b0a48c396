// The rule flags and `kproxy explain` on the built binary: explain's output and exit status, bad
// rules ending start-up with one line before anything listens, and a running proxy refusing
// what its rules refuse (nothing reaches the API server) and logging which rule did.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { apiFixture } from './helpers/fixture.js';
import { request } from './helpers/http.js';
import { runKproxy, type RunResult } from './helpers/proc.js';

const fx = apiFixture('kproxy-explain');

function ctx(r: RunResult): string {
  return `\n--- exit ${r.code} ---\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** The value printed after `name:` in explain's output. */
function field(r: RunResult, name: string): string | undefined {
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1).trim();
}

function assertCleanFailure(r: RunResult, message: string): void {
  assert.equal(r.code, 1, ctx(r));
  assert.equal(r.stdout, '', ctx(r));
  assert.equal(r.stderr, `error: ${message}\n`, ctx(r));
}

describe('kproxy explain', { concurrency: 4 }, () => {
  // No kubeconfig anywhere: explain must not read one.
  const env = { KUBECONFIG: '/nonexistent/kubeconfig', HOME: '/nonexistent' };

  test('read-only refuses exec: the filter decides first, both verdicts shown, exit 2', async () => {
    const r = await runKproxy(['explain', '--read-only', 'POST', '/api/v1/namespaces/default/pods/web/exec'], { env });
    assert.equal(r.code, 2, ctx(r));
    assert.equal(r.stderr, '', ctx(r));
    assert.equal(field(r, 'request'), 'POST /api/v1/namespaces/default/pods/web/exec');
    assert.equal(field(r, 'reads as'), 'resource request');
    assert.equal(field(r, '  verb'), 'create');
    assert.equal(field(r, '  namespace'), 'default');
    assert.equal(field(r, '  resource'), 'pods');
    assert.equal(field(r, '  subresource'), 'exec');
    assert.equal(field(r, '  name'), 'web');
    assert.equal(field(r, 'filter'), 'reject (^/api/.*/pods/.*/exec)');
    assert.equal(field(r, 'rules'), 'reject (--read-only (verb create))');
    assert.equal(field(r, 'decision'), 'answered by kproxy: 403 (reject: ^/api/.*/pods/.*/exec)');
  });

  test('an allowed watch is forwarded, exit 0', async () => {
    const r = await runKproxy(['explain', '--allow', 'get,list,watch pods -n default', 'get', '/api/v1/namespaces/default/pods?watch=1'], { env });
    assert.equal(r.code, 0, ctx(r));
    assert.equal(field(r, 'request'), 'GET /api/v1/namespaces/default/pods?watch=1', 'the method is upper-cased');
    assert.equal(field(r, '  verb'), 'watch');
    assert.equal(field(r, 'rules'), 'accept (--allow "get,list,watch pods -n default")');
    assert.equal(field(r, 'decision'), 'forwarded as /api/v1/namespaces/default/pods?watch=1 (accept: --accept-paths ^.* and --accept-hosts ^localhost$; --allow "get,list,watch pods -n default")');
  });

  test('rules refuse what the filter accepts; --host and --origin are printed', async () => {
    const r = await runKproxy(['explain', '--deny=* secrets', '--origin', 'http://127.0.0.1:8001', 'GET', '/api/v1/secrets', '--host=127.0.0.1:8001'], { env });
    assert.equal(r.code, 2, ctx(r));
    assert.equal(field(r, 'host'), '127.0.0.1:8001');
    assert.equal(field(r, 'origin'), 'http://127.0.0.1:8001');
    assert.equal(field(r, 'browser'), 'accept (same origin or --allow-origins)');
    assert.equal(field(r, 'filter'), 'accept (--accept-paths ^.* and --accept-hosts ^127\\.0\\.0\\.1$)');
    assert.equal(field(r, 'rules'), 'reject (--deny "* secrets")');
    assert.equal(field(r, 'decision'), 'answered by kproxy: 403 (reject: --deny "* secrets")');
  });

  test('a page from another origin is refused by the browser check; --allow-origins admits it', async () => {
    const r = await runKproxy(['explain', '--origin', 'https://evil.example', 'GET', '/api/v1/secrets'], { env });
    assert.equal(r.code, 2, ctx(r));
    assert.equal(field(r, 'browser'), 'reject (cross-origin: Origin https://evil.example)');
    assert.equal(field(r, 'decision'), 'answered by kproxy: 403 (reject: cross-origin: Origin https://evil.example)');
    const ok = await runKproxy(['explain', '--allow-origins=https://evil.example', '--origin', 'https://evil.example', 'GET', '/api/v1/secrets'], { env });
    assert.equal(ok.code, 0, ctx(ok));
    assert.equal(field(ok, 'browser'), 'accept (same origin or --allow-origins)');
  });

  test('a foreign Host is refused by the filter', async () => {
    const r = await runKproxy(['explain', 'GET', '/api/v1/pods', '--host', 'evil.example:8001'], { env });
    assert.equal(r.code, 2, ctx(r));
    assert.equal(field(r, 'filter'), 'reject (no --accept-hosts pattern matched)');
    assert.equal(field(r, 'rules'), 'none set');
  });

  test('encoded dot segments: the route answers 400, the checks are not reached', async () => {
    const r = await runKproxy(['explain', '--read-only', 'GET', '/apis/%2e%2e/api/v1/namespaces/d/pods/p/exec'], { env });
    assert.equal(r.code, 2, ctx(r));
    assert.equal(field(r, 'route'), '400: path contains encoded dot segments or empty segments');
    assert.equal(field(r, 'filter'), 'not reached');
    assert.equal(field(r, 'rules'), 'not reached');
    assert.match(field(r, 'decision') ?? '', /^answered by kproxy: 400 /);
  });

  test('the api prefix is stripped before the API server reads the path', async () => {
    const r = await runKproxy(['explain', '--api-prefix=/k8s/', '--read-only', 'GET', '/k8s/api/v1/nodes/n/proxy/configz'], { env });
    assert.equal(r.code, 2, ctx(r));
    assert.equal(field(r, 'route'), 'API, path "/api/v1/nodes/n/proxy/configz", sent upstream as /api/v1/nodes/n/proxy/configz');
    assert.equal(field(r, 'rules'), 'reject (--read-only (subresource proxy))');
  });

  test('a non-resource URL', async () => {
    const r = await runKproxy(['explain', '--allow', 'get pods', 'GET', '/version'], { env });
    assert.equal(r.code, 0, ctx(r));
    assert.equal(field(r, 'reads as'), 'non-resource URL /version');
    assert.equal(field(r, 'rules'), 'accept (discovery (allowed with any allow rule))');
  });

  test('--disable-filter: the rules still apply', async () => {
    const r = await runKproxy(['explain', '--disable-filter', '--read-only', 'DELETE', '/api/v1/namespaces/a/pods'], { env });
    assert.equal(r.code, 2, ctx(r));
    assert.equal(field(r, 'filter'), 'off (--disable-filter)');
    assert.equal(field(r, 'decision'), 'answered by kproxy: 403 (reject: --read-only (verb deletecollection))');
  });

  test('a rules file', async () => {
    const file = join(fx.dir.path, 'explain-rules.yaml');
    writeFileSync(file, 'deny:\n  - verbs: ["*"]\n    resources: [configmaps]\n    namespaces: [kube-*]\n');
    const r = await runKproxy(['explain', `--rules-file=${file}`, 'GET', '/api/v1/namespaces/kube-system/configmaps/c'], { env });
    assert.equal(r.code, 2, ctx(r));
    assert.equal(field(r, 'rules'), `reject (${file}:2 (deny))`);
  });

  test('--help', async () => {
    const r = await runKproxy(['explain', '--help'], { env });
    assert.equal(r.code, 0, ctx(r));
    assert.match(r.stdout, /^Usage:\n {2}kproxy explain \[flags\] METHOD PATH/m);
  });

  test('bad use: one error line, exit 1', async () => {
    const [noPath, extra, badRule, noHost] = await Promise.all([
      runKproxy(['explain', 'GET'], { env }),
      runKproxy(['explain', 'GET', '/a', '/b'], { env }),
      runKproxy(['explain', '--allow', 'get Pods', 'GET', '/'], { env }),
      runKproxy(['explain', 'GET', '/', '--host'], { env }),
    ]);
    const usage = "explain takes METHOD PATH, such as: kproxy explain GET /api/v1/pods (see 'kproxy explain --help')";
    assertCleanFailure(noPath, usage);
    assertCleanFailure(extra, usage);
    assertCleanFailure(badRule, 'invalid --allow rule "get Pods": invalid resource "Pods": resources are lower-case plural names such as pods or deployments');
    assertCleanFailure(noHost, 'flag needs an argument: --host');
  });
});

describe('rule flags on the proxy', { concurrency: 4 }, () => {
  test('a bad rule ends start-up with one line, before the kubeconfig is read', async () => {
    const r = await runKproxy(['--port=0', '--deny', '* secrets; lst pods', '--kubeconfig', '/nonexistent']);
    assertCleanFailure(r, 'invalid --deny rule "lst pods": unknown verb "lst" (one of *, get, list, watch, create, update, patch, delete, deletecollection, proxy; for non-resource URLs get, head, post, put, patch, delete, options)');
  });

  test('a bad rules file names file, line and key', async () => {
    const file = join(fx.dir.path, 'bad-rules.yaml');
    writeFileSync(file, 'allow:\n  - verbs: [get]\n    resources: [pods]\n    namespace: [default]\n');
    const r = await runKproxy(['--port=0', `--rules-file=${file}`, '--kubeconfig', fx.kc]);
    assertCleanFailure(r, `rules file ${file}, line 4, key "namespace": unknown key: expected one of verbs, apiGroups, resources, resourceNames, namespaces, nonResourceURLs`);
  });

  test('a missing rules file', async () => {
    const r = await runKproxy(['--port=0', '--rules-file', join(fx.dir.path, 'none.yaml'), '--kubeconfig', fx.kc]);
    assertCleanFailure(r, `--rules-file: open ${join(fx.dir.path, 'none.yaml')}: no such file or directory`);
  });

  test('--read-only takes Go booleans', async () => {
    const r = await runKproxy(['--port=0', '--read-only=maybe', '--kubeconfig', fx.kc]);
    assertCleanFailure(r, 'invalid argument "maybe" for "--read-only" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  });

  test('--help lists the rule flags and explain', async () => {
    const r = await runKproxy(['--help']);
    for (const s of ['--read-only=false', "--allow='RULE'", "--deny='RULE'", '--rules-file=FILE', 'kproxy explain [flags] METHOD PATH']) assert.ok(r.stdout.includes(s), s);
  });

  test('a running proxy refuses what the rules refuse, forwards the rest, and logs the rule', async () => {
    const log = join(fx.dir.path, 'rules-access.log');
    const k = await fx.procs.launch([
      '--kubeconfig',
      fx.kc,
      '--port=0',
      '--read-only=true',
      '--deny',
      '* secrets',
      '--allow',
      'get,list,watch pods,secrets; get pods/log',
      `--access-log=${log}`,
      '--access-log-format=json',
    ]);
    fx.up.reset();
    const url = (p: string) => `${k.url}${p}`;
    const refused: Array<[string, string, string]> = [
      ['POST', '/api/v1/namespaces/default/pods', '--read-only (verb create)'],
      ['GET', '/api/v1/namespaces/default/pods/p/portforward', '--read-only (subresource portforward)'],
      ['GET', '/api/v1/namespaces/default/secrets', '--deny "* secrets"'],
      ['GET', '/api/v1/namespaces/default/configmaps', 'no allow rule matched'],
      ['GET', '/api/v1/namespaces/default/pods/p/status', 'no allow rule matched'],
    ];
    for (const [method, path] of refused) {
      const res = await request(url(path), { method });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.toString(), 'Forbidden\n');
    }
    const allowed: Array<[string, string]> = [
      ['GET', '/api/v1/namespaces/default/pods'],
      ['GET', '/api/v1/namespaces/default/pods/p/log'],
      ['GET', '/version'],
    ];
    for (const [method, path] of allowed) await request(url(path), { method });
    const got = await fx.up.waitForRequests(allowed.length);
    assert.deepEqual(
      got.map((r) => `${r.method} ${r.target}`),
      allowed.map(([m, p]) => `${m} ${p}`),
      'exactly the allowed requests reached the API server',
    );
    await k.stop();
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { method: string; path: string; status: number; decision: string; rule: string });
    const byPath = new Map(lines.map((l) => [`${l.method} ${l.path}`, l]));
    for (const [method, path, rule] of refused) {
      const l = byPath.get(`${method} ${path}`);
      assert.deepEqual(l && { status: l.status, decision: l.decision, rule: l.rule }, { status: 403, decision: 'reject', rule }, `${method} ${path}`);
    }
    assert.equal(byPath.get('GET /api/v1/namespaces/default/pods/p/log')?.rule, '--accept-paths ^.* and --accept-hosts ^127\\.0\\.0\\.1$; --allow "get pods/log"');
  });
});
