// The --allow and --deny rule syntax, one rule per flag or several separated by ';':
//
//   VERBS RESOURCES [NAMES] [-n NAMESPACES]
//
// each a comma list: verbs (`*` for all), resources as `resource[.group][/subresource]` (no
// group: any group; `*`, `*.apps`, `pods/*`, `*/scale`) or non-resource URLs starting with '/',
// names and namespaces as picomatch globs. Pure.

import { checkNonResourceURL, compileRule, resourcePattern, RuleError, type ResourcePattern, type Rule, type RuleInput } from './rules.js';

/** Splits on commas outside `{...}`, so a brace glob such as `{a,b}-*` stays one pattern. */
export function splitList(what: string, s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = s[i];
    if (c === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
    else if ((c === ',' && depth === 0) || i === s.length) {
      const item = s.slice(start, i);
      if (item === '') throw new RuleError(`empty item in ${what} list "${s}"`);
      out.push(item);
      start = i + 1;
    }
  }
  return out;
}

/** `deployments.apps/scale` → resource deployments, group apps, subresource scale. */
function resourceSpec(spec: string): ResourcePattern {
  const slash = spec.indexOf('/');
  const head = slash === -1 ? spec : spec.slice(0, slash);
  const sub = slash === -1 ? '' : spec.slice(slash);
  const dot = head.indexOf('.');
  if (dot === -1) return resourcePattern(head + sub, '*');
  return resourcePattern(head.slice(0, dot) + sub, head.slice(dot + 1));
}

function parseOne(flag: string, text: string): RuleInput {
  const positional: string[] = [];
  let namespaces: string[] | undefined;
  const tokens = text.split(/\s+/);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    let ns: string | undefined;
    if (t === '-n' || t === '--namespace') {
      ns = tokens[++i];
      if (ns === undefined) throw new RuleError(`${t} needs a namespace`);
    } else if (t.startsWith('-n=') || t.startsWith('--namespace=')) {
      ns = t.slice(t.indexOf('=') + 1);
    } else if (t.startsWith('-')) {
      throw new RuleError(`unknown option "${t}" (only -n NAMESPACES)`);
    } else {
      positional.push(t);
      continue;
    }
    if (namespaces !== undefined) throw new RuleError('-n given twice: list the namespaces once, separated by commas');
    namespaces = splitList('namespace', ns);
  }
  if (positional.length < 2) throw new RuleError('expected VERBS RESOURCES [NAMES] [-n NAMESPACES]');
  if (positional.length > 3) throw new RuleError(`unexpected "${positional[3]}" after the names (separate rules with ";")`);
  const [verbs, targets, names] = positional as [string, string, string | undefined];
  const resources: ResourcePattern[] = [];
  const nonResourceURLs: string[] = [];
  for (const item of splitList('resource', targets)) {
    if (item.startsWith('/')) nonResourceURLs.push(checkNonResourceURL(item));
    else resources.push(resourceSpec(item));
  }
  return {
    label: `${flag} "${text}"`,
    verbs: splitList('verb', verbs),
    resources,
    nonResourceURLs,
    names: names === undefined ? undefined : splitList('name', names),
    namespaces,
  };
}

/** One --allow or --deny value: rules separated by ';'. Errors name the flag and the rule. */
export function parseRuleFlag(flag: '--allow' | '--deny', value: string): Rule[] {
  const rules: Rule[] = [];
  for (const piece of value.split(';')) {
    const text = piece.trim().replace(/\s+/g, ' ');
    if (text === '') continue;
    try {
      rules.push(compileRule(parseOne(flag, text)));
    } catch (err) {
      if (err instanceof RuleError) throw new RuleError(`invalid ${flag} rule "${text}": ${err.message}`);
      throw err;
    }
  }
  if (rules.length === 0) throw new RuleError(`${flag} needs a rule such as "get,list,watch pods -n default"`);
  return rules;
}
