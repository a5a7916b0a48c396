// User-facing failures: the base class every "print one line, exit 1" error extends, and the
// one-line reasons for upstream and file failures, worded like the Go errors kubectl prints so
// that scripts and searches written for kubectl proxy keep working.

import { joinHostPort } from './hostport.js';

/**
 * A failure the user caused or can fix (a flag, a kubeconfig, a file, a regex): main() prints
 * its message as one line and exits 1, never a stack trace.
 */
export class UserError extends Error {
  override name = 'UserError';
}

interface NodeError extends Error {
  code?: string;
  address?: string;
  port?: number;
  hostname?: string;
  cause?: unknown;
}

const TLS_REASONS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'x509: certificate signed by unknown authority',
  SELF_SIGNED_CERT_IN_CHAIN: 'x509: certificate signed by unknown authority',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'x509: certificate signed by unknown authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'x509: certificate signed by unknown authority',
  CERT_HAS_EXPIRED: 'x509: certificate has expired or is not yet valid',
  CERT_NOT_YET_VALID: 'x509: certificate has expired or is not yet valid',
};

function innermost(err: NodeError): NodeError {
  let e = err;
  // undici wraps socket errors; the cause carries the errno code.
  while (e.cause instanceof Error && !e.code?.startsWith('E')) e = e.cause as NodeError;
  return e;
}

export function describeUpstreamError(err: Error): string {
  const e = innermost(err as NodeError);
  const where = e.address !== undefined ? joinHostPort(e.address, e.port ?? '') : '';
  switch (e.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${where}: connect: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${e.hostname ?? ''}: no such host`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `dial tcp ${where}: i/o timeout`.replace(' :', ':');
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return 'unexpected EOF';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `tls: failed to verify certificate: x509: ${oneLine(e.message)}`;
  }
  if (e.code && TLS_REASONS[e.code]) return `tls: failed to verify certificate: ${TLS_REASONS[e.code]}`;
  return oneLine(e.message || String(err));
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** Go's syscall error strings, which kubectl prints after `open <path>: ` or `stat <path>: `. */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENOEXEC: 'exec format error',
};

export function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return (e.code && ERRNO_TEXT[e.code]) || oneLine(e.message);
}

/** A failed file operation as Go words it: `open /p: no such file or directory`. */
export function fileError(op: 'open' | 'stat' | 'read', path: string, err: unknown): string {
  return `${op} ${path}: ${errnoText(err)}`;
}
