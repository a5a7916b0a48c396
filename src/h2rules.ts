// HTTP/2 rules for the connection to the API server, kept apart from the pool that applies them
// (h2pool.ts) because they are pure: client-go's environment switches, the mapping of kproxy's
// outgoing header list onto HTTP/2 (RFC 9113 §8.2) and of HTTP/2 response headers back to the
// names Go's clients see, and the error code names Go prints.

import type { OutgoingHttpHeaders } from 'node:http2';

/** client-go's defaults (k8s.io/apimachinery/pkg/util/net: HTTP2_READ_IDLE_TIMEOUT_SECONDS 30, HTTP2_PING_TIMEOUT_SECONDS 15). */
export const H2_READ_IDLE_MS = 30_000;
export const H2_PING_TIMEOUT_MS = 15_000;

export interface H2Settings {
  /** HTTP/2 is offered to https servers (off with DISABLE_HTTP2 or --upstream-http2=false). */
  enabled: boolean;
  readIdleMs: number;
  pingTimeoutMs: number;
  /** One line per environment value that was not a whole number (the default is then used). */
  warnings: string[];
}

/**
 * client-go's HTTP/2 switches (k8s.io/apimachinery/pkg/util/net): DISABLE_HTTP2 set to anything
 * turns HTTP/2 off; the two timeouts are whole seconds as strconv.Atoi reads them, a read-idle
 * timeout of 0 (or less) turns the PING check off, and a ping timeout of 0 (or less) means 15 s,
 * as Go's http2 transport takes it. Pure.
 */
export function h2Settings(env: NodeJS.ProcessEnv, flag = true): H2Settings {
  const warnings: string[] = [];
  const enabled = flag && !env['DISABLE_HTTP2'];
  // Go reads the two timeouts only when it configures HTTP/2.
  if (!enabled) return { enabled, readIdleMs: H2_READ_IDLE_MS, pingTimeoutMs: H2_PING_TIMEOUT_MS, warnings };
  const seconds = (name: string, def: number): number => {
    const s = env[name];
    if (s === undefined || s === '') return def;
    if (!/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
      warnings.push(`Illegal ${name}(${JSON.stringify(s)}): not a whole number of seconds. Default value ${def} is used`);
      return def;
    }
    return Number(s);
  };
  const readIdle = seconds('HTTP2_READ_IDLE_TIMEOUT_SECONDS', H2_READ_IDLE_MS / 1000);
  const ping = seconds('HTTP2_PING_TIMEOUT_SECONDS', H2_PING_TIMEOUT_MS / 1000);
  return {
    enabled,
    readIdleMs: readIdle > 0 ? readIdle * 1000 : 0,
    pingTimeoutMs: ping > 0 ? ping * 1000 : H2_PING_TIMEOUT_MS,
    warnings,
  };
}

// Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2); node:http2 throws on them.
const FORBIDDEN = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);
// Headers node:http2 refuses to repeat; the API server (Go's Header.Get) reads the first anyway.
const SINGLE = new Set([
  'authorization', 'content-type', 'content-length', 'content-encoding', 'content-language', 'content-location', 'content-md5',
  'content-range', 'user-agent', 'range', 'referer', 'if-match', 'if-modified-since', 'if-none-match', 'if-range',
  'if-unmodified-since', 'max-forwards', 'proxy-authorization', 'from', 'date', 'etag', 'expires', 'last-modified',
  'location', 'retry-after', 'age', 'dnt', 'tk', 'upgrade-insecure-requests', 'x-content-type-options',
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method',
]);

/** The HTTP/2 request headers for an outgoing HTTP/1.1-style header list (pure). */
export function h2RequestHeaders(method: string, path: string, flat: readonly string[]): OutgoingHttpHeaders {
  const h: Record<string, string | string[]> = { ':method': method, ':path': path };
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    if (FORBIDDEN.has(name)) continue;
    const value = flat[i + 1]!;
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') continue;
    const prev = h[name];
    if (prev === undefined) h[name] = value;
    else if (SINGLE.has(name)) continue;
    else if (typeof prev === 'string') h[name] = [prev, value];
    else prev.push(value);
  }
  return h;
}

const canonical = new Map<string, string>();
/** Go's textproto.CanonicalMIMEHeaderKey, as kubectl's clients see HTTP/2 header names (pure). */
export function canonicalHeaderName(lower: string): string {
  let c = canonical.get(lower);
  if (c !== undefined) return c;
  c = /^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(lower) ? lower.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase()) : lower;
  if (canonical.size < 512) canonical.set(lower, c);
  return c;
}

/** Response or trailer headers as a flat list without pseudo-headers, names as Go writes them. */
export function flatHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* : */) continue;
    out.push(canonicalHeaderName(name), raw[i + 1]!);
  }
  return out;
}

/** RFC 9113 error code names, as Go prints them. */
export function rstName(code: number): string {
  const names = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];
  return names[code] ?? `unknown error code 0x${code.toString(16)}`;
}
