// Rules as tables: the --allow/--deny syntax, the rules file, and the decision on requests as the
// API server reads them (requestinfo.ts). Each decision row names the rule it expects to decide.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseRulesFile } from '../src/rules/file.js';
import { loadRules, type RuleFlags } from '../src/rules/load.js';
import { checkRequest, RuleError, type Rules } from '../src/rules/rules.js';
import { parseRuleFlag, splitList } from '../src/rules/syntax.js';

function rules(f: Partial<RuleFlags>): Rules {
  const r = loadRules({ readOnly: false, allow: [], deny: [], rulesFile: '', ...f });
  assert.ok(r, 'rules expected');
  return r;
}

function fromFile(yaml: string): Rules {
  return { readOnly: false, ...parseRulesFile(yaml, 'r.yaml') };
}

// ---- syntax ----------------------------------------------------------------------------------

test('syntax: a rule compiles to RBAC patterns', () => {
  const [r] = parseRuleFlag('--allow', 'get,list,watch pods,deployments.apps,pods/log,*/scale,*.batch,/healthz web-* -n default,team-*');
  assert.ok(r);
  assert.equal(r.label, '--allow "get,list,watch pods,deployments.apps,pods/log,*/scale,*.batch,/healthz web-* -n default,team-*"');
  assert.deepEqual([...r.verbs], ['get', 'list', 'watch']);
  assert.deepEqual(r.resources, [
    { group: '*', resource: 'pods', subresource: undefined },
    { group: 'apps', resource: 'deployments', subresource: undefined },
    { group: '*', resource: 'pods', subresource: 'log' },
    { group: '*', resource: '*', subresource: 'scale' },
    { group: 'batch', resource: '*', subresource: undefined },
  ]);
  assert.deepEqual(r.nonResourceURLs, ['/healthz']);
  assert.equal(r.names?.('web-1'), true);
  assert.equal(r.names?.('db-1'), false);
  assert.equal(r.namespaces?.('team-a'), true);
  assert.equal(r.namespaces?.('kube-system'), false);
});

test('syntax: ";" separates rules, -n= and --namespace spellings, extra spaces', () => {
  const rs = parseRuleFlag('--deny', '  * secrets ;get configmaps  -n=kube-*; get pods --namespace a,b ;');
  assert.deepEqual(
    rs.map((r) => r.label),
    ['--deny "* secrets"', '--deny "get configmaps -n=kube-*"', '--deny "get pods --namespace a,b"'],
  );
  assert.equal(rs[1]!.namespaces?.('kube-public'), true);
  assert.equal(rs[2]!.namespaces?.('b'), true);
});

test('syntax: brace globs keep their commas', () => {
  assert.deepEqual(splitList('name', '{a,b}-*,c'), ['{a,b}-*', 'c']);
  const [r] = parseRuleFlag('--allow', 'get pods {web,db}-*');
  assert.equal(r!.names?.('db-0'), true);
  assert.equal(r!.names?.('cache-0'), false);
});

