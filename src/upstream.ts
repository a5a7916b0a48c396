// The API server as a destination: its origin, the Host header it expects, the pools that
// ordinary requests share, and fresh connections for upgrades, all over the route (direct or
// through a proxy) that dial.ts opens. As client-go does, requests to an https server go over
// multiplexed HTTP/2 connections (h2pool.ts) when its TLS handshake picks h2, and over an
// HTTP/1.1 keep-alive pool (undici) otherwise, when DISABLE_HTTP2 is set or with
// --upstream-http2=false; upgrades always get an HTTP/1.1 connection of their own. The client
// certificate can change while kproxy runs (files rewritten on disk, or a new one from an exec
// plugin, see client-cert.ts): new pools are then made and the old ones close once their
// requests are done.

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { createRequire } from 'node:module';
import type { buildConnector, Client, Pool } from 'undici';
import { dial, DIAL_TIMEOUT_MS, TCP_KEEPALIVE_MS } from './dial.js';
import type { RequestDispatcher } from './dispatcher.js';
import { H2_IDLE_MS, H2Pool, http2 } from './h2pool.js';
import { h2Settings } from './h2rules.js';
import { chooseProxy, proxyTlsOptions, redactProxy, type ProxyChoice } from './proxy-env.js';
import { isLongRunning } from './route.js';
import { CERT_POLL_MS, tlsOptions, watchCertificateFiles, type CertificateWatch } from './client-cert.js';
import * as log from './log.js';
import { ConfigError, type ResolvedConfig } from './kubeconfig/types.js';

// undici is loaded on first use (or by `warm()` right after start-up): it is the largest
// module kproxy has, and loading it before the listener is up would delay `Starting to serve`.
let PoolClass: typeof Pool | undefined;
function poolClass(): typeof Pool {
  // The Pool module alone: undici's index also loads fetch, WebSocket, caches and mocks, about
  // 9 MB of resident memory kproxy never uses.
  return (PoolClass ??= createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof Pool);
}
/**
 * undici sends a request on the first free connection in the order they were made, so the first
 * is the one kept warm (30 s idle, as before); connections opened for a burst close 2 s after
 * it, instead of holding a socket and descriptor each for 30 s.
 */
function trimmingFactory(): (origin: URL, opts: object) => Client {
  const ClientClass = createRequire(import.meta.url)('undici/lib/dispatcher/client.js') as typeof Client;
  let made = 0;
  return (origin, opts) => new ClientClass(origin, { ...opts, keepAliveTimeout: made++ === 0 ? KEEPALIVE_MS : SURPLUS_KEEPALIVE_MS });
}
function undiciConnector(opts: Record<string, unknown>): buildConnector.connector {
  return (createRequire(import.meta.url)('undici/lib/core/connect.js') as typeof buildConnector)(opts as buildConnector.BuildOptions);
}

/** Buffer size for streams on the data path (Node 22's default; Node 20 uses 16 KiB). */
export const STREAM_HWM = 64 * 1024;

// Watches and log follows stay quiet for minutes: kubectl has no body or header timeout.
const KEEPALIVE_MS = 30_000;
const SURPLUS_KEEPALIVE_MS = 2_000;
const POOL_TIMEOUTS = { bodyTimeout: 0, headersTimeout: 0, keepAliveTimeout: KEEPALIVE_MS, keepAliveMaxTimeout: 90_000 };

