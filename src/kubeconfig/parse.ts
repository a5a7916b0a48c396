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
// Stage 1 is goyaml.ts, stages 2-4 schema.ts; this file is stage 5 and the entry point.
// The messages were compared with kubectl 1.32 (see test/kubeconfig.test.ts), except the reason
// text of YAML syntax errors, which comes from the `yaml` package's parser, not go-yaml's.

import { DecodeError, yamlToJson } from './goyaml.js';
import { checkEncodable, CONFIG, decode, sniffVersionKind, type Decoded } from './schema.js';
import {
  ConfigError,
  EXEC_V1ALPHA1,
  EXEC_V1BETA1,
  type AuthProviderConfig,
  type ExecEnvVar,
  type KubeconfigCluster,
  type KubeconfigContext,
  type KubeconfigEntry,
  type KubeconfigExec,
  type KubeconfigFile,
  type KubeconfigUser,
} from './types.js';

export { goBase64Decode } from './goyaml.js';

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
