// h2rules.ts (pure): client-go's HTTP/2 environment switches, the outgoing header mapping onto
// HTTP/2 and Go's spelling of response header names, as tables.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalHeaderName, h2RequestHeaders, h2Settings, rstName } from '../src/h2rules.js';

describe('HTTP/2 settings and headers (pure)', () => {
  const rows: Array<[Record<string, string>, { enabled: boolean; readIdleMs: number; pingTimeoutMs: number; warnings: number }]> = [
    [{}, { enabled: true, readIdleMs: 30_000, pingTimeoutMs: 15_000, warnings: 0 }],
    [{ DISABLE_HTTP2: '1' }, { enabled: false, readIdleMs: 30_000, pingTimeoutMs: 15_000, warnings: 0 }],
    [{ DISABLE_HTTP2: 'false' }, { enabled: false, readIdleMs: 30_000, pingTimeoutMs: 15_000, warnings: 0 }],
    [{ DISABLE_HTTP2: '' }, { enabled: true, readIdleMs: 30_000, pingTimeoutMs: 15_000, warnings: 0 }],
    [{ HTTP2_READ_IDLE_TIMEOUT_SECONDS: '0' }, { enabled: true, readIdleMs: 0, pingTimeoutMs: 15_000, warnings: 0 }],
    [{ HTTP2_READ_IDLE_TIMEOUT_SECONDS: '-5' }, { enabled: true, readIdleMs: 0, pingTimeoutMs: 15_000, warnings: 0 }],
    [{ HTTP2_READ_IDLE_TIMEOUT_SECONDS: '+7', HTTP2_PING_TIMEOUT_SECONDS: '3' }, { enabled: true, readIdleMs: 7_000, pingTimeoutMs: 3_000, warnings: 0 }],
    [{ HTTP2_PING_TIMEOUT_SECONDS: '0' }, { enabled: true, readIdleMs: 30_000, pingTimeoutMs: 15_000, warnings: 0 }],
    [{ HTTP2_READ_IDLE_TIMEOUT_SECONDS: '1.5' }, { enabled: true, readIdleMs: 30_000, pingTimeoutMs: 15_000, warnings: 1 }],
    [{ HTTP2_READ_IDLE_TIMEOUT_SECONDS: ' 5', HTTP2_PING_TIMEOUT_SECONDS: '5s' }, { enabled: true, readIdleMs: 30_000, pingTimeoutMs: 15_000, warnings: 2 }],
    // Go does not read the timeouts when HTTP/2 is off.
    [{ DISABLE_HTTP2: 'y', HTTP2_PING_TIMEOUT_SECONDS: 'x' }, { enabled: false, readIdleMs: 30_000, pingTimeoutMs: 15_000, warnings: 0 }],
  ];
  for (const [env, want] of rows) {
    test(`h2Settings ${JSON.stringify(env)}`, () => {
      const got = h2Settings(env);
      assert.deepEqual({ ...got, warnings: got.warnings.length }, want);
      for (const w of got.warnings) assert.match(w, /^Illegal HTTP2_(READ_IDLE|PING)_TIMEOUT_SECONDS\(".*"\): .*Default value \d+ is used$/);
    });
  }
  test('h2Settings: the flag turns HTTP/2 off', () => {
    assert.equal(h2Settings({}, false).enabled, false);
  });

  test('h2RequestHeaders: names lower-cased, connection headers and Host dropped, repeats kept, single-value headers once', () => {
    assert.deepEqual(
      h2RequestHeaders('GET', '/api?x=1', [
        'host', 'example:6443',
        'Connection', 'keep-alive',
        'Keep-Alive', '5',
        'Transfer-Encoding', 'chunked',
        'Upgrade', 'h2c',
        'HTTP2-Settings', 'AAA',
        'TE', 'gzip',
        'Impersonate-Group', 'a',
        'impersonate-group', 'b',
        'Impersonate-Group', 'c',
        'User-Agent', 'one',
        'User-Agent', 'two',
        'Authorization', 'Bearer x',
      ]),
      { ':method': 'GET', ':path': '/api?x=1', 'impersonate-group': ['a', 'b', 'c'], 'user-agent': 'one', authorization: 'Bearer x' },
    );
    assert.deepEqual(h2RequestHeaders('POST', '/', ['TE', 'Trailers', 'Content-Length', '3']), { ':method': 'POST', ':path': '/', te: 'Trailers', 'content-length': '3' });
  });

  test('rstName: RFC 9113 names, unknown codes in hex', () => {
    assert.equal(rstName(0), 'NO_ERROR');
    assert.equal(rstName(8), 'CANCEL');
    assert.equal(rstName(0x42), 'unknown error code 0x42');
  });

  test('canonicalHeaderName: Go textproto spelling', () => {
    const rows: Array<[string, string]> = [
      ['content-type', 'Content-Type'],
      ['audit-id', 'Audit-Id'],
      ['x-kubernetes-pf-flowschema-uid', 'X-Kubernetes-Pf-Flowschema-Uid'],
      ['www-authenticate', 'Www-Authenticate'],
      ['etag', 'Etag'],
      ['x-1-a', 'X-1-A'],
      ['bad header', 'bad header'],
    ];
    for (const [input, want] of rows) assert.equal(canonicalHeaderName(input), want, input);
  });
});
