// Admission as a table: Go's Host checks, routing answers, the filter's verdicts and what is
// forwarded, all from plain request data (no sockets). Rows marked "observed" match kubectl
// 1.32; rows marked "kproxy" are deliberate deviations (README, "Where kproxy differs").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAccessToken } from '../src/access-token.js';
import { admit, type AdmitOptions, type RequestHead } from '../src/admit.js';
import { parseAllowOrigins } from '../src/browser.js';
import {
  compileFilterRules,
  DEFAULT_HOST_ACCEPT_RE,
  DEFAULT_METHOD_REJECT_RE,
  DEFAULT_PATH_ACCEPT_RE,
  DEFAULT_PATH_REJECT_RE,
} from '../src/filter/filter.js';
import { loadRules } from '../src/rules/load.js';

const filter = compileFilterRules({
  acceptPaths: DEFAULT_PATH_ACCEPT_RE,
  rejectPaths: DEFAULT_PATH_REJECT_RE,
  acceptHosts: DEFAULT_HOST_ACCEPT_RE,
  rejectMethods: DEFAULT_METHOD_REJECT_RE,
});
const filtered: AdmitOptions = { mounts: { apiPrefix: '/' }, filter };
const unfiltered: AdmitOptions = { mounts: { apiPrefix: '/' }, filter: undefined };
const withStatic: AdmitOptions = { mounts: { apiPrefix: '/', staticPrefix: '/static/' }, filter };
const appended: AdmitOptions = { mounts: { apiPrefix: '/', serverPath: '/base' }, filter };
const browser: AdmitOptions = { ...filtered, browser: parseAllowOrigins('http://localhost:3000') };
const token = loadAccessToken('auto');
const tokened: AdmitOptions = { ...browser, mounts: { apiPrefix: '/', staticPrefix: '/ui/' }, accessToken: token };
const WS = ['Host', 'localhost:8001', 'Upgrade', 'websocket', 'Connection', 'Upgrade'];
const ruleFlags = { readOnly: false, allow: [] as string[], deny: [] as string[], rulesFile: '' };
const readOnly: AdmitOptions = { mounts: { apiPrefix: '/' }, filter, rules: loadRules({ ...ruleFlags, readOnly: true }) };
const readOnlyUnfiltered: AdmitOptions = { mounts: { apiPrefix: '/' }, filter: undefined, rules: loadRules({ ...ruleFlags, readOnly: true }) };
const readOnlyCustom: AdmitOptions = { mounts: { apiPrefix: '/custom/', serverPath: '/base' }, filter, rules: loadRules({ ...ruleFlags, readOnly: true }) };
const listOnly: AdmitOptions = { mounts: { apiPrefix: '/' }, filter, rules: loadRules({ ...ruleFlags, allow: ['list pods'] }) };

function head(method: string, url: string, headers: string[] = ['Host', 'localhost:8001'], httpVersion = '1.1', upgrade = false): RequestHead {
  return { method, url, rawHeaders: headers, httpVersion, upgrade };
}

/** What a row expects: the kind, then the status (answers), target (forward) or path (static), and the decision. */
type Want =
  | { kind: 'answer'; status: number; bare?: boolean; decision: string; rule?: string; body?: string }
  | { kind: 'forward'; target: string; decision: string; rule?: string }
  | { kind: 'static'; path: string; decision: string };

