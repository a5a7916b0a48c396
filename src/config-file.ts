// --config=FILE: kproxy's own YAML configuration. Every command-line flag by its long name
// (`port: 8011`, `reject-methods: '^POST$'`, `all-contexts: true`, `as-group: [a, b]`), and
// `contexts:` as a list whose entries are a context name or a mapping with `name` and that
// context's own filter rules (`accept-paths`, `reject-paths`, `reject-methods`). Relative paths
// are read from the file's folder, `~/` from the home folder. The command line wins over the file, the file over the
// defaults (cli.ts applies it). Every mistake is one line naming the file, the line and the key,
// and nothing starts. Parsing is pure; only loadConfigFile reads the file.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { parseAdminAddress } from './admin.js';
import { parseAllowOrigins } from './browser.js';
import { errnoText, UserError } from './errors.js';
import { compileRegexList } from './filter/regexlist.js';
import { normalizePrefix, parseGoDuration, parsePort, parseRequestTimeout, type ContextRules } from './options.js';

export class ConfigFileError extends UserError {
  override name = 'ConfigFileError';
}

/** How a flag takes its value: a switch, one string, or a repeatable flag (a YAML list). */
export type FlagKind = 'boolean' | 'string' | 'list';

export interface ConfigFile {
  path: string;
  /** By long flag name, as the command line would give them. */
  values: Map<string, string | boolean | string[]>;
  /** `contexts:` entries: the names to serve, and the rules of those that have any. */
  contexts?: { names: string[]; rules: Record<string, ContextRules> };
}

const RULE_KEYS: Record<string, keyof ContextRules> = { 'accept-paths': 'acceptPaths', 'reject-paths': 'rejectPaths', 'reject-methods': 'rejectMethods' };
const REGEX_KEYS = new Set(['accept-hosts', ...Object.keys(RULE_KEYS)]);
/** Flags holding a path: a relative one is read from the config file's folder. */
const PATH_KEYS = new Set(['kubeconfig', 'www', 'unix-socket', 'access-log', 'certificate-authority', 'client-certificate', 'client-key', 'auth-token', 'rules-file']);

function oneOf(...allowed: string[]): (v: string) => void {
  return (v) => {
    if (!allowed.includes(v)) throw new Error(`must be one of ${allowed.join(', ')}`);
  };
}

/** The checks the command line makes later, made here so that a mistake names its line. */
const VALUE_CHECKS: Record<string, (v: string) => void> = {
  port: parsePort,
  keepalive: (v) => parseGoDuration('--keepalive', v),
  'request-timeout': parseRequestTimeout,
  'api-prefix': (v) => normalizePrefix('--api-prefix', v),
  'www-prefix': (v) => normalizePrefix('--www-prefix', v),
  output: oneOf('text', 'json'),
  'access-log-format': oneOf('text', 'json'),
  v: (v) => {
    if (!/^\d+$/.test(v)) throw new Error('must be a whole number');
  },
  'allow-origins': (v) => void parseAllowOrigins(v),
  'admin-address': (v) => void parseAdminAddress(v),
};

function checkValue(key: string, v: string): void {
  if (REGEX_KEYS.has(key)) compileRegexList(`--${key}`, v);
  else VALUE_CHECKS[key]?.(v);
}

/** A path flag's value: `~/` is the home folder, a relative path is read from the file's folder. */
function filePath(key: string, s: string, base: string, home: string): string {
  if (s === '' || s === '-' || (key === 'auth-token' && s === 'auto')) return s;
  if (s === '~' || s.startsWith('~/')) return join(home, s.slice(1));
  return isAbsolute(s) ? s : resolve(base, s);
}

