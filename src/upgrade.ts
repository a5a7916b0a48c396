// Upgrade requests (exec, attach, port-forward over WebSocket or SPDY, and any other
// `Upgrade:`): after the same router and filter as every request, they get a dedicated
// HTTP/1.1 connection to the API server. Bytes are spliced only after a 101 from upstream
// (CVE-2018-1002105); an error answer is relayed and the connection closed, so kubectl's
// WebSocket-then-SPDY fallback sees it.
//
// The steps, each a named function below: outgoing headers and credentials (outgoing.ts) →
// sendUpgrade (dial, hold the client's early bytes) → on101 (relay the head, splice) or
// onRefused (relay the error, or 500 for anything else).

import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { answerOnSocket, errorAnswer } from './answers.js';
import type { CredentialError } from './auth/credentials.js';
import { DIAL_TIMEOUT_MS } from './dial.js';
import { describeUpstreamError } from './errors.js';
import * as log from './log.js';
import { outgoingHeaders, withCredentials, type UpstreamRequestContext } from './outgoing.js';

/** Go's net.Dialer default keep-alive period, which kubectl's `--keepalive=0` means. */
export const DEFAULT_KEEPALIVE_MS = 15_000;
/** Client bytes read (and kept for after a 101) while the upstream has not answered yet. */
const EARLY_LIMIT = 64 * 1024;

