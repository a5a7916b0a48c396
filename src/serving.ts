// What the proxy serves, built from the flags and the kubeconfig in one piece: the filter, and
// either kubectl's one context or, with --contexts / --all-contexts, one destination per context
// (each with its own server, TLS, credentials, proxy-url, pool and filter). Built whole and
// before anything is swapped in, so that a reload (reload.ts) that fails leaves the running one
// untouched; a replaced one is retired, not closed, so requests already on it finish.

import { homedir } from 'node:os';
import type { ServedCluster } from './cluster-path.js';
import { ambiguousNames } from './cluster-path.js';
import { openDestination, type Destination } from './destination.js';
import { compileFilterRules, type FilterRules } from './filter/filter.js';
import { warnRegexList } from './filter/regexlist.js';
import { kubeconfigPaths, loadKubeconfig, loadResolvedConfig } from './kubeconfig/load.js';
import { resolveConfig } from './kubeconfig/resolve.js';
import { ConfigError, type ConfigOverrides, type ResolvedConfig } from './kubeconfig/types.js';
import * as log from './log.js';
import { UsageError, type ContextRules, type ProxyFlags } from './options.js';

export interface Cluster extends ServedCluster {
  readonly dest: Destination;
}

export interface Serving {
  /** The global rules (the static files' Host check, and every context without its own). */
  readonly filter: FilterRules | undefined;
  /** kubectl's single context; with --contexts, the first served one (never used for requests). */
  readonly single: Destination;
  /** --contexts / --all-contexts: by context name, in kubeconfig order. */
  readonly clusters: ReadonlyMap<string, Cluster> | undefined;
  /** Every kubeconfig file that was or could have been read, for the reload watcher. */
  readonly files: string[];
  /** Single mode: the context in use, kept across reloads (see openServing's `pin`). */
  readonly contextName: string;
  /** --contexts: the kubeconfig's current-context (-- mode keeps it). */
  readonly currentContext?: string;
  readonly destinations: readonly Destination[];
}

/** kubeconfig flags that pick or replace one identity: meaningless across several contexts. */
const SINGLE_CONTEXT_FLAGS: ReadonlyArray<[keyof ConfigOverrides, string]> = [
  ['context', '--context'],
  ['cluster', '--cluster'],
  ['user', '--user'],
  ['server', '--server'],
  ['token', '--token'],
  ['username', '--username'],
  ['password', '--password'],
  ['clientCertificate', '--client-certificate'],
  ['clientKey', '--client-key'],
  ['certificateAuthority', '--certificate-authority'],
  ['tlsServerName', '--tls-server-name'],
];

export function multiContext(flags: ProxyFlags): boolean {
  return flags.allContexts || flags.contexts.length > 0;
}

/** Flag combinations --contexts cannot honour; one line naming the flag. */
export function checkClusterFlags(flags: ProxyFlags): void {
  if (flags.allContexts && flags.contexts.length > 0) throw new UsageError('--contexts and --all-contexts cannot be used together');
  if (!multiContext(flags)) return;
  for (const [key, flag] of SINGLE_CONTEXT_FLAGS) {
    const v = flags.config[key];
    if (v !== undefined && v !== '') throw new UsageError(`${flag} cannot be used with --contexts or --all-contexts: each context uses its own kubeconfig entry`);
  }
}

/** The global filter strings with a context's own rules over them. */
function rulesFor(flags: ProxyFlags, own: ContextRules | undefined): { acceptPaths: string; rejectPaths: string; acceptHosts: string; rejectMethods: string } {
  return {
    acceptHosts: flags.acceptHosts,
    acceptPaths: own?.acceptPaths ?? flags.acceptPaths,
    rejectPaths: own?.rejectPaths ?? flags.rejectPaths,
    rejectMethods: own?.rejectMethods ?? flags.rejectMethods,
  };
}

function compileWarned(rules: Parameters<typeof compileFilterRules>[0]): FilterRules {
  const f = compileFilterRules(rules);
  for (const list of [f.acceptHosts, f.acceptPaths, f.rejectPaths, f.rejectMethods]) for (const w of warnRegexList(list)) log.warn(w);
  return f;
}

