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

const REG_NAME = /^[A-Za-z0-9_~-]+(?:\.[A-Za-z0-9_~-]+)*\.?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PORT = /^\d{1,5}$/;

/**
 * A Host header (or absolute-form authority) that is exactly `host[:port]`: a DNS-style name,
 * an IPv4 address or a bracketed IPv6 address, and an optional numeric port. Stricter than Go's
 * httpguts.ValidHostHeader, which only refuses bytes no host may hold and so lets lists
 * (`a, b`), junk after the port (`localhost:1x`) and userinfo through to a filter that then
 * reads only their beginning. The empty Host is left to the filter (it matches no pattern).
 */
export function validHost(h: string): boolean {
  if (h === '') return true;
  let host = h;
  let port: string | undefined;
  if (h[0] === '[') {
    const end = h.indexOf(']');
    if (end < 0) return false;
    host = h.slice(1, end);
    const rest = h.slice(end + 1);
    if (rest !== '') {
      if (rest[0] !== ':') return false;
      port = rest.slice(1);
    }
    if (!isIPv6Literal(host)) return false;
  } else {
    const colon = h.indexOf(':');
    if (colon >= 0) {
      host = h.slice(0, colon);
      port = h.slice(colon + 1);
    }
    if (!IPV4.test(host) && !REG_NAME.test(host)) return false;
  }
  // An empty port (`localhost:`) is allowed by RFC 3986 and by Go.
  return port === undefined || port === '' || (PORT.test(port) && Number(port) <= 65535);
}

function isIPv6Literal(s: string): boolean {
  // The WHATWG URL parser is the strictest IPv6 parser at hand; zones are not allowed in Host.
  if (!s.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  try {
    return new URL(`http://[${s}]/`).hostname !== '';
  } catch {
    return false;
  }
}