export interface UpgradeContext extends UpstreamRequestContext {
  /** --keepalive: 0 means DEFAULT_KEEPALIVE_MS, negative disables it. */
  keepaliveMs: number;
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

export function upgrade(req: IncomingMessage, client: Duplex, head: Buffer, target: string, ctx: UpgradeContext): void {
  const out = outgoingHeaders({ method: req.method!, rawHeaders: req.rawHeaders, remoteAddress: req.socket.remoteAddress }, ctx, { upgrade: true });
  withCredentials(
    ctx,
    out,
    (auth) => sendUpgrade(req, client, head, target, ctx, out.headers, out.needsAuth ? { used: auth } : undefined),
    (err) => {
      log.error(`Proxy upgrade error: ${err.message}`);
      answerOnSocket(client, errorAnswer(err.message, (err as CredentialError).status ?? 500));
    },
  );
}

/** One upgrade exchange: the upstream request, the client held meanwhile, and how it ends. */
interface Exchange {
  client: Duplex;
  upReq: ClientRequest;
  /** The upstream answered (or the exchange failed); nothing else may act on it. */
  settled: boolean;
  /** Client bytes that arrived before the upstream answered. */
  early: Buffer[];
  /** Stops holding the client's early bytes; the client stays paused for the next step. */
  stopEarly(): void;
  /** Answers the client with `status` (500) naming `message` and drops the upstream request. */
  fail(message: string, status?: number): void;
}

function sendUpgrade(
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
  const keepAliveMs = ctx.keepaliveMs === 0 ? DEFAULT_KEEPALIVE_MS : ctx.keepaliveMs;
  const options: RequestOptions = {
    method: req.method,
    path: target,
    headers,
    setHost: false,
    timeout: DIAL_TIMEOUT_MS,
    // The upstream's own dial: through the same proxy as ordinary requests (kubectl skips it
    // here, kubernetes#120318), with the current TLS options, an exec plugin's certificate too,
    // and the --keepalive period on the raw socket.
    createConnection: (_o, cb) => {
      up.connect(keepAliveMs).then(
        (s) => cb(null, s as Socket),
        (err: Error) => cb(err, undefined as unknown as Socket),
      );
      return undefined;
    },
  };
  const x = holdClient(client, httpRequest(options));
  const upReq = x.upReq;
  upReq.on('socket', (s: Socket) => s.setNoDelay(true));
  upReq.on('timeout', () => {
    if (!x.settled) upReq.destroy(new Error(`dial tcp ${new URL(up.origin).host}: i/o timeout`));
  });
  upReq.on('error', (err) => x.fail(`error dialing backend: ${describeUpstreamError(err)}`));
  upReq.on('upgrade', (res: IncomingMessage, upSocket: Socket, upHead: Buffer) => on101(x, res, upSocket, upHead, head, proto));
  upReq.on('response', (res: IncomingMessage) => {
    // As for ordinary requests: a refused credential kproxy supplied is obtained afresh.
    if (res.statusCode === 401 && supplied) ctx.credentials.rejected(supplied.used);
    onRefused(x, res);
  });
  upReq.end();
}

/**
 * Until the upstream answers, the client is read too: the listener keeps half-open sockets, so
 * without reading, a client that has gone (FIN) would go unseen and the upstream request would
 * wait for the idle timeout. Bytes it sends early are kept for after a 101.
 */
function holdClient(client: Duplex, upReq: ClientRequest): Exchange {
  let earlyBytes = 0;
  const x: Exchange = {
    client,
    upReq,
    settled: false,
    early: [],
    stopEarly() {
      client.off('data', onEarlyData);
      client.off('end', onEarlyEnd);
      client.pause();
    },
    fail(message, status = 500) {
      if (x.settled) return;
      x.settled = true;
      x.stopEarly();
      log.error(`Proxy upgrade error: ${message}`);
      answerOnSocket(client, errorAnswer(message, status));
      upReq.destroy();
    },
  };
  const onEarlyData = (chunk: Buffer) => {
    x.early.push(chunk);
    earlyBytes += chunk.length;
    if (earlyBytes >= EARLY_LIMIT) client.pause();
  };
  const onEarlyEnd = () => {
    if (x.settled) return;
    x.settled = true;
    upReq.destroy();
    client.destroy();
  };
  client.on('data', onEarlyData);
  client.on('end', onEarlyEnd);
  client.on('error', () => upReq.destroy());
  client.on('close', () => {
    if (!x.settled) {
      x.settled = true;
      upReq.destroy();
    }
  });
  return x;
}

/** Whether the protocol a 101 switched to is one the client offered (Go's ReverseProxy check). */
export function offeredProtocol(offered: string | undefined, chosen: string | undefined): boolean {
  if (offered === undefined || chosen === undefined) return false;
  const want = chosen.trim().toLowerCase();
  return offered.split(',').some((p) => p.trim().toLowerCase() === want);
}

/** The upstream switched protocols: relay its head, then the held bytes, then splice. */
function on101(x: Exchange, res: IncomingMessage, upSocket: Socket, upHead: Buffer, clientHead: Buffer, offered: string | undefined): void {
  if (x.settled) {
    upSocket.destroy();
    return;
  }
  const chosen = res.headers.upgrade;
  if (!offeredProtocol(offered, chosen)) {
    // A client that asked for one protocol must not be handed a connection speaking another.
    upSocket.destroy();
    x.fail(`backend tried to switch protocol ${JSON.stringify(chosen ?? '')} when ${JSON.stringify(offered ?? '')} was requested`, 502);
    return;
  }
  x.settled = true;
  x.stopEarly();
  upSocket.setTimeout(0);
  x.upReq.setTimeout(0);
  x.client.write(headBlock(`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`, res.rawHeaders));
  if (upHead.length > 0) x.client.write(upHead);
  if (clientHead.length > 0) upSocket.write(clientHead);
  for (const chunk of x.early) upSocket.write(chunk);
  splice(x.client, upSocket);
}

/** Anything but a 101: an error answer is relayed with its body and closed; others are a 500. */
function onRefused(x: Exchange, res: IncomingMessage): void {
  if (x.settled) {
    res.destroy();
    return;
  }
  const status = res.statusCode ?? 0;
  if (status < 400) {
    res.resume();
    x.fail(`invalid upgrade response: status code ${status}`);
    return;
  }
  const client = x.client;
  x.settled = true;
  x.stopEarly();
  client.write(headBlock(`HTTP/1.1 ${status} ${res.statusMessage}`, res.rawHeaders, true));
  res.on('data', (chunk: Buffer) => {
    if (!client.write(chunk)) res.pause();
  });
  client.on('drain', () => res.resume());
  res.on('end', () => client.end());
  res.on('error', () => client.destroy());
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
