// The request filter against kubectl's truth tables (TestAccept, TestRegexpMatch and
// TestExtractHost in staging/src/k8s.io/kubectl/pkg/proxy/proxy_server_test.go), the observed
// behaviour in docs/kubectl-proxy-reference.md §2, and Go regexp syntax that a JavaScript
// RegExp (or re2-wasm's JS-syntax wrapper) would get wrong. Rows marked "kproxy" are
// deliberate deviations from kubectl.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import {
  compileFilterRules,
  decide,
  DEFAULT_HOST_ACCEPT_RE,
  DEFAULT_METHOD_REJECT_RE,
  DEFAULT_PATH_ACCEPT_RE,
  DEFAULT_PATH_REJECT_RE,
  extractHost,
  hostAccepted,
  type FilterRules,
} from '../src/filter/filter.js';
import { compileRegexList, MAX_SUBJECT_BYTES, RegexListError, RegexMatchError, warnRegexList } from '../src/filter/regexlist.js';

interface Flags {
  acceptPaths: string;
  rejectPaths: string;
  acceptHosts: string;
  rejectMethods: string;
}

const defaults: Flags = {
  acceptPaths: DEFAULT_PATH_ACCEPT_RE,
  rejectPaths: DEFAULT_PATH_REJECT_RE,
  acceptHosts: DEFAULT_HOST_ACCEPT_RE,
  rejectMethods: DEFAULT_METHOD_REJECT_RE,
};

function rules(over: Partial<Flags> = {}): FilterRules {
  return compileFilterRules({ ...defaults, ...over });
}

test('default patterns are kubectl’s strings', () => {
  assert.equal(DEFAULT_PATH_ACCEPT_RE, '^.*');
  assert.equal(DEFAULT_PATH_REJECT_RE, '^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach');
  assert.equal(DEFAULT_METHOD_REJECT_RE, '^$');
  assert.equal(DEFAULT_HOST_ACCEPT_RE, String.raw`^localhost$,^127\.0\.0\.1$,^\[::1\]$`);
});

// TestAccept, every case (kubectl has no "test6"). `host` is what FilterServer.accept receives,
// i.e. already extracted. None of these rows differs between kubectl and kproxy.
const testAccept: Array<{ name: string; flags: Partial<Flags>; path: string; host: string; method: string; accept: boolean }> = [
  { name: 'test1', flags: {}, path: '', host: '127.0.0.1', method: 'GET', accept: true },
  { name: 'test2', flags: {}, path: '/api/v1/pods', host: '127.0.0.1', method: 'GET', accept: true },
  { name: 'test3', flags: {}, path: '/api/v1/pods', host: 'localhost', method: 'GET', accept: true },
  { name: 'test4', flags: {}, path: '/api/v1/namespaces/default/pods/foo', host: 'localhost', method: 'GET', accept: true },
  { name: 'test5', flags: {}, path: '/api/v1/namespaces/default/pods/attachfoo', host: 'localhost', method: 'GET', accept: true },
  { name: 'test7', flags: {}, path: '/api/v1/namespaces/default/pods/execfoo', host: 'localhost', method: 'GET', accept: true },
  { name: 'test8', flags: {}, path: '/api/v1/namespaces/default/pods/foo/exec', host: '127.0.0.1', method: 'GET', accept: false },
  { name: 'test9', flags: {}, path: '/api/v1/namespaces/default/pods/foo/attach', host: '127.0.0.1', method: 'GET', accept: false },
  { name: 'test10', flags: {}, path: '/api/v1/pods', host: 'evil.com', method: 'GET', accept: false },
  { name: 'test11', flags: {}, path: '/api/v1/pods', host: 'localhost.evil.com', method: 'GET', accept: false },
  { name: 'test12', flags: {}, path: '/api/v1/pods', host: '127a0b0c1', method: 'GET', accept: false },
  { name: 'test13', flags: {}, path: '/ui', host: 'localhost', method: 'GET', accept: true },
  { name: 'test14', flags: {}, path: '/api/v1/pods', host: 'localhost', method: 'POST', accept: true },
  { name: 'test15', flags: {}, path: '/api/v1/namespaces/default/pods/somepod', host: 'localhost', method: 'PUT', accept: true },
  { name: 'test16', flags: {}, path: '/api/v1/namespaces/default/pods/somepod', host: 'localhost', method: 'PATCH', accept: true },
  { name: 'test17', flags: { rejectMethods: 'GET' }, path: '/api/v1/pods', host: '127.0.0.1', method: 'GET', accept: false },
  { name: 'test18', flags: { rejectMethods: 'POST' }, path: '/api/v1/pods', host: 'localhost', method: 'POST', accept: false },
  { name: 'test19', flags: { rejectMethods: 'PUT' }, path: '/api/v1/namespaces/default/pods/somepod', host: 'localhost', method: 'PUT', accept: false },
  { name: 'test20', flags: { rejectMethods: 'PATCH' }, path: '/api/v1/namespaces/default/pods/somepod', host: 'localhost', method: 'PATCH', accept: false },
  { name: 'test21', flags: { rejectMethods: 'POST,PUT,PATCH' }, path: '/api/v1/namespaces/default/pods/somepod', host: 'localhost', method: 'PATCH', accept: false },
  { name: 'test22', flags: { rejectMethods: 'POST,PUT,PATCH' }, path: '/api/v1/namespaces/default/pods/somepod', host: 'localhost', method: 'PUT', accept: false },
  { name: 'test23', flags: {}, path: '/api/v1/namespaces/default/pods/somepod/exec', host: 'localhost', method: 'POST', accept: false },
  { name: 'test24', flags: { rejectPaths: '' }, path: '/api/v1/namespaces/default/pods/somepod/exec', host: 'localhost', method: 'POST', accept: true },
];

