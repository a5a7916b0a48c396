// The rules file (--rules-file): `allow:` and `deny:` lists of rules in the shape of RBAC
// PolicyRules, plus `namespaces`; resourceNames and namespaces are picomatch globs.
//
//   allow:
//     - verbs: [get, list, watch]
//       apiGroups: ["", apps]        # omitted: any group
//       resources: [pods, pods/log, deployments]
//       namespaces: [default, "team-*"]
//   deny:
//     - verbs: ["*"]
//       resources: [secrets]
//       resourceNames: ["*-token-*"]
//
// Every scalar is read as a string (YAML's failsafe schema), so a namespace `123` or a verb
// `on` is never turned into a number or a boolean. Errors name the file, the line and the key.
// Pure: the caller reads the file.

import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { oneLine } from '../errors.js';
import { checkGlobs, checkNonResourceURL, checkVerb, compileRule, resourcePattern, RuleError, type Rule } from './rules.js';

const RULE_KEYS = ['verbs', 'apiGroups', 'resources', 'resourceNames', 'namespaces', 'nonResourceURLs'] as const;
type RuleKey = (typeof RULE_KEYS)[number];

export interface RulesFile {
  allow: Rule[];
  deny: Rule[];
}

export function parseRulesFile(text: string, file: string): RulesFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, schema: 'failsafe', uniqueKeys: true, prettyErrors: false });
  const lineOf = (n: { range?: [number, number, number] | null } | null | undefined) => (n?.range ? lines.linePos(n.range[0]).line : 1);
  const fail = (line: number, key: string | undefined, why: string): never => {
    throw new RuleError(`rules file ${file}, line ${line}${key === undefined ? '' : `, key "${key}"`}: ${oneLine(why)}`);
  };
  const err = doc.errors[0];
  if (err) fail(lines.linePos(err.pos[0]).line, undefined, err.message.split('\n', 1)[0]!);
  const out: RulesFile = { allow: [], deny: [] };
  const top = doc.contents;
  if (top === null) return out;
  if (!isMap(top)) return fail(lineOf(top as Node), undefined, 'expected a mapping with "allow" and "deny" lists');
  for (const pair of top.items as Pair<Node, Node>[]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key !== 'allow' && key !== 'deny') fail(lineOf(pair.key), key, 'unknown key: expected "allow" or "deny"');
    const list = pair.value;
    if (list === null || (isScalar(list) && (list.value === '' || list.value === null))) continue;
    if (!isSeq(list)) return fail(lineOf(pair.key), key, 'expected a list of rules');
    for (const item of list.items as Node[]) {
      const line = lineOf(item);
      if (!isMap(item)) fail(line, key, 'each rule is a mapping with verbs and resources or nonResourceURLs');
      out[key as 'allow' | 'deny'].push(parseRule(item as Node & { items: Pair<Node, Node>[] }, `${file}:${line} (${key})`, lineOf, fail));
    }
  }
  return out;
}

function parseRule(
  item: { items: Pair<Node, Node>[] },
  label: string,
  lineOf: (n: Node | null) => number,
  fail: (line: number, key: string | undefined, why: string) => never,
): Rule {
  const fields: Partial<Record<RuleKey, string[]>> = {};
  const where: Partial<Record<RuleKey, number>> = {};
  for (const pair of item.items) {
    const key = (isScalar(pair.key) ? String(pair.key.value) : '') as RuleKey;
    const line = lineOf(pair.key);
    if (!RULE_KEYS.includes(key)) fail(line, key, `unknown key: expected one of ${RULE_KEYS.join(', ')}`);
    if (!isSeq(pair.value)) fail(line, key, 'expected a list, such as [get, list]');
    const values: string[] = [];
    for (const v of (pair.value as Node & { items: Node[] }).items) {
      if (!isScalar(v) || typeof v.value !== 'string') fail(lineOf(v), key, 'expected a string');
      values.push((v as { value: string }).value);
    }
    fields[key] = values;
    where[key] = line;
  }
  const itemLine = lineOf(item as unknown as Node);
  // Field by field, so that an error names the key that holds it.
  const at = <T>(key: RuleKey | undefined, f: () => T): T => {
    try {
      return f();
    } catch (err) {
      if (err instanceof RuleError) fail((key && where[key]) ?? itemLine, key, err.message);
      throw err;
    }
  };
  const verbs = at('verbs', () => {
    if (!fields.verbs?.length) throw new RuleError('a rule needs at least one verb');
    return fields.verbs.map(checkVerb);
  });
  if (fields.apiGroups && !fields.resources) fail(where.apiGroups!, 'apiGroups', 'apiGroups without resources');
  const groups = fields.apiGroups ?? ['*'];
  const resources = at('resources', () => (fields.resources ?? []).flatMap((r) => groups.map((g) => resourcePattern(r, g))));
  const nonResourceURLs = at('nonResourceURLs', () => (fields.nonResourceURLs ?? []).map(checkNonResourceURL));
  at('resourceNames', () => checkGlobs('name', fields.resourceNames));
  at('namespaces', () => checkGlobs('namespace', fields.namespaces));
  return at(undefined, () => compileRule({ label, verbs, resources, nonResourceURLs, names: fields.resourceNames, namespaces: fields.namespaces }));
}
