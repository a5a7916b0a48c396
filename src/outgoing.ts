// The request kproxy sends upstream, shared by the two sibling paths (forward.ts for ordinary
// requests, upgrade.ts for upgrades): which of the client's headers cross, what kproxy adds, and
// the kubeconfig credential. outgoingHeaders takes plain data and is tested as a table.

import { withoutTokenCookie } from './access-token.js';
import type { Credentials } from './auth/credentials.js';
import { connectionTokens, isHopByHop } from './headers.js';
import type { Upstream } from './upstream.js';

/** What every request to the API server needs, ordinary or upgrade. */
export interface UpstreamRequestContext {
  upstream: Upstream;
  credentials: Credentials;
  /** Leave Accept-Encoding alone (--disable-compression / kubeconfig disable-compression). */
  disableCompression: boolean;
  /** Sent when the client sends no User-Agent, as client-go fills in kubectl's. */
  userAgent: string;
  /**
   * --auth-token is on: the client's Authorization (kproxy's token), its token cookie and its
   * Impersonate-* headers are dropped, and the kubeconfig's identity is always used.
   */
  tokenAuth?: boolean;
}

export interface OutgoingRequest {
  headers: string[];
  /** True when kproxy asked for gzip and must decode it for the client. */
  decodeGzip: boolean;
  /** The client sent no Authorization: the kubeconfig credential is to be added (withCredentials). */
  needsAuth: boolean;
}

/** The parts of a client's request that decide the outgoing headers. */
export interface ClientRequest {
  method: string;
  /** Node's rawHeaders: [name, value, name, value, ...] as received. */
  rawHeaders: readonly string[];
  /** The client's address; undefined for a unix socket peer. */
  remoteAddress: string | undefined;
}

/**
 * The client's headers minus hop-by-hop ones, plus Host, X-Forwarded-For, User-Agent,
 * impersonation and (for ordinary requests) Accept-Encoding, as Go's ReverseProxy and
 * client-go's round trippers would send them.
 */
export function outgoingHeaders(req: ClientRequest, ctx: OutgoingContext, opts?: { upgrade: boolean }): OutgoingRequest {
  const raw = req.rawHeaders;
  const listed = connectionTokens(raw);
  const out: string[] = ['host', ctx.upstream.hostHeader];
  let hasAuth = false;
  let hasImpersonateUser = false;
  let hasAcceptEncoding = false;
  let hasUserAgent = false;
  let hasRange = false;
  let forwardedFor: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (isHopByHop(lower, value, listed)) continue;
    // With --auth-token the client cannot choose its upstream identity.
    if (ctx.tokenAuth && lower.startsWith('impersonate-')) continue;
    switch (lower) {
      case 'host':
      // Node already answered `Expect: 100-continue`; undici refuses to send it again.
      case 'expect':
        continue;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : forwardedFor + ', ' + value;
        continue;
      case 'authorization':
        // With --auth-token it carried kproxy's own token, which never leaves the machine.
        if (ctx.tokenAuth) continue;
        hasAuth = true;
        break;
      case 'impersonate-user':
        hasImpersonateUser = true;
        break;
      case 'cookie':
        if (ctx.tokenAuth) {
          const kept = withoutTokenCookie(value);
          if (kept !== undefined) out.push(name, kept);
          continue;
        }
        break;
      case 'accept-encoding':
        hasAcceptEncoding = true;
        break;
      case 'user-agent':
        hasUserAgent = true;
        break;
      case 'range':
        hasRange = true;
        break;
    }
    out.push(name, value);
  }
  // Go's ReverseProxy appends the peer address; a unix socket peer has none.
  const peer = req.remoteAddress;
  if (peer) out.push('X-Forwarded-For', forwardedFor === undefined ? peer : forwardedFor + ', ' + peer);
  else if (forwardedFor !== undefined) out.push('X-Forwarded-For', forwardedFor);
  if (!hasUserAgent) out.push('User-Agent', ctx.userAgent);
  // A client's own Authorization and Impersonate-User win, as in client-go's round trippers.
  if (!hasImpersonateUser) for (const h of ctx.credentials.impersonation) out.push(h);
  // Go's transport asks for gzip and decodes it itself, except on an upgrade connection.
  // Like Go's transport, not for HEAD or Range requests, whose bodies cannot be decoded alone.
  const decodeGzip = !hasAcceptEncoding && !ctx.disableCompression && !opts?.upgrade && !hasRange && req.method !== 'HEAD';
  if (decodeGzip) out.push('Accept-Encoding', 'gzip');
  return { headers: out, decodeGzip, needsAuth: !hasAuth };
}

/**
 * The kubeconfig credential, added when the client sent no Authorization. Static tokens are
 * there at once; an exec plugin or an OIDC refresh may first have to run, and its failure is
 * answered to the client.
 */
export function withCredentials(
  ctx: Pick<UpstreamRequestContext, 'credentials'>,
  out: OutgoingRequest,
  go: (authorization: string | undefined) => void,
  failed: (err: Error) => void,
): void {
  if (!out.needsAuth) return go(undefined);
  const auth = ctx.credentials.authorization();
  if (auth === undefined || typeof auth === 'string') {
    if (auth) out.headers.push('Authorization', auth);
    return go(auth);
  }
  auth.then((value) => {
    if (value) out.headers.push('Authorization', value);
    go(value);
  }, failed);
}

/** What outgoingHeaders reads of the context. */
export type OutgoingContext = Pick<UpstreamRequestContext, 'credentials' | 'disableCompression' | 'userAgent' | 'tokenAuth'> & { upstream: Pick<Upstream, 'hostHeader'> };
