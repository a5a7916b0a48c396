// --config=FILE: the YAML file as a table (every flag by its long name, contexts with their own
// rules, relative paths, one-line errors naming file, line and key), the precedence command line
// > file > defaults through parseArgs, and kproxy refusing to start on a broken file.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseArgs } from '../src/cli.js';
import { parseConfigFile, type FlagKind } from '../src/config-file.js';
import type { ProxyFlags } from '../src/options.js';
import { tempDir, type TempDir } from './helpers/kubeconfig.js';
import { runKproxy } from './helpers/proc.js';

const FLAGS = new Map<string, FlagKind>([
  ['port', 'string'],
  ['reject-paths', 'string'],
  ['accept-hosts', 'string'],
  ['disable-filter', 'boolean'],
  ['as-group', 'list'],
  ['kubeconfig', 'string'],
  ['access-log', 'string'],
  ['auth-token', 'string'],
  ['keepalive', 'string'],
  ['admin-address', 'string'],
]);

describe('parseConfigFile', () => {
  const ok: Array<[string, string, Record<string, unknown>, unknown?]> = [
    ['empty file', '', {}],
    ['comments only', '# nothing\n', {}],
    ['a number where a string is wanted', 'port: 8011\n', { port: '8011' }],
    ['a boolean', 'disable-filter: true\n', { 'disable-filter': true }],
    ['a list', 'as-group: [a, b]\n', { 'as-group': ['a', 'b'] }],
    ['one string for a list', 'as-group: a\n', { 'as-group': ['a'] }],
    ['relative paths from the file folder', 'kubeconfig: kc.yaml\naccess-log: "-"\nauth-token: auto\n', { kubeconfig: '/etc/kproxy/kc.yaml', 'access-log': '-', 'auth-token': 'auto' }],
    ['absolute paths kept', 'kubeconfig: /x/kc\n', { kubeconfig: '/x/kc' }],
    ['~/ is the home folder', 'kubeconfig: ~/.kube/config\n', { kubeconfig: '/home/me/.kube/config' }],
    [
      'contexts with rules',
      'contexts:\n  - a\n  - name: "arn:aws:eks:r:1:cluster/prod"\n    reject-methods: "^POST$,^DELETE$"\n    reject-paths: "^/api/.*/secrets"\n',
      {},
      { names: ['a', 'arn:aws:eks:r:1:cluster/prod'], rules: { 'arn:aws:eks:r:1:cluster/prod': { rejectMethods: '^POST$,^DELETE$', rejectPaths: '^/api/.*/secrets' } } },
    ],
  ];
  for (const [label, text, values, contexts] of ok) {
    test(label, () => {
      const f = parseConfigFile(text, '/etc/kproxy/kproxy.yaml', FLAGS, '/home/me');
      assert.deepEqual(Object.fromEntries(f.values), values);
      assert.deepEqual(f.contexts, contexts);
    });
  }

  const bad: Array<[string, string, string]> = [
    ['unknown key', 'port: 1\nrejekt-paths: x\n', `k.yaml:2: unknown key "rejekt-paths" (keys are kproxy's long flag names, such as reject-paths)`],
    ['wrong type: boolean', 'disable-filter: "yes"\n', 'k.yaml:1: disable-filter: must be true or false'],
    ['wrong type: string', 'reject-paths:\n  - a\n', 'k.yaml:2: reject-paths: must be a string'],
    ['bad regex', 'port: 1\n\naccept-hosts: "^(localhost$"\n', 'k.yaml:3: accept-hosts: '],
    ['bad port', 'port: 70000\n', 'k.yaml:1: port: invalid port 70000: must be from 0 to 65535'],
    ['bad duration', 'keepalive: 5\n', 'k.yaml:1: keepalive: invalid argument "5" for "--keepalive" flag: time: missing unit in duration "5"'],
    ['bad admin address', 'admin-address: 9090\n', 'k.yaml:1: admin-address: invalid --admin-address "9090"'],
    ['bad regex in a context', 'contexts:\n  - name: a\n    reject-paths: "["\n', 'k.yaml:3: contexts[0].reject-paths: '],
    ['unknown key in a context', 'contexts:\n  - name: a\n    port: 1\n', 'k.yaml:3: contexts[0]: unknown key "port" (a context takes name, accept-paths, reject-paths, reject-methods)'],
    ['context without a name', 'contexts:\n  - reject-paths: x\n', 'k.yaml:2: contexts[0]: needs a name'],
    ['context twice', 'contexts:\n  - a\n  - a\n', 'k.yaml:3: contexts[1]: context "a" is listed twice'],
    ['contexts not a list', 'contexts: a,b\n', 'k.yaml:1: contexts: must be a list'],
    ['not a mapping', '- port\n', 'k.yaml:1: the file must be a mapping of flag names to values'],
    ['duplicate key', 'port: 1\nport: 2\n', 'k.yaml:2: Map keys must be unique'],
    ['broken YAML', 'port: [1\n', 'k.yaml:'],
  ];
  for (const [label, text, want] of bad) {
    test(`error: ${label}`, () => {
      assert.throws(
        () => parseConfigFile(text, 'k.yaml', FLAGS),
        (err: Error) => {
          assert.equal(err.name, 'ConfigFileError');
          assert.ok(err.message.startsWith(want), `${err.message}\n  does not start with\n${want}`);
          assert.ok(!err.message.includes('\n'), err.message);
          return true;
        },
      );
    });
  }
});

