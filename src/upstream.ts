// The API server as a destination: its origin, the Host header it expects, the keep-alive pools
// that ordinary requests share, and fresh connections for upgrades, all over the route (direct
// or through a proxy) that dial.ts opens. The client certificate can change while kproxy runs
// (files rewritten on disk, or a new one from an exec plugin, see client-cert.ts): new pools are
// then made and the old ones close once their requests are done.

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { createRequire } from 'node:module';
import type { buildConnector, Pool } from 'undici';
import { dial, DIAL_TIMEOUT_MS, TCP_KEEPALIVE_MS } from './dial.js';
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
  /**
   * The pool for a request, made on first use: with --upstream-http2, watches and log follows
   * share multiplexed HTTP/2 connections; everything else shares the HTTP/1.1 pool.
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
    this.proxy = chooseProxy(cfg.proxyURL, url, opts.env ?? process.env);
    this.http2 = (opts.http2 ?? false) && this.isTLS;
    this.h2Streams = opts.h2StreamsPerConnection ?? H2_STREAMS_PER_CONNECTION;
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

  async close(): Promise<void> {
    this.closed = true;
    this.certWatch?.close();
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

