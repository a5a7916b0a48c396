// Ordinary (non-upgrade) requests: the client's request is streamed to the API server through
// the shared keep-alive pool and the answer streamed back, chunk by chunk with backpressure.
// The steps, in order: request headers → credentials → dispatch → response headers → body.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, type Gunzip } from 'node:zlib';
import type { Dispatcher } from 'undici';
import type { CredentialError, Credentials } from './credentials.js';
import { connectionTokens, isHopByHop } from './headers.js';
import * as log from './log.js';
import { describeUpstreamError } from './errors.js';
import type { Upstream } from './upstream.js';

export interface ForwardContext {
  upstream: Upstream;
  credentials: Credentials;
  /** Leave Accept-Encoding alone (--disable-compression / kubeconfig disable-compression). */
  disableCompression: boolean;
  /** Sent when the client sends no User-Agent, as client-go fills in kubectl's. */
  userAgent: string;
}

interface OutgoingRequest {
  headers: string[];
  /** True when kproxy asked for gzip and must decode it for the client. */
  decodeGzip: boolean;
  /** The client sent no Authorization: the kubeconfig credential is to be added (step 2). */
  needsAuth: boolean;
}

/** Step 1: the client's headers minus hop-by-hop ones, plus Host, X-Forwarded-For and impersonation. */
export function outgoingHeaders(req: IncomingMessage, ctx: ForwardContext, opts?: { upgrade: boolean }): OutgoingRequest {
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
    switch (lower) {
      case 'host':
      // Node already answered `Expect: 100-continue`; undici refuses to send it again.
      case 'expect':
        continue;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : forwardedFor + ', ' + value;
        continue;
      case 'authorization':
        hasAuth = true;
        break;
      case 'impersonate-user':
        hasImpersonateUser = true;
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
  const peer = req.socket.remoteAddress;
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
 * Step 2: the kubeconfig credential. Static tokens are there at once; an exec plugin or an
 * OIDC refresh may first have to run, and its failure is answered to the client.
 */
export function withCredentials(
  ctx: ForwardContext,
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

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** Sends a one-line plain-text error the way kubectl's responder does (http.Error). */
export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = message + '\n';
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Step 4: response headers minus hop-by-hop ones, kept as a flat list so repeats survive. */
function responseHeaders(raw: Buffer[], state: { gzip: boolean; trailers: boolean; sized: boolean }): string[] {
  const strs: string[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) strs[i] = raw[i]!.toString('latin1');
  const listed = connectionTokens(strs);
  let gzip = false;
  let sized = false;
  let trailer: string | undefined;
  for (let i = 0; i < strs.length; i += 2) {
    const lower = strs[i]!.toLowerCase();
    if (lower === 'content-encoding' && strs[i + 1]!.trim().toLowerCase() === 'gzip') gzip = true;
    else if (lower === 'content-length') sized = true;
    else if (lower === 'trailer') trailer = trailer === undefined ? strs[i + 1]! : trailer + ', ' + strs[i + 1]!;
  }
  state.gzip = state.gzip && gzip;
  const out: string[] = [];
  for (let i = 0; i < strs.length; i += 2) {
    const lower = strs[i]!.toLowerCase();
    if (isHopByHop(lower, strs[i + 1]!, listed)) continue;
    if (state.gzip && (lower === 'content-encoding' || lower === 'content-length')) continue;
    out.push(strs[i]!, strs[i + 1]!);
  }
  // Trailer is hop-by-hop, but Go's ReverseProxy announces the upstream's trailers again so it
  // can relay them; Node can only send trailers on a chunked response.
  state.trailers = trailer !== undefined && (!sized || state.gzip);
  state.sized = sized && !state.gzip;
  if (state.trailers) out.push('Trailer', trailer!);
  return out;
}

/** Starts forwarding; the returned function ends the response cleanly (used at shutdown). */
export function forward(req: IncomingMessage, res: ServerResponse, target: string, ctx: ForwardContext): () => void {
  const out = outgoingHeaders(req, ctx);
  const decoding = { gzip: out.decodeGzip, trailers: false, sized: false };
  let usedAuth: string | undefined;
  let abort: ((err?: Error) => void) | undefined;
  let gunzip: Gunzip | undefined;
  let resume: (() => void) | undefined;
  let finished = false;

  const onClientGone = (): void => {
    if (!finished) {
      finished = true;
      abort?.(new Error('client disconnected'));
      gunzip?.destroy();
    }
  };
  res.on('close', onClientGone);

  const handler: Dispatcher.DispatchHandler = {
    onConnect(abortFn) {
      abort = abortFn;
      if (finished) abortFn(new Error('client disconnected'));
    },
    onHeaders(statusCode, rawHeaders, resumeFn, statusText) {
      // 1xx answers other than 101 are informational; Node answers 100-continue itself.
      if (statusCode < 200) return true;
      // client-go refreshes a credential the API server refused; the 401 itself is relayed.
      // With no Authorization added (a client certificate alone) the certificate was refused.
      if (statusCode === 401 && out.needsAuth) ctx.credentials.rejected(usedAuth);
      resume = resumeFn;
      res.writeHead(statusCode, statusText || undefined, responseHeaders(rawHeaders as Buffer[], decoding));
      // A stream of unknown length (watch, log follow) must be visibly open before its first
      // event, as Go flushes it; a sized body goes out with its headers in one write.
      if (!decoding.sized) res.flushHeaders();
      if (decoding.gzip) {
        gunzip = createGunzip();
        gunzip.on('data', (chunk: Buffer) => {
          if (!res.write(chunk)) gunzip!.pause();
        });
        res.on('drain', () => gunzip?.resume());
        gunzip.on('end', () => {
          finished = true;
          res.end();
        });
        gunzip.on('error', (err) => {
          log.error(`Error while proxying request: decoding gzip response: ${err.message}`);
          finished = true;
          res.destroy();
        });
        // The upstream waits while gunzip's input is full.
        gunzip.on('drain', () => resume?.());
      } else {
        res.on('drain', () => resume?.());
      }
      return true;
    },
    onData(chunk) {
      if (gunzip) return gunzip.write(chunk);
      return res.write(chunk);
    },
    onComplete(trailers) {
      if (decoding.trailers && trailers && trailers.length > 0) {
        const pairs: [string, string][] = [];
        for (let i = 0; i < trailers.length; i += 2) pairs.push([String(trailers[i]), String(trailers[i + 1])]);
        res.addTrailers(pairs);
      }
      if (gunzip) {
        gunzip.end();
        return;
      }
      finished = true;
      res.end();
    },
    onError(err) {
      if (finished) return;
      finished = true;
      gunzip?.destroy();
      if (res.headersSent) {
        // Cut the client's response too: ending it normally would pass half a list off as whole.
        log.error(`Error while proxying request: ${describeUpstreamError(err)}`);
        res.destroy();
        return;
      }
      const msg = describeUpstreamError(err);
      log.error(`Error while proxying request: ${msg}`);
      sendError(res, 500, msg);
    },
  };

  withCredentials(
    ctx,
    out,
    (auth) => {
      if (finished) return;
      usedAuth = auth;
      ctx.upstream.poolFor(req.method, target).dispatch(
        {
          path: target,
          method: req.method as Dispatcher.HttpMethod,
          headers: out.headers,
          body: hasBody(req) ? req : null,
        },
        handler,
      );
    },
    (err) => {
      if (finished) return;
      finished = true;
      const e = err as CredentialError;
      log.error(`Error while proxying request: ${e.message}`);
      sendError(res, e.status ?? 500, e.message);
    },
  );
  return () => {
    if (finished) return;
    finished = true;
    abort?.(new Error('proxy shutting down'));
    gunzip?.destroy();
    if (res.headersSent) res.end();
    else sendError(res, 503, 'proxy is shutting down');
  };
}
