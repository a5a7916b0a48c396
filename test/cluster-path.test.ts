// cluster-path.ts as tables: which served context a target names, in its escaped and in
// client-go's unescaped spelling, what the filter then sees and what goes upstream; the list;
// refusals; and admit() with served clusters.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { admit } from '../src/admit.js';
import { ambiguousNames, clusterBase, clusterList, contextSegment, parseContextList, pickCluster, type ServedCluster } from '../src/cluster-path.js';
import { compileFilterRules, DEFAULT_HOST_ACCEPT_RE, DEFAULT_METHOD_REJECT_RE, DEFAULT_PATH_ACCEPT_RE, DEFAULT_PATH_REJECT_RE } from '../src/filter/filter.js';
import type { UpstreamRequestContext } from '../src/outgoing.js';

const EKS = 'arn:aws:eks:us-west-2:123456789012:cluster/prod';
const KIND = 'admin@kind:dev';

const filter = compileFilterRules({ acceptPaths: DEFAULT_PATH_ACCEPT_RE, rejectPaths: DEFAULT_PATH_REJECT_RE, acceptHosts: DEFAULT_HOST_ACCEPT_RE, rejectMethods: DEFAULT_METHOD_REJECT_RE });
const readOnly = compileFilterRules({ acceptPaths: DEFAULT_PATH_ACCEPT_RE, rejectPaths: DEFAULT_PATH_REJECT_RE, acceptHosts: DEFAULT_HOST_ACCEPT_RE, rejectMethods: '^POST$' });

function cluster(name: string, extra: Partial<ServedCluster> = {}): ServedCluster {
  return { name, clusterName: `c-${name}`, server: `https://${name.length}.example:6443`, ctx: {} as UpstreamRequestContext, filter, ...extra };
}

const served = new Map<string, ServedCluster>([
  [EKS, cluster(EKS)],
  [KIND, cluster(KIND, { filter: readOnly, serverPath: '/k8s' })],
  ['a', cluster('a')],
  ['a/api', cluster('a/api')],
]);

describe('pickCluster', () => {
  const rows: Array<[string, string, ReturnType<typeof pickCluster> | { kind: 'cluster'; name: string; path: string; target: string }]> = [
    ['list', '/clusters', { kind: 'list' }],
    ['list, trailing slash', '/clusters/', { kind: 'list' }],
    ['list with a query', '/clusters?x=1', { kind: 'list' }],
    ['outside', '/api/v1/pods', { kind: 'outside' }],
    ['a longer first segment', '/clustersx/a/api', { kind: 'outside' }],
    ['escaped EKS name', `/clusters/${contextSegment(EKS)}/api/v1/pods?limit=1`, { kind: 'cluster', name: EKS, path: '/api/v1/pods', target: '/api/v1/pods?limit=1' }],
    ['client-go spelling of the EKS name', `/clusters/${EKS}/api/v1/pods`, { kind: 'cluster', name: EKS, path: '/api/v1/pods', target: '/api/v1/pods' }],
    ['@ and : escaped, server path joined', `/clusters/admin%40kind%3Adev/version`, { kind: 'cluster', name: KIND, path: '/version', target: '/k8s/version' }],
    ['@ and : as sent', `/clusters/admin@kind:dev/version`, { kind: 'cluster', name: KIND, path: '/version', target: '/k8s/version' }],
    ['nothing after the name', `/clusters/a`, { kind: 'cluster', name: 'a', path: '', target: '/' }],
    ['only a slash after the name', `/clusters/a/`, { kind: 'cluster', name: 'a', path: '', target: '/' }],
    ['an escaped byte after the name stays escaped upstream', `/clusters/${contextSegment(EKS)}/api/v1/namespaces/x%2Fy`, { kind: 'cluster', name: EKS, path: '/api/v1/namespaces/x/y', target: '/api/v1/namespaces/x%2Fy' }],
    ['unknown', '/clusters/nope/api', { kind: 'unknown', name: 'nope' }],
    ['unknown, escaped', '/clusters/no%2Fpe/api', { kind: 'unknown', name: 'no/pe' }],
    ['prefix of a name only', '/clusters/arn:aws:eks:us-west-2:123456789012:cluster/api', { kind: 'unknown', name: 'arn:aws:eks:us-west-2:123456789012:cluster' }],
    ['two served names match', '/clusters/a/api/v1', { kind: 'ambiguous', names: ['a', 'a/api'] }],
    ['the longer one escaped is not ambiguous', '/clusters/a%2Fapi/api/v1', { kind: 'cluster', name: 'a/api', path: '/api/v1', target: '/api/v1' }],
  ];
  for (const [label, target, want] of rows) {
    test(label, () => {
      const got = pickCluster(target, '/', served);
      if (got.kind === 'cluster') assert.deepEqual({ kind: got.kind, name: got.cluster.name, path: got.path, target: got.target }, want);
      else assert.deepEqual(got, want);
    });
  }

  test('an api-prefix kubectl does not strip stays before clusters/', () => {
    assert.equal(clusterBase('/api/'), '/api/');
    assert.equal(clusterBase('/custom/'), '/');
    assert.equal(clusterBase('/'), '/');
    const got = pickCluster('/api/clusters/a/version', '/api/', served);
    assert.equal(got.kind === 'cluster' && got.target, '/version');
  });
});

