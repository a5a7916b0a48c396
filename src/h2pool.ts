// HTTP/2 connections to the API server, shared by every request as client-go's transport shares
// them: a request takes a stream on the first connection with room under the server's
// SETTINGS_MAX_CONCURRENT_STREAMS, and a new connection is dialled only when all are full. A
// GOAWAY stops new streams on that connection while those in flight finish; a connection that
// reads nothing for `readIdleMs` is sent a PING and torn down when no answer comes within
// `pingTimeoutMs` (Go's ReadIdleTimeout / PingTimeout), so a dropped network ends watches with an
// error instead of leaving them open for good. A server whose TLS handshake picks HTTP/1.1 sends
// this pool's requests to the HTTP/1.1 dispatcher from then on.
//
// node:http2 does the protocol; this module only decides which connection a request goes on.
// It is a RequestDispatcher (dispatcher.ts), as undici's Pool is, so forward.ts takes either.

import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { RequestDispatcher, RequestOptions, ResponseHandler } from './dispatcher.js';
import { flatHeaders, h2RequestHeaders, rstName } from './h2rules.js';

export interface H2PoolOptions {
  /** `https://host:port`: the :scheme and :authority of every request. */
  origin: string;
  /** A connected TLS socket that offered ALPN h2 and http/1.1 (directly or through a proxy). */
  connect(): Promise<Duplex>;
  /**
   * The server picked HTTP/1.1: the socket it did so on, for the HTTP/1.1 pool to use, and the
   * pool every request goes to from now on.
   */
  http1(socket: Duplex | undefined): RequestDispatcher;
  /** Go's ReadIdleTimeout: PING a connection that read nothing for this long; 0 = never. */
  readIdleMs: number;
  /** Go's PingTimeout: close the connection when the PING is not answered within this. */
  pingTimeoutMs: number;
  /** Close a connection that has carried no stream for this long. */
  idleMs: number;
  /** Log hook for connection-level events (verbosity decided by the caller). */
  onEvent?(what: string): void;
}

/** Go's http.Transport IdleConnTimeout as client-go sets it. */
export const H2_IDLE_MS = 90_000;
/** Go's http2 transport: the stream limit assumed when the server's SETTINGS name none. */
const DEFAULT_MAX_STREAMS = 1000;
/** Per-stream and per-connection receive windows (Go's transport uses 4 MiB and 1 GiB). */
const STREAM_WINDOW = 4 * 1024 * 1024;
const CONNECTION_WINDOW = 64 * 1024 * 1024;
const NGHTTP2_REFUSED_STREAM = 7;
const NGHTTP2_CANCEL = 8;

/** The connection died under a request: Go's `http2: client connection lost`. */
export class ConnectionLostError extends Error {
  readonly code = 'KPROXY_H2_CONNECTION_LOST';
  constructor() {
    super('http2: client connection lost');
  }
}

let http2Module: typeof import('node:http2') | undefined;
/** node:http2, loaded on first use (or by `warm()` after the start-up line). */
export function http2(): typeof import('node:http2') {
  return (http2Module ??= process.getBuiltinModule('node:http2') as typeof import('node:http2'));
}

class Conn {
  active = 0;
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS; 0 until its SETTINGS frame arrived. */
  maxStreams = 0;
  /** No new streams: GOAWAY received, closing, or closed. */
  draining = false;
  lastBytes = 0;
  lastReadAt = performance.now();
  pingTimer: NodeJS.Timeout | undefined;
  healthTimer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  constructor(
    readonly session: ClientHttp2Session,
    readonly socket: Duplex,
  ) {}
  get room(): number {
    return this.draining ? 0 : this.maxStreams - this.active;
  }
}

class Request {
  stream: ClientHttp2Stream | undefined;
  /** Ended: completed, failed or aborted; nothing more reaches the handler. */
  done = false;
  responded = false;
  retried = false;
  error: Error | undefined;
  trailers: string[] | null = null;
  constructor(
    readonly opts: RequestOptions,
    readonly handler: ResponseHandler,
  ) {}
}

export class H2Pool implements RequestDispatcher {
  private readonly conns: Conn[] = [];
  private readonly queue: Request[] = [];
  private dialing = 0;
  /** The stream limit the server announced last: how many requests a new connection will take. */
  private knownMaxStreams = 0;
  private fallback: RequestDispatcher | undefined;
  private closing = false;
  private destroyed = false;
  private drained: (() => void) | undefined;

