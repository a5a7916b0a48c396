// Upgrade requests (exec, attach, port-forward over WebSocket or SPDY, and any other
// `Upgrade:`): after the same router and filter as every request, they get a dedicated
// HTTP/1.1 connection to the API server. Bytes are spliced only after a 101 from upstream
// (CVE-2018-1002105); an error answer is relayed and the connection closed, so kubectl's
// WebSocket-then-SPDY fallback sees it.

import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { describeUpstreamError } from './errors.js';
import type { CredentialError } from './credentials.js';
import { outgoingHeaders, withCredentials, type ForwardContext } from './forward.js';
import * as log from './log.js';
import type { LocalAnswer } from './router.js';

/** Go's net.Dialer default keep-alive period, which kubectl's `--keepalive=0` means. */
export const DEFAULT_KEEPALIVE_MS = 15_000;
/** kubectl's upgrade dial timeout. */
export const DIAL_TIMEOUT_MS = 30_000;
/** Client bytes read (and kept for after a 101) while the upstream has not answered yet. */
const EARLY_LIMIT = 64 * 1024;

export interface UpgradeContext extends ForwardContext {
  /** --keepalive: 0 means DEFAULT_KEEPALIVE_MS, negative disables it. */
  keepaliveMs: number;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  301: 'Moved Permanently',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
};

/** Writes a complete response on a raw client socket and closes it. */
export function answerOnSocket(socket: Duplex, a: LocalAnswer): void {
  let head = `HTTP/1.1 ${a.status} ${a.reason ?? STATUS_TEXT[a.status] ?? ''}\r\n`;
  for (const [k, v] of Object.entries(a.headers)) if (k.toLowerCase() !== 'connection') head += `${k}: ${v}\r\n`;
  head += 'Connection: close\r\n\r\n';
  socket.end(head + a.body);
}

function errorAnswer(message: string, status = 500): LocalAnswer {
  const body = message + '\n';
  return {
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body) },
    body,
  };
}

function headBlock(statusLine: string, rawHeaders: string[], closing = false): string {
  let out = statusLine + '\r\n';
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const lower = rawHeaders[i]!.toLowerCase();
    // A relayed error body is re-framed by closing the connection.
    if (closing && (lower === 'connection' || lower === 'transfer-encoding' || lower === 'keep-alive')) continue;
    out += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  }
  return out + (closing ? 'Connection: close\r\n\r\n' : '\r\n');
}

function applyKeepalive(socket: Socket, ms: number): void {
  if (ms < 0) socket.setKeepAlive(false);
  else socket.setKeepAlive(true, ms === 0 ? DEFAULT_KEEPALIVE_MS : ms);
}

export function upgrade(req: IncomingMessage, client: Duplex, head: Buffer, target: string, ctx: UpgradeContext): void {
  const out = outgoingHeaders(req, ctx, { upgrade: true });
  withCredentials(
    ctx,
    out,
    (auth) => dial(req, client, head, target, ctx, out.headers, out.needsAuth ? { used: auth } : undefined),
    (err) => {
      log.error(`Proxy upgrade error: ${err.message}`);
      answerOnSocket(client, errorAnswer(err.message, (err as CredentialError).status ?? 500));
    },
  );
}

