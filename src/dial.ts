// Reaching the API server (or an OIDC issuer) through the proxy client-go would use: the
// kubeconfig `proxy-url`, else HTTPS_PROXY/HTTP_PROXY/NO_PROXY as Go's net/http reads them.
// One dial function serves the keep-alive pool and upgrade requests alike, so exec, attach and
// port-forward take the same route as ordinary requests (kubectl's upgrade path skips the proxy,
// kubernetes#120318). The protocols themselves are library code: node:http speaks CONNECT,
// the `socks` package speaks SOCKS5, node:tls does TLS over either tunnel.
//
// undici's own ProxyAgent and Socks5ProxyAgent are not used: both turn the flat header list
// into an object (repeated Impersonate-Group or X-Forwarded-For headers collapse to one),
// Socks5ProxyAgent prints an ExperimentalWarning and builds pools without our timeouts, so an
// idle watch would be cut after undici's default 300 s body timeout.

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, connect as netConnect, isIP, isIPv4, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, rootCertificates, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type { SocksClient as SocksClientType } from 'socks';

// Only a socks5 proxy needs the `socks` package (and its two dependencies).
let socksClient: typeof SocksClientType | undefined;
function SocksClient(): typeof SocksClientType {
  return (socksClient ??= (createRequire(import.meta.url)('socks') as typeof import('socks')).SocksClient);
}
import { describeUpstreamError } from './errors.js';
import { ConfigError } from './kubeconfig/types.js';

/** Go's net.Dialer timeout in client-go's transport, which also bounds the tunnel and TLS set-up. */
export const DIAL_TIMEOUT_MS = 30_000;
/** Go's dialer keep-alive period for ordinary upstream connections. */
export const TCP_KEEPALIVE_MS = 30_000;

export interface ProxyChoice {
  url: URL;
  /** Where it came from, for messages: `proxy-url` or the environment variable's name. */
  source: string;
}

export interface DialTarget {
  /** Host name or IP literal, without IPv6 brackets. */
  host: string;
  port: number;
}

export interface DialOptions {
  proxy?: ProxyChoice;
  /** TLS to the target over the (tunnelled) connection; absent for plain HTTP. */
  tls?: ConnectionOptions;
  /** Trust settings for an https:// proxy. */
  proxyTls?: ConnectionOptions;
  timeoutMs?: number;
  /** TCP keep-alive on the raw socket: 0 or absent leaves the OS default, negative disables. */
  keepAliveMs?: number;
}

/** An error whose message is already what kubectl would print; describeUpstreamError passes it on. */
export class DialError extends Error {
  override name = 'DialError';
}

/** `host:port` with IPv6 literals bracketed, as Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number | string): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function defaultPort(url: URL): number {
  if (url.port) return Number(url.port);
  switch (url.protocol) {
    case 'https:':
      return 443;
    case 'socks5:':
    case 'socks5h:':
      return 1080;
    default:
      return 80;
  }
}

// ---- choosing the proxy ----------------------------------------------------------------------

const PROXY_SCHEMES = new Set(['http:', 'https:', 'socks5:', 'socks5h:']);

/** golang.org/x/net/http/httpproxy parseProxy: a bare `host:port` means http://host:port. */
function parseEnvProxy(name: string, raw: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(raw);
    if (!url.host) url = undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || !/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    try {
      url = new URL('http://' + raw);
    } catch {
      throw new ConfigError(`invalid proxy address ${JSON.stringify(raw)} in ${name}`);
    }
  }
  if (!PROXY_SCHEMES.has(url.protocol)) {
    throw new ConfigError(`invalid proxy address ${JSON.stringify(raw)} in ${name}: unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))}, must be http, https, or socks5`);
  }
  return url;
}

function getEnvAny(env: NodeJS.ProcessEnv, ...names: string[]): [string, string] | undefined {
  for (const n of names) {
    const v = env[n];
    if (v) return [n, v];
  }
  return undefined;
}

type Matcher = (host: string, port: string, ip: string | undefined) => boolean;