const syntaxErrors: Array<[string, '--allow' | '--deny', string, string]> = [
  ['empty value', '--allow', ' ; ', '--allow needs a rule such as "get,list,watch pods -n default"'],
  ['verbs only', '--allow', 'get', 'invalid --allow rule "get": expected VERBS RESOURCES [NAMES] [-n NAMESPACES]'],
  ['too many words', '--deny', 'get pods a b', 'invalid --deny rule "get pods a b": unexpected "b" after the names (separate rules with ";")'],
  ['unknown verb', '--allow', 'lst pods', 'invalid --allow rule "lst pods": unknown verb "lst" (one of *, get, list, watch, create, update, patch, delete, deletecollection, proxy; for non-resource URLs get, head, post, put, patch, delete, options)'],
  ['RBAC verb that no path carries', '--deny', 'impersonate users', 'invalid --deny rule "impersonate users": unknown verb "impersonate"'],
  ['capitalised resource', '--deny', '* Secrets', 'invalid --deny rule "* Secrets": invalid resource "Secrets": resources are lower-case plural names such as pods or deployments'],
  ['empty list item', '--allow', 'get,,list pods', 'invalid --allow rule "get,,list pods": empty item in verb list "get,,list"'],
  ['-n without a value', '--allow', 'get pods -n', 'invalid --allow rule "get pods -n": -n needs a namespace'],
  ['-n twice', '--allow', 'get pods -n a -n b', 'invalid --allow rule "get pods -n a -n b": -n given twice: list the namespaces once, separated by commas'],
  ['unknown option', '--allow', 'get pods -l app=x', 'invalid --allow rule "get pods -l app=x": unknown option "-l" (only -n NAMESPACES)'],
  ['namespace on a non-resource URL', '--allow', 'get /healthz -n a', 'invalid --allow rule "get /healthz -n a": names and namespaces apply to resources, and this rule has only non-resource URLs'],
  ['star inside a URL', '--allow', 'get /a*/b', 'invalid --allow rule "get /a*/b": invalid non-resource URL "/a*/b": "*" may only end it'],
  ['bad group', '--allow', 'get deployments.Apps', 'invalid --allow rule "get deployments.Apps": invalid API group "Apps"'],
  ['bad subresource', '--allow', 'get pods/', 'invalid --allow rule "get pods/": invalid subresource in "pods/"'],
];
for (const [what, flag, value, message] of syntaxErrors) {
  test(`syntax error: ${what}`, () => {
    assert.throws(
      () => parseRuleFlag(flag, value),
      (err: Error) => err instanceof RuleError && err.message.startsWith(message) && !err.message.includes('\n'),
      `expected ${message}`,
    );
  });
}

// ---- decisions -------------------------------------------------------------------------------

const READ_ONLY = rules({ readOnly: true });
const DENY_SECRETS = rules({ deny: ['* secrets'] });
const DENY_NAMED = rules({ deny: ['* secrets admin-* -n kube-system'] });
const ALLOW_PODS = rules({ allow: ['get,list,watch pods,deployments.apps -n default'] });
const ALLOW_LOGS = rules({ allow: ['get pods/log', 'get,list pods -n team-*'] });
const ALLOW_AND_DENY = rules({ allow: ['* *'], deny: ['delete,deletecollection *'] });
const NON_RESOURCE = rules({ allow: ['get /metrics', 'get,post /logs/*'], deny: ['get /debug*'] });
const STAR = rules({ allow: ['* pods/*'], deny: ['* */exec'] });