const rows: Array<[string, RequestHead, AdmitOptions, Want]> = [
  ['plain list is forwarded', head('GET', '/api/v1/pods'), filtered, { kind: 'forward', target: '/api/v1/pods', decision: 'accept' }],
  ['query kept byte-exact', head('GET', '/api/v1/pods?watch=1&x=%2F'), filtered, { kind: 'forward', target: '/api/v1/pods?watch=1&x=%2F', decision: 'accept' }],
  ['exec refused by the default reject-paths (observed)', head('POST', '/api/v1/namespaces/d/pods/p/exec'), filtered, { kind: 'answer', status: 403, decision: 'reject', rule: '^/api/.*/pods/.*/exec', body: 'Forbidden\n' }],
  ['attach refused (observed)', head('GET', '/api/v1/namespaces/d/pods/p/attach'), filtered, { kind: 'answer', status: 403, decision: 'reject', rule: '^/api/.*/pods/.*/attach' }],
  ['foreign Host refused (observed)', head('GET', '/api/v1/pods', ['Host', 'evil.example:8001']), filtered, { kind: 'answer', status: 403, decision: 'reject', rule: 'no --accept-hosts pattern matched' }],
  ['kproxy: [::1] Host accepted (kubernetes#77496)', head('GET', '/api/v1/pods', ['Host', '[::1]:8001']), filtered, { kind: 'forward', target: '/api/v1/pods', decision: 'accept' }],
  ['absolute-form authority wins over Host, as in Go', head('GET', 'http://evil.example/api/v1/pods', ['Host', 'localhost']), filtered, { kind: 'answer', status: 403, decision: 'reject', rule: 'no --accept-hosts pattern matched' }],
  ['absolute-form localhost accepted', head('GET', 'http://localhost:8001/api/v1/pods', ['Host', 'evil.example']), filtered, { kind: 'forward', target: '/api/v1/pods', decision: 'accept' }],
  ['missing Host on HTTP/1.1 is Go\'s bare 400 (observed)', head('GET', '/api/v1/pods', []), filtered, { kind: 'answer', status: 400, bare: true, decision: 'local', body: '400 Bad Request: missing required Host header' }],
  ['missing Host on HTTP/1.0 matches no host pattern', head('GET', '/api/v1/pods', [], '1.0'), filtered, { kind: 'answer', status: 403, decision: 'reject', rule: 'no --accept-hosts pattern matched' }],
  ['two Host headers are Go\'s bare 400 (observed)', head('GET', '/api/v1/pods', ['Host', 'localhost', 'host', 'localhost']), filtered, { kind: 'answer', status: 400, bare: true, decision: 'local' }],
  ['Host checked before redirects (observed)', head('GET', '//api', []), filtered, { kind: 'answer', status: 400, bare: true, decision: 'local' }],
  ['double slash redirected (observed)', head('GET', '//api/v1/pods'), filtered, { kind: 'answer', status: 301, decision: 'local' }],
  ['kproxy: encoded dot segments are 400', head('GET', '/apis/%2e%2e/api/v1/namespaces/d/pods/p/exec'), filtered, { kind: 'answer', status: 400, decision: 'local', body: '400 Bad Request: path contains encoded dot segments or empty segments\n' }],
  ['OPTIONS * answered locally', head('OPTIONS', '*'), filtered, { kind: 'answer', status: 200, decision: 'local' }],
  ['outside the prefix is 404 (observed)', head('GET', '/x'), { mounts: { apiPrefix: '/api/' }, filter }, { kind: 'answer', status: 404, decision: 'local', body: '404 page not found\n' }],
  ['--disable-filter forwards exec', head('POST', '/api/v1/namespaces/d/pods/p/exec'), unfiltered, { kind: 'forward', target: '/api/v1/namespaces/d/pods/p/exec', decision: 'unfiltered' }],
  ['--disable-filter forwards any Host', head('GET', '/api/v1/pods', ['Host', 'evil.example']), unfiltered, { kind: 'forward', target: '/api/v1/pods', decision: 'unfiltered' }],
  ['kproxy: static files check Host (DNS rebinding)', head('GET', '/static/index.html', ['Host', 'evil.example']), withStatic, { kind: 'answer', status: 403, decision: 'reject', rule: 'no --accept-hosts pattern matched' }],
  ['static files with a local Host', head('GET', '/static/a/b.txt'), withStatic, { kind: 'static', path: '/a/b.txt', decision: 'accept' }],
  ['--append-server-path prefixes the target only', head('GET', '/api/v1/pods'), appended, { kind: 'forward', target: '/base/api/v1/pods', decision: 'accept' }],
  ['kproxy: junk after the port is a bare 400', head('GET', '/api/v1/pods', ['Host', 'localhost:8001junk']), filtered, { kind: 'answer', status: 400, bare: true, decision: 'local', body: '400 Bad Request: malformed Host header' }],
  ['kproxy: a Host list is a bare 400', head('GET', '/api/v1/pods', ['Host', 'localhost, evil.example']), filtered, { kind: 'answer', status: 400, bare: true, decision: 'local' }],
  ['kproxy: userinfo in an absolute-form target is a bare 400', head('GET', 'http://evil@localhost:8001/api/v1/pods'), filtered, { kind: 'answer', status: 400, bare: true, decision: 'local' }],
  ['kproxy: malformed Host refused with --disable-filter too', head('GET', '/api/v1/pods', ['Host', 'a b']), unfiltered, { kind: 'answer', status: 400, bare: true, decision: 'local' }],
  ['kproxy: an upgrade with Content-Length is 400', head('GET', '/api/v1/pods?watch=1', [...WS, 'Content-Length', '5'], '1.1', true), filtered, { kind: 'answer', status: 400, decision: 'local', body: '400 Bad Request: an upgrade request cannot carry a body\n' }],
  ['kproxy: an upgrade with Transfer-Encoding is 400', head('GET', '/api/v1/pods?watch=1', [...WS, 'Transfer-Encoding', 'chunked'], '1.1', true), filtered, { kind: 'answer', status: 400, decision: 'local' }],
  ['an upgrade with Content-Length: 0 is forwarded', head('GET', '/api/v1/pods?watch=1', [...WS, 'Content-Length', '0'], '1.1', true), filtered, { kind: 'forward', target: '/api/v1/pods?watch=1', decision: 'accept' }],
  ['kproxy: cross-site WebSocket refused before the filter', head('GET', '/api/v1/secrets?watch=1', [...WS, 'Origin', 'https://evil.example', 'Sec-Fetch-Site', 'cross-site'], '1.1', true), browser, { kind: 'answer', status: 403, decision: 'reject', rule: 'cross-origin: Origin https://evil.example' }],
  ['--allow-origins admits a UI on another port', head('GET', '/api/v1/pods', ['Host', 'localhost:8001', 'Origin', 'http://localhost:3000']), browser, { kind: 'forward', target: '/api/v1/pods', decision: 'accept' }],
  ['--disable-filter turns the browser check off', head('GET', '/api/v1/pods', ['Host', 'localhost:8001', 'Origin', 'https://evil.example']), unfiltered, { kind: 'forward', target: '/api/v1/pods', decision: 'unfiltered' }],
  ['kproxy: --auth-token without a token is 401', head('GET', '/api/v1/pods'), tokened, { kind: 'answer', status: 401, decision: 'reject', rule: 'auth-token' }],
  ['--auth-token with the token is forwarded', head('GET', '/api/v1/pods', ['Host', 'localhost:8001', 'Authorization', `Bearer ${token.value}`]), tokened, { kind: 'forward', target: '/api/v1/pods', decision: 'accept' }],
  ['--auth-token: the UI link sets the cookie', head('GET', `/ui/?kproxy-token=${token.value}`), tokened, { kind: 'answer', status: 303, decision: 'local' }],
  ['kproxy: a cross-site page cannot spend the cookie', head('GET', '/api/v1/pods', ['Host', 'localhost:8001', 'Cookie', `kproxy-token=${token.value}`, 'Sec-Fetch-Site', 'cross-site', 'Sec-Fetch-Mode', 'cors', 'Origin', 'https://evil.example']), tokened, { kind: 'answer', status: 403, decision: 'reject' }],
  ['--append-server-path: the filter still sees the client path', head('POST', '/api/v1/namespaces/d/pods/p/exec'), appended, { kind: 'answer', status: 403, decision: 'reject', rule: '^/api/.*/pods/.*/exec' }],
  // rules/ after the filter: the filter decides first, the rules read what the API server will.
  ['rules: the filter refuses exec before the rules', head('POST', '/api/v1/namespaces/d/pods/p/exec'), readOnly, { kind: 'answer', status: 403, decision: 'reject', rule: '^/api/.*/pods/.*/exec' }],
  ['rules: --read-only refuses what the filter lets through', head('POST', '/api/v1/namespaces/d/pods'), readOnly, { kind: 'answer', status: 403, decision: 'reject', rule: '--read-only (verb create)', body: 'Forbidden\n' }],
  ['rules: --read-only refuses a port-forward the filter lets through', head('GET', '/api/v1/namespaces/d/pods/p/portforward'), readOnly, { kind: 'answer', status: 403, decision: 'reject', rule: '--read-only (subresource portforward)' }],
  ['rules: --read-only refuses a service proxy', head('GET', '/api/v1/namespaces/d/services/s/proxy/'), readOnly, { kind: 'answer', status: 403, decision: 'reject', rule: '--read-only (subresource proxy)' }],
  ['rules: an accepted request names both verdicts', head('GET', '/api/v1/pods?watch=1'), readOnly, { kind: 'forward', target: '/api/v1/pods?watch=1', decision: 'accept', rule: '--accept-paths ^.* and --accept-hosts ^localhost$; --read-only' }],
  ['rules: the Host check still comes first', head('GET', '/api/v1/pods', ['Host', 'evil.example']), readOnly, { kind: 'answer', status: 403, decision: 'reject', rule: 'no --accept-hosts pattern matched' }],
  ['rules: still applied with --disable-filter', head('DELETE', '/api/v1/namespaces/d/pods/p'), readOnlyUnfiltered, { kind: 'answer', status: 403, decision: 'reject', rule: '--read-only (verb delete)' }],
  ['rules: --disable-filter and an accepted request', head('GET', '/api/v1/pods'), readOnlyUnfiltered, { kind: 'forward', target: '/api/v1/pods', decision: 'unfiltered', rule: '--disable-filter; --read-only' }],
  ['rules: read the path after the api-prefix strip, not the server path', head('GET', '/custom/api/v1/namespaces/d/pods/p/portforward'), readOnlyCustom, { kind: 'answer', status: 403, decision: 'reject', rule: '--read-only (subresource portforward)' }],
  ['rules: forward with the api-prefix stripped and the server path added', head('GET', '/custom/api/v1/pods?watch=0'), readOnlyCustom, { kind: 'forward', target: '/base/api/v1/pods?watch=0', decision: 'accept' }],
  ['rules: read the query (a watch is not a list)', head('GET', '/api/v1/pods?watch=true'), listOnly, { kind: 'answer', status: 403, decision: 'reject', rule: 'no allow rule matched' }],
  ['rules: read the query (watch=0 is a list)', head('GET', '/api/v1/pods?watch=0'), listOnly, { kind: 'forward', target: '/api/v1/pods?watch=0', decision: 'accept' }],
  ['rules: static files are not API requests', head('GET', '/static/a.txt'), { ...withStatic, rules: loadRules({ ...ruleFlags, allow: ['list pods'] }) }, { kind: 'static', path: '/a.txt', decision: 'accept' }],
];

for (const [name, req, opts, want] of rows) {
  test(`admit: ${name}`, () => {
    const a = admit(req, opts);
    assert.equal(a.kind, want.kind);
    assert.equal(a.verdict.decision, want.decision);
    if (a.kind === 'answer' && want.kind === 'answer') {
      assert.equal(a.answer.status, want.status);
      assert.equal(a.answer.bare === true, want.bare === true);
      if (want.rule !== undefined) assert.equal(a.verdict.rule, want.rule);
      if (want.body !== undefined) assert.equal(a.answer.body, want.body);
      if (want.status === 303) {
        assert.equal(a.answer.headers.Location, '/ui/');
        assert.equal(a.answer.headers['Set-Cookie'], `kproxy-token=${token.value}; Path=/; HttpOnly; SameSite=Strict`);
      }
    } else if (a.kind === 'forward' && want.kind === 'forward') {
      assert.equal(a.target, want.target);
      if (want.rule !== undefined) assert.equal(a.verdict.rule, want.rule);
    } else if (a.kind === 'static' && want.kind === 'static') {
      assert.equal(a.path, want.path);
    }
  });
}
