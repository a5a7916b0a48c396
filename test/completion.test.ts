// `kproxy completion bash|zsh|fish`: the bash script is sourced in a bash child with COMP_WORDS
// and COMP_CWORD set as bash sets them (it splits `--flag=value` at `=`), and what it leaves in
// COMPREPLY is compared. The kubeconfig names come from kproxy itself, so the first word is the
// real bin/kproxy. zsh and fish scripts are syntax-checked when those shells are installed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir, type TempDir } from './helpers/kubeconfig.js';
import { kproxyBin, runKproxy } from './helpers/proc.js';

let dir: TempDir;
let kc: string;
let other: string;
let bashScript: string;

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- {name: prod, cluster: {server: "https://127.0.0.1:1"}}
- {name: staging, cluster: {server: "https://127.0.0.1:2"}}
users:
- {name: alice, user: {token: "t1"}}
- {name: bob, user: {token: "t2"}}
contexts:
- {name: prod-ctx, context: {cluster: prod, user: alice}}
- {name: stage-ctx, context: {cluster: staging, user: bob}}
current-context: prod-ctx
`;

before(async () => {
  dir = tempDir('kproxy-completion');
  kc = join(dir.path, 'kubeconfig');
  writeFileSync(kc, KUBECONFIG);
  other = join(dir.path, 'other');
  writeFileSync(other, KUBECONFIG.replace(/prod-ctx/g, 'other-ctx'));
  const r = await runKproxy(['completion', 'bash']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  bashScript = join(dir.path, 'kproxy.bash');
  writeFileSync(bashScript, r.stdout);
});

after(() => dir?.cleanup());

function hasShell(name: string): boolean {
  return spawnSync(name, ['-c', 'exit 0']).status === 0;
}

/** COMPREPLY for the words typed so far (the last one is the word being completed). */
function complete(words: string[], env: Record<string, string | undefined> = {}): string[] {
  const script = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _kproxy; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script, 'bash', bashScript, kproxyBin(), ...words], {
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: undefined, HOME: dir.path, ...env },
    timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'nothing on stderr while completing');
  return r.stdout.split('\n').filter((l) => l !== '');
}

describe('bash', { concurrency: 4 }, () => {
  const cases: Array<[string, string[], string[], Record<string, string>?]> = [
    ['subcommands first', ['ver'], ['version']],
    ['shells after completion', ['completion', ''], ['bash', 'zsh', 'fish']],
    ['long flags', ['--acc'], ['--accept-hosts', '--accept-paths', '--access-log', '--access-log-format']],
    ['--output values', ['--output', ''], ['text', 'json']],
    ['-o values', ['-o', 'j'], ['json']],
    ['--access-log-format=<TAB> (bash splits at =)', ['--access-log-format', '=', ''], ['text', 'json']],
    ['--access-log-format=j', ['--access-log-format', '=', 'j'], ['json']],
    ['--context from --kubeconfig=F', ['--kubeconfig', '=', '<kc>', '--context', ''], ['prod-ctx', 'stage-ctx']],
    ['--context from --kubeconfig F', ['--kubeconfig', '<kc>', '--context', 's'], ['stage-ctx']],
    ['--cluster= names', ['--kubeconfig', '<kc>', '--cluster', '=', ''], ['prod', 'staging']],
    ['--user names', ['--kubeconfig', '<kc>', '--user', ''], ['alice', 'bob']],
    ['names from KUBECONFIG', ['--context', ''], ['prod-ctx', 'stage-ctx'], { KUBECONFIG: '<kc>' }],
    ['--kubeconfig on the line wins over KUBECONFIG', ['--kubeconfig', '<other>', '--context', ''], ['other-ctx', 'stage-ctx'], { KUBECONFIG: '<kc>' }],
    ['no kubeconfig: no names, no error', ['--context', ''], []],
    ['an unreadable kubeconfig: no names, no error', ['--kubeconfig', '/nonexistent', '--context', ''], []],
    ['file names for --kubeconfig', ['--kubeconfig', '<dir>/kube'], ['<dir>/kubeconfig']],
    ['--port takes any value: nothing offered', ['--port', ''], []],
  ];
  for (const [name, words, want, env] of cases) {
    test(name, () => {
      const sub = (s: string) => s.replace('<kc>', kc).replace('<other>', other).replace('<dir>', dir.path);
      const got = complete(words.map(sub), Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, sub(v)])));
      assert.deepEqual(got.sort(), want.map(sub).sort());
    });
  }

  test('every flag kproxy --help documents is offered', async () => {
    const help = (await runKproxy(['--help'])).stdout;
    const offered = new Set(complete(['--']).concat(complete(['-'])));
    const documented = new Set([...help.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]!));
    assert.ok(documented.size > 20, `found ${documented.size} flags in --help`);
    for (const flag of documented) assert.ok(offered.has(flag), `${flag} is documented but not completed`);
  });

  test('every flag offered is documented in kproxy --help', async () => {
    const help = (await runKproxy(['--help'])).stdout;
    const offered = complete(['--']);
    assert.ok(offered.length > 20);
    for (const flag of offered) assert.match(help, new RegExp(`(?<![\\w-])${flag}(?![\\w-])`), `${flag} is missing from --help`);
  });

  test('after -- the words are the command\'s: commands, not flags', () => {
    const got = complete(['--port=0', '--', 'bas']);
    assert.ok(got.includes('bash'), got.join(' '));
    assert.ok(!got.some((w) => w.startsWith('-')));
  });
});

describe('other shells', () => {
  test('completion without a shell, or an unknown one, is a one-line error', async () => {
    for (const args of [['completion'], ['completion', 'tcsh'], ['completion', 'bash', 'zsh']]) {
      const r = await runKproxy(args);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, 'error: usage: kproxy completion bash|zsh|fish\n');
    }
  });

  for (const shell of ['zsh', 'fish'] as const) {
    test(`the ${shell} script parses`, { skip: hasShell(shell) ? false : `${shell} is not installed` }, async () => {
      const r = await runKproxy(['completion', shell]);
      assert.equal(r.code, 0, r.stderr);
      const file = join(dir.path, `kproxy.${shell}`);
      writeFileSync(file, r.stdout);
      const check = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
      assert.equal(check.status, 0, check.stderr);
      for (const name of ['--context', '--kubeconfig', '--access-log-format']) assert.ok(r.stdout.includes(name.slice(2)), name);
    });
  }
});