export interface Upstream {
  /** `https://host:port` with IPv6 literals bracketed. */
  origin: string;
  /** What Go puts in Host: the server URL's host[:port]. */
  hostHeader: string;
  /** The kubeconfig server URL path without a trailing slash ('' when none). */
  serverPath: string;
  isTLS: boolean;
  /**
   * The pool for a request, made on first use: HTTP/2 connections when the server offers h2,
   * else the HTTP/1.1 keep-alive pool.
   */
  poolFor(method: string | undefined, target: string): RequestDispatcher;
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
  /** Open connections by protocol, for --admin-address metrics. */
  connections(): Array<{ protocol: 'http/1.1' | 'h2'; count: number }>;
  /**
   * Takes no new requests and closes once those under way are done (a destination replaced by
   * a reload); close() after it tears down what is left at once.
   */
  drain(): Promise<void>;
  /** Destroys every pool and stops watching certificate files. */
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** Environment for HTTPS_PROXY/HTTP_PROXY/NO_PROXY; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Re-read interval for certificate files, on top of file-system events. */
  certPollMs?: number;
  /** --upstream-http2 (default true): HTTP/2 to https servers that offer it, unless DISABLE_HTTP2 is set. */
  http2?: boolean;
  /** HTTP/2 connection timers in ms, instead of HTTP2_READ_IDLE_TIMEOUT_SECONDS / HTTP2_PING_TIMEOUT_SECONDS and Go's idle timeout. */
  h2Timers?: { readIdleMs?: number; pingTimeoutMs?: number; idleMs?: number };
}

class UpstreamImpl implements Upstream {
  readonly origin: string;
  readonly hostHeader: string;
  readonly serverPath: string;
  readonly isTLS: boolean;
  readonly proxy: ProxyChoice | undefined;
  private currentTls: ConnectionOptions;
  private currentPool: Pool | undefined;
  private currentH2: H2Pool | undefined;
  /** HTTP/2 is to be tried: an https server, and neither DISABLE_HTTP2 nor --upstream-http2=false. */
  private readonly http2: boolean;
  /** The server picked HTTP/1.1 when offered h2: every request goes to the HTTP/1.1 pool. */
  private http1Only = false;
  /** A connection that negotiated HTTP/1.1 while h2 was offered, for the HTTP/1.1 pool's next dial. */
  private spare: Socket | Duplex | undefined;
  private readonly h2Timers: { readIdleMs: number; pingTimeoutMs: number; idleMs: number };
  private readonly proxyTls: ConnectionOptions | undefined;
  private readonly target: { host: string; port: number };
  /** Pools replaced by a new certificate, closing once their requests are done. */
  private readonly retired = new Set<Pool | H2Pool>();
  private readonly certWatch: CertificateWatch | undefined;
  private closed = false;

  constructor(cfg: ResolvedConfig, url: URL, opts: UpstreamOptions) {
    this.isTLS = url.protocol === 'https:';
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.origin = `${url.protocol}//${url.host}`;
    this.hostHeader = url.host;
    this.serverPath = url.pathname.replace(/\/+$/, '');
    this.target = { host: hostname, port: url.port ? Number(url.port) : this.isTLS ? 443 : 80 };
    this.currentTls = this.isTLS ? tlsOptions(cfg, hostname) : {};
    const env = opts.env ?? process.env;
    this.proxy = chooseProxy(cfg.proxyURL, url, env);
    const h2 = h2Settings(env, opts.http2 ?? true);
    for (const w of h2.warnings) log.warn(w);
    this.http2 = h2.enabled && this.isTLS;
    this.h2Timers = { readIdleMs: h2.readIdleMs, pingTimeoutMs: h2.pingTimeoutMs, idleMs: H2_IDLE_MS, ...opts.h2Timers };
    if (this.proxy) {
      if (this.proxy.url.protocol === 'https:') this.proxyTls = proxyTlsOptions(this.currentTls, this.proxy.url);
      log.info(2, `Connecting to ${this.origin} through proxy ${redactProxy(this.proxy.url)} (${this.proxy.source})`);
    }
    if (this.isTLS) {
      this.certWatch = watchCertificateFiles(
        cfg,
        opts.certPollMs ?? CERT_POLL_MS,
        () => this.currentTls,
        (cert, key) => this.replaceCertificate(cert, key),
      );
    }
  }

  private get pool(): Pool {
    return (this.currentPool ??= this.makePool());
  }

