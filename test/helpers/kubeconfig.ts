// Kubeconfig files and temp directories for tests. The same file is handed to kproxy and to the
// real kubectl, so only fields client-go understands are written, under their serialized names.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface KubeconfigSpec {
  /** `clusters[0].cluster.server`, e.g. `upstream.url`. */
  server: string;
  /** `certificate-authority` (a path). */
  caFile?: string;
  /** PEM; written base64-encoded as `certificate-authority-data`. */
  caData?: string;
  insecure?: boolean;
  tlsServerName?: string;
  disableCompression?: boolean;
  proxyUrl?: string;
  token?: string;
  tokenFile?: string;
  basic?: { user: string; pass: string };
  clientCertFile?: string;
  clientKeyFile?: string;
  /** PEM; written base64-encoded. */
  clientCertData?: string;
  /** PEM; written base64-encoded. */
  clientKeyData?: string;
  as?: string;
  asGroups?: string[];
  asUid?: string;
  asUserExtra?: Record<string, string[]>;
  /** Raw `exec` stanza for credential-plugin tests. */
  exec?: Record<string, unknown>;
  namespace?: string;
  /** Merged into `clusters[0].cluster`, `users[0].user`, `contexts[0].context`, or the top level. */
  extraCluster?: Record<string, unknown>;
  extraUser?: Record<string, unknown>;
  extraContext?: Record<string, unknown>;
  extraTop?: Record<string, unknown>;
  /** Appended verbatim after the generated document (top-level YAML keys). */
  rawYaml?: string;
  /** `current-context`; `null` omits it. Default `test`. */
  currentContext?: string | null;
  /** File name inside `dir`; default `kubeconfig`. */
  fileName?: string;
}

const b64 = (pem: string): string => Buffer.from(pem).toString('base64');

/** The YAML `writeKubeconfig` would write. */
export function kubeconfigYaml(spec: KubeconfigSpec): string {
  const cluster: Record<string, unknown> = { server: spec.server };
  if (spec.caFile !== undefined) cluster['certificate-authority'] = spec.caFile;
  if (spec.caData !== undefined) cluster['certificate-authority-data'] = b64(spec.caData);
  if (spec.insecure !== undefined) cluster['insecure-skip-tls-verify'] = spec.insecure;
  if (spec.tlsServerName !== undefined) cluster['tls-server-name'] = spec.tlsServerName;
  if (spec.disableCompression !== undefined) cluster['disable-compression'] = spec.disableCompression;
  if (spec.proxyUrl !== undefined) cluster['proxy-url'] = spec.proxyUrl;
  Object.assign(cluster, spec.extraCluster);

  const user: Record<string, unknown> = {};
  if (spec.token !== undefined) user['token'] = spec.token;
  if (spec.tokenFile !== undefined) user['tokenFile'] = spec.tokenFile;
  if (spec.basic !== undefined) {
    user['username'] = spec.basic.user;
    user['password'] = spec.basic.pass;
  }
  if (spec.clientCertFile !== undefined) user['client-certificate'] = spec.clientCertFile;
  if (spec.clientKeyFile !== undefined) user['client-key'] = spec.clientKeyFile;
  if (spec.clientCertData !== undefined) user['client-certificate-data'] = b64(spec.clientCertData);
  if (spec.clientKeyData !== undefined) user['client-key-data'] = b64(spec.clientKeyData);
  if (spec.as !== undefined) user['as'] = spec.as;
  if (spec.asGroups !== undefined) user['as-groups'] = spec.asGroups;
  if (spec.asUid !== undefined) user['as-uid'] = spec.asUid;
  if (spec.asUserExtra !== undefined) user['as-user-extra'] = spec.asUserExtra;
  if (spec.exec !== undefined) user['exec'] = spec.exec;
  Object.assign(user, spec.extraUser);

  const context: Record<string, unknown> = { cluster: 'test', user: 'test' };
  if (spec.namespace !== undefined) context['namespace'] = spec.namespace;
  Object.assign(context, spec.extraContext);

  const doc: Record<string, unknown> = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster }],
    users: [{ name: 'test', user }],
    contexts: [{ name: 'test', context }],
  };
  if (spec.currentContext !== null) doc['current-context'] = spec.currentContext ?? 'test';
  Object.assign(doc, spec.extraTop);
  let text = stringify(doc);
  if (spec.rawYaml !== undefined) text += (text.endsWith('\n') ? '' : '\n') + spec.rawYaml + (spec.rawYaml.endsWith('\n') ? '' : '\n');
  return text;
}

/** Writes the kubeconfig (mode 0600, as kubectl warns about group/world-readable files) and returns its path. */
export function writeKubeconfig(dir: string, spec: KubeconfigSpec): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, spec.fileName ?? 'kubeconfig');
  writeFileSync(path, kubeconfigYaml(spec), { mode: 0o600 });
  return path;
}

export interface TempDir {
  path: string;
  /** rm -rf; idempotent. */
  cleanup(): void;
}

// Last resort for tests that fail before their own cleanup runs.
const liveDirs = new Set<string>();
let exitHookInstalled = false;

export function tempDir(prefix = 'kproxy-test-'): TempDir {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  // Short base path: unix socket paths are limited to ~107 bytes.
  const path = mkdtempSync(join(tmpdir(), prefix.endsWith('-') ? prefix : `${prefix}-`));
  liveDirs.add(path);
  return {
    path,
    cleanup() {
      if (!liveDirs.has(path)) return;
      liveDirs.delete(path);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** One context of `writeContextsKubeconfig`: its own cluster and user, named after it. */
export interface ContextSpec {
  name: string;
  server: string;
  /** PEM; written base64-encoded as `certificate-authority-data`. */
  caData?: string;
  token?: string;
  /** Raw `exec` stanza. */
  exec?: Record<string, unknown>;
  proxyUrl?: string;
}

/** A kubeconfig with several contexts (clusters `c-<i>`, users `u-<i>`), mode 0600. */
export function writeContextsKubeconfig(dir: string, contexts: ContextSpec[], currentContext: string, fileName = 'kubeconfig'): string {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: contexts.map((c, i) => ({
      name: `c-${i}`,
      cluster: {
        server: c.server,
        ...(c.caData !== undefined ? { 'certificate-authority-data': b64(c.caData) } : {}),
        ...(c.proxyUrl !== undefined ? { 'proxy-url': c.proxyUrl } : {}),
      },
    })),
    users: contexts.map((c, i) => ({ name: `u-${i}`, user: { ...(c.token !== undefined ? { token: c.token } : {}), ...(c.exec !== undefined ? { exec: c.exec } : {}) } })),
    contexts: contexts.map((c, i) => ({ name: c.name, context: { cluster: `c-${i}`, user: `u-${i}` } })),
    'current-context': currentContext,
  };
  mkdirSync(dir, { recursive: true });
  const path = join(dir, fileName);
  writeFileSync(path, stringify(doc), { mode: 0o600 });
  return path;
}
