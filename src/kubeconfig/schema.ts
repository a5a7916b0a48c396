// Stages 2-4 of reading a kubeconfig the way kubectl does: JSON encoding checks (no NaN/Inf),
// apiVersion/kind sniffing, and a small encoding/json-style decoder driven by the v1 types'
// schema, reporting the first error in JSON key order (sigs.k8s.io/yaml emits sorted keys, and
// encoding/json keeps the earliest error).

import { DecodeError, goBase64Decode, type JObject, type JValue } from './goyaml.js';

function sortedKeys(o: JObject): string[] {
  return [...o.keys()].sort();
}

export function checkEncodable(v: JValue): void {
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

export function sniffVersionKind(top: JValue): void {
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
export const CONFIG: Spec = {
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
export type Decoded = { [key: string]: unknown };

export function decode(v: JValue, spec: Spec, where: Where): unknown {
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

