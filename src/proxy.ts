// The composition root: from parsed flags to a listening proxy. It compiles the filter, loads
// the kubeconfig, builds the upstream and the credentials, prints kubectl's start-up warnings,
// wires the handlers (listener → admit → forward | upgrade) and fixes the shutdown order.
// Argument parsing and process control stay in cli.ts, so tests can build a proxy without argv.

import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { loadAccessToken, TOKEN_COOKIE, type AccessToken } from './access-token.js';
import { createAccessLog } from './accesslog.js';
import { createCredentials } from './auth/credentials.js';
import { fileError } from './errors.js';
import { compileFilterRules, type FilterRules } from './filter/filter.js';
import { warnRegexList } from './filter/regexlist.js';
import { createHandler, createUpgradeHandler, type HandlerOptions } from './handlers.js';
import { joinHostPort } from './hostport.js';
import { loadResolvedConfig } from './kubeconfig/load.js';
import { Inflight, SHUTDOWN_GRACE_MS } from './lifecycle.js';
import { listen } from './listener.js';
import * as log from './log.js';
import { listenHost, type ProxyFlags } from './options.js';
import { loadRules } from './rules/load.js';
import { createStaticHandler } from './static.js';
import { createUpstream } from './upstream.js';
import { VERSION } from './version.js';

export interface Running {
  address: string;
  bound: { host: string; port: number } | { socketPath: string };
  /** The base URL clients use (with the API prefix), when listening on TCP. */
  url?: string;
  /** --auth-token: what clients must present. */
  token?: AccessToken;
  /** --www's URL, with the token when there is one. */
  uiURL?: string;
  /** Loads what the first request needs, once the start-up line is out. */
  warm(): void;
  /** Graceful stop: see lifecycle.ts. */
  close(graceMs?: number): Promise<void>;
}

/** Everything between a parsed command line and a listening proxy. */
export async function createProxy(flags: ProxyFlags, env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  log.setVerbosity(flags.verbosity);
  const accessToken = flags.authToken !== '' ? loadAccessToken(flags.authToken) : undefined;
  let filter: FilterRules | undefined;
  if (!flags.disableFilter) {
    filter = compileFilterRules(flags);
    for (const list of [filter.acceptHosts, filter.acceptPaths, filter.rejectPaths, filter.rejectMethods]) {
      for (const w of warnRegexList(list)) log.warn(w);
    }
  }
  // Bad rules end start-up before the kubeconfig is read.
  const rules = loadRules(flags);
  const cfg = loadResolvedConfig(flags.config, env, homedir(), process.cwd());
  for (const w of cfg.warnings) log.warn(w);
  // What is open so far, closed (newest first) when a later step fails: a refused start leaves
  // no file, watcher or listener behind.
  const undo: Array<() => unknown> = [];
  const step = async <T>(make: () => T | Promise<T>, close: (v: T) => unknown): Promise<T> => {
    try {
      const v = await make();
      undo.unshift(() => close(v));
      return v;
    } catch (err) {
      for (const u of undo) await u();
      throw err;
    }
  };
  const accessLog = flags.accessLog !== '' ? await step(() => createAccessLog(flags.accessLog, flags.accessLogFormat), (a) => a.close()) : undefined;
  const upstream = await step(() => createUpstream(cfg, { env, http2: flags.upstreamHttp2 }), (u) => u.close());
  if (flags.upstreamHttp2 && !upstream.isTLS) log.warn(`--upstream-http2 ignored: ${upstream.origin} is not https`);
  // Exec plugins run on the first request; a certificate they return replaces the pool.
  const credentials = await step(
    () => createCredentials(cfg, upstream.isTLS, { env, setClientCertificate: (cert, key) => upstream.setClientCertificate(cert, key) }),
    (c) => c.close(),
  );

  if (upstream.serverPath !== '' && !flags.appendServerPath) {
    log.warn(`Your kube context contains a server path ${upstream.serverPath}, use --append-server-path to automatically append the path to each request`);
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
      serverPath: flags.appendServerPath ? upstream.serverPath : undefined,
    },
    serveStatic: flags.www !== '' ? createStaticHandler(flags.www) : undefined,
    filter,
    browser: flags.disableFilter ? undefined : { allowOrigins: new Set(flags.allowOrigins) },
    accessToken,
    rules,
    upstream: {
      upstream,
      credentials,
      disableCompression: cfg.disableCompression,
      userAgent: `kproxy/${VERSION} (${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch})`,
      tokenAuth: accessToken !== undefined,
    },
    keepaliveMs: flags.keepaliveMs,
    accessLog,
    inflight,
  };
  const l = await step(() => listen({ request: createHandler(handlerOptions), upgrade: createUpgradeHandler(handlerOptions) }, where), () => undefined);
  const base = 'port' in l.bound ? clientURL(l.bound.host, l.bound.port, '/') : undefined;
  return {
    address: l.address,
    bound: l.bound,
    url: 'port' in l.bound ? clientURL(l.bound.host, l.bound.port, flags.apiPrefix) : undefined,
    token: accessToken,
    uiURL: base !== undefined && flags.www !== '' ? base + flags.wwwPrefix + (accessToken ? `?${TOKEN_COOKIE}=${accessToken.value}` : '') : undefined,
    warm: () => upstream.warm(),
    async close(graceMs = SHUTDOWN_GRACE_MS) {
      credentials.close();
      await l.close(() => inflight.drain(graceMs));
      await upstream.close();
      await accessLog?.close();
    },
  };
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
  return JSON.stringify({ ...fields, pid: process.pid, ...(token !== undefined ? { token } : {}) }) + '\n';
}
