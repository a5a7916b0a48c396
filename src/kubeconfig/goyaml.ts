// Stage 1 of reading a kubeconfig the way kubectl does: YAML nodes -> JSON values with go-yaml
// v2 semantics. The `yaml` package only builds the node tree (failsafe schema: every scalar
// stays text); plain scalars are then typed with go-yaml v2's resolver, which differs from every
// schema the `yaml` package offers (`y`/`n` are booleans, `0o17` and `1_000` are numbers,
// timestamps and `1:20` stay strings), and `<<` merges follow go-yaml's order rules. Also Go's
// base64 decoder, which `!!binary` and `[]byte` fields share.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Scalar } from 'yaml';

/** JSON as sigs.k8s.io/yaml produces it; Map keeps keys exact (no prototype keys). */
export type JValue = null | boolean | number | string | JValue[] | JObject;
export interface JObject extends Map<string, JValue> {}

/** Failure inside one file; the caller adds `error loading config file "<path>": `. */
export class DecodeError extends Error {}


const TAG = 'tag:yaml.org,2002:';
type GoTag = 'null' | 'bool' | 'int' | 'float' | 'str';

function shortTag(tag: string): string {
  return tag.startsWith(TAG) ? '!!' + tag.slice(TAG.length) : tag;
}

const BOOL_NULL: Record<string, [GoTag, JValue]> = Object.create(null);
for (const s of ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']) BOOL_NULL[s] = ['bool', true];
for (const s of ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']) BOOL_NULL[s] = ['bool', false];
for (const s of ['', '~', 'null', 'Null', 'NULL']) BOOL_NULL[s] = ['null', null];
for (const s of ['.nan', '.NaN', '.NAN']) BOOL_NULL[s] = ['float', NaN];
for (const s of ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']) BOOL_NULL[s] = ['float', Infinity];
for (const s of ['-.inf', '-.Inf', '-.INF']) BOOL_NULL[s] = ['float', -Infinity];

const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Go's strconv.ParseInt(s, 0, 64) with ParseUint as fallback, as go-yaml tries them: base
 * prefixes 0x/0o/0b, a bare leading 0 for octal, a sign only within int64.
 */
function goParseInt(s: string): number | undefined {
  const m = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))$/.exec(s);
  if (!m) return undefined;
  let mag: bigint;
  if (m[2] !== undefined) mag = BigInt('0x' + m[2]);
  else if (m[3] !== undefined) mag = BigInt('0o' + m[3]);
  else if (m[4] !== undefined) mag = BigInt('0b' + m[4]);
  else if (m[5] !== undefined) mag = m[5] === '' ? 0n : BigInt('0o' + m[5]);
  else mag = BigInt(m[6]!);
  if (m[1] === '-') return mag <= INT64_MAX + 1n ? Number(-mag) : undefined;
  if (m[1] === '+') return mag <= INT64_MAX ? Number(mag) : undefined;
  return mag <= UINT64_MAX ? Number(mag) : undefined;
}

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

/** go-yaml v2's resolveTable: the first character decides which conversions are tried. */
function hintOf(s: string): string {
  if (s === '') return 'N';
  const c = s[0]!;
  if ('yYnNtTfFoO~'.includes(c)) return 'M';
  if (c >= '0' && c <= '9') return 'D';
  if (c === '+' || c === '-') return 'S';
  if (c === '.') return '.';
  return '';
}

/** go-yaml v2 resolve() for a plain scalar's text (also used to check an explicit !!int etc.). */
function goResolve(s: string): [GoTag, JValue] {
  const hint = hintOf(s);
  if (hint === '') return ['str', s];
  const known = BOOL_NULL[s];
  if (known) return known;
  if (hint === '.') {
    // strconv.ParseFloat on the raw text; only the ".5" / ".5e3" shapes start with a dot.
    if (/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s)) return ['float', Number(s)];
  } else if (hint === 'D' || hint === 'S') {
    // Timestamps would be tried first, but go-yaml hands them to interface{} as their text,
    // and nothing shaped like YYYY-... parses as a number, so they fall through to 'str'.
    // Every underscore is dropped before the number attempts.
    const plain = s.replaceAll('_', '');
    const i = goParseInt(plain);
    if (i !== undefined) return ['int', i];
    if (YAML_STYLE_FLOAT.test(plain)) {
      const f = Number(plain);
      // ParseFloat fails on overflow, and the value then stays a string.
      if (Number.isFinite(f)) return ['float', f];
    }
  }
  return ['str', s];
}

/** Go base64.StdEncoding.Decode, including its error offsets (newlines are skipped, padding is required). */
export function goBase64Decode(text: string): Buffer | { badByte: number } {
  const src = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(Math.floor((src.length * 3) / 4) + 3);
  let n = 0;
  let si = 0;
  while (si < src.length) {
    const dbuf = [0, 0, 0, 0];
    let dlen = 4;
    let trailing: number | undefined;
    let end = false;
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) {
          end = true;
          break;
        }
        return { badByte: si - j };
      }
      const ch = src[si]!;
      si++;
      const v = B64[ch]!;
      if (v !== 0xff) {
        dbuf[j] = v;
        continue;
      }
      if (ch === 0x0a || ch === 0x0d) {
        j--;
        continue;
      }
      if (ch !== 0x3d) return { badByte: si - 1 };
      if (j === 0 || j === 1) return { badByte: si - 1 };
      if (j === 2) {
        while (si < src.length && (src[si] === 0x0a || src[si] === 0x0d)) si++;
        if (si === src.length) return { badByte: src.length };
        if (src[si] !== 0x3d) return { badByte: si - 1 };
        si++;
      }
      while (si < src.length && (src[si] === 0x0a || src[si] === 0x0d)) si++;
      if (si < src.length) trailing = si;
      dlen = j;
      break;
    }
    if (end) break;
    const val = (dbuf[0]! << 18) | (dbuf[1]! << 12) | (dbuf[2]! << 6) | dbuf[3]!;
    const bytes = [(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff];
    for (let k = 0; k < dlen - 1; k++) out[n++] = bytes[k]!;
    if (trailing !== undefined) return { badByte: trailing };
  }
  return out.subarray(0, n);
}