test('kubectl TestAccept', async (t) => {
  assert.equal(testAccept.length, 23);
  for (const c of testAccept) {
    await t.test(c.name, () => {
      assert.equal(decide(rules(c.flags), c.method, c.path, c.host).accept, c.accept);
    });
  }
});

test('kubectl TestRegexpMatch', () => {
  const rows: Array<[string, string, boolean]> = [
    ['foo', 'bar,.*', true],
    ['foo', 'bar,fo.*', true],
    ['bar', 'bar,fo.*', true],
    ['baz', 'bar,fo.*', false],
  ];
  for (const [s, value, want] of rows) assert.equal(compileRegexList('--accept-paths', value).matches(s), want, `${s} ~ ${value}`);
});

// The Host header as sent, through extractHost and decide, against kubectl 1.32 as observed
// (reference §2.3). `kubectl` is what kubectl answers, `kproxy` what kproxy answers.
const hostRows: Array<{ header: string; flags: Partial<Flags>; kubectl: boolean; kproxy: boolean }> = [
  { header: 'localhost:8001', flags: {}, kubectl: true, kproxy: true },
  { header: 'localhost', flags: {}, kubectl: true, kproxy: true },
  { header: '127.0.0.1:8001', flags: {}, kubectl: true, kproxy: true },
  // kproxy: kubernetes#77496, the default `^\[::1\]$` never matches the stripped `::1`.
  { header: '[::1]:8001', flags: {}, kubectl: false, kproxy: true },
  { header: '[::1]', flags: {}, kubectl: true, kproxy: true },
  { header: 'LOCALHOST', flags: {}, kubectl: false, kproxy: false },
  { header: 'localhost.:8001', flags: {}, kubectl: false, kproxy: false },
  { header: '', flags: {}, kubectl: false, kproxy: false },
  { header: 'evil.com:8001', flags: {}, kubectl: false, kproxy: false },
  { header: '[::2]:8001', flags: {}, kubectl: false, kproxy: false },
  { header: '[::1]:8001', flags: { acceptHosts: '^localhost$' }, kubectl: false, kproxy: false },
  // kubectl's documented workaround keeps working.
  { header: '[::1]:8001', flags: { acceptHosts: '^::1$' }, kubectl: true, kproxy: true },
  // kproxy: the bracketed spelling is also tried bare.
  { header: '[::1]', flags: { acceptHosts: '^::1$' }, kubectl: false, kproxy: true },
  // A bare IPv6 Host (no brackets, so SplitHostPort fails) is also tried bracketed.
  { header: '::1', flags: {}, kubectl: false, kproxy: true },
  // Only IPv6-looking hosts get a second spelling.
  { header: '[localhost]', flags: { acceptHosts: '^localhost$' }, kubectl: false, kproxy: false },
  { header: 'localhost', flags: { acceptHosts: String.raw`^\[localhost\]$` }, kubectl: false, kproxy: false },
];

