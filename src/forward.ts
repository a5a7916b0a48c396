// Ordinary (non-upgrade) requests: the client's request is streamed to the API server through
// the shared pool (HTTP/2 or HTTP/1.1, see upstream.ts) and the answer streamed back, chunk by chunk with backpressure.
// The steps, in order: request headers and credentials (outgoing.ts) → dispatch → response
// headers (headers.ts) → body, gunzipped when kproxy asked for gzip → trailers.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, type Gunzip } from 'node:zlib';
import { sendError } from './answers.js';
import type { CredentialError } from './auth/credentials.js';
import { describeUpstreamError } from './errors.js';
import type { ResponseHandler } from './dispatcher.js';
import { responseHeaders } from './headers.js';
import * as log from './log.js';
import { outgoingHeaders, withCredentials, type UpstreamRequestContext } from './outgoing.js';

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** Starts forwarding; the returned function ends the response cleanly (used at shutdown). */
export function forward(req: IncomingMessage, res: ServerResponse, target: string, ctx: UpstreamRequestContext): () => void {
  const out = outgoingHeaders({ method: req.method!, rawHeaders: req.rawHeaders, remoteAddress: req.socket.remoteAddress }, ctx);
  const decoding = { gzip: out.decodeGzip, trailers: false, sized: false };
  let usedAuth: string | undefined;
  let abort: ((err?: Error) => void) | undefined;
  let gunzip: Gunzip | undefined;
  let resume: (() => void) | undefined;
  let finished = false;
  /** Body bytes (or the end) went to the client: the headers went with them. */
  let bodyStarted = false;

  const onClientGone = (): void => {
    if (!finished) {
      finished = true;
      abort?.(new Error('client disconnected'));
      gunzip?.destroy();
    }
  };
  res.on('close', onClientGone);

  const handler: ResponseHandler = {
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
      res.writeHead(statusCode, statusText || undefined, responseHeaders(rawHeaders, decoding));
      // A stream of unknown length (watch, log follow) must be visibly open before its first
      // event, as Go flushes it (from a timer that fires at once); a sized body goes out with its
      // headers in one write. A turn of the event loop lets a first chunk that came with the
      // headers go out in the same write.
      if (!decoding.sized) {
        setImmediate(() => {
          if (!bodyStarted && !res.destroyed) res.flushHeaders();
        });
      }
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
      bodyStarted = true;
      if (gunzip) return gunzip.write(chunk);
      return res.write(chunk);
    },
    onComplete(trailers) {
      bodyStarted = true;
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
          method: req.method!,
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