/**
 * NO_PROXY as golang.org/x/net/http/httpproxy reads it: `*`; IPs and CIDRs (matching IP hosts
 * only); `example.com` (itself and subdomains), `.example.com` and `*.example.com` (subdomains
 * only); each optionally with `:port`.
 */
export function noProxyMatcher(noProxy: string): (host: string, port: string) => boolean {
  const matchers: Matcher[] = [];
  for (let p of noProxy.split(',')) {
    p = p.trim().toLowerCase();
    if (p === '') continue;
    if (p === '*') return () => true;
    const slash = p.indexOf('/');
    if (slash > 0) {
      const net = p.slice(0, slash);
      const bits = Number(p.slice(slash + 1));
      const family = isIP(net);
      if (family !== 0 && /^\d+$/.test(p.slice(slash + 1)) && bits <= (family === 4 ? 32 : 128)) {
        const list = new BlockList();
        list.addSubnet(net, bits, family === 4 ? 'ipv4' : 'ipv6');
        matchers.push((_h, _port, ip) => ip !== undefined && list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6'));
        continue;
      }
    }
    let phost = p;
    let pport = '';
    const hp = /^(\[[^\]]*\]|[^:]*):(\d*)$/.exec(p);
    if (hp) {
      phost = unbracket(hp[1]!);
      pport = hp[2]!;
      if (phost === '') continue;
    }
    if (isIP(phost)) {
      const want = phost;
      matchers.push((_h, port, ip) => ip !== undefined && sameIP(ip, want) && (pport === '' || pport === port));
      continue;
    }
    if (phost === '') continue;
    if (phost.startsWith('*.')) phost = phost.slice(1);
    const matchHost = !phost.startsWith('.');
    if (matchHost) phost = '.' + phost;
    const suffix = phost;
    matchers.push((host, port) => (host.endsWith(suffix) || (matchHost && host === suffix.slice(1))) && (pport === '' || pport === port));
  }
  return (host, port) => {
    const ip = isIP(host) ? host : undefined;
    return matchers.some((m) => m(host, port, ip));
  };
}

function sameIP(a: string, b: string): boolean {
  if (a === b) return true;
  const list = new BlockList();
  const fam = isIPv4(b) ? 'ipv4' : 'ipv6';
  list.addAddress(b, fam);
  return list.check(a, isIPv4(a) ? 'ipv4' : 'ipv6');
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIP(host) === 6) {
    const list = new BlockList();
    list.addAddress('::1', 'ipv6');
    list.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
    return list.check(host, 'ipv6');
  }
  return false;
}

/** Go's http.ProxyFromEnvironment for one target URL; loopback destinations are never proxied. */
export function proxyFromEnvironment(target: URL, env: NodeJS.ProcessEnv): ProxyChoice | undefined {
  let found: [string, string] | undefined;
  if (target.protocol === 'https:') found = getEnvAny(env, 'HTTPS_PROXY', 'https_proxy');
  else if (target.protocol === 'http:') {
    found = getEnvAny(env, 'HTTP_PROXY', 'http_proxy');
    // Go refuses HTTP_PROXY under CGI, where it may come from a request header (httpoxy).
    if (found && env.REQUEST_METHOD) found = undefined;
  }
  if (!found) return undefined;
  const host = unbracket(target.hostname).toLowerCase();
  const port = String(defaultPort(target));
  if (isLoopback(host)) return undefined;
  const noProxy = getEnvAny(env, 'NO_PROXY', 'no_proxy');
  if (noProxy && noProxyMatcher(noProxy[1])(host, port)) return undefined;
  return { url: parseEnvProxy(found[0], found[1]), source: found[0] };
}

/**
 * The proxy for the API server: the kubeconfig `proxy-url` applies to every request, loopback
 * included (Go's http.ProxyURL); without it, the environment decides.
 */
export function chooseProxy(proxyURL: string | undefined, target: URL, env: NodeJS.ProcessEnv): ProxyChoice | undefined {
  if (proxyURL) return { url: new URL(proxyURL), source: 'proxy-url' };
  return proxyFromEnvironment(target, env);
}

/** The proxy URL without its password, for log lines. */
export function redactProxy(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = 'xxxxx';
  return copy.href;
}

