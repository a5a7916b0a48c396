// Kubeconfig parsing, merging, selection and loading. Rows marked "observed" were run through
// the real kubectl 1.32.5 (`kubectl config view --raw --kubeconfig F` for file errors,
// `kubectl get --raw /x --kubeconfig F` for selection and validation errors) and the expected
// text is what it printed after `error: ` (client-go's duplicate-name message also appends a Go
// dump of the list, which kproxy leaves out). Other rows follow client-go's source
// (client_config.go, validation.go, loader.go) where kubectl's effect cannot be printed.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadKubeconfig, loadResolvedConfig } from '../src/kubeconfig/load.js';
import { mergeKubeconfigs } from '../src/kubeconfig/merge.js';
import { goBase64Decode, parseKubeconfig } from '../src/kubeconfig/parse.js';
import { resolveConfig } from '../src/kubeconfig/resolve.js';
import { ConfigError, type ConfigOverrides, type ResolvedConfig } from '../src/kubeconfig/types.js';

const P = 'kc.yaml';

function parseError(text: string, path = P): string {
  try {
    parseKubeconfig(text, path);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    return err.message;
  }
  assert.fail('parsed without error');
}

function resolveError(merged: ReturnType<typeof mergeKubeconfigs>, overrides: ConfigOverrides, cwd = '/work'): string {
  try {
    resolveConfig(merged, overrides, cwd);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    return err.message;
  }
  assert.fail('resolved without error');
}

/** One file at `path` holding context c -> cluster cl, user u. */
function single(cluster: string, user: string, path = '/home/me/.kube/config'): ReturnType<typeof mergeKubeconfigs> {
  const text = `current-context: c
contexts: [{name: c, context: {cluster: cl, user: u}}]
clusters: [{name: cl, cluster: ${cluster}}]
users: [{name: u, user: ${user}}]
`;
  return mergeKubeconfigs([parseKubeconfig(text, path)]);
}

// ---------------------------------------------------------------------------------------------