type Row = [string, Rules, string, string, string, boolean, string];
const rows: Row[] = [
  // --read-only
  ['read-only: list', READ_ONLY, 'GET', '/api/v1/pods', '', true, '--read-only'],
  ['read-only: watch', READ_ONLY, 'GET', '/api/v1/pods', 'watch=1', true, '--read-only'],
  ['read-only: get a log', READ_ONLY, 'GET', '/api/v1/namespaces/a/pods/p/log', 'follow=true', true, '--read-only'],
  ['read-only: HEAD of a pod', READ_ONLY, 'HEAD', '/api/v1/namespaces/a/pods/p', '', true, '--read-only'],
  ['read-only: create', READ_ONLY, 'POST', '/api/v1/namespaces/a/pods', '', false, '--read-only (verb create)'],
  ['read-only: update', READ_ONLY, 'PUT', '/api/v1/namespaces/a/pods/p', '', false, '--read-only (verb update)'],
  ['read-only: patch', READ_ONLY, 'PATCH', '/apis/apps/v1/namespaces/a/deployments/d/scale', '', false, '--read-only (verb patch)'],
  ['read-only: delete', READ_ONLY, 'DELETE', '/api/v1/namespaces/a/pods/p', '', false, '--read-only (verb delete)'],
  ['read-only: deletecollection', READ_ONLY, 'DELETE', '/api/v1/namespaces/a/pods', '', false, '--read-only (verb deletecollection)'],
  ['read-only: OPTIONS on a resource has no verb', READ_ONLY, 'OPTIONS', '/api/v1/pods', '', false, '--read-only (verb (none))'],
  ['read-only: exec over GET (WebSocket)', READ_ONLY, 'GET', '/api/v1/namespaces/a/pods/p/exec', 'command=sh', false, '--read-only (subresource exec)'],
  ['read-only: attach over GET', READ_ONLY, 'GET', '/api/v1/namespaces/a/pods/p/attach', '', false, '--read-only (subresource attach)'],
  ['read-only: port-forward over GET', READ_ONLY, 'GET', '/api/v1/namespaces/a/pods/p/portforward', '', false, '--read-only (subresource portforward)'],
  ['read-only: pod proxy', READ_ONLY, 'GET', '/api/v1/namespaces/a/pods/p:8080/proxy/', '', false, '--read-only (subresource proxy)'],
  ['read-only: service proxy', READ_ONLY, 'GET', '/api/v1/namespaces/x/services/y/proxy/path', '', false, '--read-only (subresource proxy)'],
  ['read-only: node proxy', READ_ONLY, 'GET', '/api/v1/nodes/n/proxy', '', false, '--read-only (subresource proxy)'],
  ['read-only: node proxy with a subpath', READ_ONLY, 'GET', '/api/v1/nodes/n:10250/proxy/configz', '', false, '--read-only (subresource proxy)'],
  ['read-only: legacy /api/v1/proxy/ form', READ_ONLY, 'GET', '/api/v1/proxy/namespaces/x/services/y/path', '', false, '--read-only (verb proxy)'],
  ['read-only: legacy /api/v1/proxy/nodes', READ_ONLY, 'GET', '/api/v1/proxy/nodes/n/stats', '', false, '--read-only (verb proxy)'],
  ['read-only: legacy watch form is a watch', READ_ONLY, 'GET', '/api/v1/watch/namespaces/a/pods', '', true, '--read-only'],
  ['read-only: discovery', READ_ONLY, 'GET', '/apis/apps/v1', '', true, '--read-only'],
  ['read-only: HEAD of /version', READ_ONLY, 'HEAD', '/version', '', true, '--read-only'],
  ['read-only: POST to a non-resource URL', READ_ONLY, 'POST', '/logs/x', '', false, '--read-only (method POST)'],
  ['read-only: what the API server cannot parse', READ_ONLY, 'GET', '/api/v1/watch', '', false, 'unparseable request: unable to determine kind and namespace from url'],
  ['read-only: too many query parameters', READ_ONLY, 'GET', '/api/v1/pods', 'a&'.repeat(10_000), false, 'unparseable request: more than 10000 query parameters'],
  // --deny
  ['deny: list of secrets', DENY_SECRETS, 'GET', '/api/v1/namespaces/a/secrets', '', false, '--deny "* secrets"'],
  ['deny: cluster-wide watch of secrets', DENY_SECRETS, 'GET', '/api/v1/secrets', 'watch=true', false, '--deny "* secrets"'],
  ['deny: legacy watch of secrets', DENY_SECRETS, 'GET', '/api/v1/watch/secrets', '', false, '--deny "* secrets"'],
  ['deny: no group given covers every group', DENY_SECRETS, 'GET', '/apis/example.com/v1/secrets', '', false, '--deny "* secrets"'],
  ['deny: another resource passes', DENY_SECRETS, 'GET', '/api/v1/namespaces/a/configmaps', '', true, 'no deny rule matched'],
  ['deny: a pod named secrets passes', DENY_SECRETS, 'GET', '/api/v1/namespaces/a/pods/secrets', '', true, 'no deny rule matched'],
  ['deny: a namespace named secrets passes', DENY_SECRETS, 'GET', '/api/v1/namespaces/secrets', '', true, 'no deny rule matched'],
  ['deny by name: the named secret', DENY_NAMED, 'GET', '/api/v1/namespaces/kube-system/secrets/admin-token', '', false, '--deny "* secrets admin-* -n kube-system"'],
  ['deny by name: another secret', DENY_NAMED, 'GET', '/api/v1/namespaces/kube-system/secrets/other', '', true, 'no deny rule matched'],
  ['deny by name: another namespace', DENY_NAMED, 'GET', '/api/v1/namespaces/default/secrets/admin-token', '', true, 'no deny rule matched'],
  ['deny by name: a list reaches the name', DENY_NAMED, 'GET', '/api/v1/namespaces/kube-system/secrets', '', false, '--deny "* secrets admin-* -n kube-system"'],
  ['deny by name: a cluster-wide list reaches the namespace', DENY_NAMED, 'GET', '/api/v1/secrets', '', false, '--deny "* secrets admin-* -n kube-system"'],
  ['deny by name: create may name it in its body', DENY_NAMED, 'POST', '/api/v1/namespaces/kube-system/secrets', '', false, '--deny "* secrets admin-* -n kube-system"'],
  ['deny by name: a list pinned to another name by fieldSelector', DENY_NAMED, 'GET', '/api/v1/namespaces/kube-system/secrets', 'fieldSelector=metadata.name%3Dother', true, 'no deny rule matched'],
  ['deny by name: a list pinned to the name by fieldSelector', DENY_NAMED, 'GET', '/api/v1/namespaces/kube-system/secrets', 'fieldSelector=metadata.name%3Dadmin-x', false, '--deny "* secrets admin-* -n kube-system"'],
  ['deny: a plain resource covers its subresources', rules({ deny: ['* pods'] }), 'GET', '/api/v1/namespaces/a/pods/p/log', '', false, '--deny "* pods"'],
  ['deny wins over allow', ALLOW_AND_DENY, 'DELETE', '/api/v1/namespaces/a/pods/p', '', false, '--deny "delete,deletecollection *"'],
  ['deny wins over allow: deletecollection', ALLOW_AND_DENY, 'DELETE', '/api/v1/namespaces/a/pods', '', false, '--deny "delete,deletecollection *"'],
  ['allow * * allows the rest', ALLOW_AND_DENY, 'POST', '/api/v1/namespaces/a/pods', '', true, '--allow "* *"'],
  ['allow * * covers subresources', ALLOW_AND_DENY, 'POST', '/api/v1/namespaces/a/pods/p/exec', '', true, '--allow "* *"'],
  ['allow * * is not a non-resource rule; discovery still passes', ALLOW_AND_DENY, 'GET', '/version', '', true, 'discovery (allowed with any allow rule)'],
  ['allow * * does not cover other non-resource URLs', ALLOW_AND_DENY, 'GET', '/metrics', '', false, 'no allow rule matched'],
  // --allow
  ['allow: list in the namespace', ALLOW_PODS, 'GET', '/api/v1/namespaces/default/pods', '', true, '--allow "get,list,watch pods,deployments.apps -n default"'],
  ['allow: group-qualified resource', ALLOW_PODS, 'GET', '/apis/apps/v1/namespaces/default/deployments/d', '', true, '--allow "get,list,watch pods,deployments.apps -n default"'],
  ['allow: the group must match', ALLOW_PODS, 'GET', '/apis/example.com/v1/namespaces/default/deployments', '', false, 'no allow rule matched'],
  ['allow: another namespace', ALLOW_PODS, 'GET', '/api/v1/namespaces/kube-system/pods', '', false, 'no allow rule matched'],
  ['allow: cluster-wide is not the namespace', ALLOW_PODS, 'GET', '/api/v1/pods', '', false, 'no allow rule matched'],
  ['allow: another verb', ALLOW_PODS, 'POST', '/api/v1/namespaces/default/pods', '', false, 'no allow rule matched'],
  ['allow: a subresource is not the resource', ALLOW_PODS, 'GET', '/api/v1/namespaces/default/pods/p/exec', '', false, 'no allow rule matched'],
  ['allow: a status subresource is not the resource', ALLOW_PODS, 'GET', '/api/v1/namespaces/default/pods/p/status', '', false, 'no allow rule matched'],
  ['allow: discovery stays readable', ALLOW_PODS, 'GET', '/apis', '', true, 'discovery (allowed with any allow rule)'],
  ['allow: group discovery stays readable', ALLOW_PODS, 'GET', '/apis/apps/v1', '', true, 'discovery (allowed with any allow rule)'],
  ['allow: openapi stays readable', ALLOW_PODS, 'GET', '/openapi/v3/apis/apps/v1', '', true, 'discovery (allowed with any allow rule)'],
  ['allow: /version/ stays readable', ALLOW_PODS, 'GET', '/version/', '', true, 'discovery (allowed with any allow rule)'],
  ['allow: but only with GET', ALLOW_PODS, 'POST', '/apis', '', false, 'no allow rule matched'],
  ['allow: /metrics is not discovery', ALLOW_PODS, 'GET', '/metrics', '', false, 'no allow rule matched'],
  ['allow: the legacy watch form is a watch', ALLOW_PODS, 'GET', '/api/v1/watch/namespaces/default/pods', '', true, '--allow "get,list,watch pods,deployments.apps -n default"'],
  ['allow: the legacy proxy form is the proxy verb', ALLOW_PODS, 'GET', '/api/v1/proxy/namespaces/default/pods/p', '', false, 'no allow rule matched'],
  ['allow: a subresource rule', ALLOW_LOGS, 'GET', '/api/v1/namespaces/x/pods/p/log', '', true, '--allow "get pods/log"'],
  ['allow: a subresource rule is not the resource', ALLOW_LOGS, 'GET', '/api/v1/namespaces/x/pods/p', '', false, 'no allow rule matched'],
  ['allow: namespace glob', ALLOW_LOGS, 'GET', '/api/v1/namespaces/team-a/pods', '', true, '--allow "get,list pods -n team-*"'],
  ['allow: namespace glob, watch not allowed', ALLOW_LOGS, 'GET', '/api/v1/namespaces/team-a/pods', 'watch=1', false, 'no allow rule matched'],
  ['allow: watch=falſe is a list to the API server', ALLOW_LOGS, 'GET', '/api/v1/namespaces/team-a/pods', 'watch=fal%C5%BFe', true, '--allow "get,list pods -n team-*"'],
  ['allow: by name, a named get', rules({ allow: ['get,list pods web-*'] }), 'GET', '/api/v1/namespaces/a/pods/web-1', '', true, '--allow "get,list pods web-*"'],
  ['allow: by name, a list reaches other names', rules({ allow: ['get,list pods web-*'] }), 'GET', '/api/v1/namespaces/a/pods', '', false, 'no allow rule matched'],
  ['allow: by name, a list pinned by fieldSelector', rules({ allow: ['get,list pods web-*'] }), 'GET', '/api/v1/namespaces/a/pods', 'fieldSelector=metadata.name%3Dweb-2', true, '--allow "get,list pods web-*"'],
  ['allow: the namespaces resource by its own namespace', rules({ allow: ['get namespaces -n default'] }), 'GET', '/api/v1/namespaces/default', '', true, '--allow "get namespaces -n default"'],
  ['allow: -n * is any namespace but not cluster-wide', rules({ allow: ['list pods -n *'] }), 'GET', '/api/v1/pods', '', false, 'no allow rule matched'],
  ['allow: no -n includes cluster-wide', rules({ allow: ['list pods'] }), 'GET', '/api/v1/pods', '', true, '--allow "list pods"'],
  ['allow: negated namespace glob', rules({ allow: ['list pods -n !kube-*'] }), 'GET', '/api/v1/namespaces/kube-system/pods', '', false, 'no allow rule matched'],
  // non-resource URLs
  ['non-resource: exact', NON_RESOURCE, 'GET', '/metrics', '', true, '--allow "get /metrics"'],
  ['non-resource: exact is exact for allow', NON_RESOURCE, 'GET', '/metrics/', '', false, 'no allow rule matched'],
  ['non-resource: prefix', NON_RESOURCE, 'POST', '/logs/a/b', '', true, '--allow "get,post /logs/*"'],
  ['non-resource: deny prefix', NON_RESOURCE, 'GET', '/debug/pprof', '', false, '--deny "get /debug*"'],
  ['non-resource: deny of /x covers /x/', rules({ deny: ['get /metrics'] }), 'GET', '/metrics/', '', false, '--deny "get /metrics"'],
  ['non-resource: the root path', rules({ allow: ['get /'] }), 'GET', '', '', true, '--allow "get /"'],
  // */sub and res/*
  ['*/exec deny over pods/* allow', STAR, 'GET', '/api/v1/namespaces/a/pods/p/exec', '', false, '--deny "* */exec"'],
  ['pods/* allows a subresource', STAR, 'GET', '/api/v1/namespaces/a/pods/p/log', '', true, '--allow "* pods/*"'],
  ['pods/* is not pods itself', STAR, 'GET', '/api/v1/namespaces/a/pods/p', '', false, 'no allow rule matched'],
];