  poolFor(method: string | undefined, target: string): RequestDispatcher {
    // Watches and log follows multiplex; short requests cost less proxy CPU each over undici's
    // HTTP/1.1 keep-alive than over node:http2 (BENCHMARKS.md), so they stay there.
    if (!this.http2 || this.http1Only || !isLongRunning(method, target)) return this.pool;
    return (this.currentH2 ??= this.makeH2Pool());
  }

  warm(): void {
    if (this.closed) return;
    if (this.http2) http2();
    else void this.pool;
  }

  private makePool(): Pool {
    const take = (): Socket | Duplex | undefined => {
      const s = this.spare;
      this.spare = undefined;
      return s && !s.destroyed ? s : undefined;
    };
    let connect: Record<string, unknown> | buildConnector.connector;
    if (this.proxy) {
      connect = this.connector(this.isTLS ? { ...this.currentTls, ALPNProtocols: ['http/1.1'] } : undefined, take);
    } else {
      // undici reads TLS in 16 KiB steps unless told otherwise; larger reads halve the per-chunk
      // work on big lists.
      connect = (this.isTLS ? { ...this.currentTls, highWaterMark: STREAM_HWM } : { highWaterMark: STREAM_HWM }) as Record<string, unknown>;
      if (this.http2) {
        const direct = undiciConnector(connect);
        connect = (o, callback) => {
          const s = take();
          // Asynchronously: undici ignores a connection handed back from inside its own call.
          if (s) process.nextTick(callback, null, s as Socket);
          else direct(o, callback);
        };
      }
    }
    return new (poolClass())(this.origin, { ...POOL_TIMEOUTS, connect, factory: trimmingFactory() });
  }

  /**
   * undici's connect hook over dial() (the proxy route). Every connection of one pool uses the
   * TLS options the pool was made with; `spare` may hand over one already open.
   */
  private connector(tls: ConnectionOptions | undefined, spare?: () => Socket | Duplex | undefined): buildConnector.connector {
    return (_opts, callback) => {
      const s = spare?.();
      if (s) return process.nextTick(callback, null, s as Socket);
      this.dialTls(tls).then(
        (socket) => callback(null, socket as Socket),
        (err: Error) => callback(err, null),
      );
    };
  }

  private dialTls(tls: ConnectionOptions | undefined): Promise<Socket | Duplex> {
    return dial(this.target, { proxy: this.proxy, tls, proxyTls: this.proxyTls, timeoutMs: DIAL_TIMEOUT_MS, keepAliveMs: TCP_KEEPALIVE_MS });
  }

  private makeH2Pool(): H2Pool {
    // As Go's transport: ALPN offers both, and the server's pick decides.
    const tls = { ...this.currentTls, ALPNProtocols: ['h2', 'http/1.1'] };
    return new H2Pool({
      origin: this.origin,
      connect: () => this.dialTls(tls),
      http1: (socket) => {
        this.http1Only = true;
        this.spare?.destroy();
        this.spare = socket;
        return this.pool;
      },
      ...this.h2Timers,
      onEvent: (what) => log.info(2, what),
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
    const olds = [this.currentPool, this.currentH2];
    this.currentPool = this.currentH2 = undefined;
    this.spare?.destroy();
    this.spare = undefined;
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

  connections(): Array<{ protocol: 'http/1.1' | 'h2'; count: number }> {
    return [
      { protocol: 'http/1.1', count: this.currentPool?.stats.connected ?? 0 },
      { protocol: 'h2', count: this.currentH2?.connectionCount ?? 0 },
    ];
  }

  async drain(): Promise<void> {
    await Promise.all([this.currentPool, this.currentH2].map((p) => p?.close().catch(() => {})));
    await this.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.certWatch?.close();
    this.spare?.destroy();
    const pools: (Pool | H2Pool)[] = [...this.retired];
    for (const p of [this.currentPool, this.currentH2]) if (p) pools.push(p);
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