describe('parseKubeconfig: errors', () => {
  const rows: Array<[string, string, string]> = [
    // YAML syntax: kubectl's reason comes from go-yaml, ours from the yaml package; prefix and line agree.
    ['tab indentation (observed)', 'users:\n- name: a\n\tuser: {}\n', 'error loading config file "kc.yaml": yaml: line 3: found a tab character that violates indentation'],
    ['unknown anchor (observed)', 'current-context: *x\n', `error loading config file "kc.yaml": yaml: unknown anchor 'x' referenced`],
    ['merge of a scalar (observed)', 'users:\n- name: a\n  user:\n    <<: 3\n', 'error loading config file "kc.yaml": yaml: map merge requires map or sequence of maps as the value'],
    ['anchor containing itself (observed)', 'users: [{name: u, user: {token: &a [*a]}}]\n', `error loading config file "kc.yaml": yaml: anchor 'a' value contains itself`],
    ['!!int on text (observed)', 'users: [{name: u, user: {token: !!int abc}}]\n', 'error loading config file "kc.yaml": yaml: cannot decode !!str `abc` as a !!int'],
    // Type errors: kubectl does not coerce numbers or booleans into strings.
    ['numeric token (observed)', 'users: [{name: u, user: {token: 12345}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field AuthInfo.users.user.token of type string'],
    ['numeric name (observed)', 'clusters: [{name: 2, cluster: {server: "https://a"}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field NamedCluster.clusters.name of type string'],
    ['numeric current-context (observed)', 'current-context: 1\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field Config.current-context of type string'],
    ['YAML 1.1 `yes` is a bool, not a token (observed)', 'users: [{name: u, user: {token: yes}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal bool into Go struct field AuthInfo.users.user.token of type string'],
    ['YAML 1.1 `y` is a bool too (observed)', 'users: [{name: u, user: {token: y}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal bool into Go struct field AuthInfo.users.user.token of type string'],
    ['go-yaml reads 0o17 as a number (observed)', 'users: [{name: u, user: {token: 0o17}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field AuthInfo.users.user.token of type string'],
    ['go-yaml reads 1_000 as a number (observed)', 'users: [{name: u, user: {token: 1_000}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field AuthInfo.users.user.token of type string'],
    ['go-yaml reads 09 as a float (observed)', 'users: [{name: u, user: {token: 09}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field AuthInfo.users.user.token of type string'],
    ['hex number (observed)', 'users: [{name: u, user: {token: -0x1F}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field AuthInfo.users.user.token of type string'],
    ['quoted "true" for a bool (observed)', 'clusters: [{name: c, cluster: {insecure-skip-tls-verify: "true"}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal string into Go struct field Cluster.clusters.cluster.insecure-skip-tls-verify of type bool'],
    ['1 for a bool (observed)', 'clusters: [{name: c, cluster: {insecure-skip-tls-verify: 1}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field Cluster.clusters.cluster.insecure-skip-tls-verify of type bool'],
    ['users as a mapping (observed)', 'users: {}\n', 'error loading config file "kc.yaml": json: cannot unmarshal object into Go struct field Config.users of type []v1.NamedAuthInfo'],
    ['user as a string (observed)', 'users: [{name: u, user: "str"}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal string into Go struct field NamedAuthInfo.users.user of type v1.AuthInfo'],
    ['users element a number (observed)', 'users: [3]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field Config.users of type v1.NamedAuthInfo'],
    ['exec args element (observed)', 'users: [{name: u, user: {exec: {command: x, args: [1, "b"]}}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field ExecConfig.users.user.exec.args of type string'],
    ['exec env value (observed)', 'users: [{name: u, user: {exec: {command: x, env: [{name: a, value: 1}]}}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field ExecEnvVar.users.user.exec.env.value of type string'],
    ['exec env a number (observed)', 'users: [{name: u, user: {exec: {env: 3}}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field ExecConfig.users.user.exec.env of type []v1.ExecEnvVar'],
    ['exec as a string (observed)', 'users: [{name: u, user: {exec: "x"}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal string into Go struct field AuthInfo.users.user.exec of type v1.ExecConfig'],
    ['interactiveMode number (observed)', 'users: [{name: u, user: {exec: {interactiveMode: 1}}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field ExecConfig.users.user.exec.interactiveMode of type v1.ExecInteractiveMode'],
    ['provideClusterInfo quoted (observed)', 'users: [{name: u, user: {exec: {command: x, provideClusterInfo: "yes"}}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal string into Go struct field ExecConfig.users.user.exec.provideClusterInfo of type bool'],
    ['as-groups a string (observed)', 'users: [{name: u, user: {as-groups: "g"}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal string into Go struct field AuthInfo.users.user.as-groups of type []string'],
    ['as-user-extra value a string (observed)', 'users: [{name: u, user: {as-user-extra: {a: "b"}}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal string into Go struct field AuthInfo.users.user.as-user-extra of type []string'],
    ['as-user-extra item a number (observed)', 'users: [{name: u, user: {as-user-extra: {a: [1]}}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field AuthInfo.users.user.as-user-extra of type string'],
    ['auth-provider config value (observed)', 'users: [{name: u, user: {auth-provider: {name: oidc, config: {a: 1}}}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field AuthProviderConfig.users.user.auth-provider.config of type string'],
    ['auth-provider a list (observed)', 'users: [{name: u, user: {auth-provider: []}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal array into Go struct field AuthInfo.users.user.auth-provider of type v1.AuthProviderConfig'],
    ['context a string (observed)', 'contexts: [{name: c, context: "x"}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal string into Go struct field NamedContext.contexts.context of type v1.Context'],
    ['preferences.colors (observed)', 'preferences: {colors: "x"}\n', 'error loading config file "kc.yaml": json: cannot unmarshal string into Go struct field Preferences.preferences.colors of type bool'],
    ['extensions a number (observed)', 'extensions: 1\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field Config.extensions of type []v1.NamedExtension'],
    ['data as a number (observed)', 'clusters: [{name: c, cluster: {certificate-authority-data: 123}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field Cluster.clusters.cluster.certificate-authority-data of type []uint8'],
    ['data byte array out of range (observed)', 'users: [{name: u, user: {client-key-data: [65, 300]}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number 300 into Go struct field AuthInfo.users.user.client-key-data of type uint8'],
    // encoding/json reports the earliest error, and sigs.k8s.io/yaml hands it sorted keys.
    ['earliest key wins: as < token (observed)', 'users: [{name: u, user: {token: 1, as: 2}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field AuthInfo.users.user.as of type string'],
    ['earliest key wins: name < user (observed)', 'users: [{name: 1, user: {as: 2}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field NamedAuthInfo.users.name of type string'],
    ['earliest key wins over base64 (observed)', 'users: [{name: u, user: {client-key-data: "!!", as: 3}}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field AuthInfo.users.user.as of type string'],
    ['clusters sorts before current-context (observed)', 'current-context: 1\ncontexts: [{name: 1}]\nclusters: [{name: 2}]\n', 'error loading config file "kc.yaml": json: cannot unmarshal number into Go struct field NamedCluster.clusters.name of type string'],
    // JSON cannot carry these at all, wherever they are.
    ['.inf (observed)', 'users: [{name: u, user: {token: .inf}}]\n', 'error loading config file "kc.yaml": json: unsupported value: +Inf'],
    ['.nan before a type error (observed)', 'users: [{name: u, user: {token: .inf, as: .nan}}]\n', 'error loading config file "kc.yaml": json: unsupported value: NaN'],
    // Document shape and apiVersion/kind sniffing.
    ['top-level list (observed)', '- a\n', 'error loading config file "kc.yaml": couldn\'t get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'],
    ['top-level string (observed)', 'just a string\n', 'error loading config file "kc.yaml": couldn\'t get version/kind; json parse error: json: cannot unmarshal string into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'],
    ['numeric apiVersion (observed)', 'apiVersion: 1\n', 'error loading config file "kc.yaml": couldn\'t get version/kind; json parse error: json: cannot unmarshal number into Go struct field .apiVersion of type string'],
    ['numeric kind (observed)', 'kind: 3\n', 'error loading config file "kc.yaml": couldn\'t get version/kind; json parse error: json: cannot unmarshal number into Go struct field .kind of type string'],
    ['unknown version (observed)', 'kind: Config\napiVersion: v2\n', 'error loading config file "kc.yaml": no kind "Config" is registered for version "v2" in scheme "k8s.io/client-go/tools/clientcmd/api/latest/latest.go:50"'],
    ['unknown kind, default version (observed)', 'kind: Foo\n', 'error loading config file "kc.yaml": no kind "Foo" is registered for version "v1" in scheme "k8s.io/client-go/tools/clientcmd/api/latest/latest.go:50"'],
    ['kind is case-sensitive (observed)', 'apiVersion: v1\nkind: config\n', 'error loading config file "kc.yaml": no kind "config" is registered for version "v1" in scheme "k8s.io/client-go/tools/clientcmd/api/latest/latest.go:50"'],
    // Base64: Go's std decoder, offsets included.
    ['base64 too short (observed)', 'clusters: [{name: c, cluster: {certificate-authority-data: "abc"}}]\n', 'error loading config file "kc.yaml": illegal base64 data at input byte 0'],
    ['base64 bad char (observed)', 'clusters: [{name: c, cluster: {certificate-authority-data: "ab!c"}}]\n', 'error loading config file "kc.yaml": illegal base64 data at input byte 2'],
    ['base64 url alphabet (observed)', 'users: [{name: u, user: {client-certificate-data: "YW_j"}}]\n', 'error loading config file "kc.yaml": illegal base64 data at input byte 2'],
    ['base64 missing padding (observed)', 'users: [{name: u, user: {client-key-data: "YWJjZA"}}]\n', 'error loading config file "kc.yaml": illegal base64 data at input byte 4'],
    // Duplicate names: clusters are converted first, then users, then contexts.
    ['duplicate user (observed)', 'current-context: a\nusers:\n- name: a\n  user: {token: x}\n- name: a\n  user: {token: z}\n', 'error loading config file "kc.yaml": error converting *[]NamedAuthInfo into *map[string]*api.AuthInfo: duplicate name "a" in list'],
    ['duplicate context (observed)', 'contexts:\n- name: a\n- name: a\n', 'error loading config file "kc.yaml": error converting *[]NamedContext into *map[string]*api.Context: duplicate name "a" in list'],
    ['duplicate cluster reported first (observed)', 'users: [{name: a}, {name: a}]\nclusters: [{name: b}, {name: b}]\ncontexts: [{name: c}, {name: c}]\n', 'error loading config file "kc.yaml": error converting *[]NamedCluster into *map[string]*api.Cluster: duplicate name "b" in list'],
    ['two unnamed users collide on "" (observed)', 'users:\n- user: {token: x}\n- user: {token: z}\n', 'error loading config file "kc.yaml": error converting *[]NamedAuthInfo into *map[string]*api.AuthInfo: duplicate name "" in list'],
  ];
  for (const [name, text, message] of rows) {
    test(name, () => assert.equal(parseError(text), message));
  }

  test('bad YAML: kubectl prefix and line, with the parser reason', () => {
    // Observed: error loading config file "b1.yaml": yaml: line 5: found unexpected end of stream
    assert.match(parseError('users:\n- name: a\n  user:\n    token: "abc\n', '/x/b1.yaml'), /^error loading config file "\/x\/b1\.yaml": yaml: line 5: \S/);
    assert.match(parseError('a: [1, 2\n'), /^error loading config file "kc\.yaml": yaml: line \d+: \S/);
  });

  test('only the first YAML document is read (observed), so errors in later ones do not count', () => {
    const f = parseKubeconfig('current-context: x\n---\ncurrent-context: [\n', P);
    assert.equal(f.currentContext, 'x');
  });
});

