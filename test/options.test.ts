// Flag value parsing as a table; error texts follow Go's time.ParseDuration and pflag.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listenHost, normalizePrefix, parseGoBool, parseGoDuration, parsePort, parseRequestTimeout } from '../src/options.js';

test('Go durations', () => {
  const ok: Array<[string, number]> = [
    ['0', 0],
    ['0s', 0],
    ['15s', 15_000],
    ['-1s', -1000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['300ms', 300],
    ['.5s', 500],
    ['2us', 0.002],
  ];
  for (const [v, ms] of ok) assert.equal(parseGoDuration('--keepalive', v), ms, v);
  const bad: Array<[string, string]> = [
    ['abc', 'time: invalid duration "abc"'],
    ['30', 'time: missing unit in duration "30"'],
    ['5x', 'time: unknown unit "x" in duration "5x"'],
    ['1h2', 'time: missing unit in duration "1h2"'],
    ['', 'time: invalid duration ""'],
  ];
  for (const [v, msg] of bad) assert.throws(() => parseGoDuration('--keepalive', v), { message: `invalid argument "${v}" for "--keepalive" flag: ${msg}` });
});

test('ports, prefixes, booleans, addresses, request timeouts', () => {
  assert.equal(parsePort('0'), 0);
  assert.equal(parsePort('65535'), 65535);
  assert.throws(() => parsePort('65536'), /must be from 0 to 65535/);
  assert.throws(() => parsePort('8o01'), /must be a whole number/);
  assert.equal(normalizePrefix('--api-prefix', '/custom'), '/custom/');
  assert.throws(() => normalizePrefix('--api-prefix', 'custom'), /must start with "\/"/);
  assert.equal(parseGoBool('--disable-filter', 'T'), true);
  assert.throws(() => parseGoBool('--disable-filter', 'yes'), /strconv.ParseBool: parsing "yes": invalid syntax/);
  assert.equal(listenHost('[::1]'), '::1');
  assert.equal(listenHost('::1'), '::1');
  assert.equal(listenHost('0.0.0.0'), '::');
  assert.equal(listenHost('localhost'), '127.0.0.1');
  assert.equal(parseRequestTimeout('5'), 5000);
  assert.equal(parseRequestTimeout('2m'), 120_000);
  assert.throws(() => parseRequestTimeout('soon'), { message: /^Invalid timeout value/ });
});
