// Reading one kubeconfig file the way kubectl does. kubectl's path is YAML (go-yaml v2, i.e.
// YAML 1.1) -> JSON (sigs.k8s.io/yaml) -> Go structs (encoding/json, case-sensitive, unknown keys
// ignored). Each stage has its own failure modes and messages, and users search for those
// messages, so this module reproduces the stages instead of validating a JS object loosely:
//  1. the `yaml` package only builds the node tree (failsafe schema: every scalar stays text);
//     plain scalars are then typed with go-yaml v2's resolver, which differs from every schema
//     the `yaml` package offers (`y`/`n` are booleans, `0o17` and `1_000` are numbers,
//     timestamps and `1:20` stay strings), and `<<` merges follow go-yaml's order rules;
//  2. JSON cannot hold NaN/Inf;
//  3. apiVersion/kind are sniffed;
//  4. values are decoded against the v1 types, reporting the first error in JSON key order
//     (sigs.k8s.io/yaml emits sorted keys, and encoding/json keeps the earliest error);
//  5. list -> map conversion rejects duplicate names; exec defaults are applied.
// The messages were compared with kubectl 1.32 (see test/kubeconfig.test.ts), except the reason
// text of YAML syntax errors, which comes from the `yaml` package's parser, not go-yaml's.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Scalar } from 'yaml';
import {
  ConfigError,
  type AuthProviderConfig,
  type ExecEnvVar,
  type KubeconfigCluster,
  type KubeconfigContext,
  type KubeconfigEntry,
  type KubeconfigExec,
  type KubeconfigFile,
  type KubeconfigUser,
} from './types.js';

/** JSON as sigs.k8s.io/yaml produces it; Map keeps keys exact (no prototype keys). */
type JValue = null | boolean | number | string | JValue[] | JObject;
interface JObject extends Map<string, JValue> {}

/** Failure inside one file; the caller adds `error loading config file "<path>": `. */
class DecodeError extends Error {}

// ----------------------------------------------------------------------------------------------
// Stage 1: YAML nodes -> JSON values with go-yaml v2 semantics.

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

