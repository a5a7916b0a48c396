// The composition root: from parsed flags to a listening proxy. It compiles the filter, loads
// the kubeconfig, builds the upstream and the credentials, prints kubectl's start-up warnings,
// wires the handlers (listener → admit → forward | upgrade) and fixes the shutdown order.
// Argument parsing and process control stay in cli.ts, so tests can build a proxy without argv.

import { statSync } from 'node:fs';
import { loadAccessToken, TOKEN_COOKIE, type AccessToken } from './access-token.js';
import { createAccessLog } from './accesslog.js';
import type { Destination } from './destination.js';
import { openAdmin, type Admin } from './admin.js';
import { fileError } from './errors.js';
import { createHandler, createUpgradeHandler, type HandlerOptions } from './handlers.js';
import { joinHostPort } from './hostport.js';
import { Inflight, SHUTDOWN_GRACE_MS } from './lifecycle.js';
import { listen, type Listening } from './listener.js';
import * as log from './log.js';
import type { Metrics } from './metrics.js';
import { listenHost, type ProxyFlags } from './options.js';
import { loadRules } from './rules/load.js';
import { openServing, type Serving } from './serving.js';
import { createStaticHandler } from './static.js';

export interface Running {
  address: string;
  bound: { host: string; port: number } | { socketPath: string };
  /** The base URL clients use (with the API prefix), when listening on TCP. */
  url?: string;
  /** --auth-token: what clients must present. */
  token?: AccessToken;
  /** --www's URL, with the token when there is one. */
  uiURL?: string;
  /** What is being served now (the clusters, for -- mode and the admin listener). */
  served(): Serving;
  /** --admin-address: where /healthz, /readyz and /metrics are served. */
  adminAddress?: string;
  /**
   * Serves the flags `parse` gives from now on (rules, kubeconfig, credentials, contexts); what
   * is under way keeps what it started with. Throws and changes nothing when it cannot.
   */
  reload(parse: () => ProxyFlags): Promise<ProxyFlags>;
  /** Loads what the first request needs, once the start-up line is out. */
  warm(): void;
  /** Graceful stop: see lifecycle.ts. */
  close(graceMs?: number): Promise<void>;
}