for (const [what, r, method, path, query, allow, rule] of rows) {
  test(`rules: ${what}`, () => {
    assert.deepEqual(checkRequest(r, method, path, query), { allow, rule });
  });
}

// ---- the rules file --------------------------------------------------------------------------

const FILE = `# kproxy rules
allow:
  - verbs: [get, list, watch]
    apiGroups: ["", apps]
    resources: [pods, deployments]
    namespaces: [default, "team-*"]
  - verbs: [get]
    nonResourceURLs: [/healthz]
  - verbs: [get]
    apiGroups: [""]
    resources: [pods/log]
    resourceNames: ["web-*"]
deny:
  - verbs: ["*"]
    resources: [secrets]
    resourceNames: ["*-token"]
`;

const fileRows: Array<[string, string, string, string, boolean, string]> = [
  ['allow from the file', 'GET', '/apis/apps/v1/namespaces/team-x/deployments', '', true, 'r.yaml:3 (allow)'],
  ['apiGroups: the core group is ""', 'GET', '/api/v1/namespaces/default/pods', '', true, 'r.yaml:3 (allow)'],
  ['apiGroups pin the group', 'GET', '/apis/example.com/v1/namespaces/default/pods', '', false, 'no allow rule matched'],
  ['nonResourceURLs', 'GET', '/healthz', '', true, 'r.yaml:7 (allow)'],
  ['resourceNames are globs', 'GET', '/api/v1/namespaces/any/pods/web-0/log', '', true, 'r.yaml:9 (allow)'],
  ['resourceNames: another name', 'GET', '/api/v1/namespaces/any/pods/db-0/log', '', false, 'no allow rule matched'],
  ['deny from the file, any group when apiGroups is left out', 'GET', '/api/v1/namespaces/a/secrets/x-token', '', false, 'r.yaml:14 (deny)'],
];
for (const [what, method, path, query, allow, rule] of fileRows) {
  test(`rules file: ${what}`, () => {
    assert.deepEqual(checkRequest(fromFile(FILE), method, path, query), { allow, rule });
  });
}

