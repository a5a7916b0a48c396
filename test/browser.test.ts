// The browser check as a table: which browser requests from another origin are refused, and
// that non-browser clients and navigations never are. Header sets are what Chromium sends
// (checked in test/security/cross-site-websocket-hijacking.test.ts with a real browser).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossOriginRefusal, ownOrigin, parseAllowOrigins } from '../src/browser.js';

const none = parseAllowOrigins('');
const ui = parseAllowOrigins('http://localhost:3000, https://Dash.Example');

type Row = [string, string, string[], string, typeof none, string | undefined];
const HOST = 'localhost:8001';

const rows: Row[] = [
  ['curl: no browser headers', 'GET', ['User-Agent', 'curl/8'], HOST, none, undefined],
  ['kubectl POST: no browser headers', 'POST', ['Content-Type', 'application/json'], HOST, none, undefined],
  ['cross-site WebSocket watch', 'GET', ['Origin', 'https://evil.example', 'Sec-Fetch-Site', 'cross-site', 'Sec-Fetch-Mode', 'websocket', 'Upgrade', 'websocket'], HOST, none, 'cross-origin: Origin https://evil.example'],
  ['WebSocket from an old browser (Origin only)', 'GET', ['Origin', 'https://evil.example', 'Upgrade', 'websocket'], HOST, none, 'cross-origin: Origin https://evil.example'],
  ['cross-site form POST (a navigation, but not a GET)', 'POST', ['Origin', 'https://evil.example', 'Sec-Fetch-Site', 'cross-site', 'Sec-Fetch-Mode', 'navigate'], HOST, none, 'cross-origin: Origin https://evil.example'],
  ['cross-site no-cors GET (img, script)', 'GET', ['Sec-Fetch-Site', 'cross-site', 'Sec-Fetch-Mode', 'no-cors', 'Sec-Fetch-Dest', 'image'], HOST, none, 'cross-origin: Sec-Fetch-Site cross-site'],
  ['same-site page on another port (fetch)', 'GET', ['Origin', 'http://localhost:3000', 'Sec-Fetch-Site', 'same-site', 'Sec-Fetch-Mode', 'cors'], HOST, none, 'cross-origin: Origin http://localhost:3000'],
  ['same-site no-cors without Origin', 'GET', ['Sec-Fetch-Site', 'same-site', 'Sec-Fetch-Mode', 'no-cors'], HOST, none, 'cross-origin: Sec-Fetch-Site same-site'],
  ['Origin null (sandboxed iframe, file:)', 'POST', ['Origin', 'null'], HOST, none, 'cross-origin: Origin null'],
  ['Origin null cannot be allowed', 'POST', ['Origin', 'null'], HOST, ui, 'cross-origin: Origin null'],
  ['pasted link: top-level navigation GET', 'GET', ['Sec-Fetch-Site', 'cross-site', 'Sec-Fetch-Mode', 'navigate', 'Sec-Fetch-Dest', 'document'], HOST, none, undefined],
  ['typed URL: Sec-Fetch-Site none', 'GET', ['Sec-Fetch-Site', 'none', 'Sec-Fetch-Mode', 'navigate'], HOST, none, undefined],
  ['own page: same-origin fetch', 'POST', ['Origin', 'http://localhost:8001', 'Sec-Fetch-Site', 'same-origin', 'Sec-Fetch-Mode', 'cors'], HOST, none, undefined],
  ['own page: same-origin WebSocket', 'GET', ['Origin', 'http://localhost:8001', 'Sec-Fetch-Site', 'same-origin', 'Sec-Fetch-Mode', 'websocket'], HOST, none, undefined],
  ['own origin compared without case', 'GET', ['Origin', 'HTTP://LocalHost:8001'], HOST, none, undefined],
  ['own origin on port 80 has no port', 'GET', ['Origin', 'http://localhost'], 'localhost:80', none, undefined],
  ['own origin over IPv6', 'GET', ['Origin', 'http://[::1]:8001', 'Sec-Fetch-Site', 'same-origin'], '[::1]:8001', none, undefined],
  ['the same host on another port is another origin', 'GET', ['Origin', 'http://localhost:8002', 'Sec-Fetch-Site', 'same-site'], HOST, none, 'cross-origin: Origin http://localhost:8002'],
  ['https page is another origin than the http proxy', 'GET', ['Origin', 'https://localhost:8001'], HOST, none, 'cross-origin: Origin https://localhost:8001'],
  ['--allow-origins admits a named UI', 'GET', ['Origin', 'http://localhost:3000', 'Sec-Fetch-Site', 'same-site', 'Sec-Fetch-Mode', 'websocket'], HOST, ui, undefined],
  ['--allow-origins compares the serialized origin', 'POST', ['Origin', 'https://dash.example', 'Sec-Fetch-Site', 'cross-site'], HOST, ui, undefined],
  ['--allow-origins is exact: another port is refused', 'GET', ['Origin', 'http://localhost:3001'], HOST, ui, 'cross-origin: Origin http://localhost:3001'],
  ['two Origin headers', 'GET', ['Origin', 'http://localhost:8001', 'Origin', 'https://evil.example'], HOST, none, 'cross-origin: repeated Origin or Sec-Fetch-Site'],
];

for (const [name, method, headers, host, policy, want] of rows) {
  test(`browser check: ${name}`, () => {
    assert.equal(crossOriginRefusal(method, headers, host, policy)?.rule, want);
  });
}

test('browser check: the refusal names the origin and the flag in one line', () => {
  const r = crossOriginRefusal('GET', ['Origin', 'https://evil.example'], HOST, none)!;
  assert.equal(r.message, 'Forbidden: cross-origin request from https://evil.example refused (kproxy --allow-origins admits named origins)');
  assert.ok(!r.message.includes('\n'));
});

test('ownOrigin', () => {
  assert.equal(ownOrigin('LOCALHOST:8001'), 'http://localhost:8001');
  assert.equal(ownOrigin('127.0.0.1:80'), 'http://127.0.0.1');
});

const origins: Array<[string, string[] | string]> = [
  ['http://localhost:3000', ['http://localhost:3000']],
  ['HTTP://LOCALHOST:3000/', ['http://localhost:3000']],
  ['https://dash.example:443', ['https://dash.example']],
  ['http://[::1]:3000', ['http://[::1]:3000']],
  [' http://a , http://b ', ['http://a', 'http://b']],
  ['', []],
  ['localhost:3000', 'invalid --allow-origins entry "localhost:3000"'],
  ['http://localhost:3000/app', 'invalid --allow-origins entry "http://localhost:3000/app"'],
  ['http://user@localhost:3000', 'invalid --allow-origins entry "http://user@localhost:3000"'],
  ['ftp://x', 'invalid --allow-origins entry "ftp://x"'],
  ['null', 'invalid --allow-origins entry "null"'],
  ['*', 'invalid --allow-origins entry "*"'],
];
for (const [value, want] of origins) {
  test(`--allow-origins=${JSON.stringify(value)}`, () => {
    if (typeof want === 'string') assert.throws(() => parseAllowOrigins(value), (err: Error) => err.message.startsWith(want));
    else assert.deepEqual([...parseAllowOrigins(value).allowOrigins], want);
  });
}
