// Differential rows (see harness.ts) for the filter flags: --reject-methods (also against an API
// server that accepts any method token), --accept-paths, a trailing comma in --reject-paths, an
// empty --accept-hosts, and --disable-filter.

import assert from 'node:assert/strict';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { CT_JSON, EXEC, FORBIDDEN, fwd, GET, HTTP10_RESPONSE, http, json, maskUpstreamHeaders, moved, NODE_PARSER_400, onlyUpstream, raw, TOKEN, upHeader, type Group, type Row } from './harness.js';

const rejectMethodRows: Row[] = [
  { name: 'GET allowed', send: GET('/api/v1/pods'), kubectl: fwd(200, '/api/v1/pods') },
  { name: 'POST rejected', send: http('POST', '/api/v1/namespaces/default/pods', CT_JSON, json({})), kubectl: FORBIDDEN },
  { name: 'PUT rejected', send: http('PUT', '/api/v1/namespaces/default/pods/foo', CT_JSON, json({})), kubectl: FORBIDDEN },
  { name: 'PATCH allowed', send: http('PATCH', '/api/v1/namespaces/default/pods/foo', ['Content-Type', 'application/merge-patch+json'], json({})), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo') },
  { name: 'DELETE allowed', send: http('DELETE', '/api/v1/namespaces/default/pods/foo'), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo') },
];

const anyMethodRows: Row[] = [
  { name: 'GET allowed', send: GET('/api/v1/pods'), kubectl: { ...fwd(200, '/api/v1/pods'), body: 'ok\n' } },
  { name: 'POST rejected', send: http('POST', '/api/v1/namespaces/default/pods', CT_JSON, json({})), kubectl: FORBIDDEN },
  {
    name: 'lower-case method post',
    send: raw('post /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}'),
    kubectl: { ...fwd(200, '/api/v1/namespaces/default/pods'), body: 'ok\n' },
    check: (o, who) => who === 'kubectl' && assert.equal(onlyUpstream(o).method, 'post'),
    kproxy: {
      why: "kubectl's regex is case-sensitive and Go keeps the method case, so `post` bypasses --reject-methods=POST and reaches the API server as `post`; Node's HTTP parser refuses the lower-case method with 400 before kproxy, so nothing reaches the upstream",
      expect: NODE_PARSER_400,
    },
  },
  {
    name: 'unknown method FOO',
    send: raw('FOO /api/v1/pods HTTP/1.1\r\nHost: localhost\r\n\r\n'),
    kubectl: { ...fwd(200, '/api/v1/pods'), body: 'ok\n' },
    check: (o, who) => who === 'kubectl' && assert.equal(onlyUpstream(o).method, 'FOO'),
    knownDifference: {
      why: 'kubectl forwards any method token (`FOO /api/v1/pods` reaches the API server, 200); Node\'s HTTP parser refuses methods it does not know, so kproxy answers `400 Bad Request` and forwards nothing (same cause as lower-case `post`)',
      expect: NODE_PARSER_400,
    },
  },
  {
    name: 'PROPFIND without a body (a method Node knows) forwarded',
    send: raw('PROPFIND /api/v1/pods HTTP/1.1\r\nHost: localhost\r\n\r\n'),
    kubectl: { ...fwd(200, '/api/v1/pods'), body: 'ok\n' },
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'content-length'), []),
    knownDifference: {
      why: 'a bodiless PROPFIND (no Content-Length from the client): kubectl forwards it without Content-Length; kproxy adds `Content-Length: 0` (undici adds it to a bodiless request whose method may carry a payload, as it does for POST)',
      expect: { ...fwd(200, '/api/v1/pods'), body: 'ok\n' },
      mask: maskUpstreamHeaders('content-length'),
      check: (p) => assert.deepEqual(upHeader(onlyUpstream(p), 'content-length'), ['0']),
    },
  },
];