test('Host header through extractHost and the filter', async (t) => {
  for (const r of hostRows) {
    await t.test(`${JSON.stringify(r.header)} ${JSON.stringify(r.flags)}`, () => {
      const host = extractHost(r.header);
      assert.equal(decide(rules(r.flags), 'GET', '/api/v1/pods', host).accept, r.kproxy);
      assert.equal(hostAccepted(rules(r.flags), host), r.kproxy);
      if (r.kubectl !== r.kproxy) {
        // Where kproxy deliberately differs, kubectl's answer is what a plain list match gives.
        assert.equal(rules(r.flags).acceptHosts.matches(host), r.kubectl);
      }
    });
  }
});

test('extractHost is net.SplitHostPort, else the whole value', () => {
  const rows: Array<[string, string]> = [
    // kubectl TestExtractHost
    ['localhost:8085', 'localhost'],
    ['marmalade', 'marmalade'],
    // net.SplitHostPort rules
    ['127.0.0.1:8001', '127.0.0.1'],
    ['[::1]:8001', '::1'],
    ['[::1]', '[::1]'], // missing port
    ['localhost', 'localhost'], // missing port
    ['a:b:c', 'a:b:c'], // too many colons
    ['::1', '::1'], // too many colons
    ['host:', 'host'], // empty port is fine
    [':8001', ''],
    ['[::1]:', '::1'],
    ['', ''],
    ['[::1', '[::1'], // missing ']'
    ['[::1]]:80', '[::1]]:80'],
    ['[a]b:80', '[a]b:80'],
    ['[::1]:80:90', '[::1]:80:90'],
    ['a[b:80', 'a[b:80'], // unexpected '['
    ['a]b:80', 'a]b:80'], // unexpected ']'
    ['[a[b]:80', '[a[b]:80'],
    ['[fe80::1%25en0]:8001', 'fe80::1%25en0'],
    ['localhost:http', 'localhost'], // the port is not validated
    ['LOCALHOST:8001', 'LOCALHOST'],
  ];
  for (const [header, want] of rows) assert.equal(extractHost(header), want, JSON.stringify(header));
});

test('decision names the check and the rule that decided', () => {
  const r = rules({ acceptPaths: '^/api/,^/apis/' });
  assert.deepEqual(decide(r, 'GET', '/api/v1/namespaces/d/pods/p/exec', 'localhost'), {
    accept: false,
    rule: '^/api/.*/pods/.*/exec',
    check: 'reject-paths',
  });
  assert.deepEqual(decide(r, 'GET', '/api/v1/namespaces/d/pods/p/attach', 'localhost'), {
    accept: false,
    rule: '^/api/.*/pods/.*/attach',
    check: 'reject-paths',
  });
  assert.deepEqual(decide(r, 'GET', '/version', 'localhost'), { accept: false, rule: 'no --accept-paths pattern matched', check: 'accept-paths' });
  assert.deepEqual(decide(r, 'GET', '/apis/apps/v1', 'evil.com'), { accept: false, rule: 'no --accept-hosts pattern matched', check: 'accept-hosts' });
  assert.deepEqual(decide(r, 'GET', '/apis/apps/v1', '127.0.0.1'), { accept: true, rule: String.raw`--accept-paths ^/apis/ and --accept-hosts ^127\.0\.0\.1$` });
  // Reject lists are consulted first: a path both accepted and rejected is rejected, and
  // reject-paths is reported even when the method is rejected too.
  assert.deepEqual(decide(rules({ rejectMethods: 'GET' }), 'GET', '/api/v1/namespaces/d/pods/p/exec', 'localhost'), {
    accept: false,
    rule: '^/api/.*/pods/.*/exec',
    check: 'reject-paths',
  });
  assert.deepEqual(decide(rules({ rejectMethods: 'POST,GET' }), 'GET', '/api/v1/pods', 'evil.com'), { accept: false, rule: 'GET', check: 'reject-methods' });
  // When both accept lists fail, the path check (evaluated first) is the one named.
  assert.equal((decide(r, 'GET', '/version', 'evil.com') as { check: string }).check, 'accept-paths');
});