test('rules file: failsafe schema keeps every scalar a string', () => {
  const r = fromFile('allow:\n  - verbs: [list]\n    resources: [pods]\n    namespaces: [123, true, null]\n');
  assert.equal(checkRequest(r, 'GET', '/api/v1/namespaces/123/pods', '').allow, true);
  assert.equal(checkRequest(r, 'GET', '/api/v1/namespaces/true/pods', '').allow, true);
  assert.equal(checkRequest(r, 'GET', '/api/v1/namespaces/null/pods', '').allow, true);
});

test('rules file: empty file and empty lists are no rules', () => {
  assert.deepEqual(parseRulesFile('', 'r.yaml'), { allow: [], deny: [] });
  assert.deepEqual(parseRulesFile('allow:\ndeny: []\n', 'r.yaml'), { allow: [], deny: [] });
});

const fileErrors: Array<[string, string, string]> = [
  ['YAML syntax', 'allow:\n  - verbs: [get\n', 'rules file r.yaml, line 3: Flow sequence in block collection must be sufficiently indented and end with a ]'],
  ['duplicate key', 'allow: []\nallow: []\n', 'rules file r.yaml, line 2: Map keys must be unique'],
  ['not a mapping', '- a\n', 'rules file r.yaml, line 1: expected a mapping with "allow" and "deny" lists'],
  ['unknown top-level key', 'allow: []\nrules: []\n', 'rules file r.yaml, line 2, key "rules": unknown key: expected "allow" or "deny"'],
  ['list expected', 'deny: x\n', 'rules file r.yaml, line 1, key "deny": expected a list of rules'],
  ['rule not a mapping', 'deny:\n  - x\n', 'rules file r.yaml, line 2, key "deny": each rule is a mapping with verbs and resources or nonResourceURLs'],
  ['unknown rule key', 'deny:\n  - verbs: [get]\n    resource: [pods]\n', 'rules file r.yaml, line 3, key "resource": unknown key: expected one of verbs, apiGroups, resources, resourceNames, namespaces, nonResourceURLs'],
  ['value not a list', 'deny:\n  - verbs: get\n', 'rules file r.yaml, line 2, key "verbs": expected a list, such as [get, list]'],
  ['nested list', 'deny:\n  - verbs: [[get]]\n', 'rules file r.yaml, line 2, key "verbs": expected a string'],
  ['unknown verb', 'deny:\n  - resources: [pods]\n    verbs: [get, lst]\n', 'rules file r.yaml, line 3, key "verbs": unknown verb "lst"'],
  ['no verbs', 'deny:\n  - resources: [pods]\n', 'rules file r.yaml, line 2, key "verbs": a rule needs at least one verb'],
  ['group in a resource', 'allow:\n  - verbs: [get]\n    resources: [deployments.apps]\n', 'rules file r.yaml, line 3, key "resources": invalid resource "deployments.apps"'],
  ['apiGroups alone', 'allow:\n  - verbs: [get]\n    apiGroups: [apps]\n', 'rules file r.yaml, line 3, key "apiGroups": apiGroups without resources'],
  ['no resources', 'allow:\n  - verbs: [get]\n', 'rules file r.yaml, line 2: a rule needs resources or non-resource URLs'],
  ['bad URL', 'allow:\n  - verbs: [get]\n    nonResourceURLs: [healthz]\n', 'rules file r.yaml, line 3, key "nonResourceURLs": invalid non-resource URL "healthz": must start with "/"'],
  ['empty glob', 'allow:\n  - verbs: [get]\n    resources: [pods]\n    namespaces: [""]\n', 'rules file r.yaml, line 4, key "namespaces": empty namespace pattern'],
  ['names on URLs', 'allow:\n  - verbs: [get]\n    nonResourceURLs: [/x]\n    resourceNames: [a]\n', 'rules file r.yaml, line 2: names and namespaces apply to resources'],
];
for (const [what, yaml, message] of fileErrors) {
  test(`rules file error: ${what}`, () => {
    assert.throws(
      () => parseRulesFile(yaml, 'r.yaml'),
      (err: Error) => err instanceof RuleError && err.message.startsWith(message) && !err.message.includes('\n'),
      `expected ${message}`,
    );
  });
}

test('loadRules: no rule flag is no rules; the file is read and merged after the flags', () => {
  assert.equal(loadRules({ readOnly: false, allow: [], deny: [], rulesFile: '' }), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'kproxy-rules-'));
  try {
    const file = join(dir, 'r.yaml');
    writeFileSync(file, FILE);
    const r = loadRules({ readOnly: false, allow: ['get nodes'], deny: [], rulesFile: file })!;
    assert.deepEqual(
      r.allow.map((x) => x.label),
      ['--allow "get nodes"', `${file}:3 (allow)`, `${file}:7 (allow)`, `${file}:9 (allow)`],
    );
    assert.throws(() => loadRules({ readOnly: false, allow: [], deny: [], rulesFile: join(dir, 'missing.yaml') }), {
      message: `--rules-file: open ${join(dir, 'missing.yaml')}: no such file or directory`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
