// `kproxy --help` documents what a user cannot guess: `--` mode's environment, the exit codes,
// every value of every enumerated flag, and the other commands. The flags themselves are
// checked against the parser in completion.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runKproxy } from './helpers/proc.js';

test('kproxy help is kproxy --help', async () => {
  const [a, b] = await Promise.all([runKproxy(['help']), runKproxy(['--help'])]);
  assert.equal(a.code, 0);
  assert.equal(a.stderr, '');
  assert.equal(a.stdout, b.stdout);
});

test('--help explains -- mode, exit codes, enumerated values and the other commands', async () => {
  const help = (await runKproxy(['--help'])).stdout;
  const needles: Array<[string, RegExp]> = [
    ['-- mode usage', /kproxy \[options\] -- COMMAND \[ARGS\.\.\.\]/],
    ['KPROXY_URL', /KPROXY_URL\s+the proxy's URL/],
    ['KUBECONFIG', /KUBECONFIG\s+a temporary kubeconfig/],
    ['exit 0', /^\s+0\s+stopped by SIGINT or SIGTERM/m],
    ['exit 1', /^\s+1\s+a bad flag/m],
    ['exit N', /^\s+N\s+in -- mode, COMMAND's status; 128\+N when signal N ended it; 127 when it cannot\s+be found, 126 when it cannot be run/m],
    ['exit 130/143', /^\s+130, 143\s+a second SIGINT or SIGTERM/m],
    ['--output values', /-o, --output=text\|json/],
    ['--access-log-format values', /--access-log-format=text\|json/],
    ['version command', /kproxy version \[--output=json\|yaml\]/],
    ['completion command', /kproxy completion bash\|zsh\|fish/],
  ];
  for (const [what, re] of needles) assert.match(help, re, what);
});

test('every value --help lists for --output and --access-log-format is accepted, and only those', async () => {
  for (const flag of ['--output', '--access-log-format']) {
    const r = await runKproxy(['--port=0', `${flag}=yaml`, '--kubeconfig=/nonexistent']);
    assert.equal(r.stderr, `error: invalid ${flag} "yaml": must be one of text, json\n`);
  }
});