test('flag values: split on commas, never trimmed (reference §2.1)', () => {
  // --reject-methods='POST, PUT' yields " PUT", which never matches PUT.
  const spaced = rules({ rejectMethods: 'POST, PUT' });
  assert.deepEqual(spaced.rejectMethods.sources, ['POST', ' PUT']);
  assert.equal(decide(spaced, 'PUT', '/api/v1/pods', 'localhost').accept, true);
  assert.equal(decide(spaced, 'POST', '/api/v1/pods', 'localhost').accept, false);

  // A trailing comma adds an empty pattern, which matches everything: every request rejected.
  const trailing = rules({ rejectPaths: '^/api/v1/secrets,' });
  assert.deepEqual(decide(trailing, 'GET', '/api/v1/pods', 'localhost'), { accept: false, rule: '', check: 'reject-paths' });
  assert.equal(decide(trailing, 'GET', '', 'localhost').accept, false);
  assert.equal(compileRegexList('--reject-paths', 'a,,b').matches('zzz'), true);

  // An empty flag is an empty list: it matches nothing, so --accept-hosts='' rejects everything
  // and --reject-paths='' rejects nothing.
  const noHosts = rules({ acceptHosts: '' });
  assert.deepEqual(noHosts.acceptHosts.sources, []);
  assert.deepEqual(decide(noHosts, 'GET', '/api/v1/pods', 'localhost'), { accept: false, rule: 'no --accept-hosts pattern matched', check: 'accept-hosts' });
  assert.equal(hostAccepted(noHosts, 'localhost'), false);
  const empty = compileRegexList('--reject-paths', '');
  assert.equal(empty.matches(''), false);
  assert.equal(empty.firstMatch('/x'), undefined);

  // Commas cannot be escaped, so {m,n} is cut in two (both halves are valid Go literals).
  assert.deepEqual(compileRegexList('--reject-paths', '^/x{1,2}$').sources, ['^/x{1', '2}$']);
  assert.equal(compileRegexList('--reject-paths', '^/x{1,2}$').matches('/xx'), false);
  assert.equal(compileRegexList('--reject-paths', '^/x{1,2}$').matches('/x{1'), true);
});

test('firstMatch reports the first matching piece in flag order', () => {
  const l = compileRegexList('--accept-paths', '^/apis/,^/api,^/');
  assert.equal(l.flag, '--accept-paths');
  assert.equal(l.firstMatch('/api/v1'), '^/api');
  assert.equal(l.firstMatch('/apis/apps'), '^/apis/');
  assert.equal(l.firstMatch('/version'), '^/');
  assert.equal(l.firstMatch('version'), undefined);
  assert.equal(l.matches('version'), false);
});

test('an empty accept-hosts piece accepts every host, including via hostAccepted', () => {
  const r = rules({ acceptHosts: '^localhost$,' });
  assert.equal(hostAccepted(r, 'evil.com'), true);
  assert.equal(decide(r, 'GET', '/api/v1/pods', 'evil.com').accept, true);
});

test('matching is case-sensitive and unanchored, as in Go', () => {
  const r = rules({ rejectMethods: 'POST' });
  // Go forwards the method as sent, so `post` is not blocked by POST (observed: 200).
  assert.equal(decide(r, 'post', '/api/v1/pods', 'localhost').accept, true);
  assert.equal(decide(rules({ rejectMethods: '(?i)^post$' }), 'post', '/api/v1/pods', 'localhost').accept, false);
  // Unanchored: a prefix pattern accepts anything with that prefix, a bare word matches inside.
  assert.equal(compileRegexList('--reject-methods', 'PUT').matches('XPUTX'), true);
  assert.equal(compileRegexList('--accept-paths', '^/api/v1/namespaces/default/').matches('/api/v1/namespaces/default/%2e%2e/kube-system/secrets'), true);
  assert.equal(compileRegexList('--accept-hosts', '^localhost$').matches('LOCALHOST'), false);
});