describe('parseKubeconfig: accepted input', () => {
  const user = (text: string) => parseKubeconfig(text, P).users.get('u')!.value;
  const cluster = (text: string) => parseKubeconfig(text, P).clusters.get('c')!.value;

  test('empty and comment-only files are empty configs (observed)', () => {
    for (const text of ['', '\n', '# only a comment\n', '---\n---\ncurrent-context: x\n']) {
      const f = parseKubeconfig(text, P);
      assert.equal(f.currentContext, undefined);
      assert.equal(f.clusters.size + f.users.size + f.contexts.size, 0, JSON.stringify(text));
    }
  });

  test('YAML 1.1 booleans for bool fields', () => {
    for (const [word, value] of [['yes', true], ['on', true], ['Y', true], ['TRUE', true], ['no', false], ['off', false], ['n', false]] as const) {
      assert.equal(cluster(`clusters: [{name: c, cluster: {insecure-skip-tls-verify: ${word}}}]`).insecureSkipTLSVerify, value, word);
    }
  });

  test('scalars go-yaml keeps as text (observed: timestamps, 1:20, 1.2.3)', () => {
    const u = user('users: [{name: u, user: {token: 1:20, username: 2001-12-14, password: 2001-12-14t21:59:43.10-05:00}}]');
    assert.equal(u.token, '1:20');
    assert.equal(u.username, '2001-12-14');
    assert.equal(u.password, '2001-12-14t21:59:43.10-05:00');
    assert.equal(user('users: [{name: u, user: {token: 1.2.3}}]').token, '1.2.3');
    assert.equal(user('users: [{name: u, user: {token: "12345"}}]').token, '12345');
    assert.equal(user("users: [{name: u, user: {token: 'yes'}}]").token, 'yes');
  });

  test('null and ~ leave a field unset (observed)', () => {
    assert.equal(user('users: [{name: u, user: {token: ~}}]').token, undefined);
    assert.equal(user('users: [{name: u, user: {token: null, as: }}]').as, undefined);
  });

  test('explicit tags: !!str keeps digits, !!binary decodes (observed)', () => {
    assert.equal(user('users: [{name: u, user: {token: !!str 123}}]').token, '123');
    assert.equal(user('users: [{name: u, user: {token: !!binary aGVsbG8=}}]').token, 'hello');
    assert.equal(user('users: [{name: u, user: {token: !custom abc}}]').token, 'abc');
  });

  test('duplicate mapping keys: the later one wins (observed)', () => {
    assert.equal(user('users: [{name: u, user: {token: "x", token: "z"}}]').token, 'z');
    assert.equal(parseKubeconfig('current-context: a\ncurrent-context: b\n', P).currentContext, 'b');
  });

  test('merge keys with go-yaml v2 order (observed)', () => {
    // A merge overrides keys written before it; keys written after it override the merge.
    const u1 = user('x: &m {token: m1, username: m2}\nusers:\n- name: u\n  user:\n    token: own\n    <<: *m\n    username: own2\n');
    assert.equal(u1.token, 'm1');
    assert.equal(u1.username, 'own2');
    // In a list, earlier maps take precedence.
    const u2 = user('x: &m {token: m1}\ny: &n {token: n1, username: n2}\nusers:\n- name: u\n  user:\n    <<: [*m, *n]\n');
    assert.equal(u2.token, 'm1');
    assert.equal(u2.username, 'n2');
  });

  test('an explicit !!merge tag merges too (observed)', () => {
    assert.equal(user('x: &m {token: a}\nusers: [{name: u, user: {!!merge <<: *m}}]\n').token, 'a');
  });

  test('a collection as a mapping key is rejected (observed prefix; Go adds a %#v dump)', () => {
    assert.match(parseError('users: [{name: u, user: {? [a, b] : c}}]\n'), /^error loading config file "kc\.yaml": yaml: invalid map key: /);
  });

  test('aliases that expand forever are stopped', () => {
    let lol = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++) lol += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    assert.equal(parseError(lol), 'error loading config file "kc.yaml": yaml: document contains excessive aliasing');
  });

  test('keys are case-sensitive and unknown keys are ignored (observed)', () => {
    const u = user('users: [{name: u, user: {Token: x, whatever: [1, 2]}}]');
    assert.equal(u.token, undefined);
  });

  test('base64 data: newlines skipped, array form, empty means unset (observed)', () => {
    const c = cluster('clusters: [{name: c, cluster: {certificate-authority-data: "YWJj\\nZGVm"}}]');
    assert.equal(c.certificateAuthorityData?.toString(), 'abcdef');
    const u = user('users: [{name: u, user: {client-key-data: [65, 66], client-certificate-data: ""}}]');
    assert.equal(u.clientKeyData?.toString(), 'AB');
    assert.equal(u.clientCertificateData, undefined);
  });

  test('all fields map to the typed shape, with every entry recording its file', () => {
    const f = parseKubeconfig(
      `apiVersion: v1
kind: Config
current-context: c
clusters:
- name: c
  cluster:
    server: https://k:6443/prefix
    tls-server-name: sni
    certificate-authority: ca.pem
    proxy-url: socks5://p:1080
    disable-compression: true
    extensions: [{name: e, extension: {anything: [1]}}]
users:
- name: u
  user:
    client-certificate: c.pem
    client-key: k.pem
    tokenFile: tok
    as: admin
    as-uid: "42"
    as-groups: [a, b]
    as-user-extra: {scopes: [read, write]}
    auth-provider: {name: oidc, config: {client-id: k}}
    exec:
      command: ./bin/plugin
      args: [get-token]
      env: [{name: A, value: b}]
      apiVersion: client.authentication.k8s.io/v1
      interactiveMode: Never
      provideClusterInfo: true
      installHint: install it
contexts:
- name: c
  context: {cluster: c, user: u, namespace: ns}
`,
      '/etc/kube/a.yaml',
    );
    assert.equal(f.path, '/etc/kube/a.yaml');
    assert.equal(f.currentContext, 'c');
    assert.deepEqual(f.clusters.get('c'), {
      name: 'c',
      origin: '/etc/kube/a.yaml',
      value: {
        server: 'https://k:6443/prefix',
        tlsServerName: 'sni',
        certificateAuthority: 'ca.pem',
        proxyURL: 'socks5://p:1080',
        insecureSkipTLSVerify: false,
        disableCompression: true,
      },
    });
    assert.deepEqual(f.users.get('u'), {
      name: 'u',
      origin: '/etc/kube/a.yaml',
      value: {
        clientCertificate: 'c.pem',
        clientKey: 'k.pem',
        tokenFile: 'tok',
        as: 'admin',
        asUid: '42',
        asGroups: ['a', 'b'],
        asUserExtra: { scopes: ['read', 'write'] },
        authProvider: { name: 'oidc', config: { 'client-id': 'k' } },
        exec: {
          command: './bin/plugin',
          args: ['get-token'],
          env: [{ name: 'A', value: 'b' }],
          apiVersion: 'client.authentication.k8s.io/v1',
          interactiveMode: 'Never',
          provideClusterInfo: true,
          installHint: 'install it',
        },
      },
    });
    assert.deepEqual(f.contexts.get('c'), { name: 'c', origin: '/etc/kube/a.yaml', value: { cluster: 'c', user: 'u', namespace: 'ns' } });
  });

  test('exec interactiveMode defaults only for pre-v1 apiVersions', () => {
    const mode = (v: string) => user(`users: [{name: u, user: {exec: {command: x, apiVersion: "${v}"}}}]`).exec?.interactiveMode;
    assert.equal(mode('client.authentication.k8s.io/v1beta1'), 'IfAvailable');
    assert.equal(mode('client.authentication.k8s.io/v1alpha1'), 'IfAvailable');
    assert.equal(mode('client.authentication.k8s.io/v1'), undefined);
    assert.equal(user('users: [{name: u, user: {exec: {command: x, apiVersion: client.authentication.k8s.io/v1beta1, interactiveMode: Always}}}]').exec?.interactiveMode, 'Always');
  });

  test('an empty exec or auth-provider mapping is still present, as a non-nil Go pointer', () => {
    assert.ok(user('users: [{name: u, user: {exec: {}}}]').exec);
    assert.deepEqual(user('users: [{name: u, user: {auth-provider: {}}}]').authProvider, { name: '', config: {} });
    assert.equal(user('users: [{name: u, user: {exec: null}}]').exec, undefined);
  });
});

