// The literal fast path must give RE2's answer for every subject. Subjects are generated from
// the patterns' own pieces plus noise, so matches and near-misses are both frequent.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { literalMatcher } from '../src/filter/literal.js';
import { compileRegexList, compileWithRE2 } from '../src/filter/regexlist.js';
import { DEFAULT_HOST_ACCEPT_RE, DEFAULT_METHOD_REJECT_RE, DEFAULT_PATH_ACCEPT_RE, DEFAULT_PATH_REJECT_RE } from '../src/filter/filter.js';

const FAST = [
  ...DEFAULT_PATH_REJECT_RE.split(','),
  ...DEFAULT_HOST_ACCEPT_RE.split(','),
  DEFAULT_PATH_ACCEPT_RE,
  DEFAULT_METHOD_REJECT_RE,
  '',
  '^',
  '$',
  'exec',
  '^/api/',
  '/exec$',
  '^/api/v1/secrets$',
  '.*',
  '.*.*',
  'a.*a',
  '^a.*a$',
  '^ab.*ba.*ab$',
  '/pods/.*/.*/x',
  '^POST$',
  '\\.\\*\\[\\]\\(\\)\\$\\^\\\\',
  '^\\/api\\/',
  'é.*ü',
];

const SLOW = ['a*', 'a+', 'a?', 'a{2}', '\\.*', '.+', '.', '.*?', '(a)', 'a|b', '[a]', '\\d', '\\z', '(?i)a', '^a$b', 'a^', '\\Qa\\E', 'x\\', '\\pL'];

// A deterministic generator (mulberry32), so a failure can be replayed.
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function subjects(pattern: string, count: number, seed: number): string[] {
  const rand = rng(seed);
  const parts = pattern.replace(/\\(.)/g, '$1').split(/\.\*|\^|\$/).filter((p) => p !== '');
  const noise = ['a', 'b', '/', 'x', '.', '[', '::1', 'é', '\r', ' ', 'ab', 'ba', 'localhost', '127.0.0.1', 'pods', 'api'];
  const out: string[] = ['', pattern];
  for (let i = 0; i < count; i++) {
    let s = '';
    const n = Math.floor(rand() * 7);
    for (let j = 0; j < n; j++) {
      const pick = rand();
      if (pick < 0.5 && parts.length > 0) s += parts[Math.floor(rand() * parts.length)];
      else s += noise[Math.floor(rand() * noise.length)];
    }
    out.push(s);
  }
  return out;
}

test('every fast pattern answers exactly as RE2 on generated subjects', () => {
  let compared = 0;
  let matched = 0;
  FAST.forEach((pattern, k) => {
    const fast = literalMatcher(pattern);
    assert.ok(fast, `expected a literal matcher for ${JSON.stringify(pattern)}`);
    const slow = compileWithRE2(pattern);
    for (const s of subjects(pattern, 3000, 1000 + k)) {
      const want = slow(s);
      assert.equal(fast(s), want, `pattern ${JSON.stringify(pattern)} subject ${JSON.stringify(s)}`);
      compared++;
      if (want) matched++;
    }
  });
  // The generator must exercise both answers, or the comparison proves little.
  assert.ok(matched > compared / 10 && matched < compared - compared / 10, `${matched} of ${compared} matched`);
});

test('patterns outside the literal subset go to RE2', () => {
  for (const p of SLOW) assert.equal(literalMatcher(p), undefined, p);
});

test('subjects with a newline are answered by RE2 (Go\'s . stops at \\n)', () => {
  const list = compileRegexList('--reject-paths', DEFAULT_PATH_REJECT_RE);
  assert.equal(list.firstMatch('/api/v1/namespaces/x/pods/y/exec'), '^/api/.*/pods/.*/exec');
  assert.equal(list.firstMatch('/api/v1/namespaces/x\n/pods/y/exec'), undefined);
  assert.equal(list.firstMatch('/api/v1/namespaces/x/pods/y/exec\n'), '^/api/.*/pods/.*/exec');
  const exact = compileRegexList('--accept-hosts', '^localhost$');
  assert.equal(exact.matches('localhost\n'), false);
});
