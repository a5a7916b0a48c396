// RequestInfo as a table. The first tables are the API server's own
// (staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo_test.go), row for row, named
// after the Go test and case; the last one holds kproxy's additions (ParseBool spellings, the
// query as Go parses it, non-resource URLs), each saying which line of requestinfo.go it pins.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQuery, queryBool, requestInfo, selectorName, type RequestInfo } from '../src/requestinfo.js';

/** http.NewRequest(method, url): the path as req.URL.Path (these URLs need no decoding), the raw query. */
function parse(method: string, url: string): RequestInfo {
  const q = url.indexOf('?');
  return q === -1 ? requestInfo(method, url, '') : requestInfo(method, url.slice(0, q), url.slice(q + 1));
}

// ---- TestGetAPIRequestInfo: successCases -----------------------------------------------------
// Columns as in Go: method, url, verb, apiPrefix, apiGroup, apiVersion, namespace, resource,
// subresource, name, parts. Go's rows give "api" as the prefix of /apis/... URLs too, but its
// test never compares the prefix; here the prefix is checked against the URL's first segment.
type SuccessRow = [string, string, string, string, string, string, string, string, string, string, string[]];
const namespaceAll = '';
const successCases: Array<[string, SuccessRow]> = [
  ['resource paths', ['GET', '/api/v1/namespaces', 'list', 'api', '', 'v1', '', 'namespaces', '', '', ['namespaces']]],
  ['resource paths', ['GET', '/api/v1/namespaces/other', 'get', 'api', '', 'v1', 'other', 'namespaces', '', 'other', ['namespaces', 'other']]],
  ['resource paths', ['GET', '/api/v1/namespaces/other/pods', 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']]],
  ['resource paths', ['GET', '/api/v1/namespaces/other/pods/foo', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']]],
  ['resource paths', ['HEAD', '/api/v1/namespaces/other/pods/foo', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']]],
  ['resource paths', ['GET', '/api/v1/pods', 'list', 'api', '', 'v1', namespaceAll, 'pods', '', '', ['pods']]],
  ['resource paths', ['HEAD', '/api/v1/pods', 'list', 'api', '', 'v1', namespaceAll, 'pods', '', '', ['pods']]],
  ['resource paths', ['GET', '/api/v1/namespaces/other/pods/foo', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']]],
  ['resource paths', ['GET', '/api/v1/namespaces/other/pods', 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']]],

  ['special verbs', ['GET', '/api/v1/proxy/namespaces/other/pods/foo', 'proxy', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']]],
  ['special verbs', ['GET', '/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource', 'proxy', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo', 'subpath', 'not', 'a', 'subresource']]],
  ['special verbs', ['GET', '/api/v1/watch/pods', 'watch', 'api', '', 'v1', namespaceAll, 'pods', '', '', ['pods']]],
  ['special verbs', ['GET', '/api/v1/pods?watch=true', 'watch', 'api', '', 'v1', namespaceAll, 'pods', '', '', ['pods']]],
  ['special verbs', ['GET', '/api/v1/pods?watch=false', 'list', 'api', '', 'v1', namespaceAll, 'pods', '', '', ['pods']]],
  ['special verbs', ['GET', '/api/v1/watch/namespaces/other/pods', 'watch', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']]],
  ['special verbs', ['GET', '/api/v1/namespaces/other/pods?watch=1', 'watch', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']]],
  ['special verbs', ['GET', '/api/v1/namespaces/other/pods?watch=0', 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']]],

  ['subresource identification', ['GET', '/api/v1/namespaces/other/pods/foo/status', 'get', 'api', '', 'v1', 'other', 'pods', 'status', 'foo', ['pods', 'foo', 'status']]],
  ['subresource identification', ['GET', '/api/v1/namespaces/other/pods/foo/proxy/subpath', 'get', 'api', '', 'v1', 'other', 'pods', 'proxy', 'foo', ['pods', 'foo', 'proxy', 'subpath']]],
  ['subresource identification', ['PUT', '/api/v1/namespaces/other/finalize', 'update', 'api', '', 'v1', 'other', 'namespaces', 'finalize', 'other', ['namespaces', 'other', 'finalize']]],
  ['subresource identification', ['PUT', '/api/v1/namespaces/other/status', 'update', 'api', '', 'v1', 'other', 'namespaces', 'status', 'other', ['namespaces', 'other', 'status']]],

  ['verb identification', ['PATCH', '/api/v1/namespaces/other/pods/foo', 'patch', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']]],
  ['verb identification', ['DELETE', '/api/v1/namespaces/other/pods/foo', 'delete', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']]],
  ['verb identification', ['POST', '/api/v1/namespaces/other/pods', 'create', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']]],

  ['deletecollection verb identification', ['DELETE', '/api/v1/nodes', 'deletecollection', 'api', '', 'v1', '', 'nodes', '', '', ['nodes']]],
  ['deletecollection verb identification', ['DELETE', '/api/v1/namespaces', 'deletecollection', 'api', '', 'v1', '', 'namespaces', '', '', ['namespaces']]],
  ['deletecollection verb identification', ['DELETE', '/api/v1/namespaces/other/pods', 'deletecollection', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']]],
  ['deletecollection verb identification', ['DELETE', '/apis/extensions/v1/namespaces/other/pods', 'deletecollection', 'api', 'extensions', 'v1', 'other', 'pods', '', '', ['pods']]],

  ['api group identification', ['POST', '/apis/extensions/v1/namespaces/other/pods', 'create', 'api', 'extensions', 'v1', 'other', 'pods', '', '', ['pods']]],

  ['api version identification', ['POST', '/apis/extensions/v1beta3/namespaces/other/pods', 'create', 'api', 'extensions', 'v1beta3', 'other', 'pods', '', '', ['pods']]],
];

for (const [section, [method, url, verb, , group, version, namespace, resource, subresource, name, parts]] of successCases) {
  test(`TestGetAPIRequestInfo successCases (${section}): ${method} ${url}`, () => {
    const info = parse(method, url);
    assert.equal(info.error, undefined);
    assert.equal(info.isResourceRequest, true, 'Expected resource request');
    assert.equal(info.verb, verb);
    assert.equal(info.apiPrefix, url.split('/')[1]);
    assert.equal(info.apiGroup, group);
    assert.equal(info.apiVersion, version);
    assert.equal(info.namespace, namespace);
    assert.equal(info.resource, resource);
    assert.equal(info.subresource, subresource);
    assert.equal(info.name, name);
    assert.deepEqual(info.parts, parts);
  });
}

// ---- TestGetAPIRequestInfo: errorCases (no error, but not a resource request) ----------------
const errorCases: Record<string, string> = {
  'no resource path': '/',
  'just apiversion': '/api/version/',
  'just prefix, group, version': '/apis/group/version/',
  'apiversion with no resource': '/api/version/',
  'bad prefix': '/badprefix/version/resource',
  'missing api group': '/apis/version/resource',
};
for (const [name, url] of Object.entries(errorCases)) {
  test(`TestGetAPIRequestInfo errorCases: ${name}`, () => {
    const info = parse('GET', url);
    assert.equal(info.error, undefined);
    assert.equal(info.isResourceRequest, false, `${name}: expected non-resource request`);
  });
}

// ---- TestGetNonAPIRequestInfo -----------------------------------------------------------------
const nonAPI: Record<string, [string, boolean]> = {
  'simple groupless': ['/api/version/resource', true],
  'simple group': ['/apis/group/version/resource/name/subresource', true],
  'more steps': ['/api/version/resource/name/subresource', true],
  'group list': ['/apis/batch/v1/job', true],
  'group get': ['/apis/batch/v1/job/foo', true],
  'group subresource': ['/apis/batch/v1/job/foo/scale', true],

  'bad root': ['/not-api/version/resource', false],
  'group without enough steps': ['/apis/extensions/v1beta1', false],
  'group without enough steps 2': ['/apis/extensions/v1beta1/', false],
  'not enough steps': ['/api/version', false],
  'one step': ['/api', false],
  'zero step': ['/', false],
  empty: ['', false],
};
for (const [name, [url, expected]] of Object.entries(nonAPI)) {
  test(`TestGetNonAPIRequestInfo: ${name}`, () => {
    const info = parse('GET', url);
    assert.equal(info.error, undefined);
    assert.equal(info.isResourceRequest, expected);
  });
}

// ---- TestSelectorParsing (AuthorizeWithSelectors on) -----------------------------------------
// Go's rows with expectedErr expect no error from NewRequestInfo (it only logs the bad
// selector): the name is then not taken from the selector.
const selectorCases: Array<{ name: string; method: string; url: string; expectedName: string; expectedVerb: string; expectedFieldSelector: string; expectedLabelSelector?: string }> = [
  { name: 'no selector', method: 'GET', url: '/apis/group/version/resource', expectedName: '', expectedVerb: 'list', expectedFieldSelector: '' },
  { name: 'metadata.name selector', method: 'GET', url: '/apis/group/version/resource?fieldSelector=metadata.name=name1', expectedName: 'name1', expectedVerb: 'list', expectedFieldSelector: 'metadata.name=name1' },
  { name: 'metadata.name selector with watch', method: 'GET', url: '/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1', expectedName: 'name1', expectedVerb: 'watch', expectedFieldSelector: 'metadata.name=name1' },
  { name: 'random selector', method: 'GET', url: '/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux', expectedName: '', expectedVerb: 'list', expectedFieldSelector: 'foo=bar', expectedLabelSelector: 'baz=qux' },
  { name: 'invalid selector with metadata.name', method: 'GET', url: '/apis/group/version/resource?fieldSelector=metadata.name=name1,foo', expectedName: '', expectedVerb: 'list', expectedFieldSelector: 'metadata.name=name1,foo' },
  { name: 'invalid selector with metadata.name with watch', method: 'GET', url: '/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=true', expectedName: '', expectedVerb: 'watch', expectedFieldSelector: 'metadata.name=name1,foo' },
  { name: 'invalid selector with metadata.name with watch false', method: 'GET', url: '/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=false', expectedName: '', expectedVerb: 'list', expectedFieldSelector: 'metadata.name=name1,foo' },
  { name: 'selector on deletecollection is honored', method: 'DELETE', url: '/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux', expectedName: '', expectedVerb: 'deletecollection', expectedFieldSelector: 'foo=bar', expectedLabelSelector: 'baz=qux' },
  {
    name: 'selector on repeated param matches parsed param',
    method: 'GET',
    url: '/apis/group/version/resource?fieldSelector=metadata.name=foo&fieldSelector=metadata.name=bar&labelSelector=foo=bar&labelSelector=foo=baz',
    expectedName: 'foo',
    expectedVerb: 'list',
    expectedFieldSelector: 'metadata.name=foo',
    expectedLabelSelector: 'foo=bar',
  },
  { name: 'selector on other verb is ignored', method: 'GET', url: '/apis/group/version/resource/name?fieldSelector=foo=bar&labelSelector=foo=bar', expectedName: 'name', expectedVerb: 'get', expectedFieldSelector: '', expectedLabelSelector: '' },
  { name: 'selector on deprecated root type watch is not parsed', method: 'GET', url: '/apis/group/version/watch/resource?fieldSelector=metadata.name=foo&labelSelector=foo=bar', expectedName: '', expectedVerb: 'watch', expectedFieldSelector: '', expectedLabelSelector: '' },
  { name: 'selector on deprecated root item watch is not parsed', method: 'GET', url: '/apis/group/version/watch/resource/name?fieldSelector=metadata.name=foo&labelSelector=foo=bar', expectedName: 'name', expectedVerb: 'watch', expectedFieldSelector: '', expectedLabelSelector: '' },
];
for (const tc of selectorCases) {
  test(`TestSelectorParsing: ${tc.name}`, () => {
    const info = parse(tc.method, tc.url);
    assert.equal(info.error, undefined);
    assert.equal(info.name, tc.expectedName);
    assert.equal(info.verb, tc.expectedVerb);
    assert.equal(info.fieldSelector, tc.expectedFieldSelector);
    assert.equal(info.labelSelector, tc.expectedLabelSelector ?? '');
  });
}

// ---- kproxy's rows ----------------------------------------------------------------------------
// Each row: what it pins, method, path (decoded), raw query, and the fields that must hold.
const kproxyRows: Array<[string, string, string, string, Partial<RequestInfo>]> = [
  // watch through Convert_Slice_string_To_bool: only "0" and EqualFold "false" are false.
  ['watch=FALSE is a list (EqualFold)', 'GET', '/api/v1/pods', 'watch=FALSE', { verb: 'list' }],
  ['watch=fAlSe is a list (EqualFold)', 'GET', '/api/v1/pods', 'watch=fAlSe', { verb: 'list' }],
  ['watch=fal\u017fe (long s) is a list: Go folds \u017f to s', 'GET', '/api/v1/pods', 'watch=fal%C5%BFe', { verb: 'list' }],
  ['watch= (empty) is a watch', 'GET', '/api/v1/pods', 'watch=', { verb: 'watch' }],
  ['bare watch is a watch', 'GET', '/api/v1/pods', 'watch', { verb: 'watch' }],
  ['watch=no is a watch (not ParseBool)', 'GET', '/api/v1/pods', 'watch=no', { verb: 'watch' }],
  ['watch=f is a watch (not ParseBool)', 'GET', '/api/v1/pods', 'watch=f', { verb: 'watch' }],
  ['watch=00 is a watch', 'GET', '/api/v1/pods', 'watch=00', { verb: 'watch' }],
  ['the first watch value counts', 'GET', '/api/v1/pods', 'watch=0&watch=1', { verb: 'list' }],
  ['the first watch value counts (2)', 'GET', '/api/v1/pods', 'watch=1&watch=0', { verb: 'watch' }],
  ['Watch (capital) is another parameter', 'GET', '/api/v1/pods', 'Watch=1', { verb: 'list' }],
  ['percent-encoded key is decoded', 'GET', '/api/v1/pods', 'w%61tch=1', { verb: 'watch' }],
  ['a pair with a semicolon is dropped (Go >= 1.17)', 'GET', '/api/v1/pods', 'watch=1;x=1', { verb: 'list' }],
  ['a pair with a bad escape is dropped', 'GET', '/api/v1/pods', 'watch=%zz&watch=0', { verb: 'list' }],
  ['+ is a space in a query value', 'GET', '/api/v1/pods', 'watch=+0', { verb: 'watch' }],
  ['watch on a named get stays get', 'GET', '/api/v1/namespaces/a/pods/b', 'watch=1', { verb: 'get', name: 'b' }],
  ['watch on POST stays create', 'POST', '/api/v1/namespaces/a/pods', 'watch=1', { verb: 'create' }],
  // the legacy /watch/ forms
  ['legacy watch of a group resource', 'GET', '/apis/apps/v1/watch/namespaces/a/deployments', '', { verb: 'watch', apiGroup: 'apps', namespace: 'a', resource: 'deployments', name: '' }],
  ['legacy watch of one object', 'GET', '/apis/apps/v1/watch/namespaces/a/deployments/d', '', { verb: 'watch', resource: 'deployments', name: 'd' }],
  ['legacy watch with a method other than GET', 'POST', '/api/v1/watch/pods', '', { verb: 'watch', resource: 'pods' }],
  ['/api/v1/watch alone: Go returns an error', 'GET', '/api/v1/watch', '', { isResourceRequest: true, error: 'unable to determine kind and namespace from url' }],
  ['/api/v1/proxy alone: Go returns an error', 'GET', '/api/v1/proxy', '', { isResourceRequest: true, error: 'unable to determine kind and namespace from url' }],
  ['legacy proxy has no subresource', 'GET', '/api/v1/proxy/nodes/n/exec', '', { verb: 'proxy', resource: 'nodes', name: 'n', subresource: '' }],
  // proxies and streaming subresources
  ['service proxy', 'GET', '/api/v1/namespaces/a/services/s:80/proxy/x', '', { verb: 'get', resource: 'services', name: 's:80', subresource: 'proxy' }],
  ['node proxy', 'POST', '/api/v1/nodes/n/proxy', '', { verb: 'create', namespace: '', resource: 'nodes', name: 'n', subresource: 'proxy' }],
  ['exec over GET', 'GET', '/api/v1/namespaces/a/pods/p/exec', 'command=ls', { verb: 'get', resource: 'pods', name: 'p', subresource: 'exec' }],
  ['portforward', 'POST', '/api/v1/namespaces/a/pods/p/portforward', '', { verb: 'create', subresource: 'portforward' }],
  // namespaces as a resource
  ['namespaces/{ns}/pods is a namespaced resource', 'GET', '/api/v1/namespaces/kube-system/secrets', '', { namespace: 'kube-system', resource: 'secrets', verb: 'list' }],
  ['a namespace named like a subresource', 'GET', '/api/v1/namespaces/status', '', { namespace: 'status', resource: 'namespaces', name: 'status' }],
  ['namespace deletion', 'DELETE', '/api/v1/namespaces/a', '', { verb: 'delete', namespace: 'a', resource: 'namespaces', name: 'a' }],
  ['trailing slash is trimmed', 'GET', '/api/v1/namespaces/a/pods/', '', { verb: 'list', resource: 'pods', name: '' }],
  ['empty segment is a name (kproxy refuses such paths earlier)', 'GET', '/api/v1/namespaces/a/pods//exec', '', { resource: 'pods', name: '', subresource: 'exec', verb: 'list' }],
  ['unknown method on a resource has no verb', 'OPTIONS', '/api/v1/pods', '', { verb: '' }],
  // non-resource URLs
  ['/healthz', 'GET', '/healthz', '', { isResourceRequest: false, verb: 'get', path: '/healthz' }],
  ['/version with HEAD', 'HEAD', '/version', '', { isResourceRequest: false, verb: 'head' }],
  ['/openapi/v2', 'GET', '/openapi/v2', '', { isResourceRequest: false, verb: 'get' }],
  ['/openapi/v3/apis/apps/v1', 'GET', '/openapi/v3/apis/apps/v1', '', { isResourceRequest: false }],
  ['/apis discovery', 'GET', '/apis', '', { isResourceRequest: false, path: '/apis' }],
  ['/apis/apps/v1 discovery', 'GET', '/apis/apps/v1', '', { isResourceRequest: false }],
  ['/api/v1 discovery', 'GET', '/api/v1', '', { isResourceRequest: false }],
  ['the empty path is /', 'GET', '', '', { isResourceRequest: false, path: '/' }],
  ['POST to a non-resource URL', 'POST', '/logs/x', '', { isResourceRequest: false, verb: 'post' }],
  // names from field selectors
  ['metadata.name== selector', 'GET', '/api/v1/pods', 'fieldSelector=metadata.name%3D%3Dx', { name: 'x' }],
  ['metadata.name!= selector pins nothing', 'GET', '/api/v1/pods', 'fieldSelector=metadata.name!%3Dx', { name: '' }],
  ['escaped comma in the name', 'GET', '/api/v1/pods', 'fieldSelector=metadata.name%3Da%5C,b', { name: 'a,b' }],
  ['name with % is not a path segment name', 'GET', '/api/v1/pods', 'fieldSelector=metadata.name%3Da%25b', { name: '' }],
  ['name .. is not a path segment name', 'GET', '/api/v1/pods', 'fieldSelector=metadata.name%3D..', { name: '' }],
  ['sorted terms: the smaller name wins', 'GET', '/api/v1/pods', 'fieldSelector=metadata.name%3Db,metadata.name%3Da', { name: 'a' }],
  ['no name from a selector on deletecollection', 'DELETE', '/api/v1/namespaces/a/pods', 'fieldSelector=metadata.name%3Dx', { verb: 'deletecollection', name: '', fieldSelector: 'metadata.name=x' }],
  ['too many query parameters', 'GET', '/api/v1/pods', 'a&'.repeat(10_000) + 'watch=1', { error: 'more than 10000 query parameters' }],
];
for (const [what, method, path, query, want] of kproxyRows) {
  test(`requestInfo (kproxy): ${what}`, () => {
    const info = requestInfo(method, path, query);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(info[k as keyof RequestInfo], v, `${k} of ${method} ${path}?${query.slice(0, 60)}`);
    if (!('error' in want)) assert.equal(info.error, undefined);
  });
}

test('parseQuery: Go ParseQuery order, drops and repeats', () => {
  assert.deepEqual(
    [...parseQuery('a=1&b&a=2&&c=%41+B&d;=1&e=%G0&f==x').entries()],
    [
      ['a', ['1', '2']],
      ['b', ['']],
      ['c', ['A B']],
      ['f', ['=x']],
    ],
  );
});

test('queryBool: absent is false, only 0 and false spellings are false', () => {
  const rows: Array<[string[] | undefined, boolean]> = [
    [undefined, false],
    [[], false],
    [['0'], false],
    [['false'], false],
    [['FaLsE'], false],
    [['fal\u017fe'], false],
    [['fals'], true],
    [['falsee'], true],
    [[''], true],
    [['1'], true],
    [['no'], true],
  ];
  for (const [values, want] of rows) assert.equal(queryBool(values), want, JSON.stringify(values));
});

test('selectorName: parse failures give no name', () => {
  assert.equal(selectorName('metadata.name=a,foo'), undefined);
  assert.equal(selectorName('metadata.name=a\\'), undefined);
  assert.equal(selectorName('metadata.name=a\\x'), undefined);
  assert.equal(selectorName('metadata.name=a=b'), undefined);
  assert.equal(selectorName(''), undefined);
  assert.equal(selectorName('spec.nodeName=n,metadata.name=p'), 'p');
});
