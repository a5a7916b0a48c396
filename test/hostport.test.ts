// Go's host:port helpers as tables.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Socket } from 'node:net';
import { defaultPort, joinHostPort, setKeepAlive, unbracket, validHost } from '../src/hostport.js';

const joins: Array<[string, number | string, string]> = [
  ['localhost', 8001, 'localhost:8001'],
  ['127.0.0.1', 0, '127.0.0.1:0'],
  ['::1', 443, '[::1]:443'],
  ['fe80::1%eth0', '6443', '[fe80::1%eth0]:6443'],
  ['', 80, ':80'],
];
for (const [host, port, want] of joins) test(`joinHostPort(${host}, ${port})`, () => assert.equal(joinHostPort(host, port), want));

const bare: Array<[string, string]> = [
  ['[::1]', '::1'],
  ['::1', '::1'],
  ['example.com', 'example.com'],
  ['[x', '[x'],
];
for (const [input, want] of bare) test(`unbracket(${input})`, () => assert.equal(unbracket(input), want));

const ports: Array<[string, number]> = [
  ['https://a', 443],
  ['http://a', 80],
  ['socks5://a', 1080],
  ['socks5h://a', 1080],
  ['https://a:6443', 6443],
  ['http://[::1]:8080', 8080],
];
for (const [url, want] of ports) test(`defaultPort(${url})`, () => assert.equal(defaultPort(new URL(url)), want));

const hosts: Array<[string, boolean]> = [
  ['localhost', true],
  ['localhost:8001', true],
  ['localhost:', true],
  ['127.0.0.1:8001', true],
  ['[::1]:8001', true],
  ['[::1]', true],
  ['[::ffff:127.0.0.1]:80', true],
  ['kube.example.com.', true],
  ['my_host-1.internal:65535', true],
  ['', true],
  ['localhost:8001junk', false],
  ['localhost:65536', false],
  ['localhost:-1', false],
  ['localhost:8001,evil.example', false],
  ['localhost, evil.example', false],
  ['user@localhost', false],
  ['user:pw@localhost:8001', false],
  ['localhost:8001:8002', false],
  ['[::1]junk', false],
  ['[::1', false],
  ['[evil]:80', false],
  ['[fe80::1%25eth0]:80', false],
  ['::1', false],
  ['local host', false],
  ['localhost/x', false],
  ['a..b', false],
  ['.localhost', false],
  ['256.0.0.1', true],
];
for (const [h, want] of hosts) test(`validHost(${JSON.stringify(h)}) is ${want}`, () => assert.equal(validHost(h), want));

const keepAlive: Array<[number | undefined, Array<[boolean, number?]>]> = [
  [undefined, []],
  [0, []],
  [-1, [[false]]],
  [15_000, [[true, 15_000]]],
];
for (const [ms, want] of keepAlive) {
  test(`setKeepAlive(${ms}) as Go's net.Dialer.KeepAlive`, () => {
    const calls: Array<[boolean, number?]> = [];
    const socket = { setKeepAlive: (on: boolean, delay?: number) => calls.push(delay === undefined ? [on] : [on, delay]) };
    setKeepAlive(socket as unknown as Socket, ms);
    assert.deepEqual(calls, want);
  });
}
