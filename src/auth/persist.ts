// Writing refreshed OIDC tokens back into the kubeconfig file that defined the user, as
// client-go's PersisterForUser/ModifyConfig does, but without rewriting the rest of the file:
// the two values are spliced into the original text, so every other field, comment, quote style
// and indentation stays byte for byte. Only when a key is missing, or the map is in flow style,
// is the document re-serialised (comments still kept by the `yaml` Document API).
//
// Like ModifyConfig it takes `<file>.lock` (O_EXCL), so kubectl and kproxy do not write at once;
// unlike it, the file is replaced atomically (temporary file + rename, mode 0600) so a reader
// never sees half a kubeconfig.

import { closeSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, Scalar, type Document, type YAMLMap } from 'yaml';

function load(text: string): Document {
  // Names and values stay text, as parse.ts reads them.
  return parseDocument(text, { version: '1.1', schema: 'failsafe', keepSourceTokens: true });
}

function providerConfigNode(doc: Document, userName: string): YAMLMap | undefined {
  const users = doc.get('users', true);
  if (!isSeq(users)) return undefined;
  for (const item of users.items) {
    if (!isMap(item)) continue;
    const name = item.get('name');
    if ((name === undefined || name === null ? '' : String(name)) !== userName) continue;
    const cfg = item.getIn(['user', 'auth-provider', 'config'], true);
    return isMap(cfg) ? cfg : undefined;
  }
  return undefined;
}

/** The user's auth-provider config as the file now has it, or undefined. */
export function readProviderConfig(file: string, userName: string): Record<string, string> | undefined {
  const cfg = providerConfigNode(load(readFileSync(file, 'utf8')), userName);
  if (!cfg) return undefined;
  const out: Record<string, string> = {};
  for (const pair of cfg.items) {
    if (isScalar(pair.key) && isScalar(pair.value)) out[String(pair.key.value)] = String(pair.value.value ?? '');
  }
  return out;
}

const PLAIN_SAFE = /^[A-Za-z0-9_][A-Za-z0-9._~+/=-]*$/;
// YAML 1.1 would read these plain scalars as something other than a string.
const YAML11_SPECIAL = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|[-+]?[0-9][0-9_.:eE+-]*)$/;

function scalarText(value: string, style: Scalar['type']): string {
  if (style === Scalar.QUOTE_SINGLE) return `'${value.replace(/'/g, "''")}'`;
  if (style === Scalar.PLAIN && PLAIN_SAFE.test(value) && !YAML11_SPECIAL.test(value)) return value;
  return JSON.stringify(value);
}

/** The new text of a kubeconfig with `updates` set in the user's auth-provider config. */
export function updateProviderConfig(text: string, userName: string, updates: Record<string, string>): string {
  const doc = load(text);
  if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message);
  const cfg = providerConfigNode(doc, userName);
  if (!cfg) throw new Error(`user ${JSON.stringify(userName)} has no auth-provider config in the file`);

  type Edit = { start: number; end: number; text: string };
  const edits: Edit[] = [];
  let needsRewrite = cfg.flow === true || cfg.items.length === 0;
  const pending = new Map(Object.entries(updates));
  if (!needsRewrite) {
    for (const pair of cfg.items) {
      if (!isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      if (!pending.has(key)) continue;
      const v = pair.value;
      if (!isScalar(v) || !v.range || v.type === Scalar.BLOCK_FOLDED || v.type === Scalar.BLOCK_LITERAL) {
        needsRewrite = true;
        break;
      }
      edits.push({ start: v.range[0], end: v.range[1], text: scalarText(pending.get(key)!, v.type) });
      pending.delete(key);
    }
  }
  if (!needsRewrite && pending.size > 0) {
    // New keys go on new lines after the last entry, at its indentation.
    const last = cfg.items[cfg.items.length - 1]!;
    const keyNode = last.key;
    const valueNode = last.value;
    if (!isScalar(keyNode) || !keyNode.range || !valueNode || !(isScalar(valueNode) || isMap(valueNode) || isSeq(valueNode)) || !valueNode.range) {
      needsRewrite = true;
    } else {
      const lineStart = text.lastIndexOf('\n', keyNode.range[0] - 1) + 1;
      const indent = text.slice(lineStart, keyNode.range[0]);
      if (!/^[ ]*$/.test(indent)) {
        needsRewrite = true;
      } else {
        let at = text.indexOf('\n', valueNode.range[1]);
        if (at < 0) at = text.length;
        let add = '';
        for (const [k, v] of pending) add += `\n${indent}${scalarText(k, Scalar.PLAIN)}: ${scalarText(v, Scalar.PLAIN)}`;
        edits.push({ start: at, end: at, text: add });
      }
    }
  }
  if (needsRewrite) {
    for (const [k, v] of Object.entries(updates)) cfg.set(k, v);
    return doc.toString();
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** Sets `updates` in the user's auth-provider config inside `file` (client-go LocationOfOrigin). */
export function persistProviderConfig(file: string, userName: string, updates: Record<string, string>): void {
  const lock = file + '.lock';
  closeSync(openSync(lock, 'wx', 0o600));
  try {
    const real = realpathSync(file);
    const text = readFileSync(real, 'utf8');
    const next = updateProviderConfig(text, userName, updates);
    const tmp = path.join(path.dirname(real), `.${path.basename(real)}.kproxy-${process.pid}-${Date.now()}.tmp`);
    try {
      writeFileSync(tmp, next, { mode: 0o600, flag: 'wx' });
      renameSync(tmp, real);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  } finally {
    rmSync(lock, { force: true });
  }
}