function yamlToJson(text: string): JValue {
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

// ----------------------------------------------------------------------------------------------
// Stages 2-4: JSON encoding, apiVersion/kind, decoding into the v1 types.

function sortedKeys(o: JObject): string[] {
  return [...o.keys()].sort();
}

function checkEncodable(v: JValue): void {
  if (typeof v === 'number') {
    if (Number.isNaN(v)) throw new DecodeError('json: unsupported value: NaN');
    if (!Number.isFinite(v)) throw new DecodeError(`json: unsupported value: ${v > 0 ? '+Inf' : '-Inf'}`);
  } else if (Array.isArray(v)) {
    for (const item of v) checkEncodable(item);
  } else if (v instanceof Map) {
    for (const k of sortedKeys(v)) checkEncodable(v.get(k)!);
  }
}

function jsonKind(v: JValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  return Array.isArray(v) ? 'array' : 'object';
}

const SNIFF_TYPE = 'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }';

function sniffVersionKind(top: JValue): void {
  const prefix = "couldn't get version/kind; json parse error: json: cannot unmarshal ";
  if (top === null) return;
  if (!(top instanceof Map)) throw new DecodeError(`${prefix}${jsonKind(top)} into Go value of type ${SNIFF_TYPE}`);
  for (const key of ['apiVersion', 'kind']) {
    const v = top.get(key);
    if (v !== undefined && v !== null && typeof v !== 'string') {
      throw new DecodeError(`${prefix}${jsonKind(v)} into Go struct field .${key} of type string`);
    }
  }
  const version = (top.get('apiVersion') as string | null | undefined) || 'v1';
  const kind = (top.get('kind') as string | null | undefined) || 'Config';
  if (version !== 'v1' || kind !== 'Config') {
    throw new DecodeError(
      `no kind "${kind}" is registered for version "${version}" in scheme "k8s.io/client-go/tools/clientcmd/api/latest/latest.go:50"`,
    );
  }
}

type Spec =
  | { t: 'string'; go: string }
  | { t: 'bool' }
  | { t: 'bytes' }
  | { t: 'raw' }
  | { t: 'slice'; go: string; elem: Spec }
  | { t: 'map'; go: string; elem: Spec }
  | { t: 'struct'; name: string; go: string; fields: Record<string, Spec> };

const str: Spec = { t: 'string', go: 'string' };
const bool: Spec = { t: 'bool' };
const bytes: Spec = { t: 'bytes' };
const extensions: Spec = {
  t: 'slice',
  go: '[]v1.NamedExtension',
  elem: { t: 'struct', name: 'NamedExtension', go: 'v1.NamedExtension', fields: { name: str, extension: { t: 'raw' } } },
};
const CLUSTER: Spec = {
  t: 'struct',
  name: 'Cluster',
  go: 'v1.Cluster',
  fields: {
    server: str,
    'tls-server-name': str,
    'insecure-skip-tls-verify': bool,
    'certificate-authority': str,
    'certificate-authority-data': bytes,
    'proxy-url': str,
    'disable-compression': bool,
    extensions,
  },
};
const EXEC: Spec = {
  t: 'struct',
  name: 'ExecConfig',
  go: 'v1.ExecConfig',
  fields: {
    command: str,
    args: { t: 'slice', go: '[]string', elem: str },
    env: {
      t: 'slice',
      go: '[]v1.ExecEnvVar',
      elem: { t: 'struct', name: 'ExecEnvVar', go: 'v1.ExecEnvVar', fields: { name: str, value: str } },
    },
    apiVersion: str,
    installHint: str,
    provideClusterInfo: bool,
    interactiveMode: { t: 'string', go: 'v1.ExecInteractiveMode' },
  },
};
const AUTH_INFO: Spec = {
  t: 'struct',
  name: 'AuthInfo',
  go: 'v1.AuthInfo',
  fields: {
    'client-certificate': str,
    'client-certificate-data': bytes,
    'client-key': str,
    'client-key-data': bytes,
    token: str,
    tokenFile: str,
    as: str,
    'as-uid': str,
    'as-groups': { t: 'slice', go: '[]string', elem: str },
    'as-user-extra': { t: 'map', go: 'map[string][]string', elem: { t: 'slice', go: '[]string', elem: str } },
    username: str,
    password: str,
    'auth-provider': {
      t: 'struct',
      name: 'AuthProviderConfig',
      go: 'v1.AuthProviderConfig',
      fields: { name: str, config: { t: 'map', go: 'map[string]string', elem: str } },
    },
    exec: EXEC,
    extensions,
  },
};
const CONTEXT: Spec = {
  t: 'struct',
  name: 'Context',
  go: 'v1.Context',
  fields: { cluster: str, user: str, namespace: str, extensions },
};
const CONFIG: Spec = {
  t: 'struct',
  name: 'Config',
  go: 'v1.Config',
  fields: {
    kind: str,
    apiVersion: str,
    preferences: {
      t: 'struct',
      name: 'Preferences',
      go: 'v1.Preferences',
      fields: { colors: bool, extensions },
    },
    clusters: {
      t: 'slice',
      go: '[]v1.NamedCluster',
      elem: { t: 'struct', name: 'NamedCluster', go: 'v1.NamedCluster', fields: { name: str, cluster: CLUSTER } },
    },
    users: {
      t: 'slice',
      go: '[]v1.NamedAuthInfo',
      elem: { t: 'struct', name: 'NamedAuthInfo', go: 'v1.NamedAuthInfo', fields: { name: str, user: AUTH_INFO } },
    },
    contexts: {
      t: 'slice',
      go: '[]v1.NamedContext',
      elem: { t: 'struct', name: 'NamedContext', go: 'v1.NamedContext', fields: { name: str, context: CONTEXT } },
    },
    'current-context': str,
    extensions,
  },
};

interface Where {
  struct: string;
  path: string[];
}

function typeError(value: string, where: Where, goType: string): DecodeError {
  return new DecodeError(`json: cannot unmarshal ${value} into Go struct field ${where.struct}.${where.path.join('.')} of type ${goType}`);
}

/** Decoded struct: present, non-null keys only. */
type Decoded = { [key: string]: unknown };

function decode(v: JValue, spec: Spec, where: Where): unknown {
  // encoding/json leaves the zero value for null whatever the target type.
  if (v === null) return undefined;
  switch (spec.t) {
    case 'string':
      if (typeof v === 'string') return v;
      throw typeError(jsonKind(v), where, spec.go);
    case 'bool':
      if (typeof v === 'boolean') return v;
      throw typeError(jsonKind(v), where, 'bool');
    case 'raw':
      return v;
    case 'bytes': {
      if (typeof v === 'string') {
        const b = goBase64Decode(v);
        if (!Buffer.isBuffer(b)) throw new DecodeError(`illegal base64 data at input byte ${b.badByte}`);
        return b;
      }
      if (Array.isArray(v)) {
        // encoding/json also fills a []byte from an array of small integers.
        return Buffer.from(
          v.map((item) => {
            if (item === null) return 0;
            if (typeof item === 'number') {
              if (Number.isInteger(item) && item >= 0 && item <= 255) return item;
              throw typeError(`number ${item}`, where, 'uint8');
            }
            throw typeError(jsonKind(item), where, 'uint8');
          }),
        );
      }
      throw typeError(jsonKind(v), where, '[]uint8');
    }
    case 'slice':
      if (Array.isArray(v)) return v.map((item) => decode(item, spec.elem, where));
      throw typeError(jsonKind(v), where, spec.go);
    case 'map': {
      if (!(v instanceof Map)) throw typeError(jsonKind(v), where, spec.go);
      const out: Record<string, unknown> = Object.create(null);
      for (const k of sortedKeys(v)) out[k] = decode(v.get(k)!, spec.elem, where);
      return out;
    }
    case 'struct': {
      if (!(v instanceof Map)) throw typeError(jsonKind(v), where, spec.go);
      const out: Decoded = Object.create(null);
      for (const k of sortedKeys(v)) {
        const field = spec.fields[k];
        if (!field) continue;
        const value = decode(v.get(k)!, field, { struct: spec.name, path: [...where.path, k] });
        if (value !== undefined) out[k] = value;
      }
      return out;
    }
  }
}

// ----------------------------------------------------------------------------------------------
// Stage 5: typed entries, duplicate names, defaults.

const s = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const b = (v: unknown): boolean => v === true;
const data = (v: unknown): Buffer | undefined => (Buffer.isBuffer(v) && v.length > 0 ? v : undefined);
const obj = (v: unknown): Decoded => (v && typeof v === 'object' ? (v as Decoded) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function toCluster(c: Decoded): KubeconfigCluster {
  const out: KubeconfigCluster = {
    insecureSkipTLSVerify: b(c['insecure-skip-tls-verify']),
    disableCompression: b(c['disable-compression']),
  };
  const server = s(c.server);
  if (server !== undefined) out.server = server;
  const tlsServerName = s(c['tls-server-name']);
  if (tlsServerName !== undefined) out.tlsServerName = tlsServerName;
  const ca = s(c['certificate-authority']);
  if (ca !== undefined) out.certificateAuthority = ca;
  const caData = data(c['certificate-authority-data']);
  if (caData !== undefined) out.certificateAuthorityData = caData;
  const proxyURL = s(c['proxy-url']);
  if (proxyURL !== undefined) out.proxyURL = proxyURL;
  // client-go passes this one extension to exec plugins as spec.cluster.config.
  const ext = list(c.extensions).find((e) => obj(e).name === EXEC_EXTENSION);
  if (ext !== undefined && obj(ext).extension !== undefined) out.execExtension = plainJSON(obj(ext).extension);
  return out;
}

/** A decoded raw value as the JSON object client-go would hand on (mappings become objects). */
function plainJSON(v: unknown): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plainJSON(x)]));
  if (Array.isArray(v)) return v.map(plainJSON);
  return v;
}

