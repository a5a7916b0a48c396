// Finding and reading kubeconfig files (client-go loader.go ClientConfigLoadingRules.Load). The
// only kubeconfig module that touches the file system; certificate and token files referenced
// by the config are not read here (the in-cluster part only checks that the service-account
// token exists and the CA is readable, as client-go decides with them).

import { errnoText } from '../errors.js';
import { joinHostPort, unbracket } from '../hostport.js';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { mergeKubeconfigs } from './merge.js';
import { parseKubeconfig } from './parse.js';
import { resolveConfig } from './resolve.js';
import {
  ConfigError,
  type ConfigOverrides,
  type KubeconfigCluster,
  type KubeconfigFile,
  type MergedKubeconfig,
  type ResolvedConfig,
} from './types.js';

export interface LoadedKubeconfig {
  merged: MergedKubeconfig;
  /** Files that existed and were loaded, in precedence order. Empty when nothing was found. */
  files: string[];
  /** Every candidate path, in order, for a "no kubeconfig found (looked at ...)" message. */
  lookedAt: string[];
}

/** Candidate files: --kubeconfig alone, else the KUBECONFIG list, else ~/.kube/config. */
function candidates(explicitPath: string | undefined, env: NodeJS.ProcessEnv, home: string): string[] {
  if (explicitPath) return [explicitPath];
  const list = env.KUBECONFIG;
  if (list) {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const entry of list.split(path.delimiter)) {
      if (entry === '' || seen.has(entry)) continue;
      seen.add(entry);
      out.push(entry);
    }
    return out;
  }
  return [path.join(home, '.kube', 'config')];
}

/** The kubeconfig files kproxy reads (or would, once they exist): what a reload watches. */
export function kubeconfigPaths(explicitPath: string | undefined, env: NodeJS.ProcessEnv, home: string): string[] {
  return candidates(explicitPath || undefined, env, home);
}

/**
 * Load and merge kubeconfig files. Paths are reported as given and opened relative to `cwd`
 * (default: the process working directory). Missing files in the list are skipped, like
 * kubectl; a missing --kubeconfig or any unreadable or broken file is a ConfigError.
 */
export function loadKubeconfig(opts: { explicitPath?: string; env: NodeJS.ProcessEnv; home: string; cwd?: string }): LoadedKubeconfig {
  const cwd = opts.cwd ?? process.cwd();
  const lookedAt = candidates(opts.explicitPath || undefined, opts.env, opts.home);
  if (opts.explicitPath) {
    try {
      statSync(path.resolve(cwd, opts.explicitPath));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ConfigError(`stat ${opts.explicitPath}: ${errnoText(err)}`);
      }
      // Other stat failures surface as the read error below, as in client-go.
    }
  }

  const parsed: KubeconfigFile[] = [];
  const errors: string[] = [];
  for (const file of lookedAt) {
    let text: string;
    try {
      text = readFileSync(path.resolve(cwd, file), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      // Go's os.ReadFile fails in open() for permissions and in read() for directories.
      const op = code === 'EISDIR' ? 'read' : 'open';
      errors.push(`error loading config file "${file}": ${op} ${file}: ${errnoText(err)}`);
      continue;
    }
    try {
      parsed.push(parseKubeconfig(text, file));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      errors.push(err.message);
    }
  }
  // kubectl collects every broken file and prints one per line; any of them stops it.
  if (errors.length > 0) throw new ConfigError(errors.join('\n'));
  return { merged: mergeKubeconfigs(parsed), files: parsed.map((f) => f.path), lookedAt };
}

/**
 * Load the kubeconfig for `overrides` and resolve it. With no kubeconfig at all (or only empty
 * ones), a pod's service account is used when client-go would use it; otherwise only --server
 * makes a usable configuration (kubectl would fall back to http://localhost:8080 instead).
 */