  constructor(private readonly opts: H2PoolOptions) {}

  /** Connections open now (metrics). */
  get connectionCount(): number { return this.conns.length; }

  dispatch(opts: RequestOptions, handler: ResponseHandler): boolean {
    if (this.fallback) return this.fallback.dispatch(opts, handler);
    const r = new Request(opts, handler);
    handler.onConnect((err) => this.abort(r, err));
    if (r.done) return true;
    if (this.destroyed) {
      this.fail(r, new Error('the connection pool is closed'));
      return true;
    }
    this.queue.push(r);
    this.pump();
    return true;
  }

  /** No new requests; resolves once those in flight or queued are done and every connection is closed. */
  close(): Promise<void> {
    this.closing = true;
    const done = new Promise<void>((resolve) => (this.drained = resolve));
    this.pump();
    return done;
  }

  /** Fails what is queued and tears every connection down. */
  async destroy(): Promise<void> {
    this.destroyed = this.closing = true;
    for (const r of this.queue.splice(0)) this.fail(r, new Error('the connection pool is closed'));
    const closed = this.conns.map((c) => new Promise<void>((resolve) => c.session.once('close', () => resolve())));
    for (const c of this.conns) {
      c.draining = true;
      c.session.destroy();
    }
    await Promise.all(closed);
    this.drained?.();
  }

  private abort(r: Request, err: Error | undefined): void {
    if (r.done) return;
    r.done = true;
    if (r.stream) {
      // A stream reset, not a connection: the others on it carry on.
      if (!r.stream.destroyed) r.stream.close(NGHTTP2_CANCEL);
    } else {
      const i = this.queue.indexOf(r);
      if (i >= 0) this.queue.splice(i, 1);
    }
    r.handler.onError(err ?? new Error('request aborted'));
  }

  private fail(r: Request, err: Error): void {
    if (r.done) return;
    r.done = true;
    r.handler.onError(err);
  }

  /** Puts queued requests on connections with room, and dials when none has any. */
  private pump(): void {
    while (this.queue.length > 0) {
      if (this.fallback) {
        for (const r of this.queue.splice(0)) this.fallback.dispatch(r.opts, r.handler);
        return;
      }
      // The oldest connection with room first, so that younger ones empty and can close.
      let conn: Conn | undefined;
      for (const c of this.conns) {
        if (c.room > 0) {
          conn = c;
          break;
        }
      }
      if (!conn) break;
      this.start(conn, this.queue.shift()!);
    }
    if (this.queue.length > 0 && !this.destroyed) {
      // Until a server's SETTINGS said how many streams a connection takes, one dial at a time;
      // after that, as many as the queue fills.
      const settling = this.conns.some((c) => c.maxStreams === 0 && !c.draining);
      const want = this.knownMaxStreams > 0 ? Math.ceil(this.queue.length / this.knownMaxStreams) : settling ? 0 : 1;
      for (let i = this.dialing; i < want; i++) this.dial();
    }
    if (this.closing && this.queue.length === 0) {
      for (const c of this.conns) if (c.active === 0) this.retire(c);
      if (this.conns.length === 0 && this.dialing === 0) this.drained?.();
    }
  }

  private dial(): void {
    this.dialing++;
    this.opts.connect().then(
      (socket) => {
        this.dialing--;
        if (this.destroyed) {
          socket.destroy();
          return;
        }
        if ((socket as TLSSocket).alpnProtocol !== 'h2') {
          this.opts.onEvent?.(`the API server at ${this.opts.origin} does not offer HTTP/2: using HTTP/1.1`);
          this.fallback = this.opts.http1(socket);
        } else {
          this.open(socket);
        }
        this.pump();
      },
      (err: Error) => {
        this.dialing--;
        // A failed dial fails the requests waiting for it, as Go's transport does, unless
        // another connection can still take them.
        if (this.dialing === 0 && !this.conns.some((c) => !c.draining)) {
          for (const r of this.queue.splice(0)) this.fail(r, err);
        }
        this.pump();
      },
    );
  }