describe('precedence: command line, then file, then defaults', () => {
  let dir: TempDir;
  let file: string;
  before(() => {
    dir = tempDir('kproxy-config');
    file = join(dir.path, 'kproxy.yaml');
    writeFileSync(
      file,
      ['port: 8011', 'reject-methods: "^POST$"', 'disable-filter: true', 'as-group: [from-file]', 'kubeconfig: kc', 'contexts:', '  - a', '  - name: b', '    reject-paths: "^/api/v1/secrets"', ''].join('\n'),
    );
  });
  after(() => dir.cleanup());

  const flags = (argv: string[]): ProxyFlags => {
    const r = parseArgs([`--config=${file}`, ...argv]);
    assert.equal(r.kind, 'run');
    return (r as { flags: ProxyFlags }).flags;
  };

  test('the file over the defaults', () => {
    const f = flags([]);
    assert.equal(f.port, 8011);
    assert.equal(f.rejectMethods, '^POST$');
    assert.equal(f.disableFilter, true);
    assert.deepEqual(f.config.asGroups, ['from-file']);
    assert.equal(f.config.kubeconfig, join(dir.path, 'kc'));
    assert.equal(f.rejectPaths, '^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach');
    assert.deepEqual(f.contexts, ['a', 'b']);
    assert.deepEqual(f.contextRules, { b: { rejectPaths: '^/api/v1/secrets' } });
    assert.equal(f.portGiven, true);
  });

  test('the command line over the file', () => {
    const f = flags(['--port=9000', '--reject-methods=^PUT$', '--disable-filter=false', '--as-group=cli', '--contexts=b']);
    assert.equal(f.port, 9000);
    assert.equal(f.rejectMethods, '^PUT$');
    assert.equal(f.disableFilter, false);
    assert.deepEqual(f.config.asGroups, ['cli']);
    assert.deepEqual(f.contexts, ['b']);
    assert.deepEqual(f.contextRules, { b: { rejectPaths: '^/api/v1/secrets' } });
  });

  test('--all-contexts on the command line replaces the file list', () => {
    const f = flags(['--all-contexts']);
    assert.equal(f.allContexts, true);
    assert.deepEqual(f.contexts, []);
  });

  test('a broken file stops kproxy with one line and serves nothing', async () => {
    const broken = join(dir.path, 'broken.yaml');
    writeFileSync(broken, 'port: 0\nreject-paths: "^/api/(x"\n');
    const r = await runKproxy([`--config=${broken}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error: ${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: reject-paths: `));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '');
  });

  test('a missing file', async () => {
    const r = await runKproxy([`--config=${join(dir.path, 'nope.yaml')}`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: cannot read --config ${join(dir.path, 'nope.yaml')}: no such file or directory\n`);
  });
});