const B64 = new Uint8Array(256).fill(0xff);
for (const [i, ch] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) B64[ch.charCodeAt(0)] = i;

/** go-yaml v2 stops expanding documents that alias their way into huge trees ("billion laughs"). */
const MAX_NODES = 1_000_000;

/** go-yaml v2's nesting limit; it also keeps a hostile file from overflowing the JS stack. */
const MAX_DEPTH = 10_000;

class YamlToJson {
  private nodes = 0;
  private depth = 0;
  /** Alias targets being expanded: an anchor that contains an alias to itself never ends. */
  private readonly expanding = new Set<unknown>();
  constructor(private readonly doc: Document) {}

  convert(node: unknown): JValue {
    if (++this.nodes > MAX_NODES) throw new DecodeError('yaml: document contains excessive aliasing');
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target) unknownAnchor(node.source);
      if (this.expanding.has(target)) throw new DecodeError(`yaml: anchor '${node.source}' value contains itself`);
      this.expanding.add(target);
      try {
        return this.convert(target);
      } finally {
        this.expanding.delete(target);
      }
    }
    if (isScalar(node)) return this.scalar(node);
    if (++this.depth > MAX_DEPTH) throw new DecodeError(`yaml: exceeded max depth of ${MAX_DEPTH}`);
    try {
      if (isSeq(node)) return node.items.map((item) => this.convert(item));
      if (isMap(node)) {
        const out: JObject = new Map();
        for (const pair of node.items) {
          if (isMergeKey(pair.key)) {
            this.merge(pair.value, out);
            continue;
          }
          const key = mapKey(this.convert(pair.key));
          out.set(key, this.convert(pair.value));
        }
        return out;
      }
      return null;
    } finally {
      this.depth--;
    }
  }

  private scalar(node: Scalar): JValue {
    const text = String(node.value ?? '');
    const tag = node.tag;
    if (!tag) return node.type === 'PLAIN' ? goResolve(text)[1] : text;
    if (tag === TAG + 'binary') {
      const bytes = goBase64Decode(text);
      if (!Buffer.isBuffer(bytes)) throw new DecodeError('yaml: !!binary value contains invalid base64 data');
      return bytes.toString('utf8');
    }
    const want = tag.startsWith(TAG) ? tag.slice(TAG.length) : '';
    if (want === 'int' || want === 'float' || want === 'bool' || want === 'null') {
      const [got, value] = goResolve(text);
      if (got === want) return value;
      if (want === 'float' && got === 'int') return value;
      throw new DecodeError(`yaml: cannot decode !!${got} \`${text}\` as a ${shortTag(tag)}`);
    }
    // !!str, !!timestamp, `!` and application tags all come out as the text itself in go-yaml v2.
    return text;
  }

  /** go-yaml v2: a merge assigns the merged keys over what is already there; a list merges last-to-first. */
  private merge(value: unknown, out: JObject): void {
    const target = (node: unknown): unknown => (isAlias(node) ? node.resolve(this.doc) ?? unknownAnchor(node.source) : node);
    const fail = (): never => {
      throw new DecodeError('yaml: map merge requires map or sequence of maps as the value');
    };
    const assign = (node: unknown): void => {
      if (!isMap(target(node))) fail();
      for (const [k, v] of this.convert(node) as JObject) out.set(k, v);
    };
    if (isMap(value) || isAlias(value)) assign(value);
    else if (isSeq(value)) {
      for (const item of value.items.slice().reverse()) assign(item);
    } else fail();
  }
}

function unknownAnchor(name: string): never {
  throw new DecodeError(`yaml: unknown anchor '${name}' referenced`);
}

function isMergeKey(key: unknown): boolean {
  if (!isScalar(key) || key.value !== '<<') return false;
  return key.tag === TAG + 'merge' || (!key.tag && key.type === 'PLAIN');
}

/** sigs.k8s.io/yaml turns non-string keys into strings. */
function mapKey(key: JValue): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'boolean') return String(key);
  if (typeof key === 'number') {
    if (Number.isNaN(key)) return '.nan';
    if (key === Infinity) return '.inf';
    if (key === -Infinity) return '-.inf';
    return String(key);
  }
  if (key === null) throw new DecodeError('unsupported map key of type: <nil>');
  throw new DecodeError('yaml: invalid map key: a sequence or mapping cannot be a key');
}

export function yamlToJson(text: string): JValue {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, {
    version: '1.1',
    schema: 'failsafe',
    merge: false,
    uniqueKeys: false,
    strict: false,
    prettyErrors: false,
    lineCounter: lines,
  });
  // go-yaml v2's Unmarshal reads the first document only.
  const doc = docs[0];
  if (!doc) return null;
  const err = doc.errors[0];
  if (err) {
    const line = lines.linePos(err.pos[0]).line;
    // The parsers differ, so reasons differ too; go-yaml's wording is kept for the commonest
    // hand-editing mistake, which users search for.
    const reason =
      err.code === 'TAB_AS_INDENT'
        ? 'found a tab character that violates indentation'
        : err.message.charAt(0).toLowerCase() + err.message.slice(1);
    throw new DecodeError(`yaml: line ${line}: ${reason}`);
  }
  return new YamlToJson(doc).convert(doc.contents);
}

