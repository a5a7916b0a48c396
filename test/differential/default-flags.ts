// Differential rows (see harness.ts) for kproxy started with default flags: methods and bodies, the
// default reject list, Host variants, ServeMux cleaning and the decoded path the filter sees,
// request forms node:http will not send, responses, request headers and upgrades.

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { bigBody, bigSha256, GZIP_DOCUMENT, podList } from '../helpers/upstream.js';
import { CLIENT_TOKEN, CT_JSON, EXEC, FORBIDDEN, fwd, GET, header, HTTP10_RESPONSE, http, json, KPROXY_UA, KUBECTL_UA, maskUpstreamHeaders, MiB, moved, onlyUpstream, raw, TOKEN, upHeader, type Group, type Row } from './harness.js';

const defaultRows: Row[] = [
  // ordinary methods and bodies
  { name: 'GET /api/v1/pods', send: GET('/api/v1/pods'), kubectl: { ...fwd(200, '/api/v1/pods'), body: JSON.stringify(podList()) } },
  { name: 'GET namespaced list', send: GET('/api/v1/namespaces/default/pods'), kubectl: fwd(200, '/api/v1/namespaces/default/pods') },
  { name: 'GET /version', send: GET('/version'), kubectl: fwd(200, '/version') },
  { name: 'GET / (root)', send: GET('/'), kubectl: fwd(200, '/') },
  {
    name: 'HEAD /api/v1/pods',
    send: http('HEAD', '/api/v1/pods'),
    kubectl: { ...fwd(200, '/api/v1/pods'), body: '' },
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'accept-encoding'), []),
    knownDifference: {
      why: 'kubectl sends no Connection header upstream and keeps the connection; kproxy sends `Connection: close` on a HEAD (undici closes the pooled API-server connection after every HEAD, so the next request pays a new TLS handshake)',
      expect: { ...fwd(200, '/api/v1/pods'), body: '' },
      mask: maskUpstreamHeaders('connection'),
      check: (p) => assert.deepEqual(upHeader(onlyUpstream(p), 'connection'), ['close']),
    },
  },
  {
    name: 'GET with Range: no Accept-Encoding added',
    send: GET('/gzip', ['Range', 'bytes=0-9']),
    kubectl: { ...fwd(200, '/gzip'), body: JSON.stringify(GZIP_DOCUMENT) },
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'accept-encoding'), []),
  },
  {
    name: 'POST without a body (the client sends an empty chunked body)',
    send: http('POST', '/api/v1/namespaces/default/pods'),
    kubectl: fwd(200, '/api/v1/namespaces/default/pods'),
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'transfer-encoding'), ['chunked']),
    knownDifference: {
      why: 'the client sends `Transfer-Encoding: chunked` with an empty body: kubectl forwards it as `Transfer-Encoding: chunked` (empty); kproxy forwards `Content-Length: 0` (same empty body, different framing)',
      expect: fwd(200, '/api/v1/namespaces/default/pods'),
      mask: maskUpstreamHeaders('transfer-encoding', 'content-length'),
      check: (p) => {
        assert.deepEqual(upHeader(onlyUpstream(p), 'content-length'), ['0']);
        assert.deepEqual(upHeader(onlyUpstream(p), 'transfer-encoding'), []);
      },
    },
  },
  { name: 'POST JSON body', send: http('POST', '/api/v1/namespaces/default/pods', CT_JSON, json({ kind: 'Pod', metadata: { name: 'p' } })), kubectl: fwd(200, '/api/v1/namespaces/default/pods') },
  { name: 'PUT JSON body', send: http('PUT', '/api/v1/namespaces/default/pods/foo', CT_JSON, json({ kind: 'Pod', metadata: { name: 'foo' } })), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo') },
  {
    name: 'PATCH merge-patch body',
    send: http('PATCH', '/api/v1/namespaces/default/pods/foo', ['Content-Type', 'application/merge-patch+json'], json({ metadata: { labels: { a: 'b' } } })),
    kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo'),
  },
  { name: 'DELETE without body', send: http('DELETE', '/api/v1/namespaces/default/pods/foo'), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo') },
  {
    name: 'DELETE with DeleteOptions body',
    send: http('DELETE', '/api/v1/namespaces/default/pods/foo', CT_JSON, json({ kind: 'DeleteOptions', gracePeriodSeconds: 0 })),
    kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo'),
  },
  { name: 'POST with Content-Length: 0', send: http('POST', '/api/v1/namespaces/default/pods', ['Content-Length', '0']), kubectl: fwd(200, '/api/v1/namespaces/default/pods') },
  { name: 'OPTIONS /api/v1/pods (forwarded)', send: http('OPTIONS', '/api/v1/pods'), kubectl: fwd(200, '/api/v1/pods') },
  {
    name: 'POST 1 MiB upload (Content-Length)',
    send: http('POST', '/upload', ['Content-Type', 'application/octet-stream'], () => bigBody(MiB)),
    kubectl: { ...fwd(200, '/upload'), body: JSON.stringify({ bodyLength: MiB, bodySha256: bigSha256(MiB) }) },
  },
  {
    name: 'PUT 300 KB upload (chunked)',
    send: http('PUT', '/upload', ['Content-Type', 'application/octet-stream'], () => Readable.from([bigBody(300_000)])),
    kubectl: { ...fwd(200, '/upload'), body: JSON.stringify({ bodyLength: 300_000, bodySha256: bigSha256(300_000) }) },
  },
  {
    name: 'GET /big 3 MB download (Content-Length)',
    send: GET('/big?size=3000000'),
    kubectl: fwd(200, '/big?size=3000000'),
    check: (o) => assert.ok(o.body.equals(bigBody(3_000_000)), 'body is /big byte for byte'),
  },
  {
    name: 'GET /big 500 KB download (chunked upstream)',
    send: GET('/big?size=500000&chunked=1'),
    kubectl: fwd(200, '/big?size=500000&chunked=1'),
    check: (o) => assert.ok(o.body.equals(bigBody(500_000)), 'body is /big byte for byte'),
  },

  // the default reject list
  { name: 'exec → 403', send: GET(`${EXEC}?command=ls&stdout=true`), kubectl: FORBIDDEN },
  { name: 'attach → 403', send: http('POST', '/api/v1/namespaces/default/pods/foo/attach?stdin=true'), kubectl: FORBIDDEN },
  { name: 'pod named attachfoo (accepted)', send: GET('/api/v1/namespaces/default/pods/attachfoo'), kubectl: fwd(200, '/api/v1/namespaces/default/pods/attachfoo') },
  { name: 'pod named execfoo (accepted)', send: GET('/api/v1/namespaces/default/pods/execfoo'), kubectl: fwd(200, '/api/v1/namespaces/default/pods/execfoo') },
  { name: 'portforward (accepted)', send: GET('/api/v1/namespaces/default/pods/foo/portforward?ports=80'), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo/portforward?ports=80') },
  {
    name: 'nodes/<n>/proxy kubelet exec path with query (accepted)',
    send: GET('/api/v1/nodes/node-1/proxy/exec/default/foo/main?command=ls&command=-l'),
    kubectl: fwd(200, '/api/v1/nodes/node-1/proxy/exec/default/foo/main?command=ls&command=-l'),
  },
  {
    name: 'services/<s>/proxy path with query',
    send: GET('/api/v1/namespaces/default/services/https:web:443/proxy/ui/?tab=a%2Fb&x=1'),
    kubectl: fwd(200, '/api/v1/namespaces/default/services/https:web:443/proxy/ui/?tab=a%2Fb&x=1'),
  },
  { name: 'ephemeralcontainers (accepted)', send: http('PATCH', '/api/v1/namespaces/default/pods/foo/ephemeralcontainers', ['Content-Type', 'application/strategic-merge-patch+json'], json({})), kubectl: fwd(200, '/api/v1/namespaces/default/pods/foo/ephemeralcontainers') },

  // Host variants
  { name: 'Host: localhost', send: GET('/api/v1/pods', ['Host', 'localhost']), kubectl: fwd(200, '/api/v1/pods') },
  { name: 'Host: localhost:port', send: GET('/api/v1/pods', ['Host', 'localhost:{port}']), kubectl: fwd(200, '/api/v1/pods') },
  { name: 'Host: 127.0.0.1:port', send: GET('/api/v1/pods', ['Host', '127.0.0.1:{port}']), kubectl: fwd(200, '/api/v1/pods') },
  { name: 'Host: evil.com', send: GET('/api/v1/pods', ['Host', 'evil.com']), kubectl: FORBIDDEN },
  { name: 'Host: localhost.evil.com', send: GET('/api/v1/pods', ['Host', 'localhost.evil.com']), kubectl: FORBIDDEN },
  { name: 'Host: LOCALHOST (case-sensitive)', send: GET('/api/v1/pods', ['Host', 'LOCALHOST']), kubectl: FORBIDDEN },
  { name: 'Host: localhost.:port (trailing dot)', send: GET('/api/v1/pods', ['Host', 'localhost.:{port}']), kubectl: FORBIDDEN },
  { name: 'Host: [::1]', send: GET('/api/v1/pods', ['Host', '[::1]']), kubectl: fwd(200, '/api/v1/pods') },
  // Host: [::1]:port (kubernetes#77496): test/security/k8s-77496-ipv6-host.test.ts

  // ServeMux cleaning and the decoded path the filter sees
  { name: '//api/v1/pods → 301', send: GET('//api/v1/pods'), kubectl: moved('/api/v1/pods') },
  { name: '/api/v1/./pods?x=1 → 301 (query kept)', send: GET('/api/v1/./pods?x=1'), kubectl: moved('/api/v1/pods?x=1') },
  { name: '/apis/../api/…/exec → 301', send: GET(`/apis/../api/v1/namespaces/default/pods/foo/exec`), kubectl: moved(EXEC) },
  { name: 'POST //api/v1/pods → 301 without body', send: http('POST', '//api/v1/pods', CT_JSON, json({})), kubectl: moved('/api/v1/pods', 'POST') },
  { name: 'pods/foo%2Fexec → 403', send: GET('/api/v1/namespaces/default/pods/foo%2Fexec'), kubectl: FORBIDDEN },
  { name: 'pods/foo/ex%65c → 403', send: GET('/api/v1/namespaces/default/pods/foo/ex%65c'), kubectl: FORBIDDEN },
  { name: '/%61pi/…/exec → 403', send: GET('/%61pi/v1/namespaces/default/pods/foo/exec'), kubectl: FORBIDDEN },
  // /apis/%2e%2e/api/…/exec (golang/go#70130): test/security/golang-70130-encoded-dots.test.ts
  { name: 'a%20b in the path (raw target upstream)', send: GET('/api/v1/namespaces/a%20b/pods'), kubectl: fwd(200, '/api/v1/namespaces/a%20b/pods') },
  { name: 'backslash in the path (re-escaped %5C)', send: GET('/api/v1/namespaces/a\\b/pods'), kubectl: fwd(200, '/api/v1/namespaces/a%5Cb/pods') },
  { name: '%2F kept in the path', send: GET('/api/v1/namespaces/a%2Fb/pods'), kubectl: fwd(200, '/api/v1/namespaces/a%2Fb/pods') },
  {
    name: 'byte-exact query',
    send: GET('/api/v1/pods?labelSelector=app%3Dweb%2Ctier!%3Dfe&fieldSelector=a=b&x=%2F&y=a+b&z=%C3%A9&empty=&flag&dup=1&dup=2'),
    kubectl: fwd(200, '/api/v1/pods?labelSelector=app%3Dweb%2Ctier!%3Dfe&fieldSelector=a=b&x=%2F&y=a+b&z=%C3%A9&empty=&flag&dup=1&dup=2'),
  },
  { name: 'query with ; and a bad escape', send: GET('/api/v1/pods?b=2;a=1&c=%zz'), kubectl: fwd(200, '/api/v1/pods?b=2;a=1&c=%zz') },
  { name: 'empty query /api/v1/pods? (the ? is kept)', send: GET('/api/v1/pods?'), kubectl: fwd(200, '/api/v1/pods?') },

  // request forms node:http will not send
  {
    name: 'absolute-form target wins over Host: evil.com',
    send: raw('GET http://localhost:{port}/api/v1/pods?x=1 HTTP/1.1\r\nHost: evil.com\r\n\r\n'),
    kubectl: fwd(200, '/api/v1/pods?x=1'),
  },
  { name: 'absolute-form evil authority, Host: localhost', send: raw('GET http://evil.com/api/v1/pods HTTP/1.1\r\nHost: localhost\r\n\r\n'), kubectl: FORBIDDEN },
  {
    name: 'HTTP/1.0 without Host → 403',
    send: raw('GET /api/v1/pods HTTP/1.0\r\n\r\n'),
    kubectl: FORBIDDEN,
    knownDifference: { ...HTTP10_RESPONSE, expect: FORBIDDEN },
  },
  {
    name: 'HTTP/1.0 with Host: localhost',
    send: raw('GET /api/v1/pods HTTP/1.0\r\nHost: localhost\r\n\r\n'),
    kubectl: fwd(200, '/api/v1/pods'),
    knownDifference: { ...HTTP10_RESPONSE, expect: fwd(200, '/api/v1/pods') },
  },
  {
    name: 'HTTP/1.1 without Host → 400',
    send: raw('GET /api/v1/pods HTTP/1.1\r\n\r\n'),
    kubectl: { status: 400, upstream: [], body: '400 Bad Request: missing required Host header' },
    check: (o, who) => who === 'kubectl' && assert.equal(o.reason, 'Bad Request: missing required Host header'),
  },
  {
    name: 'duplicate Host → 400',
    send: raw('GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n'),
    kubectl: { status: 400, upstream: [], body: '400 Bad Request' },
  },
  {
    name: 'empty Host on HTTP/1.1',
    send: raw('GET /api/v1/pods HTTP/1.1\r\nHost:\r\n\r\n'),
    kubectl: FORBIDDEN,
  },
  { name: 'OPTIONS * → 200 locally', send: raw('OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n'), kubectl: { status: 200, upstream: [], body: '' } },
  { name: 'target without leading slash → 400', send: raw('GET api/v1/pods HTTP/1.1\r\nHost: localhost\r\n\r\n'), kubectl: { status: 400, upstream: [] } },
  { name: 'CONNECT → 301 to /', send: raw('CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n'), kubectl: { status: 301, upstream: [], location: '/' } },

  // responses
  { name: '/status/404 relayed', send: GET('/status/404'), kubectl: { ...fwd(404, '/status/404'), body: 'status 404\n' } },
  { name: '/status/500 relayed', send: GET('/status/500'), kubectl: { ...fwd(500, '/status/500'), body: 'status 500\n' } },
  { name: '/status/204 relayed', send: GET('/status/204'), kubectl: { ...fwd(204, '/status/204'), body: '' } },
  { name: '/redirect: Location unchanged, not followed', send: GET('/redirect'), kubectl: { ...fwd(302, '/redirect'), body: 'found\n' }, check: (o) => assert.match(header(o, 'location')[0] ?? '', /^https:\/\/127\.0\.0\.1:\d+\/api\/v1\/elsewhere$/) },
  {
    name: '/hop: hop-by-hop response headers dropped, 2×Set-Cookie and 2×Warning kept',
    send: GET('/hop'),
    kubectl: fwd(200, '/hop'),
    check: (o) => {
      assert.deepEqual(header(o, 'x-custom'), [], 'Connection-listed X-Custom dropped');
      assert.ok(!header(o, 'keep-alive').includes('timeout=5'), "upstream's Keep-Alive dropped");
      assert.ok(!header(o, 'connection').includes('x-custom'), "upstream's Connection dropped");
      assert.deepEqual(header(o, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/']);
      assert.equal(header(o, 'warning').length, 2);
    },
  },
  {
    name: '/cors: CORS headers passed through',
    send: GET('/cors'),
    kubectl: fwd(200, '/cors'),
    check: (o) => assert.deepEqual(header(o, 'access-control-allow-origin'), ['*']),
  },
  {
    name: '/cors from another origin: kubectl forwards it, kproxy refuses it',
    send: GET('/cors', ['Origin', 'http://evil.example']),
    kubectl: fwd(200, '/cors'),
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'origin'), ['http://evil.example']),
    kproxy: {
      why: 'kubectl never checks Origin, so any web page can read through it (kubernetes#8871, kubetail PR #6); kproxy refuses browser requests from other origins (--allow-origins admits named ones)',
      expect: { status: 403, upstream: [], body: 'Forbidden: cross-origin request from http://evil.example refused (kproxy --allow-origins admits named origins)\n' },
    },
  },
  {
    name: '/trailers: response trailer relayed',
    send: GET('/trailers'),
    kubectl: { ...fwd(200, '/trailers'), body: 'body with a trailer\n' },
    check: (o, who) => who === 'kubectl' && assert.equal(o.trailers['x-body-sha256']?.length, 1),
  },

  // request headers
  {
    name: 'Connection: x-foo + X-Foo → X-Foo not forwarded',
    send: GET('/api/v1/pods', ['Connection', 'x-foo', 'X-Foo', 'bar', 'X-Bar', 'kept']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => {
      const r = onlyUpstream(o);
      assert.deepEqual(upHeader(r, 'x-foo'), []);
      assert.deepEqual(upHeader(r, 'x-bar'), ['kept']);
    },
  },
  {
    name: 'hop-by-hop request headers dropped (Keep-Alive, Proxy-*, Te: gzip, Trailer, Upgrade)',
    send: raw(
      'GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\nTe: gzip\r\nTrailer: X-T\r\nUpgrade: foo/1\r\nX-Kept: 1\r\n\r\n',
    ),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => {
      const r = onlyUpstream(o);
      for (const h of ['keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'upgrade']) assert.deepEqual(upHeader(r, h), [], h);
    },
  },
  { name: 'Te: trailers kept', send: GET('/api/v1/pods', ['Te', 'trailers']), kubectl: fwd(200, '/api/v1/pods'), check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'te'), ['trailers']) },
  {
    name: 'X-Forwarded-For: 1.2.3.4 → appended',
    send: GET('/api/v1/pods', ['X-Forwarded-For', '1.2.3.4']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'x-forwarded-for'), ['1.2.3.4, 127.0.0.1']),
  },
  {
    name: 'two X-Forwarded-For lines → joined and appended',
    send: GET('/api/v1/pods', ['X-Forwarded-For', '1.2.3.4', 'X-Forwarded-For', '5.6.7.8']),
    kubectl: fwd(200, '/api/v1/pods'),
  },
  {
    name: 'no client X-Forwarded-For → 127.0.0.1; XFH/XFP/Forwarded/Cookie/Referer passed through',
    send: GET('/api/v1/pods', ['X-Forwarded-Host', 'a.example', 'X-Forwarded-Proto', 'https', 'Forwarded', 'for=9.9.9.9', 'Cookie', 'c=1', 'Referer', 'http://r.example/']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'x-forwarded-for'), ['127.0.0.1']),
  },
  {
    name: 'client Authorization forwarded instead of the token',
    send: GET('/api/v1/pods', ['Authorization', `Bearer ${CLIENT_TOKEN}`]),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'authorization'), [`Bearer ${CLIENT_TOKEN}`]),
  },
  {
    name: 'client Authorization with a bad token → upstream 401 relayed',
    send: GET('/api/v1/pods', ['Authorization', 'Bearer wrong']),
    kubectl: fwd(401, '/api/v1/pods'),
  },
  {
    name: 'no client Authorization → kubeconfig token',
    send: GET('/api/v1/pods'),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'authorization'), [`Bearer ${TOKEN}`]),
  },
  {
    name: 'client Impersonate-User/Group passed through (no --as)',
    send: GET('/api/v1/pods', ['Impersonate-User', 'bob', 'Impersonate-Group', 'admins', 'Impersonate-Extra-Scopes', 'x']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'impersonate-user'), ['bob']),
  },
  {
    name: '/gzip without client Accept-Encoding → requested and decoded',
    send: GET('/gzip'),
    kubectl: { ...fwd(200, '/gzip'), body: JSON.stringify(GZIP_DOCUMENT) },
    check: (o) => {
      assert.deepEqual(upHeader(onlyUpstream(o), 'accept-encoding'), ['gzip']);
      assert.deepEqual(header(o, 'content-encoding'), []);
    },
  },
  {
    name: '/gzip with client Accept-Encoding: gzip → passed through compressed',
    send: GET('/gzip', ['Accept-Encoding', 'gzip']),
    kubectl: fwd(200, '/gzip'),
    check: (o) => assert.deepEqual(header(o, 'content-encoding'), ['gzip']),
  },
  {
    name: '/gzip with client Accept-Encoding: identity → not compressed',
    send: GET('/gzip', ['Accept-Encoding', 'identity']),
    kubectl: { ...fwd(200, '/gzip'), body: JSON.stringify(GZIP_DOCUMENT) },
  },
  {
    name: 'client User-Agent kept',
    send: GET('/api/v1/pods', ['User-Agent', 'diff-client/1.0']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'user-agent'), ['diff-client/1.0']),
  },
  {
    name: 'no client User-Agent → each proxy sends its own',
    send: GET('/api/v1/pods'),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o, who) => assert.match(upHeader(onlyUpstream(o), 'user-agent')[0] ?? '', who === 'kubectl' ? KUBECTL_UA : KPROXY_UA),
  },
  {
    name: 'Expect: 100-continue POST',
    send: http('POST', '/upload', ['Expect', '100-continue', 'Content-Type', 'application/octet-stream'], () => bigBody(70_000)),
    kubectl: { ...fwd(200, '/upload'), body: JSON.stringify({ bodyLength: 70_000, bodySha256: bigSha256(70_000) }) },
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'expect'), ['100-continue']),
    knownDifference: {
      why: 'kubectl forwards `Expect: 100-continue` to the API server; kproxy drops it (the body is forwarded intact either way)',
      expect: { ...fwd(200, '/upload'), body: JSON.stringify({ bodyLength: 70_000, bodySha256: bigSha256(70_000) }) },
      mask: maskUpstreamHeaders('expect'),
      check: (p) => assert.deepEqual(upHeader(onlyUpstream(p), 'expect'), []),
    },
  },
  {
    name: 'Connection: close from the client is not forwarded',
    send: GET('/api/v1/pods', ['Connection', 'close']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => assert.ok(!upHeader(onlyUpstream(o), 'connection').includes('close'), "the client's Connection: close is not forwarded"),
  },

  // upgrades (raw bytes: the proxy hands the connection over)
  {
    name: 'WebSocket upgrade on portforward → 101 relayed',
    send: raw(
      'GET /api/v1/namespaces/default/pods/foo/portforward?ports=80 HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n',
    ),
    kubectl: fwd(101, '/api/v1/namespaces/default/pods/foo/portforward?ports=80'),
    check: (o) => {
      assert.match(header(o, 'connection').join(', '), /upgrade/i);
      assert.deepEqual(header(o, 'sec-websocket-accept'), ['s3pPLMBiTxaQ9kYGzzhZRbK+xOo=']);
      assert.equal(onlyUpstream(o).upgrade, true);
    },
  },
  {
    name: 'SPDY upgrade answered 403 upstream → relayed',
    send: raw('POST /upgrade/status/403 HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n'),
    kubectl: { ...fwd(403, '/upgrade/status/403'), body: 'denied\n' },
  },
  {
    name: 'WebSocket upgrade on exec → 403 (filter first)',
    send: raw(`GET ${EXEC}?command=sh HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    kubectl: FORBIDDEN,
  },
  {
    name: 'h2c upgrade answered 200 upstream → 500',
    send: raw('GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n'),
    kubectl: { status: 500, upstream: ['/api/v1/pods'], body: 'invalid upgrade response: status code 200\n' },
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'http2-settings'), ['AAMAAABkAAQCAAAAAAIAAAAA']),
    knownDifference: {
      why: 'on the upgrade path kubectl forwards the client headers verbatim (`Connection: Upgrade, HTTP2-Settings` and `HTTP2-Settings: …`); kproxy removes Connection-listed headers there too and sends `Connection: Upgrade` without HTTP2-Settings (reference §7 row 18 suggests this is intended: "do it on the upgrade path too")',
      expect: { status: 500, upstream: ['/api/v1/pods'], body: 'invalid upgrade response: status code 200\n' },
      mask: maskUpstreamHeaders('connection', 'http2-settings'),
      check: (p) => {
        assert.deepEqual(upHeader(onlyUpstream(p), 'http2-settings'), []);
        assert.deepEqual(upHeader(onlyUpstream(p), 'connection'), ['Upgrade']);
      },
    },
  },
  {
    name: 'WebSocket upgrade with Connection: Upgrade, X-Foo + X-Foo',
    send: raw(
      'GET /api/v1/namespaces/default/pods/foo/portforward HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, X-Foo\r\nX-Foo: bar\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    ),
    kubectl: fwd(101, '/api/v1/namespaces/default/pods/foo/portforward'),
    check: (o, who) => who === 'kubectl' && assert.deepEqual(upHeader(onlyUpstream(o), 'x-foo'), ['bar']),
    knownDifference: {
      why: 'on the upgrade path kubectl forwards the client headers verbatim (`Connection: Upgrade, X-Foo` and `X-Foo: bar` reach the API server); kproxy drops X-Foo and sends `Connection: Upgrade` (reference §7 row 18 suggests this is intended)',
      expect: fwd(101, '/api/v1/namespaces/default/pods/foo/portforward'),
      mask: maskUpstreamHeaders('connection', 'x-foo'),
      check: (p) => {
        assert.deepEqual(upHeader(onlyUpstream(p), 'x-foo'), []);
        assert.deepEqual(upHeader(onlyUpstream(p), 'connection'), ['Upgrade']);
      },
    },
  },
  {
    name: 'Content-Type, Accept and custom headers passed through (casing and repeats)',
    send: GET('/api/v1/pods', ['Accept', 'application/json;as=Table;v=v1;g=meta.k8s.io', 'x-lower', 'a', 'X-Multi', '1', 'X-Multi', '2']),
    kubectl: fwd(200, '/api/v1/pods'),
  },
];

export const defaultFlags: Group = { name: 'default flags', flags: [], rows: defaultRows };