/**
 * TLS settings for an https:// proxy. Go reuses the cluster's TLS config for the proxy hop;
 * kproxy keeps its trust (cluster CA, or insecure) but also accepts the public roots a corporate
 * proxy is usually signed by, and never shows the proxy the cluster's client certificate.
 */
export function proxyTlsOptions(clusterTls: ConnectionOptions, proxy: URL): ConnectionOptions {
  const host = unbracket(proxy.hostname);
  const out: ConnectionOptions = { rejectUnauthorized: clusterTls.rejectUnauthorized !== false, servername: isIP(host) ? '' : host };
  if (clusterTls.ca) {
    // Built once: a trust list of ~150 roots is too costly to parse for every tunnel.
    out.secureContext = createSecureContext({
      minVersion: 'TLSv1.2',
      ca: [...(Array.isArray(clusterTls.ca) ? clusterTls.ca : [clusterTls.ca]), ...rootCertificates],
    });
  } else {
    out.minVersion = 'TLSv1.2';
  }
  return out;
}

// ---- dialling ----------------------------------------------------------------------------------

function tcpConnect(host: string, port: number, keepAliveMs: number | undefined, track: (s: Duplex) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    track(s);
    s.once('connect', () => {
      s.off('error', reject);
      s.setNoDelay(true);
      if (keepAliveMs !== undefined && keepAliveMs !== 0) {
        if (keepAliveMs < 0) s.setKeepAlive(false);
        else s.setKeepAlive(true, keepAliveMs);
      }
      resolve(s);
    });
    s.once('error', reject);
  });
}

