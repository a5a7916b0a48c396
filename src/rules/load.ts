// From the rule flags (--read-only, --allow, --deny, --rules-file) to compiled rules, reading the
// rules file: the one part of rules/ that touches the file system. Used by the proxy at start-up
// and by `kproxy explain`.

import { readFileSync } from 'node:fs';
import { fileError } from '../errors.js';
import { parseRulesFile } from './file.js';
import { RuleError, type Rules } from './rules.js';
import { parseRuleFlag } from './syntax.js';

export interface RuleFlags {
  readOnly: boolean;
  allow: string[];
  deny: string[];
  /** '' for none. */
  rulesFile: string;
}

/** Undefined when no rule flag is set: admission then does not parse requests at all. */
export function loadRules(flags: RuleFlags): Rules | undefined {
  if (!flags.readOnly && flags.allow.length === 0 && flags.deny.length === 0 && flags.rulesFile === '') return undefined;
  const rules: Rules = {
    readOnly: flags.readOnly,
    allow: flags.allow.flatMap((v) => parseRuleFlag('--allow', v)),
    deny: flags.deny.flatMap((v) => parseRuleFlag('--deny', v)),
  };
  if (flags.rulesFile !== '') {
    let text: string;
    try {
      text = readFileSync(flags.rulesFile, 'utf8');
    } catch (err) {
      throw new RuleError(`--rules-file: ${fileError('open', flags.rulesFile, err)}`);
    }
    const fromFile = parseRulesFile(text, flags.rulesFile);
    rules.allow.push(...fromFile.allow);
    rules.deny.push(...fromFile.deny);
  }
  return rules;
}
