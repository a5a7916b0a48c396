// Opening a connection to the API server (or an OIDC issuer), directly or through the proxy
// proxy-env.ts chose. One dial function serves the keep-alive pool and upgrade requests alike, so exec, attach and
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
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type { SocksClient as SocksClientType } from 'socks';

import { describeUpstreamError, UserError } from './errors.js';
import { defaultPort, joinHostPort, setKeepAlive, unbracket } from './hostport.js';
import type { ProxyChoice } from './proxy-env.js';

// Only a socks5 proxy needs the `socks` package (and its two dependencies).
let socksClient: typeof SocksClientType | undefined;
function SocksClient(): typeof SocksClientType {
  return (socksClient ??= (createRequire(import.meta.url)('socks') as typeof import('socks')).SocksClient);
}

/** Go's net.Dialer timeout in client-go's transport, which also bounds the tunnel and TLS set-up. */
export const DIAL_TIMEOUT_MS = 30_000;
/** Go's dialer keep-alive period for ordinary upstream connections. */
export const TCP_KEEPALIVE_MS = 30_000;

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
export class DialError extends UserError {
  override name = 'DialError';
}

function tcpConnect(host: string, port: number, keepAliveMs: number | undefined, track: (s: Duplex) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    track(s);
    s.once('connect', () => {
      s.off('error', reject);
      s.setNoDelay(true);
      setKeepAlive(s, keepAliveMs);
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
        setKeepAlive(s, keepAliveMs);
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
        setKeepAlive(s, keepAliveMs);
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
