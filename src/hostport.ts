// Go's host:port helpers, in one place: bracketing IPv6 literals, default ports, and TCP
// keep-alive with net.Dialer's meaning of its period.

import type { Socket } from 'node:net';

/** `host:port` with IPv6 literals bracketed, as Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number | string): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A URL hostname without the brackets of an IPv6 literal. */
export function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** The port a URL names, or its scheme's default. */
export function defaultPort(url: URL): number {
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

/**
 * TCP keep-alive as Go's net.Dialer.KeepAlive: a positive period turns it on with that period,
 * negative turns it off, 0 or undefined leaves the socket as it is.
 */
export function setKeepAlive(socket: Socket, ms: number | undefined): void {
  if (ms === undefined || ms === 0) return;
  if (ms < 0) socket.setKeepAlive(false);
  else socket.setKeepAlive(true, ms);
}
