// kubectl proxy's defaults as named constants, and the pure parsing of flag values. Errors are
// UsageError: one line, exit status 1.

import type { AccessLogFormat } from './accesslog.js';
import { UserError } from './errors.js';
import type { ConfigOverrides } from './kubeconfig/types.js';

export const DEFAULT_PORT = 8001;
export const DEFAULT_ADDRESS = '127.0.0.1';
export const DEFAULT_API_PREFIX = '/';
export const DEFAULT_STATIC_PREFIX = '/static/';

export class UsageError extends UserError {
  override name = 'UsageError';
}

export function parsePort(value: string): number {
  if (!/^[+-]?\d+$/.test(value.trim())) throw new UsageError(`invalid port "${value}": must be a whole number from 0 to 65535`);
  const n = Number(value);
  if (n < 0 || n > 65535) throw new UsageError(`invalid port ${value}: must be from 0 to 65535`);
  return n;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds. */
export function parseGoDuration(flag: string, value: string): number {
  const bad = (why: string) => new UsageError(`invalid argument "${value}" for "${flag}" flag: time: ${why} "${value}"`);
  let s = value;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw bad('invalid duration');
  let total = 0;
  while (s !== '') {
    const m = /^(\d+(?:\.\d*)?|\.\d+)([^\d.]*)/.exec(s);
    if (!m) throw bad('invalid duration');
    const unit = m[2]!;
    if (unit === '') throw bad('missing unit in duration');
    const ms = UNIT_MS[unit];
    if (ms === undefined) throw new UsageError(`invalid argument "${value}" for "${flag}" flag: time: unknown unit "${unit}" in duration "${value}"`);
    total += Number(m[1]) * ms;
    s = s.slice(m[0].length);
  }
  return sign * total;
}

/**
 * kubectl's --request-timeout: 0, whole seconds, or a Go duration. Error text from
 * kubectl's ParseTimeout.
 */
export function parseRequestTimeout(value: string): number {
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  try {
    return parseGoDuration('--request-timeout', value);
  } catch {
    throw new UsageError(
      'Invalid timeout value. Timeout must be a single integer in seconds, or an integer followed by a corresponding time unit (e.g. 1s | 2m | 3h)',
    );
  }
}

/**
 * --api-prefix and --www-prefix: kubectl appends a '/'. kproxy also requires a leading '/',
 * because Go reads "custom/" as a host pattern and then 404s every request.
 */
export function normalizePrefix(flag: string, value: string): string {
  if (!value.startsWith('/')) throw new UsageError(`${flag} must start with "/": got "${value}"`);
  if (/[?#\s]/.test(value)) throw new UsageError(`${flag} must be a plain path: got "${value}"`);
  return value.endsWith('/') ? value : value + '/';
}

/** What to hand to net.Server#listen for --address: brackets dropped, bare IPv6 accepted. */
export function listenHost(address: string): string {
  if (address.startsWith('[') && address.endsWith(']')) return address.slice(1, -1);
  // Go binds 0.0.0.0 dual-stack and reports [::].
  if (address === '0.0.0.0' || address === '') return '::';
  // Go resolves localhost to its first IPv4 address.
  if (address === 'localhost') return '127.0.0.1';
  return address;
}


/** Go's strconv.ParseBool, for `--flag=value` booleans. */
export function parseGoBool(flag: string, value: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new UsageError(`invalid argument "${value}" for "${flag}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
}

/** Every flag of the command line, parsed: what createProxy needs to run a proxy. */
export interface ProxyFlags {
  port: number;
  address: string;
  acceptHosts: string;
  acceptPaths: string;
  rejectPaths: string;
  rejectMethods: string;
  apiPrefix: string;
  www: string;
  wwwPrefix: string;
  unixSocket: string;
  disableFilter: boolean;
  keepaliveMs: number;
  appendServerPath: boolean;
  requestTimeoutMs: number;
  verbosity: number;
  /** --output: kubectl's start-up line, or one JSON object. */
  output: 'text' | 'json';
  accessLog: string;
  accessLogFormat: AccessLogFormat;
  /** --upstream-http2 (default true): HTTP/2 to the API server when it offers it. */
  upstreamHttp2: boolean;
  /** --allow-origins, each serialized as URL#origin. */
  allowOrigins: readonly string[];
  /** --auth-token: '' (off), 'auto' or a file holding the token. */
  authToken: string;
  /** --read-only, --allow, --deny (repeatable), --rules-file: see rules/. */
  readOnly: boolean;
  allow: string[];
  deny: string[];
  rulesFile: string;
  /** False when --port was left at its default (command mode then picks a free port). */
  portGiven: boolean;
  config: ConfigOverrides;
  /** Whatever followed `--`. */
  command: string[];
  // ---- several clusters, the admin listener and the config file (issue 14) ----
  /** --contexts (or the config file's `contexts`): served under <api-prefix>clusters/<name>/. */
  contexts: string[];
  /** --all-contexts: every context of the kubeconfig. */
  allContexts: boolean;
  /** Filter rules of one context (config file), over the global ones. */
  contextRules: Record<string, ContextRules>;
  /** --admin-address: HOST:PORT of /healthz, /readyz and /metrics; '' when off. */
  adminAddress: string;
  /** --config: kproxy's YAML configuration file; '' when none. */
  configFile: string;
}

/** The filter flags a context of the config file may set for itself. */
export interface ContextRules {
  acceptPaths?: string;
  rejectPaths?: string;
  rejectMethods?: string;
}
