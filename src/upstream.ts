// The API server as a destination: its origin, the Host header it expects, the TLS settings and
// the keep-alive pool that ordinary requests share, and the route (direct or through a proxy)
// that both ordinary and upgrade requests take. The client certificate can change while kproxy
// runs (files rewritten on disk, or a new one from an exec plugin): the TLS options and the pool
// are then replaced, so callers read `tls` and `pool` afresh for every request.

import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP, type Socket } from 'node:net';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { checkServerIdentity, createSecureContext, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { createRequire } from 'node:module';
import type { buildConnector, Pool } from 'undici';
import { chooseProxy, dial, DIAL_TIMEOUT_MS, proxyTlsOptions, redactProxy, TCP_KEEPALIVE_MS, type ProxyChoice } from './dial.js';
import { isLongRunning } from './lifecycle.js';
import * as log from './log.js';
import { ConfigError, type FileOrData, type ResolvedConfig } from './kubeconfig/types.js';

/** How often certificate files are re-read when no file-system event announced a change. */
export const CERT_POLL_MS = 60_000;

// undici is loaded on first use (or by `warm()` right after start-up): it is the largest
// module kproxy has, and loading it before the listener is up would delay `Starting to serve`.
let PoolClass: typeof Pool | undefined;
function poolClass(): typeof Pool {
  // The Pool module alone: undici's index also loads fetch, WebSocket, caches and mocks, about
  // 9 MB of resident memory kproxy never uses.
  return (PoolClass ??= createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof Pool);
}

/** Buffer size for streams on the data path (Node 22's default; Node 20 uses 16 KiB). */
export const STREAM_HWM = 64 * 1024;

/**
 * Streams kproxy multiplexes on one HTTP/2 connection (--upstream-http2) before it opens
 * another. undici picks a connection without looking at the server's SETTINGS, and a stream
 * over the server's limit would wait unseen; kube-apiserver allows 250, so 100 keeps clear of
 * it as it does of most load balancers (nginx and AWS ALB allow 128).
 */
export const H2_STREAMS_PER_CONNECTION = 100;

// Watches and log follows stay quiet for minutes: kubectl has no body or header timeout.
const POOL_TIMEOUTS = { bodyTimeout: 0, headersTimeout: 0, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 90_000 };

export interface Upstream {
  /** `https://host:port` with IPv6 literals bracketed. */
  origin: string;
  /** What Go puts in Host: the server URL's host[:port]. */
  hostHeader: string;
  /** The kubeconfig server URL path without a trailing slash ('' when none). */
  serverPath: string;
  isTLS: boolean;
  /** Current options for a TLS connection to the API server. */
  readonly tls: ConnectionOptions;
  /** Current keep-alive pool, made on first use; replaced when the client certificate changes. */
  readonly pool: Pool;
  /**
   * The pool for a request: with --upstream-http2, watches and log follows share multiplexed
   * HTTP/2 connections; everything else uses `pool`.
   */
  poolFor(method: string | undefined, target: string): Pool;
  /** Makes the pool now, so the first request does not wait for undici to load. */
  warm(): void;
  /** The proxy every connection goes through, if any. */
  readonly proxy: ProxyChoice | undefined;
  /**
   * A fresh connection for an upgrade request: through the proxy, TLS with the current options
   * and HTTP/1.1 ALPN. `keepAliveMs` as for DialOptions.
   */
  connect(keepAliveMs?: number): Promise<Socket | Duplex>;
  /** A client certificate obtained at run time (exec plugin); a change replaces the pool. */
  setClientCertificate(cert: Buffer, key: Buffer): void;
  /** Destroys every pool and stops watching certificate files. */
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** Environment for HTTPS_PROXY/HTTP_PROXY/NO_PROXY; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Re-read interval for certificate files, on top of file-system events. */
  certPollMs?: number;
  /** --upstream-http2: multiplex long-running requests over HTTP/2 (https servers only). */
  http2?: boolean;
  /** Streams per HTTP/2 connection; default H2_STREAMS_PER_CONNECTION. */
  h2StreamsPerConnection?: number;
}

/** The API server answered the TLS handshake for --upstream-http2 without offering h2. */
export class NoHttp2Error extends Error {
  readonly code = 'KPROXY_NO_H2';
  constructor(origin: string) {
    super(`the API server at ${origin} does not offer HTTP/2 (--upstream-http2)`);
  }
}

function read(what: string, src: FileOrData, owner: string): Buffer {
  if ('data' in src) return src.data;
  try {
    return readFileSync(src.file);
  } catch (err) {
    throw new ConfigError(`unable to read ${what} ${src.file} for ${owner} due to ${(err as Error).message}`);
  }
}

export function tlsOptions(cfg: ResolvedConfig, hostname: string): ConnectionOptions {
  const opts: ConnectionOptions = { minVersion: 'TLSv1.2', rejectUnauthorized: !cfg.insecureSkipTLSVerify };
  if (cfg.certificateAuthority && !cfg.insecureSkipTLSVerify) {
    // As in client-go, a configured CA is the only trust anchor.
    opts.ca = read('certificate-authority', cfg.certificateAuthority, cfg.clusterName);
  }
  if (cfg.clientCertificate || cfg.clientKey) {
    if (!cfg.clientCertificate || !cfg.clientKey) {
      throw new ConfigError(`client-key-data or client-key must be specified for ${cfg.userName} to use the clientCert authentication method.`);
    }
    opts.cert = read('client-cert', cfg.clientCertificate, cfg.userName);
    opts.key = read('client-key', cfg.clientKey, cfg.userName);
  }
  const name = cfg.tlsServerName || hostname;
  if (isIP(name)) {
    // RFC 6066 forbids an IP as SNI; verify the certificate against it without sending one.
    opts.servername = '';
    if (cfg.tlsServerName) opts.checkServerIdentity = (_h: string, cert: PeerCertificate) => checkServerIdentity(name, cert);
  } else {
    opts.servername = name;
  }
  return opts;
}

/** Throws the Node reason when cert and key do not form a usable pair. */
function checkPair(cert: Buffer, key: Buffer): void {
  createSecureContext({ cert, key });
}

class UpstreamImpl implements Upstream {
  readonly origin: string;
  readonly hostHeader: string;
  readonly serverPath: string;
  readonly isTLS: boolean;
  readonly proxy: ProxyChoice | undefined;
  private currentTls: ConnectionOptions;
  private currentPool: Pool | undefined;
  private currentStreamPool: Pool | undefined;
  private readonly http2: boolean;
  private readonly h2Streams: number;
  private readonly proxyTls: ConnectionOptions | undefined;
  private readonly target: { host: string; port: number };
  /** Pools replaced by a new certificate, closing once their requests are done. */
  private readonly retired = new Set<Pool>();
  private readonly watchers: FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private closed = false;

  constructor(cfg: ResolvedConfig, url: URL, opts: UpstreamOptions) {
    this.isTLS = url.protocol === 'https:';
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.origin = `${url.protocol}//${url.host}`;
    this.hostHeader = url.host;
    this.serverPath = url.pathname.replace(/\/+$/, '');
    this.target = { host: hostname, port: url.port ? Number(url.port) : this.isTLS ? 443 : 80 };
    this.currentTls = this.isTLS ? tlsOptions(cfg, hostname) : {};
    this.proxy = chooseProxy(cfg.proxyURL, url, opts.env ?? process.env);
    this.http2 = (opts.http2 ?? false) && this.isTLS;
    this.h2Streams = opts.h2StreamsPerConnection ?? H2_STREAMS_PER_CONNECTION;
    if (this.proxy) {
      if (this.proxy.url.protocol === 'https:') this.proxyTls = proxyTlsOptions(this.currentTls, this.proxy.url);
      log.info(2, `Connecting to ${this.origin} through proxy ${redactProxy(this.proxy.url)} (${this.proxy.source})`);
    }
    if (this.isTLS) this.watchCertificateFiles(cfg, opts.certPollMs ?? CERT_POLL_MS);
  }

  get tls(): ConnectionOptions {
    return this.currentTls;
  }

  get pool(): Pool {
    return (this.currentPool ??= this.makePool());
  }

  poolFor(method: string | undefined, target: string): Pool {
    if (!this.http2 || !isLongRunning(method, target)) return this.pool;
    return (this.currentStreamPool ??= this.makeStreamPool());
  }

  warm(): void {
    if (!this.closed) void this.pool;
  }

  private makePool(): Pool {
    if (!this.proxy) {
      // undici reads TLS in 16 KiB steps unless told otherwise; larger reads halve the per-chunk
      // work on big lists.
      const connect = (this.isTLS ? { ...this.currentTls, highWaterMark: STREAM_HWM } : { highWaterMark: STREAM_HWM }) as Record<string, unknown>;
      return new (poolClass())(this.origin, { ...POOL_TIMEOUTS, connect });
    }
    const tls = this.isTLS ? { ...this.currentTls, ALPNProtocols: ['http/1.1'] } : undefined;
    return new (poolClass())(this.origin, { ...POOL_TIMEOUTS, connect: this.connector(tls) });
  }

  /**
   * undici's connect hook over dial() (the proxy route); `accept` may refuse a connection.
   * Every connection of one pool uses the TLS options the pool was made with.
   */
  private connector(tls: ConnectionOptions | undefined, accept?: (socket: Socket | Duplex) => Error | undefined): buildConnector.connector {
    return (_opts, callback) => {
      dial(this.target, { proxy: this.proxy, tls, proxyTls: this.proxyTls, timeoutMs: DIAL_TIMEOUT_MS, keepAliveMs: TCP_KEEPALIVE_MS }).then(
        (socket) => {
          const refused = accept?.(socket);
          if (!refused) return callback(null, socket as Socket);
          socket.destroy();
          callback(refused, null);
        },
        (err: Error) => callback(err, null),
      );
    };
  }

  private makeStreamPool(): Pool {
    // h1 stays on offer so that a server without h2 finishes the handshake and the refusal
    // below can say why, rather than a TLS alert.
    const tls = { ...this.currentTls, ALPNProtocols: ['h2', 'http/1.1'] };
    return new (poolClass())(this.origin, {
      ...POOL_TIMEOUTS,
      allowH2: true,
      // For undici an h2 connection is busy once it carries this many requests; then the
      // pool opens another. Never reached over HTTP/1.1: such connections are refused here,
      // since pipelined HTTP/1.1 would queue every request behind a watch that never ends.
      pipelining: this.h2Streams,
      connect: this.connector(tls, (socket) => ((socket as TLSSocket).alpnProtocol === 'h2' ? undefined : new NoHttp2Error(this.origin))),
    });
  }

  connect(keepAliveMs?: number): Promise<Socket | Duplex> {
    const tls = this.isTLS ? { ...this.currentTls, ALPNProtocols: ['http/1.1'] } : undefined;
    return dial(this.target, { proxy: this.proxy, tls, proxyTls: this.proxyTls, timeoutMs: DIAL_TIMEOUT_MS, keepAliveMs });
  }

  setClientCertificate(cert: Buffer, key: Buffer): void {
    const cur = this.currentTls;
    if (Buffer.isBuffer(cur.cert) && Buffer.isBuffer(cur.key) && cur.cert.equals(cert) && cur.key.equals(key)) return;
    this.replaceCertificate(cert, key);
  }

  private replaceCertificate(cert: Buffer, key: Buffer): void {
    if (this.closed) return;
    this.currentTls = { ...this.currentTls, cert, key };
    const olds = [this.currentPool, this.currentStreamPool];
    this.currentPool = this.currentStreamPool = undefined;
    for (const old of olds) {
      if (!old) continue;
      // In-flight requests (a watch, a log follow) finish on the old connections; nothing new
      // is sent with the old certificate.
      this.retired.add(old);
      old.close().then(
        () => this.retired.delete(old),
        () => this.retired.delete(old),
      );
    }
  }

  /**
   * client-go reloads certificate files at handshake time and drops connections when they
   * change. Here a change is noticed by a file-system event on the files' directories (which
   * also sees the symlink swap of a mounted Secret) or, failing that, by a periodic re-read.
   */
  private watchCertificateFiles(cfg: ResolvedConfig, pollMs: number): void {
    const files: string[] = [];
    if (cfg.clientCertificate && 'file' in cfg.clientCertificate) files.push(cfg.clientCertificate.file);
    if (cfg.clientKey && 'file' in cfg.clientKey) files.push(cfg.clientKey.file);
    if (files.length === 0) return;
    const cert = cfg.clientCertificate!;
    const key = cfg.clientKey!;
    // An event during a reload (the key written, then the certificate) must not be lost: it
    // causes one more reload once the current one is done.
    let again = false;
    const reload = (fromPoll: boolean): void => {
      if (this.closed) return;
      if (this.reloading) {
        again = true;
        return;
      }
      this.reloading = (async () => {
        try {
          const [c, k] = await Promise.all([
            'file' in cert ? readFile(cert.file) : Promise.resolve(cert.data),
            'file' in key ? readFile(key.file) : Promise.resolve(key.data),
          ]);
          const cur = this.currentTls;
          if (Buffer.isBuffer(cur.cert) && Buffer.isBuffer(cur.key) && cur.cert.equals(c) && cur.key.equals(k)) return;
          try {
            checkPair(c, k);
          } catch (err) {
            // Between the writes of the certificate and of its key the pair does not match;
            // the next event completes it, so only the periodic check complains.
            if (fromPoll) log.warn(`Unable to reload the client certificate from ${files.join(', ')}: ${(err as Error).message}`);
            return;
          }
          this.replaceCertificate(c, k);
          log.info(2, `Reloaded the client certificate from ${files.join(', ')}`);
        } catch (err) {
          if (fromPoll) log.warn(`Unable to reload the client certificate: ${(err as Error).message}`);
        } finally {
          this.reloading = undefined;
          if (again) {
            again = false;
            reload(false);
          }
        }
      })();
    };
    const names = new Map<string, Set<string>>();
    for (const f of files) {
      const dir = path.dirname(f);
      if (!names.has(dir)) names.set(dir, new Set());
      names.get(dir)!.add(path.basename(f));
    }
    for (const [dir, base] of names) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          // `..data` is the symlink a Kubernetes Secret volume swaps atomically.
          if (name === null || base.has(String(name)) || String(name).startsWith('..')) reload(false);
        });
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch {
        // Not watchable (for example a network file system): the periodic re-read remains.
      }
    }
    this.pollTimer = setInterval(() => reload(true), pollMs);
    this.pollTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) w.close();
    if (this.pollTimer) clearInterval(this.pollTimer);
    const pools = [...this.retired];
    if (this.currentPool) pools.push(this.currentPool);
    if (this.currentStreamPool) pools.push(this.currentStreamPool);
    await Promise.all(pools.map((p) => p.destroy()));
  }
}

export function createUpstream(cfg: ResolvedConfig, opts: UpstreamOptions = {}): Upstream {
  let url: URL;
  try {
    url = new URL(cfg.server);
  } catch {
    throw new ConfigError(`invalid server URL "${cfg.server}" for cluster "${cfg.clusterName}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`unsupported scheme in server URL "${cfg.server}": must be https or http`);
  }
  return new UpstreamImpl(cfg, url, opts);
}

/** kubectl's singleJoiningSlash(serverPath, requestPath) for --append-server-path. */
export function joinServerPath(serverPath: string, target: string): string {
  if (serverPath === '') return target;
  return serverPath + (target.startsWith('/') ? target : '/' + target);
}