const acceptPathRows: Row[] = [
  { name: 'default namespace accepted', send: GET('/api/v1/namespaces/default/pods'), kubectl: fwd(200, '/api/v1/namespaces/default/pods') },
  { name: '/api/v1/pods rejected', send: GET('/api/v1/pods'), kubectl: FORBIDDEN },
  { name: 'kube-system rejected', send: GET('/api/v1/namespaces/kube-system/pods'), kubectl: FORBIDDEN },
  { name: 'default/…/exec still rejected by --reject-paths', send: GET(EXEC), kubectl: FORBIDDEN },
  // default/%2e%2e/kube-system/secrets (golang/go#70130): test/security/golang-70130-encoded-dots.test.ts
];

const trailingCommaRows: Row[] = [
  { name: '/api/v1/pods rejected (empty piece matches all)', send: GET('/api/v1/pods'), kubectl: FORBIDDEN },
  { name: '/version rejected', send: GET('/version'), kubectl: FORBIDDEN },
  { name: '/ rejected', send: GET('/'), kubectl: FORBIDDEN },
  { name: '/api/v1/secrets rejected', send: GET('/api/v1/secrets'), kubectl: FORBIDDEN },
];

const emptyAcceptHostsRows: Row[] = [
  { name: 'Host 127.0.0.1:port rejected', send: GET('/api/v1/pods'), kubectl: FORBIDDEN },
  { name: 'Host localhost rejected', send: GET('/api/v1/pods', ['Host', 'localhost']), kubectl: FORBIDDEN },
  {
    name: 'HTTP/1.0 without Host rejected',
    send: raw('GET /version HTTP/1.0\r\n\r\n'),
    kubectl: FORBIDDEN,
    knownDifference: { ...HTTP10_RESPONSE, expect: FORBIDDEN },
  },
];

const disableFilterRows: Row[] = [
  { name: 'exec forwarded', send: GET(`${EXEC}?command=ls`), kubectl: fwd(200, `${EXEC}?command=ls`) },
  { name: 'attach forwarded', send: http('POST', '/api/v1/namespaces/default/pods/foo/attach?stdin=true', CT_JSON, json({})), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo/attach?stdin=true') },
  { name: 'Host: evil.com accepted', send: GET('/api/v1/pods', ['Host', 'evil.com']), kubectl: fwd(200, '/api/v1/pods') },
  {
    name: 'HTTP/1.0 without Host accepted',
    send: raw('GET /version HTTP/1.0\r\n\r\n'),
    kubectl: fwd(200, '/version'),
    knownDifference: { ...HTTP10_RESPONSE, expect: fwd(200, '/version') },
  },
  { name: '//api/v1/pods still 301 (ServeMux, not the filter)', send: GET('//api/v1/pods'), kubectl: moved('/api/v1/pods') },
];

export const rejectMethods: Group = { name: '--reject-methods=POST,PUT', flags: ['--reject-methods=POST,PUT'], rows: rejectMethodRows };

export const rejectMethodsAnyMethod: Group = {
  name: '--reject-methods=POST against an API server that accepts any method',
  flags: ['--reject-methods=POST'],
  upstream: (c) => c.rawUp,
  kubeconfig: (c) => writeKubeconfig(c.dir.path, { server: c.rawUp.url, caData: c.pki.ca, token: TOKEN, fileName: 'raw.kubeconfig' }),
  rows: anyMethodRows,
};

export const acceptPaths: Group = { name: "--accept-paths='^/api/v1/namespaces/default/'", flags: ['--accept-paths=^/api/v1/namespaces/default/'], rows: acceptPathRows };

export const rejectPathsTrailingComma: Group = { name: "--reject-paths='^/api/v1/secrets,'", flags: ['--reject-paths=^/api/v1/secrets,'], rows: trailingCommaRows };

export const emptyAcceptHosts: Group = { name: "--accept-hosts=''", flags: ['--accept-hosts='], rows: emptyAcceptHostsRows };

export const disableFilter: Group = { name: '--disable-filter', flags: ['--disable-filter'], rows: disableFilterRows };