export function loadResolvedConfig(overrides: ConfigOverrides, env: NodeJS.ProcessEnv, home: string, cwd: string): ResolvedConfig {
  const explicitPath = overrides.kubeconfig || undefined;
  const loaded = loadKubeconfig({ ...(explicitPath !== undefined ? { explicitPath } : {}), env, home, cwd });
  const m = loaded.merged;
  const empty = m.clusters.size === 0 && m.users.size === 0 && m.contexts.size === 0 && !m.currentContext;
  // DeferredLoadingClientConfig: in-cluster only when the kubeconfig and flags select nothing.
  const selects = Boolean(overrides.server || overrides.context || overrides.cluster || overrides.user);
  let notInCluster: string | undefined;
  if (empty && !selects) {
    const possible = inClusterPossible(env);
    if (possible === true) return inClusterConfig(overrides, env, cwd);
    notInCluster = possible;
  }
  if (loaded.files.length === 0 && !overrides.server) {
    const where = loaded.lookedAt.length > 0 ? `looked at ${loaded.lookedAt.join(', ')}` : 'KUBECONFIG lists no file';
    const inCluster = notInCluster && env.KUBERNETES_SERVICE_HOST ? ` (in-cluster configuration not used: ${notInCluster})` : '';
    throw new ConfigError(`no kubeconfig found: ${where}${inCluster}; set --kubeconfig or KUBECONFIG, or pass --server`);
  }
  return resolveConfig(loaded.merged, overrides, cwd);
}

// ---- in-cluster configuration (client-go rest.InClusterConfig) -------------------------------

/** Where the kubelet mounts a pod's service-account token and CA. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Replaces SERVICE_ACCOUNT_DIR (tests, or a token projected somewhere else). */
export const SERVICE_ACCOUNT_DIR_ENV = 'KPROXY_SERVICE_ACCOUNT_DIR';

export interface InClusterPaths {
  tokenFile: string;
  caFile: string;
}

export function inClusterPaths(env: NodeJS.ProcessEnv): InClusterPaths {
  const dir = env[SERVICE_ACCOUNT_DIR_ENV] || SERVICE_ACCOUNT_DIR;
  return { tokenFile: path.join(dir, 'token'), caFile: path.join(dir, 'ca.crt') };
}

/** inClusterClientConfig.Possible: true, or why not. */
export function inClusterPossible(env: NodeJS.ProcessEnv, paths: InClusterPaths = inClusterPaths(env)): true | string {
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
    return 'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined';
  }
  try {
    if (statSync(paths.tokenFile).isDirectory()) return `${paths.tokenFile} is a directory`;
  } catch (err) {
    return `stat ${paths.tokenFile}: ${errnoText(err)}`;
  }
  return true;
}

/**
 * The pod's service account as a configuration: `https://` + JoinHostPort(host, port) (IPv6
 * bracketed), the token file (read now and re-read as the kubelet rotates it), and `ca.crt`
 * when it can be read (otherwise, as client-go, the system roots with an error logged). Flags
 * such as --token or --certificate-authority still apply.
 */
export function inClusterConfig(overrides: ConfigOverrides, env: NodeJS.ProcessEnv, cwd: string, paths: InClusterPaths = inClusterPaths(env)): ResolvedConfig {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '';
  if (!host || !port) throw new ConfigError('unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined');
  const server = `https://${joinHostPort(unbracket(host), port)}`;
  const warnings: string[] = [];
  const cluster: KubeconfigCluster = { server, insecureSkipTLSVerify: false, disableCompression: false };
  try {
    readFileSync(paths.caFile);
    cluster.certificateAuthority = paths.caFile;
  } catch (err) {
    warnings.push(`Expected to load root CA config from ${paths.caFile}, but got err: open ${paths.caFile}: ${errnoText(err)}`);
  }
  const name = 'in-cluster';
  const origin = path.join(path.dirname(paths.tokenFile), name);
  const merged: MergedKubeconfig = {
    currentContext: name,
    clusters: new Map([[name, { name, origin, value: cluster }]]),
    // inClusterClientConfig: a --token replaces the token file rather than racing it.
    users: new Map([[name, { name, origin, value: { ...(overrides.token ? {} : { tokenFile: paths.tokenFile }), asGroups: [], asUserExtra: {} } }]]),
    contexts: new Map([[name, { name, origin, value: { cluster: name, user: name } }]]),
  };
  const resolved = resolveConfig(merged, overrides, cwd);
  // Not a kubeconfig file: nothing may be written back to it.
  delete resolved.userOrigin;
  resolved.warnings.unshift(...warnings);
  return resolved;
}
