// The composition root: from parsed flags to a listening proxy. It compiles the filter, loads
// the kubeconfig, builds the upstream and the credentials, prints kubectl's start-up warnings,
// wires the handlers (listener → admit → forward | upgrade) and fixes the shutdown order.
// Argument parsing and process control stay in cli.ts, so tests can build a proxy without argv.

import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { createAccessLog } from './accesslog.js';
import { createCredentials, type Credentials } from './auth/credentials.js';
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
import { createStaticHandler } from './static.js';
import { createUpstream } from './upstream.js';
import { VERSION } from './version.js';

export interface Running {
  address: string;
  bound: { host: string; port: number } | { socketPath: string };
  /** The base URL clients use (with the API prefix), when listening on TCP. */
  url?: string;
  /** Loads what the first request needs, once the start-up line is out. */
  warm(): void;
  /** Graceful stop: see lifecycle.ts. */
  close(graceMs?: number): Promise<void>;
}

/** Everything between a parsed command line and a listening proxy. */
export async function createProxy(flags: ProxyFlags, env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  log.setVerbosity(flags.verbosity);
  let filter: FilterRules | undefined;
  if (!flags.disableFilter) {
    filter = compileFilterRules(flags);
    for (const list of [filter.acceptHosts, filter.acceptPaths, filter.rejectPaths, filter.rejectMethods]) {
      for (const w of warnRegexList(list)) log.warn(w);
    }
  }
  const cfg = loadResolvedConfig(flags.config, env, homedir(), process.cwd());
  for (const w of cfg.warnings) log.warn(w);
  const upstream = createUpstream(cfg, { env, http2: flags.upstreamHttp2 });
  let credentials: Credentials;
  try {
    // Exec plugins run on the first request; a certificate they return replaces the pool.
    credentials = createCredentials(cfg, upstream.isTLS, { env, setClientCertificate: (cert, key) => upstream.setClientCertificate(cert, key) });
  } catch (err) {
    await upstream.close();
    throw err;
  }

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
  const accessLog = flags.accessLog !== '' ? createAccessLog(flags.accessLog, flags.accessLogFormat) : undefined;
  const inflight = new Inflight();
  const handlerOptions: HandlerOptions = {
    mounts: {
      apiPrefix: flags.apiPrefix,
      staticPrefix: flags.www !== '' ? flags.wwwPrefix : undefined,
      serverPath: flags.appendServerPath ? upstream.serverPath : undefined,
    },
    serveStatic: flags.www !== '' ? createStaticHandler(flags.www) : undefined,
    filter,
    upstream: {
      upstream,
      credentials,
      disableCompression: cfg.disableCompression,
      userAgent: `kproxy/${VERSION} (${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch})`,
    },
    keepaliveMs: flags.keepaliveMs,
    accessLog,
    inflight,
  };
  const l = await listen({ request: createHandler(handlerOptions), upgrade: createUpgradeHandler(handlerOptions) }, where);
  return {
    address: l.address,
    bound: l.bound,
    url: 'port' in l.bound ? clientURL(l.bound.host, l.bound.port, flags.apiPrefix) : undefined,
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

export function startupLine(r: Running, format: 'text' | 'json'): string {
  if (format === 'text') return `Starting to serve on ${r.address}\n`;
  const b = r.bound;
  const fields = 'port' in b ? { address: r.address, host: b.host, port: b.port, url: r.url } : { address: r.address, socket: b.socketPath };
  return JSON.stringify({ ...fields, pid: process.pid }) + '\n';
}