  private open(socket: Duplex): void {
    const session = http2().connect(this.opts.origin, {
      createConnection: () => socket,
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
      // nghttp2's bookkeeping for many streams with queued frames; the default (10 MB) makes
      // a busy session fail with ENHANCE_YOUR_CALM.
      maxSessionMemory: 64,
    });
    const conn = new Conn(session, socket);
    this.conns.push(conn);
    session.once('connect', () => {
      try {
        session.setLocalWindowSize(CONNECTION_WINDOW);
      } catch {
        // closed meanwhile
      }
    });
    session.on('remoteSettings', (settings) => {
      const n = settings.maxConcurrentStreams;
      conn.maxStreams = n === undefined || n >= 2 ** 32 - 1 ? DEFAULT_MAX_STREAMS : Math.max(n, 0);
      this.knownMaxStreams = Math.max(1, conn.maxStreams);
      this.pump();
      if (conn.active === 0) this.idle(conn);
    });
    session.on('goaway', (code: number) => {
      // Streams in flight finish (node:http2 closes the session gracefully after them); new
      // requests go to another connection.
      this.opts.onEvent?.(`GOAWAY (${rstName(code)}) from ${this.opts.origin}: new requests go to a new connection`);
      if (code !== 0) finishAfterGoaway(session);
      this.retire(conn);
      this.pump();
    });
    let failure: Error | undefined;
    session.on('error', (err: Error) => {
      // Each stream reports it; the session closes.
      failure = err;
    });
    session.once('close', () => {
      conn.draining = true;
      clearTimeout(conn.pingTimer);
      clearInterval(conn.healthTimer);
      clearTimeout(conn.idleTimer);
      const i = this.conns.indexOf(conn);
      if (i >= 0) this.conns.splice(i, 1);
      // Gone before its SETTINGS: the requests waiting for it fail, as for a failed dial, rather
      // than dialling again and again.
      if (conn.maxStreams === 0 && this.dialing === 0 && !this.conns.some((c) => !c.draining)) {
        for (const r of this.queue.splice(0)) this.fail(r, failure ?? new Error('unexpected EOF'));
      }
      this.pump();
    });
    if (this.opts.readIdleMs > 0) this.watchHealth(conn);
  }

  /**
   * Go resets a timer on every frame read; reading socket.bytesRead a few times per period costs
   * nothing per frame. The PING goes out between readIdleMs and 1.25 x readIdleMs after the last read.
   */
  private watchHealth(conn: Conn): void {
    const period = this.opts.readIdleMs;
    conn.healthTimer = setInterval(
      () => {
        const bytes = (conn.socket as Partial<TLSSocket>).bytesRead ?? 0;
        const now = performance.now();
        if (bytes !== conn.lastBytes) {
          conn.lastBytes = bytes;
          conn.lastReadAt = now;
          return;
        }
        // Destroyed: its 'close' event, which stops this timer, may not have come yet.
        if (conn.pingTimer || now - conn.lastReadAt < period || conn.session.destroyed) return;
        conn.pingTimer = setTimeout(() => {
          this.opts.onEvent?.(`no PING answer from ${this.opts.origin} within ${this.opts.pingTimeoutMs} ms: closing the connection`);
          conn.draining = true;
          conn.session.destroy(new ConnectionLostError());
        }, this.opts.pingTimeoutMs);
        conn.pingTimer.unref();
        const sent = conn.session.ping((err) => {
          clearTimeout(conn.pingTimer);
          conn.pingTimer = undefined;
          if (!err) conn.lastReadAt = performance.now();
        });
        if (!sent) {
          clearTimeout(conn.pingTimer);
          conn.pingTimer = undefined;
        }
      },
      Math.max(1, Math.floor(period / 4)),
    );
    conn.healthTimer.unref();
  }