// [pattern, subject, Go's MatchString]. Each row is one a JavaScript RegExp would answer
// differently or refuse to compile (reference-engineering §5.2).
const goSemantics: Array<[string, string, boolean]> = [
  [String.raw`^/api\z`, '/api', true],
  [String.raw`^/api\z`, '/apiz', false], // JS without `u`: \z is the letter z
  [String.raw`^/api\z`, '/api\n', false],
  ['^/api$', '/api\n', false], // without (?m), $ is end of text
  [String.raw`\A/api`, '/api', true],
  [String.raw`\A/api`, 'x\n/api', false],
  ['(?m)^/api$', 'x\n/api', true],
  ['(?i)^/API/', '/api/v1', true],
  ['(?i:A)b', 'aB', false], // a flag group's scope ends with the group
  ['(?i)^k$', '\u212a', true], // Kelvin sign folds to k in Go
  ['^/api/(?P<version>v1)/', '/api/v1/pods', true],
  ['^/api/(?<version>v1)/', '/api/v1/pods', true], // Go ≥ 1.22 accepts both spellings
  ['(?P<n>a)(?P<n>b)', 'ab', true], // Go allows duplicate names
  ['^[[:alpha:]]+$', 'abc', true],
  ['^[[:alpha:]]+$', 'a]', false], // JS without `u`: [[:alph] followed by ]
  ['^[[:^digit:]]$', 'x', true],
  [String.raw`^\pL+$`, 'héllo', true],
  [String.raw`^\p{Greek}$`, 'α', true],
  [String.raw`\PL`, 'abc', false],
  [String.raw`^\Qa.b\E$`, 'a.b', true],
  [String.raw`^\Qa.b\E$`, 'axb', false],
  // re2-wasm's JS wrapper escapes the slashes inside \Q…\E, which would make this reject rule
  // silently reject nothing.
  [String.raw`^\Q/api/v1/secrets\E`, '/api/v1/secrets/x', true],
  [String.raw`^\Qa\\E$`, 'a\\', true], // the first \E ends the quote
  [String.raw`\Q(?<\E`, '(?<', true],
  [String.raw`\Q(?<\E`, '(?P<', false],
  ['[(?<a]', 'P', false], // the wrapper would add P to the class
  ['[(?<a]', '<', true],
  ['[]a]', ']', true],
  // A ] first in a class and the ] of [:digit:] do not end the class.
  ['[](?<a]', 'P', false],
  ['[^](?<a]', 'P', true],
  ['[[:digit:](?<]', 'P', false],
  [String.raw`^\\C$`, '\\C', true], // escaped backslash, then C
  ['^.$', '\r', true], // Go's . matches everything but \n
  ['^.$', '\u2028', true],
  ['^.$', '\n', false],
  ['(?s)^.$', '\n', true],
  ['^.$', '\u{1F600}', true], // one code point, not two UTF-16 units
  [String.raw`\s`, '\u00a0', false], // Go's \s is ASCII only
  [String.raw`\s`, '\t', true],
  [String.raw`\d`, '٣', false], // Go's \d is ASCII only
  [String.raw`\bexec\b`, 'pods/p/exec', true],
  [String.raw`^\x{41}$`, 'A', true],
  [String.raw`^\101$`, 'A', true], // octal escape
  ['a{,2}', 'a{,2}', true], // not a repetition in Go: literal text
  ['x*', '', true],
];

test('Go regexp semantics, not JavaScript RegExp', () => {
  for (const [pattern, subject, want] of goSemantics) {
    assert.equal(compileRegexList('--accept-paths', pattern).matches(subject), want, `${pattern} ~ ${JSON.stringify(subject)}`);
  }
});