const EXEC_EXTENSION = 'client.authentication.k8s.io/exec';

const EXEC_V1BETA1 = 'client.authentication.k8s.io/v1beta1';
const EXEC_V1ALPHA1 = 'client.authentication.k8s.io/v1alpha1';

function toExec(e: Decoded): KubeconfigExec {
  const out: KubeconfigExec = {
    args: list(e.args).map((a) => (typeof a === 'string' ? a : '')),
    env: list(e.env).map((raw): ExecEnvVar => {
      const v = obj(raw);
      return { name: typeof v.name === 'string' ? v.name : '', value: typeof v.value === 'string' ? v.value : '' };
    }),
    provideClusterInfo: b(e.provideClusterInfo),
  };
  const command = s(e.command);
  if (command !== undefined) out.command = command;
  const apiVersion = s(e.apiVersion);
  if (apiVersion !== undefined) out.apiVersion = apiVersion;
  const installHint = s(e.installHint);
  if (installHint !== undefined) out.installHint = installHint;
  let mode = s(e.interactiveMode);
  // api/v1/defaults.go SetDefaults_ExecConfig: only the pre-v1 versions get a default.
  if (mode === undefined && (apiVersion === EXEC_V1BETA1 || apiVersion === EXEC_V1ALPHA1)) mode = 'IfAvailable';
  if (mode !== undefined) out.interactiveMode = mode;
  return out;
}

