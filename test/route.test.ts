// Routing as a table (src/route.ts): ServeMux cleaning and redirects, api-prefix stripping and
// the encoded dot-segment refusal. Rows marked "observed" match kubectl 1.32 (see
// docs/kubectl-proxy-reference.md §3); rows marked "kproxy" are deliberate deviations.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanPath, decodePath, parseTarget, route, type Mounts, type Routed } from '../src/route.js';

const root: Mounts = { apiPrefix: '/' };
const custom: Mounts = { apiPrefix: '/custom/' };
const apiOnly: Mounts = { apiPrefix: '/api/' };
const withStatic: Mounts = { apiPrefix: '/', staticPrefix: '/static/' };
const serverPath: Mounts = { apiPrefix: '/', serverPath: '/k8s/clusters/c-1' };

const cases: Array<[string, Mounts, string, string, Routed]> = [
  ['plain list', root, 'GET', '/api/v1/pods', { kind: 'api', path: '/api/v1/pods', target: '/api/v1/pods' }],
  ['query kept byte-exact', root, 'GET', '/api/v1/pods?watch=1&x=%2F', { kind: 'api', path: '/api/v1/pods', target: '/api/v1/pods?watch=1&x=%2F' }],
  ['empty query keeps its ? (observed)', root, 'GET', '/api/v1/pods?', { kind: 'api', path: '/api/v1/pods', target: '/api/v1/pods?' }],
  ['root path is the empty path to the filter', root, 'GET', '/', { kind: 'api', path: '', target: '/' }],
  ['encoded name decoded for the filter, raw upstream', root, 'GET', '/api/v1/namespaces/default/pods/foo%2Fexec', { kind: 'api', path: '/api/v1/namespaces/default/pods/foo/exec', target: '/api/v1/namespaces/default/pods/foo%2Fexec' }],
  ['%65 decoded (observed rejected by kubectl)', root, 'GET', '/api/v1/namespaces/d/pods/p/ex%65c', { kind: 'api', path: '/api/v1/namespaces/d/pods/p/exec', target: '/api/v1/namespaces/d/pods/p/ex%65c' }],
  ['%20 kept raw', root, 'GET', '/api/v1/a%20b', { kind: 'api', path: '/api/v1/a b', target: '/api/v1/a%20b' }],
  ['backslash re-escaped as Go does', root, 'GET', '/api/v1/a\\b', { kind: 'api', path: '/api/v1/a\\b', target: '/api/v1/a%5Cb' }],
  ['double slash redirected (observed)', root, 'GET', '//api/v1/pods', { kind: 'redirect', location: '/api/v1/pods' }],
  ['dot segment redirected with query (observed)', root, 'GET', '/api/v1/./pods?x=1', { kind: 'redirect', location: '/api/v1/pods?x=1' }],
  ['dot-dot redirected (observed)', root, 'GET', '/apis/../api/v1/namespaces/d/pods/p/exec', { kind: 'redirect', location: '/api/v1/namespaces/d/pods/p/exec' }],
  ['trailing slash kept', root, 'GET', '/api/v1/pods/', { kind: 'api', path: '/api/v1/pods/', target: '/api/v1/pods/' }],
  ['kproxy: %2e%2e refused (kubectl >= 1.30 forwards it)', root, 'GET', '/apis/%2e%2e/api/v1/namespaces/d/pods/p/exec', { kind: 'bad-request', reason: 'path contains encoded dot segments or empty segments' }],
  ['kproxy: %2E single dot refused', root, 'GET', '/api/v1/namespaces/default/%2E/pods', { kind: 'bad-request', reason: 'path contains encoded dot segments or empty segments' }],
  ['kproxy: %2F-built empty segment refused', root, 'GET', '/api/v1/%2F/pods', { kind: 'bad-request', reason: 'path contains encoded dot segments or empty segments' }],
  ['kproxy: %2F.. refused', root, 'GET', '/api/v1/namespaces/default/pods/x%2F..%2F..%2Fkube-system', { kind: 'bad-request', reason: 'path contains encoded dot segments or empty segments' }],
  ['bad escape is 400', root, 'GET', '/api/%zz', { kind: 'bad-request', reason: 'invalid URL escape in path' }],
  ['truncated escape is 400', root, 'GET', '/api/%2', { kind: 'bad-request', reason: 'invalid URL escape in path' }],
  ['target without a slash is 400', root, 'GET', 'api/v1', { kind: 'bad-request', reason: 'invalid request target' }],
  ['OPTIONS *', root, 'OPTIONS', '*', { kind: 'options-star' }],
  ['GET * is 400', root, 'GET', '*', { kind: 'bad-request', reason: 'invalid request target' }],
  ['absolute form', root, 'GET', 'http://localhost/api/v1/pods?a=b', { kind: 'api', path: '/api/v1/pods', target: '/api/v1/pods?a=b', authority: 'localhost' }],
  ['absolute form without path redirects to /', root, 'GET', 'http://localhost', { kind: 'redirect', location: '/' , authority: 'localhost' }],
  ['custom prefix stripped (observed)', custom, 'GET', '/custom/api/v1/pods', { kind: 'api', path: '/api/v1/pods', target: '/api/v1/pods' }],
  ['custom prefix root (observed: upstream /)', custom, 'GET', '/custom/', { kind: 'api', path: '', target: '/' }],
  ['custom prefix without slash redirects (observed)', custom, 'GET', '/custom?x=1', { kind: 'redirect', location: '/custom/?x=1' }],
  ['outside the custom prefix is 404 (observed)', custom, 'GET', '/api/v1/pods', { kind: 'not-found' }],
  ['prefix is matched by segment, not by string (observed)', custom, 'GET', '/customapi/v1/pods', { kind: 'not-found' }],
  ['filter sees the stripped path (observed 403)', custom, 'GET', '/custom/api/v1/namespaces/d/pods/p/exec', { kind: 'api', path: '/api/v1/namespaces/d/pods/p/exec', target: '/api/v1/namespaces/d/pods/p/exec' }],
  ['kproxy: %2F kept raw when stripping (kubectl decodes it)', custom, 'GET', '/custom/api/v1/namespaces/a%2Fb/pods', { kind: 'api', path: '/api/v1/namespaces/a/b/pods', target: '/api/v1/namespaces/a%2Fb/pods' }],
  ['escaped prefix segment still matches, as in Go 1.22', custom, 'GET', '/cust%6Fm/api', { kind: 'api', path: '/api', target: '/api' }],
  ['/api/ prefix is not stripped (observed)', apiOnly, 'GET', '/api/v1/pods', { kind: 'api', path: '/api/v1/pods', target: '/api/v1/pods' }],
  ['/api/ prefix: /apis is 404 (observed)', apiOnly, 'GET', '/apis/apps/v1', { kind: 'not-found' }],
  ['/api/ prefix: /api redirects (observed)', apiOnly, 'GET', '/api', { kind: 'redirect', location: '/api/' }],
  ['static prefix wins over /', withStatic, 'GET', '/static/a/b.txt', { kind: 'static', path: '/a/b.txt' }],
  ['static root', withStatic, 'GET', '/static/', { kind: 'static', path: '/' }],
  ['static without slash redirects', withStatic, 'GET', '/static', { kind: 'redirect', location: '/static/' }],
  ['static ../ redirected before serving (observed)', withStatic, 'GET', '/static/../../etc/passwd', { kind: 'redirect', location: '/etc/passwd' }],
  ['--append-server-path prefixes the target, not the filter path', serverPath, 'GET', '/api/v1/pods?watch=1', { kind: 'api', path: '/api/v1/pods', target: '/k8s/clusters/c-1/api/v1/pods?watch=1' }],
  ['--append-server-path on the root', serverPath, 'GET', '/', { kind: 'api', path: '', target: '/k8s/clusters/c-1/' }],
  ['API next to static', withStatic, 'GET', '/api/v1/pods', { kind: 'api', path: '/api/v1/pods', target: '/api/v1/pods' }],
];