// [flag, pattern, the whole error message]. Go's regexp.Compile refuses all of these; several
// compile in JavaScript.
const invalid: Array<[string, string, string]> = [
  ['--reject-paths', '^/api/(', 'invalid regular expression "^/api/(" in --reject-paths: missing ): ^/api/('],
  ['--reject-paths', '^/api/)', 'invalid regular expression "^/api/)" in --reject-paths: unexpected ): ^/api/)'],
  ['--accept-paths', '^/api/(?=v1)', 'invalid regular expression "^/api/(?=v1)" in --accept-paths: invalid perl operator: (?='],
  ['--accept-paths', '^/api/(?!v1)', 'invalid regular expression "^/api/(?!v1)" in --accept-paths: invalid perl operator: (?!'],
  ['--accept-hosts', '(?<=a)b', 'invalid regular expression "(?<=a)b" in --accept-hosts: invalid perl operator: (?<'],
  ['--accept-hosts', '(?<!a)b', 'invalid regular expression "(?<!a)b" in --accept-hosts: invalid perl operator: (?<'],
  ['--reject-methods', String.raw`(a)\1`, String.raw`invalid regular expression "(a)\1" in --reject-methods: invalid escape sequence: \1`],
  ['--reject-paths', 'a{1001}', 'invalid regular expression "a{1001}" in --reject-paths: invalid repetition size: {1001}'],
  ['--reject-paths', '[z-a]', 'invalid regular expression "[z-a]" in --reject-paths: invalid character class range: z-a'],
  ['--reject-paths', 'a**', 'invalid regular expression "a**" in --reject-paths: bad repetition operator: **'],
  ['--reject-paths', '*a', 'invalid regular expression "*a" in --reject-paths: no argument for repetition operator: *'],
  ['--reject-paths', '[[:foo:]]', 'invalid regular expression "[[:foo:]]" in --reject-paths: invalid character class range: [:foo:]'],
  ['--reject-paths', 'a\\', 'invalid regular expression "a\\" in --reject-paths: trailing \\'],
  // RE2 accepts \C (any byte); Go does not.
  ['--reject-paths', String.raw`/api/\C`, String.raw`invalid regular expression "/api/\C" in --reject-paths: invalid escape sequence: \C`],
  // re2-wasm's JS wrapper would turn these into \x escapes; Go refuses them.
  ['--reject-paths', String.raw`\cA`, String.raw`invalid regular expression "\cA" in --reject-paths: invalid escape sequence: \c`],
  ['--reject-paths', String.raw`\u0041`, String.raw`invalid regular expression "\u0041" in --reject-paths: invalid escape sequence: \u`],
  // The fragment RE2 quotes is shown as the user wrote it.
  ['--reject-paths', '(?<n>a', 'invalid regular expression "(?<n>a" in --reject-paths: missing ): (?<n>a'],
  // One line even when the pattern has a newline or a quote.
  ['--reject-paths', 'a\n"(', 'invalid regular expression "a\\n\\"(" in --reject-paths: missing ): a\\n"('],
];

test('invalid Go patterns fail with one line naming flag and pattern', () => {
  for (const [flag, pattern, message] of invalid) {
    assert.throws(
      () => compileRegexList(flag, `^ok$,${pattern}`),
      (err: unknown) => {
        assert.ok(err instanceof RegexListError, `${pattern}: ${String(err)}`);
        assert.equal(err.message, message);
        assert.equal(err.flag, flag);
        assert.equal(err.pattern, pattern);
        assert.ok(!err.message.includes('\n'));
        return true;
      },
    );
  }
  // Through compileFilterRules, each flag keeps its own name.
  assert.throws(() => rules({ acceptHosts: '(' }), /in --accept-hosts: missing \)/);
  assert.throws(() => rules({ rejectMethods: '(' }), /in --reject-methods: missing \)/);
});

test('warnings for empty pieces and surrounding spaces', () => {
  assert.deepEqual(warnRegexList(compileRegexList('--reject-methods', 'POST, PUT')), [
    '--reject-methods pattern " PUT" has surrounding spaces; patterns are not trimmed',
  ]);
  assert.deepEqual(warnRegexList(compileRegexList('--reject-paths', '^/api/v1/secrets,,x ,')), [
    '--reject-paths contains an empty pattern, which matches every request',
    '--reject-paths pattern "x " has surrounding spaces; patterns are not trimmed',
  ]);
  assert.deepEqual(warnRegexList(compileRegexList('--reject-paths', DEFAULT_PATH_REJECT_RE)), []);
  assert.deepEqual(warnRegexList(compileRegexList('--accept-hosts', '')), []);
});