  /** A connection without streams: closed at once when another has room, else after idleMs. */
  private idle(conn: Conn): void {
    if (conn.draining || conn.maxStreams === 0) return;
    if (this.closing || this.conns.some((c) => c !== conn && c.room > 0)) {
      this.retire(conn);
      return;
    }
    clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => {
      if (conn.active === 0) this.retire(conn);
    }, this.opts.idleMs);
    conn.idleTimer.unref();
  }

  /** No new streams on `conn`; once it carries none, it is closed. */
  private retire(conn: Conn): void {
    conn.draining = true;
    clearTimeout(conn.idleTimer);
    if (conn.active > 0) return;
    if (!conn.session.closed) conn.session.close();
    // Nothing is left on it. node:http2 can leave a session whose server sent GOAWAY with an
    // error destroyed but never closed, the connection open at both ends (seen after storms of
    // dropped watches): the socket goes too.
    setImmediate(() => conn.socket.destroy());
  }

  private start(conn: Conn, r: Request): void {
    conn.active++;
    clearTimeout(conn.idleTimer);
    const { opts, handler } = r;
    let stream: ClientHttp2Stream;
    try {
      stream = conn.session.request(h2RequestHeaders(opts.method, opts.path, opts.headers), { endStream: opts.body === null });
    } catch (err) {
      conn.active--;
      if (conn.session.closed || conn.session.destroyed) {
        // Closed under us (a GOAWAY not yet seen): another connection takes it.
        conn.draining = true;
        this.queue.unshift(r);
      } else {
        this.fail(r, err as Error);
      }
      return;
    }
    r.stream = stream;
    stream.on('response', (headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
      if (r.done) return;
      r.responded = true;
      const resume = (): void => {
        if (!stream.destroyed) stream.resume();
      };
      const go = handler.onHeaders(Number(headers[':status']), flatHeaders(raw), resume, '');
      // node:http2 emits 'response' a tick late: reading starts only now, or body bytes could
      // overtake the headers.
      stream.on('data', (chunk: Buffer) => {
        if (!r.done && handler.onData(chunk) === false) stream.pause();
      });
      if (go === false) stream.pause();
    });
    stream.on('trailers', (_headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
      r.trailers = flatHeaders(raw);
    });
    stream.on('end', () => {
      // node:http2 also ends a stream that the connection's end cut short, with a reset code
      // set; 'close' reports that one as the error it is.
      if (r.done || stream.rstCode > 0) return;
      r.done = true;
      handler.onComplete(r.trailers);
    });
    stream.on('error', (err: Error) => {
      r.error ??= err;
    });
    stream.once('close', () => {
      conn.active--;
      if (!r.done) this.ended(r, stream);
      if (conn.active === 0) {
        if (conn.draining) this.retire(conn);
        else this.idle(conn);
      }
      this.pump();
    });
    if (opts.body) {
      const body = opts.body;
      body.pipe(stream);
      body.once('error', () => {
        if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
      });
    }
  }

  /** A stream closed before its response ended. */
  private ended(r: Request, stream: ClientHttp2Stream): void {
    // The server refused it unprocessed (a GOAWAY below its id, or REFUSED_STREAM): safe to
    // send again on another connection when there is no body to replay, as Go's transport does.
    const err = r.error as (Error & { code?: string }) | undefined;
    const refused = stream.rstCode === NGHTTP2_REFUSED_STREAM || err?.code === 'ERR_HTTP2_GOAWAY_SESSION';
    if (refused && !r.responded && !r.retried && r.opts.body === null) {
      r.retried = true;
      r.stream = undefined;
      r.error = undefined;
      this.queue.unshift(r);
      return;
    }
    r.done = true;
    if (err) r.handler.onError(err);
    // Go's transport: the connection ended under the stream (io.ErrUnexpectedEOF), or the server reset it.
    else if (stream.session?.destroyed !== false) r.handler.onError(new Error('unexpected EOF'));
    else r.handler.onError(new Error(`stream error: stream ID ${stream.id ?? '?'}; ${rstName(stream.rstCode)}; received from peer`));
  }
}

/**
 * After a GOAWAY with an error code node:http2 destroys the session at once, failing every
 * stream on it, also those the server has taken and goes on answering (an nghttp2 server sends
 * GOAWAY INTERNAL_ERROR when a client resets streams faster than 1,000 plus 33 a second, as
 * kproxy does when clients drop watches en masse). Go's transport lets those streams finish and
 * retries the ones the server refused; so does kproxy: the destroy that follows this event
 * becomes a graceful close. Streams the GOAWAY refused are retried (`ended`); the connection
 * still ends when the server closes it.
 */
function finishAfterGoaway(session: ClientHttp2Session): void {
  const own = session as unknown as { destroy?: (err?: Error, code?: number) => void };
  const destroy = session.destroy;
  own.destroy = (err, code) => {
    delete own.destroy;
    if ((err as (Error & { code?: string }) | undefined)?.code !== 'ERR_HTTP2_SESSION_ERROR') destroy.call(session, err, code);
    else if (!session.closed) session.close();
  };
  // Back to node's own if it did not call it (a later version that closes gracefully itself).
  setImmediate(() => delete own.destroy);
}