/** Everything between a parsed command line and a listening proxy. */
export async function createProxy(flags: ProxyFlags, env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  log.setVerbosity(flags.verbosity);
  const accessToken = flags.authToken !== '' ? loadAccessToken(flags.authToken) : undefined;
  // Bad rules end start-up before the kubeconfig is read.
  const rules = loadRules(flags);
  // Opened before anything that would need closing: a log that cannot be written stops the start.
  const accessLog = flags.accessLog !== '' ? createAccessLog(flags.accessLog, flags.accessLogFormat) : undefined;
  // The filter, the kubeconfig, and one upstream with its credentials per served context.
  let serving: Serving;
  try {
    serving = openServing(flags, env);
  } catch (err) {
    await accessLog?.close();
    throw err;
  }

  if (flags.disableFilter && flags.unixSocket === '') {
    log.warn('Request filter disabled, your proxy is vulnerable to XSRF attacks, please be cautious');
  }
  if (flags.www !== '') {
    try {
      if (!statSync(flags.www).isDirectory()) log.warn(`Static file directory ${flags.www} is not a directory`);
    } catch (err) {
      log.warn(`Failed to stat static file directory ${flags.www}: ${fileError('stat', flags.www, err)}`);
    }
  }

  const where = flags.unixSocket !== '' ? { socketPath: flags.unixSocket } : { host: listenHost(flags.address), port: flags.port };
  if (flags.unixSocket === '' && !accessToken && !isLoopback(listenHost(flags.address))) {
    log.warn(`Listening on ${flags.address || '0.0.0.0'}, beyond this machine's loopback, without --auth-token: anyone who can reach the port acts with your cluster credentials`);
  }
  const inflight = new Inflight();
  const handlerOptions: HandlerOptions = {
    mounts: {
      apiPrefix: flags.apiPrefix,
      staticPrefix: flags.www !== '' ? flags.wwwPrefix : undefined,
    },
    serveStatic: flags.www !== '' ? createStaticHandler(flags.www) : undefined,
    filter: undefined,
    browser: flags.disableFilter ? undefined : { allowOrigins: new Set(flags.allowOrigins) },
    accessToken,
    rules,
    upstream: serving.single.ctx,
    keepaliveMs: flags.keepaliveMs,
    accessLog,
    inflight,
  };
  applyServing(handlerOptions, serving, flags);
  let current = serving;
  const pinned = serving.clusters ? undefined : serving.contextName;
  /** Destinations replaced by a reload, finishing what they carry. */
  const retiring = new Set<Destination>();
  let l: Listening;
  let own: { metrics: Metrics; admin: Admin } | undefined;
  try {
    // --admin-address: the metrics exist before the handlers, which record into them.
    if (flags.adminAddress !== '') own = await openAdmin(flags.adminAddress, () => current, flags.appendServerPath);
    handlerOptions.metrics = own?.metrics;
    l = await listen({ request: createHandler(handlerOptions), upgrade: createUpgradeHandler(handlerOptions) }, where);
  } catch (err) {
    await own?.admin.close();
    await closeServing(serving);
    await accessLog?.close();
    throw err;
  }
  const base = 'port' in l.bound ? clientURL(l.bound.host, l.bound.port, '/') : undefined;
  return {
    address: l.address,
    bound: l.bound,
    url: 'port' in l.bound ? clientURL(l.bound.host, l.bound.port, flags.apiPrefix) : undefined,
    token: accessToken,
    uiURL: base !== undefined && flags.www !== '' ? base + flags.wwwPrefix + (accessToken ? `?${TOKEN_COOKIE}=${accessToken.value}` : '') : undefined,
    served: () => current,
    adminAddress: own?.admin.address,
    async reload(parse) {
      // ---- live reload (reload.ts): build beside the running configuration, then swap ----
      let s: Serving;
      let next: ProxyFlags;
      let nextRules: ReturnType<typeof loadRules>;
      try {
        next = parse();
        nextRules = loadRules(next);
        log.setVerbosity(next.verbosity);
        // Single context: the one it started with, unless the configuration now names one.
        s = openServing(next, env, pinned);
      } catch (err) {
        own?.metrics.reload(false);
        throw err;
      }
      const old = current;
      current = s;
      applyServing(handlerOptions, s, next);
      handlerOptions.rules = nextRules;
      handlerOptions.browser = next.disableFilter ? undefined : { allowOrigins: new Set(next.allowOrigins) };
      handlerOptions.keepaliveMs = next.keepaliveMs;
      own?.metrics.reload(true);
      for (const d of old.destinations) {
        retiring.add(d);
        void d.retire().finally(() => retiring.delete(d));
      }
      return next;
    },
    warm: () => {
      for (const d of current.destinations) d.upstream.warm();
    },
    async close(graceMs = SHUTDOWN_GRACE_MS) {
      for (const d of current.destinations) d.credentials.close();
      await l.close(() => inflight.drain(graceMs));
      await own?.admin.close();
      await closeServing(current);
      await Promise.all([...retiring].map((d) => d.close()));
      await accessLog?.close();
    },
  };
}

/** Points the handlers at a serving state: new requests use it, requests under way keep theirs. */
function applyServing(h: HandlerOptions, s: Serving, flags: ProxyFlags): void {
  h.filter = s.filter;
  h.upstream = s.single.ctx;
  h.clusters = s.clusters;
  h.mounts = { ...h.mounts, serverPath: flags.appendServerPath && !s.clusters ? s.single.upstream.serverPath : undefined };
}

async function closeServing(s: Serving): Promise<void> {
  await Promise.all(s.destinations.map((d) => d.close()));
}

/** How a client on this machine reaches the proxy: wildcard binds are reached on loopback. */
export function clientURL(host: string, port: number, apiPrefix: string): string {
  const h = host === '::' ? '::1' : host === '0.0.0.0' ? '127.0.0.1' : host;
  return `http://${joinHostPort(h, port)}${apiPrefix === '/' ? '' : apiPrefix.slice(0, -1)}`;
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * kubectl's start-up line, or one JSON object. A token kproxy made (`--auth-token=auto`) is
 * printed once, here, before it: nothing else ever shows it.
 */
export function startupLine(r: Running, format: 'text' | 'json'): string {
  const token = r.token?.generated ? r.token.value : undefined;
  if (format === 'text') {
    let out = '';
    if (token !== undefined) out += `Access token: ${token}\n`;
    if (r.uiURL !== undefined && r.token) out += `Static files: ${r.uiURL}\n`;
    return out + `Starting to serve on ${r.address}\n`;
  }
  const b = r.bound;
  const fields = 'port' in b ? { address: r.address, host: b.host, port: b.port, url: r.url } : { address: r.address, socket: b.socketPath };
  return JSON.stringify({ ...fields, pid: process.pid, ...(token !== undefined ? { token } : {}), ...(r.adminAddress !== undefined ? { admin: r.adminAddress } : {}) }) + '\n';
}