function dial(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: string,
  ctx: UpgradeContext,
  headers: string[],
  /** Set when kproxy supplied the credential (a token, or a client certificate alone). */
  supplied: { used: string | undefined } | undefined,
): void {
  // The handshake needs back the one hop-by-hop pair that outgoingHeaders dropped.
  headers.push('Connection', 'Upgrade');
  const proto = req.headers.upgrade;
  if (proto) headers.push('Upgrade', proto);

  const up = ctx.upstream;
  const url = new URL(up.origin);
  const options: RequestOptions = {
    method: req.method,
    path: target,
    headers,
    setHost: false,
    timeout: DIAL_TIMEOUT_MS,
    // The upstream's own dial: through the same proxy as ordinary requests (kubectl skips it
    // here, kubernetes#120318) and with the current TLS options, an exec plugin's certificate too.
    createConnection: (_o, cb) => {
      up.connect(ctx.keepaliveMs === 0 ? DEFAULT_KEEPALIVE_MS : ctx.keepaliveMs).then(
        (s) => cb(null, s as Socket),
        (err: Error) => cb(err, undefined as unknown as Socket),
      );
      return undefined;
    },
  };
  const upReq = httpRequest(options);
  let settled = false;

  // Until the upstream answers, the client is read too: the listener keeps half-open sockets,
  // so without reading, a client that has gone (FIN) would go unseen and the upstream request
  // would wait for the idle timeout. Bytes it sends early are kept for after a 101.
  const early: Buffer[] = [];
  let earlyBytes = 0;
  const onEarlyData = (chunk: Buffer) => {
    early.push(chunk);
    earlyBytes += chunk.length;
    if (earlyBytes >= EARLY_LIMIT) client.pause();
  };
  const onEarlyEnd = () => {
    if (settled) return;
    settled = true;
    upReq.destroy();
    client.destroy();
  };
  const stopEarly = () => {
    client.off('data', onEarlyData);
    client.off('end', onEarlyEnd);
    client.pause();
  };
  client.on('data', onEarlyData);
  client.on('end', onEarlyEnd);

  const fail = (message: string) => {
    if (settled) return;
    settled = true;
    stopEarly();
    log.error(`Proxy upgrade error: ${message}`);
    answerOnSocket(client, errorAnswer(message));
    upReq.destroy();
  };
  client.on('error', () => upReq.destroy());
  client.on('close', () => {
    if (!settled) {
      settled = true;
      upReq.destroy();
    }
  });

  upReq.on('socket', (s: Socket) => {
    s.setNoDelay(true);
    applyKeepalive(s, ctx.keepaliveMs);
  });
  upReq.on('timeout', () => {
    if (!settled) upReq.destroy(new Error(`dial tcp ${url.host}: i/o timeout`));
  });
  upReq.on('error', (err) => fail(`error dialing backend: ${describeUpstreamError(err)}`));

  upReq.on('upgrade', (res: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    if (settled) {
      upSocket.destroy();
      return;
    }
    settled = true;
    stopEarly();
    upSocket.setTimeout(0);
    upReq.setTimeout(0);
    client.write(headBlock(`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`, res.rawHeaders));
    if (upHead.length > 0) client.write(upHead);
    if (head.length > 0) upSocket.write(head);
    for (const chunk of early) upSocket.write(chunk);
    splice(client, upSocket);
  });

  upReq.on('response', (res: IncomingMessage) => {
    if (settled) {
      res.destroy();
      return;
    }
    const status = res.statusCode ?? 0;
    // As for ordinary requests: a refused credential kproxy supplied is obtained afresh.
    if (status === 401 && supplied) ctx.credentials.rejected(supplied.used);
    if (status < 400) {
      res.resume();
      fail(`invalid upgrade response: status code ${status}`);
      return;
    }
    // An error answer is relayed with its body, close-delimited, then both sides are closed.
    settled = true;
    stopEarly();
    client.write(headBlock(`HTTP/1.1 ${status} ${res.statusMessage}`, res.rawHeaders, true));
    res.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) res.pause();
    });
    client.on('drain', () => res.resume());
    res.on('end', () => client.end());
    res.on('error', () => client.destroy());
  });

  upReq.end();
}

/** Both directions with backpressure and half-close; either side closing closes the other. */
function splice(client: Duplex, upstream: Socket): void {
  client.pipe(upstream);
  upstream.pipe(client);
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('close', closeBoth);
  upstream.on('close', closeBoth);
  client.on('error', closeBoth);
  upstream.on('error', closeBoth);
}