describe('goBase64Decode matches Go (offsets observed through kubectl)', () => {
  const rows: Array<[string, string | number]> = [
    ['YWJjZA==', 'abcd'],
    ['YWJjZA==YWJj', 8],
    ['YWJj=', 4],
    ['YWJjZA=', 7],
    ['YW=j', 2],
    ['Y===', 1],
    ['====', 0],
    ['=', 0],
    ['YQ', 0],
    ['YQ=\n', 4],
    ['YWJj ZGVm', 4],
    ['YWJjZ\nA==', 'abcd'],
    ['YWJjZA=\n=', 'abcd'],
    ['YWJjZA==\n\n', 'abcd'],
    ['YWJjZA==\nx', 9],
    ['YWJ\njZA', 5],
    ['YWJj\r\nZGVm\r\n', 'abcdef'],
    ['YWJjZGVmZ2hp!', 12],
    ['YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo', 32],
    ['w6k=', 'é'],
  ];
  for (const [input, want] of rows) {
    test(JSON.stringify(input), () => {
      const r = goBase64Decode(input);
      assert.deepEqual(Buffer.isBuffer(r) ? r.toString() : r.badByte, want);
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('mergeKubeconfigs', () => {
  const a = parseKubeconfig(
    `current-context: ""
clusters: [{name: shared, cluster: {server: "https://a", tls-server-name: a-only}}]
users: [{name: red-user, user: {token: from-a}}]
contexts: [{name: ca, context: {cluster: shared, user: red-user}}]
`,
    'a.yaml',
  );
  const b = parseKubeconfig(
    `current-context: cb
clusters: [{name: shared, cluster: {server: "https://b", proxy-url: "http://p:1"}}, {name: b-only, cluster: {server: "https://bb"}}]
users: [{name: red-user, user: {token: from-b, username: extra}}]
contexts: [{name: cb, context: {cluster: b-only}}]
`,
    'b.yaml',
  );
  const c = parseKubeconfig('current-context: cc\n', 'c.yaml');

  test('the first file to define a name wins, whole entry, origin kept', () => {
    const m = mergeKubeconfigs([a, b]);
    assert.deepEqual(m.clusters.get('shared'), a.clusters.get('shared'));
    assert.equal(m.clusters.get('shared')!.value.proxyURL, undefined, 'no field merge from the second file');
    assert.deepEqual(m.users.get('red-user')!.value, { token: 'from-a', asGroups: [], asUserExtra: {} });
    assert.equal(m.clusters.get('b-only')!.origin, 'b.yaml');
    assert.equal(m.users.get('red-user')!.origin, 'a.yaml');
    assert.deepEqual([...m.contexts.keys()], ['ca', 'cb']);
  });

  test('current-context: first non-empty in file order', () => {
    assert.equal(mergeKubeconfigs([a, b, c]).currentContext, 'cb');
    assert.equal(mergeKubeconfigs([c, b]).currentContext, 'cc');
    assert.equal(mergeKubeconfigs([a]).currentContext, undefined);
    assert.equal(mergeKubeconfigs([]).currentContext, undefined);
  });

  test('a later file supplies the context an earlier current-context names', () => {
    const onlyCurrent = parseKubeconfig('current-context: cb\n', 'home.yaml');
    const r = resolveConfig(mergeKubeconfigs([onlyCurrent, b]), {}, '/');
    assert.equal(r.server, 'https://bb');
  });
});

// ---------------------------------------------------------------------------------------------

describe('resolveConfig: selection errors', () => {
  const two = mergeKubeconfigs([
    parseKubeconfig(
      `contexts: [{name: b, context: {cluster: cl}}, {name: a, context: {cluster: cl}}]
clusters: [{name: cl, cluster: {server: "https://k"}}]
`,
      'x.yaml',
    ),
  ]);
  const rows: Array<[string, ReturnType<typeof mergeKubeconfigs>, ConfigOverrides, string]> = [
    ['--context missing (observed)', two, { context: 'zz' }, 'context "zz" does not exist'],
    ['--cluster missing (observed)', two, { context: 'a', cluster: 'nope' }, 'cluster "nope" does not exist'],
    ['--user missing (observed)', two, { context: 'a', user: 'nope' }, 'auth info "nope" does not exist'],
    ['--user is checked before --context, as client-go does', two, { context: 'zz', user: 'nope' }, 'auth info "nope" does not exist'],
    ['kproxy: no current-context lists the contexts', two, {}, 'no context is selected: the kubeconfig has no current-context; use --context (contexts: a, b)'],
    [
      'kproxy: no contexts at all',
      mergeKubeconfigs([]),
      {},
      'no context is selected: the kubeconfig defines no context; point --kubeconfig or KUBECONFIG at one that does, or pass --server',
    ],
    [
      'current-context names a missing context (observed)',
      mergeKubeconfigs([parseKubeconfig('current-context: zz\ncontexts: [{name: c, context: {cluster: nope}}]\n', 'x.yaml')]),
      {},
      'Error in configuration: context was not found for specified context: zz',
    ],
    [
      'kproxy: context names a missing cluster (kubectl falls back to localhost:8080, observed)',
      mergeKubeconfigs([parseKubeconfig('current-context: c\ncontexts: [{name: c, context: {cluster: nope}}]\n', 'x.yaml')]),
      {},
      'cluster "nope" was not found for context "c"',
    ],
    [
      'kproxy: context without a cluster',
      mergeKubeconfigs([parseKubeconfig('current-context: c\ncontexts: [{name: c, context: {user: u}}]\n', 'x.yaml')]),
      {},
      'cluster was not specified for context "c"',
    ],
    ['kproxy: cluster without a server (kubectl uses localhost:8080, observed)', single('{insecure-skip-tls-verify: true}', '{token: abc}'), {}, 'no server found for cluster "cl"'],
  ];
  for (const [name, merged, overrides, message] of rows) test(name, () => assert.equal(resolveError(merged, overrides), message));

  test('missing current-context plus a broken --user gives the bullet list (observed form)', () => {
    const m = mergeKubeconfigs([
      parseKubeconfig('current-context: zz\nusers: [{name: u, user: {client-certificate-data: "YWJj"}}]\n', 'x.yaml'),
    ]);
    assert.equal(
      resolveError(m, { user: 'u' }),
      'Error in configuration: \n' +
        '* context was not found for specified context: zz\n' +
        '* client-key-data or client-key must be specified for u to use the clientCert authentication method.',
    );
  });
});

describe('resolveConfig: validation messages', () => {
  const srv = '"https://127.0.0.1:1"';
  const rows: Array<[string, string, string, ConfigOverrides, string]> = [
    [
      'several errors, kubectl order and bullets (observed; kubectl adds a 4th for the unreadable CA file, which kproxy checks at start-up)',
      `{server: ${srv}, certificate-authority: /nonexist/ca, certificate-authority-data: "YWJj"}`,
      '{client-certificate-data: "YWJj", token: x, username: a}',
      {},
      'Error in configuration: \n' +
        '* client-key-data or client-key must be specified for u to use the clientCert authentication method.\n' +
        '* more than one authentication method found for u; found [token basicAuth], only one is allowed\n' +
        '* certificate-authority-data and certificate-authority are both specified for cl. certificate-authority-data will override.',
    ],
    ['CA data and file', `{server: ${srv}, certificate-authority: ca.pem, certificate-authority-data: "YWJj"}`, '{}', {}, 'certificate-authority-data and certificate-authority are both specified for cl. certificate-authority-data will override.'],
    ['cert data and file', `{server: ${srv}}`, '{client-certificate: c.pem, client-certificate-data: "YWJj", client-key: k.pem}', {}, 'client-cert-data and client-cert are both specified for u. client-cert-data will override.'],
    ['key data and file', `{server: ${srv}}`, '{client-certificate: c.pem, client-key: k.pem, client-key-data: "YWJj"}', {}, 'client-key-data and client-key are both specified for u; client-key-data will override'],
    ['cert without key', `{server: ${srv}}`, '{client-certificate: c.pem}', {}, 'client-key-data or client-key must be specified for u to use the clientCert authentication method.'],
    ['token and basic (observed: validation fires before the transport check)', `{server: ${srv}}`, '{token: t, username: a, password: b}', {}, 'more than one authentication method found for u; found [token basicAuth], only one is allowed'],
    ['--token next to kubeconfig basic', `{server: ${srv}}`, '{username: a, password: b}', { token: 't' }, 'more than one authentication method found for u; found [token basicAuth], only one is allowed'],
    ['tokenFile and basic (observed)', `{server: ${srv}, insecure-skip-tls-verify: true}`, '{tokenFile: tok, username: a, password: b}', {}, 'username/password or bearer token may be set, but not both'],
    ['CA with insecure (observed)', `{server: ${srv}, certificate-authority: ca.pem, insecure-skip-tls-verify: true}`, '{token: a}', {}, 'specifying a root certificates file with the insecure flag is not allowed'],
    ['exec with auth-provider (observed)', `{server: ${srv}}`, '{exec: {command: foo, apiVersion: client.authentication.k8s.io/v1beta1}, auth-provider: {name: oidc}}', {}, 'authProvider cannot be provided in combination with an exec plugin for u'],
    ['exec v1 needs interactiveMode (observed)', `{server: ${srv}}`, '{exec: {command: foo, apiVersion: client.authentication.k8s.io/v1}}', {}, 'interactiveMode must be specified for u to use exec authentication plugin'],
    ['exec invalid apiVersion (observed)', `{server: ${srv}}`, '{exec: {command: foo, apiVersion: client.authentication.k8s.io/v1alpha1}}', {}, 'exec plugin: invalid apiVersion "client.authentication.k8s.io/v1alpha1"'],
    ['exec invalid apiVersion even when shadowed by a token (observed)', `{server: ${srv}}`, '{token: x, exec: {command: foo, apiVersion: bogus, interactiveMode: Never}}', {}, 'exec plugin: invalid apiVersion "bogus"'],
    [
      'exec without apiVersion (observed)',
      `{server: ${srv}}`,
      '{exec: {command: foo}}',
      {},
      'Error in configuration: \n* apiVersion must be specified for u to use exec authentication plugin\n* interactiveMode must be specified for u to use exec authentication plugin',
    ],
    ['exec bad interactiveMode (observed)', `{server: ${srv}}`, '{exec: {command: foo, apiVersion: client.authentication.k8s.io/v1, interactiveMode: Sometimes}}', {}, 'invalid interactiveMode for u: "Sometimes"'],
    ['exec without command', `{server: ${srv}}`, '{exec: {apiVersion: client.authentication.k8s.io/v1beta1}}', {}, 'command must be specified for u to use exec authentication plugin'],
    ['exec env without name', `{server: ${srv}}`, '{exec: {command: x, apiVersion: client.authentication.k8s.io/v1beta1, env: [{value: v}]}}', {}, 'env variable name must be specified for u to use exec authentication plugin'],
    ['groups without as (observed)', `{server: ${srv}}`, '{as-groups: [a]}', {}, 'requesting uid, groups or user-extra for u without impersonating a user'],
    ['extra without as (observed)', `{server: ${srv}}`, '{as-user-extra: {a: [b]}}', {}, 'requesting uid, groups or user-extra for u without impersonating a user'],
    ['--as-uid without as', `{server: ${srv}}`, '{}', { asUid: '1' }, 'requesting uid, groups or user-extra for u without impersonating a user'],
    ['proxy-url bad scheme (observed)', `{server: ${srv}, proxy-url: "ftp://x:1"}`, '{}', {}, `invalid 'proxy-url' "ftp://x:1" for cluster "cl": unsupported scheme "ftp", must be http, https, or socks5`],
    ['proxy-url unparsable (observed)', `{server: ${srv}, proxy-url: "::bad"}`, '{}', {}, `invalid 'proxy-url' "::bad" for cluster "cl": could not parse: ::bad`],
    ['proxy-url host:port without scheme', `{server: ${srv}, proxy-url: "proxy.local:3128"}`, '{}', {}, `invalid 'proxy-url' "proxy.local:3128" for cluster "cl": unsupported scheme "proxy.local", must be http, https, or socks5`],
    ['scheme-less server with a path (observed)', '{server: "127.0.0.1:1/foo"}', '{token: a}', {}, 'host must be a URL or a host:port pair: "127.0.0.1:1/foo"'],
    ['kproxy: unbracketed IPv6', '{server: "https://::1:6443"}', '{}', {}, 'invalid server URL "https://::1:6443" for cluster "cl": an IPv6 address must be enclosed in brackets, as in https://[fd00::1]:6443'],
    ['unsupported server scheme (kubectl: unsupported protocol scheme "ftp", observed)', '{server: "ftp://127.0.0.1:1"}', '{}', {}, 'unsupported protocol scheme "ftp" in server URL "ftp://127.0.0.1:1" for cluster "cl"'],
    ['unparsable server', '{server: "https://a b"}', '{}', {}, 'invalid server URL "https://a b" for cluster "cl"'],
  ];
  for (const [name, cluster, user, overrides, message] of rows) {
    test(name, () => assert.equal(resolveError(single(cluster, user), overrides), message));
  }

  test('only the selected entries are validated', () => {
    const m = mergeKubeconfigs([
      parseKubeconfig(
        `current-context: good
contexts: [{name: good, context: {cluster: ok, user: ok}}, {name: bad, context: {cluster: broken, user: broken}}]
clusters: [{name: ok, cluster: {server: "https://k"}}, {name: broken, cluster: {certificate-authority: a, certificate-authority-data: "YWJj"}}]
users: [{name: ok, user: {token: t}}, {name: broken, user: {client-certificate: c}}]
`,
        'x.yaml',
      ),
    ]);
    assert.equal(resolveConfig(m, {}, '/').server, 'https://k');
    assert.match(resolveError(m, { context: 'bad' }), /^Error in configuration: \n\* client-key-data or client-key/);
  });
});

describe('resolveConfig: overrides (client_config.go getCluster/getAuthInfo)', () => {
  const cluster = '{server: "https://a:1", tls-server-name: sni.example, certificate-authority-data: "YWJj", insecure-skip-tls-verify: false}';
  const user = '{client-certificate-data: "Y2VydA==", client-key-data: "a2V5", token: t, as: me, as-groups: [g1]}';
  const r = (overrides: ConfigOverrides, c = cluster, u = user): ResolvedConfig => resolveConfig(single(c, u), overrides, '/cwd');

  test('--server replaces the server and clears tls-server-name', () => {
    const x = r({ server: 'https://b:2' });
    assert.equal(x.server, 'https://b:2');
    assert.equal(x.tlsServerName, undefined);
    assert.equal(r({}).tlsServerName, 'sni.example');
  });

  test('--tls-server-name sets it, also together with --server', () => {
    assert.equal(r({ tlsServerName: 'other' }).tlsServerName, 'other');
    assert.equal(r({ server: 'https://b:2', tlsServerName: 'other' }).tlsServerName, 'other');
  });

  test('--insecure-skip-tls-verify clears CA file and data', () => {
    const x = r({ insecureSkipTLSVerify: true }, '{server: "https://a:1", certificate-authority: ca.pem}');
    assert.equal(x.insecureSkipTLSVerify, true);
    assert.equal(x.certificateAuthority, undefined);
    assert.equal(r({ insecureSkipTLSVerify: true }).certificateAuthority, undefined);
  });

  test('--certificate-authority replaces CA data and insecure, relative to cwd', () => {
    const x = r({ certificateAuthority: 'my/ca.pem' }, '{server: "https://a:1", certificate-authority-data: "YWJj", insecure-skip-tls-verify: true}');
    assert.deepEqual(x.certificateAuthority, { file: '/cwd/my/ca.pem' });
    assert.equal(x.insecureSkipTLSVerify, false);
  });

  test('--client-certificate and --client-key replace file and data as pairs', () => {
    const cert = r({ clientCertificate: 'c.pem' });
    assert.deepEqual(cert.clientCertificate, { file: '/cwd/c.pem' });
    assert.deepEqual(cert.clientKey, { data: Buffer.from('key') });
    const both = r({ clientCertificate: '/abs/c.pem', clientKey: 'k.pem' });
    assert.deepEqual(both.clientCertificate, { file: '/abs/c.pem' });
    assert.deepEqual(both.clientKey, { file: '/cwd/k.pem' });
    // Without the pairing rule this would be "client-cert-data and client-cert are both specified".
    assert.deepEqual(r({ clientCertificate: 'c.pem' }, cluster, '{client-certificate: old.pem, client-key: k.pem}').clientCertificate, { file: '/cwd/c.pem' });
  });

  test('--token, --as, --as-group, --as-uid, --disable-compression', () => {
    const x = r({ token: 't2', as: 'you', asGroups: ['g2', 'g3'], asUid: '7', disableCompression: true });
    assert.equal(x.token, 't2');
    assert.deepEqual(x.impersonate, { user: 'you', uid: '7', groups: ['g2', 'g3'], extra: {} });
    assert.equal(x.disableCompression, true);
    assert.deepEqual(r({ asGroups: [] }).impersonate?.groups, ['g1'], 'an empty --as-group list is no override');
  });

  test('--username/--password', () => {
    const x = r({ username: 'bob', password: 'pw' }, cluster, '{}');
    assert.equal(x.username, 'bob');
    assert.equal(x.password, 'pw');
  });

  test('empty flag values are no overrides', () => {
    const x = r({ server: '', context: '', token: '', tlsServerName: '' });
    assert.equal(x.server, 'https://a:1');
    assert.equal(x.tlsServerName, 'sni.example');
    assert.equal(x.token, 't');
  });

  test('--cluster and --user override the context', () => {
    const m = mergeKubeconfigs([
      parseKubeconfig(
        `current-context: c
contexts: [{name: c, context: {cluster: one, user: one}}]
clusters: [{name: one, cluster: {server: "https://one"}}, {name: two, cluster: {server: "https://two"}}]
users: [{name: one, user: {token: t1}}, {name: two, user: {token: t2}}]
`,
        'x.yaml',
      ),
    ]);
    const x = resolveConfig(m, { cluster: 'two', user: 'two' }, '/');
    assert.deepEqual([x.contextName, x.clusterName, x.userName, x.server, x.token], ['c', 'two', 'two', 'https://two', 't2']);
  });

  test('--server works without any kubeconfig, with an empty user', () => {
    const x = resolveConfig(mergeKubeconfigs([]), { server: 'https://k:6443' }, '/');
    assert.deepEqual(
      { ...x },
      { contextName: '', clusterName: '', userName: '', server: 'https://k:6443', insecureSkipTLSVerify: false, disableCompression: false, warnings: [] },
    );
  });

  test('--server rescues a context whose cluster is missing', () => {
    const m = mergeKubeconfigs([parseKubeconfig('current-context: c\ncontexts: [{name: c, context: {cluster: nope}}]\n', 'x.yaml')]);
    assert.equal(resolveConfig(m, { server: 'https://k' }, '/').server, 'https://k');
  });
});

describe('resolveConfig: paths, server URL, credentials', () => {
  test('relative paths resolve against the defining file, each file its own directory', () => {
    const a = parseKubeconfig(
      `current-context: c
contexts: [{name: c, context: {cluster: cl, user: u}}]
users: [{name: u, user: {client-certificate: certs/c.pem, client-key: ../k.pem, tokenFile: tok, exec: {command: ./bin/plugin, apiVersion: client.authentication.k8s.io/v1beta1}}}]
`,
      'conf/a.yaml',
    );
    const b = parseKubeconfig('clusters: [{name: cl, cluster: {server: "https://k", certificate-authority: ca.pem}}]\n', '/etc/kube/b.yaml');
    const x = resolveConfig(mergeKubeconfigs([a, b]), {}, '/work');
    assert.deepEqual(x.certificateAuthority, { file: '/etc/kube/ca.pem' });
    assert.deepEqual(x.clientCertificate, { file: '/work/conf/certs/c.pem' });
    assert.deepEqual(x.clientKey, { file: '/work/k.pem' });
    assert.equal(x.tokenFile, '/work/conf/tok');
    assert.equal(x.userOrigin, '/work/conf/a.yaml');
    // A token file is a static credential, so the exec plugin is shadowed and only warned about.
    assert.equal(x.exec, undefined);
  });

  test('exec command: a bare name stays a PATH lookup, a path is resolved, ~ is never expanded', () => {
    const cmd = (command: string) =>
      resolveConfig(
        single('{server: "https://k"}', `{exec: {command: "${command}", apiVersion: client.authentication.k8s.io/v1beta1}}`, '/etc/kube/config'),
        {},
        '/work',
      ).exec?.command;
    assert.equal(cmd('aws'), 'aws');
    assert.equal(cmd('./bin/plugin'), '/etc/kube/bin/plugin');
    assert.equal(cmd('/usr/bin/plugin'), '/usr/bin/plugin');
    assert.equal(cmd('~/bin/plugin'), '/etc/kube/~/bin/plugin');
  });

  test('exec config is passed on with defaults', () => {
    const x = resolveConfig(
      single('{server: "https://k"}', '{exec: {command: aws, args: [eks, get-token], env: [{name: AWS_PROFILE, value: p}], apiVersion: client.authentication.k8s.io/v1beta1, provideClusterInfo: true, installHint: "brew install awscli"}}'),
      {},
      '/',
    );
    assert.deepEqual(x.exec, {
      command: 'aws',
      args: ['eks', 'get-token'],
      env: [{ name: 'AWS_PROFILE', value: 'p' }],
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      provideClusterInfo: true,
      interactiveMode: 'IfAvailable',
      installHint: 'brew install awscli',
    });
    assert.deepEqual(x.warnings, []);
  });

  test('exec next to a static credential: not used, warned (kubernetes/kubernetes#61857)', () => {
    for (const user of ['{token: stale}', '{username: a}', '{client-certificate: c.pem, client-key: k.pem}']) {
      const x = resolveConfig(single('{server: "https://k"}', user.replace('}', ', exec: {command: aws, apiVersion: client.authentication.k8s.io/v1beta1}}')), {}, '/');
      assert.equal(x.exec, undefined, user);
      assert.deepEqual(x.warnings, ['user "u" has both a static credential and an exec plugin; the exec plugin is not used (as in kubectl)']);
    }
    // A password alone is not basic auth for client-go (HasBasicAuth checks the username).
    const pw = resolveConfig(single('{server: "https://k"}', '{password: p, exec: {command: aws, apiVersion: client.authentication.k8s.io/v1beta1}}'), {}, '/');
    assert.equal(pw.exec?.command, 'aws');
  });

  test('token and tokenFile are both kept (the file wins once read)', () => {
    const x = resolveConfig(single('{server: "https://k"}', '{token: t, tokenFile: /run/tok}'), {}, '/');
    assert.equal(x.token, 't');
    assert.equal(x.tokenFile, '/run/tok');
  });

  test('impersonation carries extra as a map and the uid', () => {
    const x = resolveConfig(single('{server: "https://k"}', '{as: admin, as-uid: "1", as-groups: [a], as-user-extra: {acme.com/project: [p1, p2]}}'), {}, '/');
    assert.deepEqual(x.impersonate, { user: 'admin', uid: '1', groups: ['a'], extra: { 'acme.com/project': ['p1', 'p2'] } });
  });

  test('user info in the server URL is not used, and said so', () => {
    const x = resolveConfig(single('{server: "https://me:pw@k:6443/p"}', '{}'), {}, '/');
    assert.equal(x.server, 'https://k:6443/p');
    assert.deepEqual(x.warnings, ['the user info in the server URL for cluster "cl" is not used']);
  });

  test('auth-provider and proxy-url are passed on', () => {
    const x = resolveConfig(single('{server: "https://k", proxy-url: "socks5://p:1080"}', '{auth-provider: {name: oidc, config: {idp-issuer-url: "https://i"}}}'), {}, '/');
    assert.deepEqual(x.authProvider, { name: 'oidc', config: { 'idp-issuer-url': 'https://i' } });
    assert.equal(x.proxyURL, 'socks5://p:1080');
  });

  const servers: Array<[string, string, string]> = [
    ['path kept, query and fragment dropped', '{server: "https://[::1]:1/pre/fix?q=1#f"}', 'https://[::1]:1/pre/fix'],
    ['trailing slash alone dropped', '{server: "https://k:6443/"}', 'https://k:6443'],
    ['path with trailing slash kept', '{server: "https://k/foo/"}', 'https://k/foo/'],
    ['bracketed IPv6', '{server: "https://[fd00::1]:6443"}', 'https://[fd00::1]:6443'],
    ['scheme-less without TLS material is http (observed)', '{server: "127.0.0.1:1"}', 'http://127.0.0.1:1'],
    ['scheme-less localhost:port is http (observed)', '{server: "localhost:1"}', 'http://localhost:1'],
    ['scheme-less host alone is http (observed)', '{server: "localhost"}', 'http://localhost'],
    // kubectl 1.32 was observed to use http:// here too: it checks for TLS before it merges the
    // CA into the rest config. kproxy follows defaultServerUrlFor, which looks at the material.
    ['kproxy: scheme-less with a CA is https', '{server: "k:6443", certificate-authority-data: "YWJj"}', 'https://k:6443'],
    ['kproxy: scheme-less with insecure is https', '{server: "k:6443", insecure-skip-tls-verify: true}', 'https://k:6443'],
  ];
  for (const [name, cluster, want] of servers) {
    test(`server URL: ${name}`, () => assert.equal(resolveConfig(single(cluster, '{}'), {}, '/').server, want));
  }

  test('scheme-less with a client certificate is https and keeps the certificate', () => {
    const x = resolveConfig(single('{server: "k:6443"}', '{client-certificate: c.pem, client-key: k.pem}'), {}, '/');
    assert.equal(x.server, 'https://k:6443');
    assert.deepEqual(x.clientCertificate, { file: '/home/me/.kube/c.pem' });
  });

  test('http:// server: no credentials, a warning, impersonation kept (client-go sets it outside the TLS branch)', () => {
    const x = resolveConfig(
      single('{server: "http://127.0.0.1:8080"}', '{token: t, tokenFile: f, client-certificate: c, client-key: k, as: me, exec: {command: x, apiVersion: client.authentication.k8s.io/v1beta1}}'),
      {},
      '/',
    );
    for (const key of ['token', 'tokenFile', 'username', 'password', 'clientCertificate', 'clientKey', 'exec', 'authProvider'] as const) {
      assert.equal(x[key], undefined, key);
    }
    assert.deepEqual(x.impersonate, { user: 'me', groups: [], extra: {} });
    assert.deepEqual(x.warnings, ['server http://127.0.0.1:8080 is not HTTPS: no credentials will be sent']);
  });

  test('http:// server: basic auth dropped too', () => {
    const x = resolveConfig(single('{server: "http://k"}', '{username: a, password: b}'), {}, '/');
    assert.equal(x.username, undefined);
    assert.equal(x.password, undefined);
    assert.equal(x.warnings.length, 1);
  });

  test('http:// server without credentials: no warning; transport-only checks skipped like kubectl', () => {
    assert.deepEqual(resolveConfig(single('{server: "http://k"}', '{}'), {}, '/').warnings, []);
    // CA + insecure is a TLS-transport error; over http kubectl never builds that transport.
    assert.equal(resolveConfig(single('{server: "http://k", certificate-authority: ca, insecure-skip-tls-verify: true}', '{}'), {}, '/').server, 'http://k');
  });

  test('a context naming a missing user: kubectl sends no credentials; kproxy warns', () => {
    const m = mergeKubeconfigs([
      parseKubeconfig('current-context: c\ncontexts: [{name: c, context: {cluster: cl, user: ghost}}]\nclusters: [{name: cl, cluster: {server: "https://k"}}]\n', 'x.yaml'),
    ]);
    const x = resolveConfig(m, {}, '/');
    assert.equal(x.userName, 'ghost');
    assert.equal(x.userOrigin, undefined);
    assert.deepEqual(x.warnings, ['user "ghost" was not found for context "c"; no credentials will be sent']);
  });

  test('a client key without a certificate is dropped with a warning, as client-go ignores it', () => {
    const x = resolveConfig(single('{server: "https://k"}', '{client-key: k.pem, token: t}'), {}, '/');
    assert.equal(x.clientKey, undefined);
    assert.equal(x.token, 't');
    assert.deepEqual(x.warnings, ['user "u" has a client key but no client certificate; the key is not used']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('loadKubeconfig / loadResolvedConfig (real files)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kproxy-kubeconfig-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  const first = write(
    'one/first.yaml',
    `current-context: from-first
contexts: [{name: from-first, context: {cluster: shared, user: u}}]
clusters: [{name: shared, cluster: {server: "https://first", certificate-authority: ca.pem}}]
users: [{name: u, user: {token: first}}]
`,
  );
  const second = write(
    'two/second.yaml',
    `current-context: from-second
contexts: [{name: from-second, context: {cluster: shared, user: u2}}]
clusters: [{name: shared, cluster: {server: "https://second"}}]
users: [{name: u, user: {token: second}}, {name: u2, user: {client-certificate: c.pem, client-key: k.pem}}]
`,
  );
  const broken = write('broken.yaml', 'a: [\n');
  const broken2 = write('broken2.yaml', 'clusters: [{name: c, cluster: {certificate-authority-data: "abc"}}]\n');
  const empty = write('empty.yaml', '');
  const home = join(dir, 'home');
  const missing = join(dir, 'missing.yaml');
  const kc = (...files: string[]) => ({ KUBECONFIG: files.join(':') });

  test('KUBECONFIG order: first file wins entries and current-context', () => {
    const { merged, files, lookedAt } = loadKubeconfig({ env: kc(first, second), home });
    assert.deepEqual(files, [first, second]);
    assert.deepEqual(lookedAt, [first, second]);
    assert.equal(merged.currentContext, 'from-first');
    assert.equal(merged.clusters.get('shared')!.value.server, 'https://first');
    assert.equal(merged.users.get('u')!.value.token, 'first');
    assert.equal(merged.users.get('u2')!.origin, second);
    assert.equal(loadKubeconfig({ env: kc(second, first), home }).merged.currentContext, 'from-second');
  });

  test('KUBECONFIG: duplicates keep the first, empty entries and missing files are skipped', () => {
    const { files, lookedAt } = loadKubeconfig({ env: kc('', second, missing, first, second, '', first), home });
    assert.deepEqual(lookedAt, [second, missing, first]);
    assert.deepEqual(files, [second, first]);
  });

  test('KUBECONFIG replaces ~/.kube/config entirely', () => {
    const h = join(dir, 'h1');
    write('h1/.kube/config', 'current-context: home\n');
    assert.equal(loadKubeconfig({ env: kc(second), home: h }).merged.currentContext, 'from-second');
    assert.equal(loadKubeconfig({ env: {}, home: h }).merged.currentContext, 'home');
    assert.deepEqual(loadKubeconfig({ env: { KUBECONFIG: '' }, home: h }).files, [join(h, '.kube', 'config')]);
  });

  test('a broken file in KUBECONFIG fails the whole load; every broken file is listed (observed)', () => {
    assert.throws(() => loadKubeconfig({ env: kc(first, broken), home }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, new RegExp(`^error loading config file "${broken}": yaml: line \\d+: `));
      return true;
    });
    assert.throws(() => loadKubeconfig({ env: kc(broken2, first, broken), home }), (err: Error) => {
      const lines = err.message.split('\n');
      assert.equal(lines.length, 2);
      assert.equal(lines[0], `error loading config file "${broken2}": illegal base64 data at input byte 0`);
      assert.ok(lines[1]!.startsWith(`error loading config file "${broken}": yaml: `));
      return true;
    });
  });

  test('--kubeconfig alone is read, KUBECONFIG ignored', () => {
    const { files, merged } = loadKubeconfig({ explicitPath: second, env: kc(first), home });
    assert.deepEqual(files, [second]);
    assert.equal(merged.currentContext, 'from-second');
  });

  test('--kubeconfig must exist, reported as given (observed)', () => {
    assert.throws(() => loadKubeconfig({ explicitPath: missing, env: {}, home }), { name: 'ConfigError', message: `stat ${missing}: no such file or directory` });
    assert.throws(() => loadKubeconfig({ explicitPath: 'nonexist.yaml', env: {}, home, cwd: dir }), {
      name: 'ConfigError',
      message: 'stat nonexist.yaml: no such file or directory',
    });
  });

  test('--kubeconfig pointing at a directory (observed)', () => {
    mkdirSync(join(dir, 'adir'), { recursive: true });
    assert.throws(() => loadKubeconfig({ explicitPath: 'adir', env: {}, home, cwd: dir }), {
      name: 'ConfigError',
      message: 'error loading config file "adir": read adir: is a directory',
    });
  });

  test('relative KUBECONFIG entries are opened relative to cwd and kept as given', () => {
    const { files, merged } = loadKubeconfig({ env: kc('one/first.yaml'), home, cwd: dir });
    assert.deepEqual(files, ['one/first.yaml']);
    assert.equal(merged.users.get('u')!.origin, 'one/first.yaml');
    const r = resolveConfig(merged, {}, dir);
    assert.deepEqual(r.certificateAuthority, { file: join(dir, 'one', 'ca.pem') });
  });

  test('nothing found: empty merge and the paths looked at', () => {
    const r = loadKubeconfig({ env: kc(missing, join(dir, 'nope.yaml')), home });
    assert.deepEqual(r.files, []);
    assert.deepEqual(r.lookedAt, [missing, join(dir, 'nope.yaml')]);
    assert.equal(r.merged.contexts.size + r.merged.clusters.size + r.merged.users.size, 0);
    assert.deepEqual(loadKubeconfig({ env: {}, home }).lookedAt, [join(home, '.kube', 'config')]);
  });

  test('loadResolvedConfig: paths resolved per defining file across KUBECONFIG', () => {
    const r = loadResolvedConfig({ context: 'from-second' }, kc(first, second), home, '/elsewhere');
    // Cluster "shared" comes from the first file, user u2 from the second.
    assert.equal(r.server, 'https://first');
    assert.deepEqual(r.certificateAuthority, { file: join(dir, 'one', 'ca.pem') });
    assert.deepEqual(r.clientCertificate, { file: join(dir, 'two', 'c.pem') });
    assert.equal(r.userOrigin, second);
  });

  test('loadResolvedConfig: no kubeconfig and no --server fails fast', () => {
    assert.throws(() => loadResolvedConfig({}, kc(missing), home, dir), {
      name: 'ConfigError',
      message: `no kubeconfig found: looked at ${missing}; set --kubeconfig or KUBECONFIG, or pass --server`,
    });
    assert.throws(() => loadResolvedConfig({}, { KUBECONFIG: ':' }, home, dir), {
      name: 'ConfigError',
      message: 'no kubeconfig found: KUBECONFIG lists no file; set --kubeconfig or KUBECONFIG, or pass --server',
    });
  });

  test('loadResolvedConfig: --server alone works without a kubeconfig', () => {
    const r = loadResolvedConfig({ server: 'https://k:6443', token: 't' }, kc(missing), home, dir);
    assert.equal(r.server, 'https://k:6443');
    assert.equal(r.token, 't');
  });

  test('loadResolvedConfig: an empty file is found but selects nothing', () => {
    assert.throws(() => loadResolvedConfig({}, kc(empty), home, dir), /no context is selected: the kubeconfig defines no context/);
  });

  test('loadResolvedConfig: --kubeconfig from the overrides', () => {
    assert.equal(loadResolvedConfig({ kubeconfig: second }, kc(first), home, dir).userName, 'u2');
  });
});