function toUser(u: Decoded): KubeconfigUser {
  const out: KubeconfigUser = { asGroups: list(u['as-groups']).map((g) => (typeof g === 'string' ? g : '')), asUserExtra: {} };
  const strings: [keyof KubeconfigUser, string][] = [
    ['clientCertificate', 'client-certificate'],
    ['clientKey', 'client-key'],
    ['token', 'token'],
    ['tokenFile', 'tokenFile'],
    ['as', 'as'],
    ['asUid', 'as-uid'],
    ['username', 'username'],
    ['password', 'password'],
  ];
  for (const [field, key] of strings) {
    const v = s(u[key]);
    if (v !== undefined) (out as unknown as Record<string, string>)[field] = v;
  }
  const certData = data(u['client-certificate-data']);
  if (certData !== undefined) out.clientCertificateData = certData;
  const keyData = data(u['client-key-data']);
  if (keyData !== undefined) out.clientKeyData = keyData;
  const extra = obj(u['as-user-extra']);
  for (const k of Object.keys(extra)) {
    out.asUserExtra[k] = list(extra[k]).map((x) => (typeof x === 'string' ? x : ''));
  }
  if (u['auth-provider'] !== undefined) {
    const ap = obj(u['auth-provider']);
    const config: Record<string, string> = {};
    const rawConfig = obj(ap.config);
    for (const k of Object.keys(rawConfig)) config[k] = typeof rawConfig[k] === 'string' ? (rawConfig[k] as string) : '';
    const provider: AuthProviderConfig = { name: typeof ap.name === 'string' ? ap.name : '', config };
    out.authProvider = provider;
  }
  if (u.exec !== undefined) out.exec = toExec(obj(u.exec));
  return out;
}

function toContext(c: Decoded): KubeconfigContext {
  const out: KubeconfigContext = {};
  const cluster = s(c.cluster);
  if (cluster !== undefined) out.cluster = cluster;
  const user = s(c.user);
  if (user !== undefined) out.user = user;
  const namespace = s(c.namespace);
  if (namespace !== undefined) out.namespace = namespace;
  return out;
}

function named<T>(
  items: unknown[],
  valueKey: string,
  convert: (d: Decoded) => T,
  path: string,
  listType: string,
  mapType: string,
): Map<string, KubeconfigEntry<T>> {
  const out = new Map<string, KubeconfigEntry<T>>();
  for (const raw of items) {
    const item = obj(raw);
    const name = typeof item.name === 'string' ? item.name : '';
    if (out.has(name)) {
      // client-go appends a %v dump of the whole list, secrets included; the prefix is kept verbatim.
      throw new DecodeError(`error converting *[]${listType} into *map[string]*${mapType}: duplicate name "${name}" in list`);
    }
    out.set(name, { name, origin: path, value: convert(obj(item[valueKey])) });
  }
  return out;
}

/**
 * Parse one kubeconfig file. `path` is recorded as every entry's origin and used in messages
 * exactly as given. Throws ConfigError(`error loading config file "<path>": <reason>`).
 */
export function parseKubeconfig(text: string, path: string): KubeconfigFile {
  try {
    const top = yamlToJson(text);
    checkEncodable(top);
    sniffVersionKind(top);
    const cfg = (top === null ? {} : decode(top, CONFIG, { struct: '', path: [] })) as Decoded;
    const clusters = named(list(cfg.clusters), 'cluster', toCluster, path, 'NamedCluster', 'api.Cluster');
    const users = named(list(cfg.users), 'user', toUser, path, 'NamedAuthInfo', 'api.AuthInfo');
    const contexts = named(list(cfg.contexts), 'context', toContext, path, 'NamedContext', 'api.Context');
    const file: KubeconfigFile = { path, clusters, users, contexts };
    const current = s(cfg['current-context']);
    if (current !== undefined) file.currentContext = current;
    return file;
  } catch (err) {
    if (err instanceof DecodeError) throw new ConfigError(`error loading config file "${path}": ${err.message}`);
    throw err;
  }
}