test('subjects longer than Go could ever filter fail closed', () => {
  const r = rules();
  // Byte length, not UTF-16 length, is what counts (3 bytes per CJK character).
  const atLimit = '/' + '\u4e00'.repeat(Math.floor((MAX_SUBJECT_BYTES - 1) / 3));
  assert.ok(Buffer.byteLength(atLimit) <= MAX_SUBJECT_BYTES);
  assert.equal(decide(r, 'GET', atLimit, 'localhost').accept, true);
  const over = atLimit + '\u4e00';
  assert.throws(() => r.rejectPaths.matches(over), RegexMatchError);
  const d = decide(r, 'GET', over, 'localhost');
  assert.equal(d.accept, false);
  assert.equal((d as { check: string }).check, 'reject-paths');
  assert.match(d.rule, /longer than/);
  // The same for a Host value, which is checked last.
  const hugeHost = 'x'.repeat(MAX_SUBJECT_BYTES + 1);
  assert.equal(hostAccepted(r, hugeHost), false);
  assert.equal((decide(r, 'GET', '/api/v1/pods', hugeHost) as { check: string }).check, 'accept-hosts');
  // An empty list never touches RE2, so length does not matter there.
  assert.equal(compileRegexList('--reject-paths', '').matches(over), false);
});

// Exhausting re2-wasm's fixed heap leaves the module unusable, so these run in a child process.
function runIsolated(body: string): { status: number | null; stdout: string; stderr: string } {
  const regexlist = new URL('../src/filter/regexlist.js', import.meta.url).href;
  const filter = new URL('../src/filter/filter.js', import.meta.url).href;
  const script = `import * as regexlist from ${JSON.stringify(regexlist)};\nimport * as filter from ${JSON.stringify(filter)};\n${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a pattern too large for the RE2 heap is a compile error, not a crash', () => {
  const r = runIsolated(`
    try { regexlist.compileRegexList('--reject-paths', '^ok$,[\\\\pL]{1000}'); console.log('compiled'); }
    catch (err) { console.log(err.name + ': ' + err.message); }
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), String.raw`RegexListError: invalid regular expression "[\pL]{1000}" in --reject-paths: pattern too large for the RE2 engine's fixed 16 MiB memory`);
});

test('when RE2 runs out of memory while matching, requests are rejected, never accepted', () => {
  // Six patterns whose DFAs grow without bound on random a/b input fill the 16 MiB heap.
  const r = runIsolated(`
    const heavy = Array.from({ length: 6 }, (_, i) => '[ab]*a[ab]{' + (18 + i) + '}c').join(',');
    const rules = filter.compileFilterRules({ acceptPaths: '^.*', rejectPaths: heavy, acceptHosts: '^localhost$', rejectMethods: '^$' });
    let x = 2463534242;
    const bit = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 31) & 1; };
    const seen = new Set();
    for (let round = 0; round < 200; round++) {
      let s = '/';
      for (let j = 0; j < 20000; j++) s += bit() ? 'a' : 'b';
      const d = filter.decide(rules, 'GET', s, 'localhost');
      seen.add(d.accept ? 'accept' : d.check + (d.rule.includes('RE2 failed') ? ' (RE2 failed)' : ''));
      if (seen.has('reject-paths (RE2 failed)')) break;
    }
    const after = filter.decide(rules, 'GET', '/api/v1/pods', 'localhost');
    console.log(JSON.stringify({ seen: [...seen].sort(), after: after.accept, hostAccepted: filter.hostAccepted(rules, 'localhost') }));
  `);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seen: string[]; after: boolean; hostAccepted: boolean };
  assert.ok(out.seen.includes('reject-paths (RE2 failed)'), r.stdout);
  // The random paths contain no 'c', so nothing matched them; once RE2 failed, no path that
  // needs the broken patterns is accepted.
  assert.equal(out.after, false);
  // `^localhost$` is answered by the literal fast path, which needs no RE2 heap.
  assert.equal(out.hostAccepted, true);
});