function warnConfig(cfg: ResolvedConfig, label: string): void {
  for (const w of cfg.warnings) log.warn(`${w}${label}`);
}

function warnServerPath(flags: ProxyFlags, upstreamPath: string, label: string): void {
  if (upstreamPath !== '' && !flags.appendServerPath) {
    log.warn(`Your kube context${label} contains a server path ${upstreamPath}, use --append-server-path to automatically append the path to each request`);
  }
}

/**
 * Builds everything; throws a UserError and leaves nothing open on failure. `pin`: the context
 * a single-context proxy started with, so a reload does not follow `kubectl config
 * use-context` (only --context or the config file's `context` change it).
 */
export function openServing(flags: ProxyFlags, env: NodeJS.ProcessEnv, pin?: string): Serving {
  checkClusterFlags(flags);
  const filter = flags.disableFilter ? undefined : compileWarned(rulesFor(flags, undefined));
  const files = kubeconfigPaths(flags.config.kubeconfig, env, homedir());
  const destOpts = { env, http2: flags.upstreamHttp2, tokenAuth: flags.authToken !== '' };
  if (!multiContext(flags)) {
    const overrides = pin !== undefined && !flags.config.context ? { ...flags.config, context: pin } : flags.config;
    const cfg = loadResolvedConfig(overrides, env, homedir(), process.cwd());
    warnConfig(cfg, '');
    const single = openDestination(cfg, destOpts);
    warnServerPath(flags, single.upstream.serverPath, '');
    // A pod's service account (kubeconfig/load.ts) is no kubeconfig context: nothing to pin.
    const inCluster = cfg.contextName === 'in-cluster' && cfg.userOrigin === undefined;
    return { filter, single, clusters: undefined, files, contextName: inCluster ? '' : cfg.contextName, destinations: [single] };
  }

  const loaded = loadKubeconfig({ ...(flags.config.kubeconfig ? { explicitPath: flags.config.kubeconfig } : {}), env, home: homedir() });
  const all = [...loaded.merged.contexts.keys()];
  const names = flags.allContexts ? all : flags.contexts;
  for (const n of names) {
    if (!loaded.merged.contexts.has(n)) throw new ConfigError(`context ${JSON.stringify(n)} does not exist (contexts: ${all.map((a) => JSON.stringify(a)).join(', ') || 'none'})`);
  }
  if (names.length === 0) throw new ConfigError('--all-contexts: the kubeconfig defines no context');
  for (const n of Object.keys(flags.contextRules)) {
    if (!names.includes(n)) log.warn(`rules for context ${JSON.stringify(n)} are not used: it is not served`);
  }
  for (const [a, b] of ambiguousNames(names)) {
    log.warn(`contexts ${JSON.stringify(a)} and ${JSON.stringify(b)} overlap: reach ${JSON.stringify(b)} as /clusters/${encodeURIComponent(b)}/`);
  }
  const clusters = new Map<string, Cluster>();
  const destinations: Destination[] = [];
  try {
    for (const name of names) {
      const cfg = resolveConfig(loaded.merged, { ...flags.config, context: name }, process.cwd());
      const label = ` (context ${JSON.stringify(name)})`;
      warnConfig(cfg, label);
      const dest = openDestination(cfg, { ...destOpts, label: name });
      destinations.push(dest);
      warnServerPath(flags, dest.upstream.serverPath, label);
      const own = flags.contextRules[name];
      clusters.set(name, {
        name,
        clusterName: cfg.clusterName,
        server: cfg.server,
        ctx: dest.ctx,
        filter: flags.disableFilter ? undefined : own ? compileWarned(rulesFor(flags, own)) : filter,
        serverPath: flags.appendServerPath ? dest.upstream.serverPath : undefined,
        dest,
      });
    }
  } catch (err) {
    for (const d of destinations) void d.close();
    throw err;
  }
  return { filter, single: destinations[0]!, clusters, files, contextName: '', currentContext: loaded.merged.currentContext, destinations };
}