describe('lists and names', () => {
  test('the list has names, cluster names, servers and paths, nothing else', () => {
    assert.deepEqual(clusterList([served.get(KIND)!], '/'), [{ context: KIND, cluster: `c-${KIND}`, server: served.get(KIND)!.server, path: '/clusters/admin%40kind%3Adev/' }]);
  });
  test('overlapping names are found', () => {
    assert.deepEqual(ambiguousNames([...served.keys()]), [['a', 'a/api']]);
    assert.deepEqual(ambiguousNames(['a', 'ab', 'b/c']), []);
  });
  test('--contexts lists', () => {
    const rows: Array<[string, string[]]> = [
      ['a,b', ['a', 'b']],
      ['a, b ,,a', ['a', 'b']],
      ['', []],
      [EKS, [EKS]],
    ];
    for (const [v, want] of rows) assert.deepEqual(parseContextList(v), want, v);
  });
});

describe('admit with served clusters', () => {
  const head = (method: string, url: string) => ({ method, url, rawHeaders: ['Host', 'localhost:8001'], httpVersion: '1.1' });
  const opts = { mounts: { apiPrefix: '/' }, filter, clusters: served };
  const rows: Array<[string, string, string, { kind: string; status?: number; target?: string; cluster?: string; decision: string }]> = [
    ['list', 'GET', '/clusters', { kind: 'answer', status: 200, decision: 'local' }],
    ['list refuses POST', 'POST', '/clusters', { kind: 'answer', status: 405, decision: 'local' }],
    ['forward', 'GET', `/clusters/${contextSegment(EKS)}/api/v1/pods`, { kind: 'forward', target: '/api/v1/pods', cluster: EKS, decision: 'accept' }],
    ['the filter sees the path after the prefix', 'GET', `/clusters/${contextSegment(EKS)}/api/v1/namespaces/d/pods/p/exec`, { kind: 'answer', status: 403, decision: 'reject' }],
    ['per-context rules', 'POST', `/clusters/${contextSegment(KIND)}/api/v1/namespaces/d/pods`, { kind: 'answer', status: 403, decision: 'reject' }],
    ['the same method elsewhere', 'POST', `/clusters/${contextSegment(EKS)}/api/v1/namespaces/d/pods`, { kind: 'forward', target: '/api/v1/namespaces/d/pods', cluster: EKS, decision: 'accept' }],
    ['unknown', 'GET', '/clusters/nope/api', { kind: 'answer', status: 404, decision: 'local' }],
    ['ambiguous', 'GET', '/clusters/a/api/v1', { kind: 'answer', status: 400, decision: 'local' }],
    ['outside', 'GET', '/api/v1/pods', { kind: 'answer', status: 404, decision: 'local' }],
    ['dot segments are cleaned first (redirect)', 'GET', '/clusters/a/../b', { kind: 'answer', status: 301, decision: 'local' }],
  ];
  for (const [label, method, url, want] of rows) {
    test(label, () => {
      const a = admit(head(method, url), opts);
      const got: Record<string, unknown> = { kind: a.kind, decision: a.verdict.decision };
      if (a.kind === 'answer') got.status = a.answer.status;
      if (a.kind === 'forward') {
        got.target = a.target;
        got.cluster = a.cluster?.name;
      }
      assert.deepEqual(got, want);
    });
  }

  test('unknown names every served context; the list holds no credential', () => {
    const a = admit(head('GET', '/clusters/nope/api'), opts);
    assert.ok(a.kind === 'answer');
    for (const n of served.keys()) assert.ok(a.answer.body.includes(JSON.stringify(n)), a.answer.body);
    const l = admit(head('GET', '/clusters'), opts);
    assert.ok(l.kind === 'answer');
    assert.deepEqual(
      JSON.parse(l.answer.body).map((c: { context: string }) => c.context),
      [...served.keys()],
    );
  });
});