for (const [name, mounts, method, url, want] of cases) {
  test(`route: ${name}`, () => {
    assert.deepEqual(route(method, url, mounts), want);
  });
}

test('cleanPath follows net/http', () => {
  const table: Array<[string, string]> = [
    ['', '/'],
    ['a', '/a'],
    ['/', '/'],
    ['//', '/'],
    ['/a/b/', '/a/b/'],
    ['/a//b', '/a/b'],
    ['/a/./b/', '/a/b/'],
    ['/a/../b', '/b'],
    ['/../a', '/a'],
    ['/a/..', '/'],
    ['/a/b/..', '/a'],
    ['/a/b/../', '/a/'],
  ];
  for (const [input, want] of table) assert.equal(cleanPath(input), want, input);
});

test('decodePath decodes bytes as UTF-8 and rejects bad escapes', () => {
  assert.equal(decodePath('/a%C3%A9'), '/aé');
  assert.equal(decodePath('/a+b'), '/a+b');
  assert.equal(decodePath('/%'), undefined);
  assert.equal(decodePath('/%g0'), undefined);
  assert.equal(decodePath('/%ff'), '/\ufffd');
});

test('parseTarget splits absolute and origin forms', () => {
  assert.deepEqual(parseTarget('/a?b'), { authority: undefined, rawPath: '/a', rawQuery: 'b' });
  assert.deepEqual(parseTarget('/a?'), { authority: undefined, rawPath: '/a', rawQuery: '' });
  assert.deepEqual(parseTarget('http://evil.com:80/x'), { authority: 'evil.com:80', rawPath: '/x' });
  assert.equal(parseTarget('x/y'), undefined);
});