/** Parses the YAML text of `path` against the flags the command line knows. */
export function parseConfigFile(text: string, path: string, flags: ReadonlyMap<string, FlagKind>, home = homedir()): ConfigFile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const lineOf = (n: Node | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 1);
  const fail = (line: number, what: string): never => {
    throw new ConfigFileError(`${path}:${line}: ${what}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    fail(lc.linePos(e.pos[0]).line, e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''));
  }
  const out: ConfigFile = { path, values: new Map() };
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return out;
  if (!isMap(doc.contents)) fail(lineOf(doc.contents), 'the file must be a mapping of flag names to values');
  const base = dirname(path);
  for (const pair of (doc.contents as { items: Pair[] }).items) {
    const keyNode = pair.key as Node;
    const line = lineOf(keyNode);
    const key = isScalar(keyNode) ? String(keyNode.value) : fail(line, 'keys must be flag names');
    const valueNode = pair.value as Node | null;
    const bad = (why: string) => fail(valueNode?.range ? lineOf(valueNode) : line, `${key}: ${why}`);
    if (key === 'contexts') {
      out.contexts = parseContexts(valueNode, key, lineOf, bad, fail);
      continue;
    }
    const kind = flags.get(key);
    if (kind === undefined) fail(line, `unknown key ${JSON.stringify(key)} (keys are kproxy's long flag names, such as reject-paths)`);
    let value: string | boolean | string[];
    if (kind === 'boolean') {
      if (!isScalar(valueNode) || typeof valueNode.value !== 'boolean') bad('must be true or false');
      value = (valueNode as { value: boolean }).value;
    } else if (kind === 'list') {
      const items = isSeq(valueNode) ? valueNode.items : [valueNode];
      value = items.map((n) => scalarString(n as Node | null) ?? bad('must be a string or a list of strings'));
    } else {
      const s = scalarString(valueNode) ?? bad('must be a string');
      try {
        checkValue(key, s);
      } catch (err) {
        bad((err as Error).message);
      }
      value = PATH_KEYS.has(key) ? filePath(key, s, base, home) : s;
    }
    out.values.set(key, value);
  }
  return out;
}

function scalarString(n: Node | null | undefined): string | undefined {
  if (!isScalar(n)) return undefined;
  const v = n.value;
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? String(v) : undefined;
}

function parseContexts(
  node: Node | null,
  key: string,
  lineOf: (n: Node | null | undefined) => number,
  bad: (why: string) => never,
  fail: (line: number, what: string) => never,
): { names: string[]; rules: Record<string, ContextRules> } {
  if (!isSeq(node)) bad('must be a list of context names or of mappings with a name and rules');
  const names: string[] = [];
  const rules: Record<string, ContextRules> = {};
  (node as { items: Node[] }).items.forEach((item, i) => {
    const where = `${key}[${i}]`;
    const plain = scalarString(item);
    if (plain !== undefined) {
      if (names.includes(plain)) fail(lineOf(item), `${where}: context ${JSON.stringify(plain)} is listed twice`);
      names.push(plain);
      return;
    }
    if (!isMap(item)) fail(lineOf(item), `${where}: must be a context name or a mapping with name and rules`);
    const own: ContextRules = {};
    let name: string | undefined;
    for (const pair of (item as { items: Pair[] }).items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      const line = lineOf(pair.key as Node);
      const s = scalarString(pair.value as Node) ?? fail(line, `${where}.${k}: must be a string`);
      if (k === 'name') name = s;
      else if (k in RULE_KEYS) {
        try {
          checkValue(k, s);
        } catch (err) {
          fail(line, `${where}.${k}: ${(err as Error).message}`);
        }
        own[RULE_KEYS[k]!] = s;
      } else fail(line, `${where}: unknown key ${JSON.stringify(k)} (a context takes name, ${Object.keys(RULE_KEYS).join(', ')})`);
    }
    if (name === undefined || name === '') fail(lineOf(item), `${where}: needs a name`);
    if (names.includes(name!)) fail(lineOf(item), `${where}: context ${JSON.stringify(name)} is listed twice`);
    names.push(name!);
    rules[name!] = own;
  });
  return { names, rules };
}

export function loadConfigFile(path: string, flags: ReadonlyMap<string, FlagKind>): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`cannot read --config ${path}: ${errnoText(err)}`);
  }
  return parseConfigFile(text, path, flags);
}

/** What applyConfigFile needs of commander's Command. */
export interface FlagSource {
  readonly options: ReadonlyArray<{ long?: string; required: boolean; optional: boolean; attributeName(): string }>;
  getOptionValueSource(key: string): string | undefined;
  setOptionValueWithSource(key: string, value: unknown, source: 'config'): unknown;
}

/** The long flags a config file may set, and how each takes its value. */
export function flagKinds(cmd: FlagSource, repeatable: ReadonlySet<string>): Map<string, FlagKind> {
  const out = new Map<string, FlagKind>();
  for (const o of cmd.options) {
    const name = o.long?.slice(2);
    // `--no-x` only spells `--x=false` on the command line; the file says `x: false`.
    if (name === undefined || name === 'help' || name === 'version' || name === 'config' || name.startsWith('no-')) continue;
    out.set(name, repeatable.has(name) ? 'list' : o.required || o.optional ? 'string' : 'boolean');
  }
  return out;
}

/**
 * Sets every flag the command line did not give from the file. `givenFalse`: switches the
 * command line turned off (`--disable-filter=false`), which commander never sees.
 */
export function applyConfigFile(cmd: FlagSource, file: ConfigFile, givenFalse: ReadonlySet<string>): void {
  const byName = new Map(cmd.options.map((o) => [o.long?.slice(2), o.attributeName()]));
  for (const [name, value] of file.values) {
    const attr = byName.get(name)!;
    if (cmd.getOptionValueSource(attr) === 'cli' || givenFalse.has(name)) continue;
    cmd.setOptionValueWithSource(attr, value, 'config');
  }
}