function tlsOver(socket: Duplex | undefined, target: DialTarget, tls: ConnectionOptions, track: (s: Duplex) => void, keepAliveMs?: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const opts: ConnectionOptions = { ...tls, host: target.host, port: target.port };
    if (socket) opts.socket = socket;
    const s = tlsConnect(opts);
    track(s);
    if (!socket && keepAliveMs !== undefined && keepAliveMs !== 0) {
      s.once('connect', () => {
        s.setNoDelay(true);
        if (keepAliveMs < 0) s.setKeepAlive(false);
        else s.setKeepAlive(true, keepAliveMs);
      });
    }
    s.once('secureConnect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Go wraps every failure to reach the proxy itself as `proxyconnect tcp: <err>`. */
function proxyConnectError(err: Error): DialError {
  return new DialError(`proxyconnect tcp: ${describeUpstreamError(err)}`);
}

/** HTTP CONNECT through an http:// or https:// proxy (node:http does the protocol). */
function httpTunnel(proxy: URL, target: DialTarget, proxyTls: ConnectionOptions | undefined, keepAliveMs: number | undefined, track: (s: Duplex) => void): Promise<Duplex> {
  const authority = joinHostPort(target.host, target.port);
  const headers: Record<string, string> = { Host: authority };
  if (proxy.username || proxy.password) {
    const user = decodeURIComponent(proxy.username);
    const pass = decodeURIComponent(proxy.password);
    headers['Proxy-Authorization'] = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
  }
  const secure = proxy.protocol === 'https:';
  return new Promise((resolve, reject) => {
    let reached = false;
    const req = (secure ? httpsRequest : httpRequest)({
      host: unbracket(proxy.hostname),
      port: defaultPort(proxy),
      method: 'CONNECT',
      path: authority,
      headers,
      setHost: false,
      agent: false,
      ...(secure ? proxyTls : {}),
    });
    req.once('socket', (s: Socket) => {
      track(s);
      s.once(secure ? 'secureConnect' : 'connect', () => {
        reached = true;
        s.setNoDelay(true);
        if (keepAliveMs !== undefined && keepAliveMs !== 0) {
          if (keepAliveMs < 0) s.setKeepAlive(false);
          else s.setKeepAlive(true, keepAliveMs);
        }
      });
    });
    req.once('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        // Go's transport reports the proxy's status text and nothing else.
        const text = res.statusMessage || '';
        reject(new DialError(text !== '' ? text : 'unknown status code'));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once('error', (err: Error) => reject(reached ? new DialError(`proxy: ${describeUpstreamError(err)}`) : proxyConnectError(err)));
    req.end();
  });
}

/** x/net/internal/socks Reply.String() for the reply codes the `socks` package names. */
const SOCKS_REPLIES: Record<string, string> = {
  Failure: 'general SOCKS server failure',
  NotAllowed: 'connection not allowed by ruleset',
  NetworkUnreachable: 'network unreachable',
  HostUnreachable: 'host unreachable',
  ConnectionRefused: 'connection refused',
  TTLExpired: 'TTL expired',
  CommandNotSupported: 'command not supported',
  AddressNotSupported: 'address type not supported',
};

/** SOCKS5 CONNECT with the host name sent as is, so the proxy resolves it (Go sends FQDNs too). */
async function socksTunnel(proxy: URL, target: DialTarget, timeoutMs: number, keepAliveMs: number | undefined, track: (s: Duplex) => void): Promise<Duplex> {
  const proxyHost = unbracket(proxy.hostname);
  const proxyPort = defaultPort(proxy);
  let raw: Socket;
  try {
    raw = await tcpConnect(proxyHost, proxyPort, keepAliveMs, track);
  } catch (err) {
    throw proxyConnectError(err as Error);
  }
  const proxyAddr = joinHostPort(proxyHost, proxyPort);
  try {
    const { socket } = await SocksClient().createConnection({
      command: 'connect',
      proxy: {
        host: proxyHost,
        port: proxyPort,
        type: 5,
        ...(proxy.username ? { userId: decodeURIComponent(proxy.username), password: decodeURIComponent(proxy.password) } : {}),
      },
      destination: { host: target.host, port: target.port },
      existing_socket: raw,
      timeout: timeoutMs,
    });
    return socket;
  } catch (err) {
    raw.destroy();
    const msg = (err as Error).message;
    const reply = / - (\w+)$/.exec(msg);
    let reason = msg;
    if (reply && Object.hasOwn(SOCKS_REPLIES, reply[1]!)) reason = `unknown error ${SOCKS_REPLIES[reply[1]!]}`;
    else if (/Authentication failed/i.test(msg)) reason = 'username/password authentication failed';
    throw new DialError(`socks connect tcp ${proxyAddr}->${joinHostPort(target.host, target.port)}: ${reason}`);
  }
}

/**
 * A connected socket to `target`: directly or through the proxy, then TLS when `opts.tls` is
 * set (resolved only once the handshake succeeded). The whole set-up is bounded by one timeout.
 */
export function dial(target: DialTarget, opts: DialOptions): Promise<Socket | TLSSocket | Duplex> {
  const timeoutMs = opts.timeoutMs ?? DIAL_TIMEOUT_MS;
  const opened: Duplex[] = [];
  const track = (s: Duplex): void => {
    opened.push(s);
  };
  const attempt = async (): Promise<Socket | TLSSocket | Duplex> => {
    const proxy = opts.proxy?.url;
    if (!proxy) {
      if (opts.tls) return tlsOver(undefined, target, opts.tls, track, opts.keepAliveMs);
      return tcpConnect(target.host, target.port, opts.keepAliveMs, track);
    }
    const tunnel =
      proxy.protocol === 'socks5:' || proxy.protocol === 'socks5h:'
        ? await socksTunnel(proxy, target, timeoutMs, opts.keepAliveMs, track)
        : await httpTunnel(proxy, target, opts.proxyTls, opts.keepAliveMs, track);
    if (!opts.tls) return tunnel;
    return tlsOver(tunnel, target, opts.tls, track);
  };
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      for (const s of opened) s.destroy();
      reject(new DialError(`dial tcp ${joinHostPort(target.host, target.port)}: i/o timeout`));
    }, timeoutMs);
    timer.unref();
    attempt().then(
      (s) => {
        clearTimeout(timer);
        if (done) {
          s.destroy();
          return;
        }
        done = true;
        resolve(s);
      },
      (err: Error) => {
        clearTimeout(timer);
        if (done) return;
        done = true;
        for (const s of opened) s.destroy();
        reject(err);
      },
    );
  });
}
