// HTTP clients for tests. `request`/`openStream` use node:http with `agent: false` (one connection
// per request, so tests never share keep-alive state) and keep the request-target raw: a string
// URL is split by hand because WHATWG URL parsing would normalise `..`, `%2e` and `\`, which is
// exactly what filter tests need to send. `rawRequest` speaks bytes for what node:http refuses to
// send (absolute-form, HTTP/1.0 without Host, duplicate Host, `OPTIONS *`).

import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Readable } from 'node:stream';

export type Target =
  | string
  | {
      /** `http://host:port` or `https://host:port`; the path comes from `path`. */
      url?: string;
      host?: string;
      port?: number;
      socketPath?: string;
      /** Raw request-target, sent as is. */
      path: string;
      /** Host header when not given in `headers` (default: the URL authority, or `localhost`). */
      hostHeader?: string;
    };

export interface TlsClientOptions {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  rejectUnauthorized?: boolean;
  /** ALPN protocols to offer (node:https offers none by default). */
  alpn?: string[];
}

export interface RequestOptions {
  method?: string;
  /** An object, or a flat raw array `[name, value, name, value…]` to send duplicates or odd casing. */
  headers?: OutgoingHttpHeaders | string[];
  body?: Buffer | string | Readable;
  /** For https targets (direct calls to the fake upstream). */
  tls?: TlsClientOptions;
  /** Safety net against hangs; default 30 s. Not a timing assertion. */
  timeoutMs?: number;
  /** Resolve with `complete: false` instead of rejecting when the body is cut short. */
  allowIncomplete?: boolean;
}

export interface Response {
  status: number;
  statusMessage: string;
  httpVersion: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  trailers: NodeJS.Dict<string>;
  rawTrailers: string[];
  body: Buffer;
  /** False when the connection ended before the body did (only with `allowIncomplete`). */
  complete: boolean;
  error?: Error;
  text(): string;
  json<T = any>(): T;
}

const DEFAULT_TIMEOUT_MS = 30_000;

interface Resolved {
  secure: boolean;
  options: http.RequestOptions & https.RequestOptions;
}

function resolveTarget(target: Target, opts: RequestOptions): Resolved {
  let secure = false;
  let host: string | undefined;
  let port: number | undefined;
  let socketPath: string | undefined;
  let path: string;
  let authority: string;

  const fromUrl = (url: string, rawPath?: string): void => {
    const m = /^(https?):\/\/([^/?#]+)(.*)$/i.exec(url);
    if (!m) throw new Error(`request: not an http(s) URL: ${url}`);
    secure = m[1]!.toLowerCase() === 'https';
    authority = m[2]!;
    const hp = /^\[([^\]]+)\](?::(\d+))?$/.exec(authority) ?? /^([^:]+)(?::(\d+))?$/.exec(authority);
    if (!hp) throw new Error(`request: bad authority in ${url}`);
    host = hp[1];
    port = hp[2] ? Number(hp[2]) : secure ? 443 : 80;
    path = rawPath ?? (m[3] || '/');
  };

  if (typeof target === 'string') {
    fromUrl(target);
  } else if (target.url !== undefined) {
    fromUrl(target.url, target.path);
  } else {
    host = target.host;
    port = target.port;
    socketPath = target.socketPath;
    path = target.path;
    authority = target.host !== undefined ? (target.host.includes(':') ? `[${target.host}]` : target.host) + (target.port ? `:${target.port}` : '') : 'localhost';
  }
  if (typeof target !== 'string' && target.hostHeader !== undefined) authority = target.hostHeader;

  let headers: OutgoingHttpHeaders | string[] = opts.headers ?? {};
  const body = opts.body;
  const fixedLength = typeof body === 'string' ? Buffer.byteLength(body) : Buffer.isBuffer(body) ? body.length : undefined;
  if (Array.isArray(headers)) {
    // node:http adds neither Host nor a body framing header when given a raw array.
    const names = headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    const extra: string[] = [];
    if (!names.includes('host')) extra.push('Host', authority!);
    if (body !== undefined && !names.includes('content-length') && !names.includes('transfer-encoding')) {
      if (fixedLength !== undefined) extra.push('Content-Length', String(fixedLength));
      else extra.push('Transfer-Encoding', 'chunked');
    }
    headers = [...extra, ...headers];
  } else {
    const has = (n: string): boolean => Object.keys(headers).some((k) => k.toLowerCase() === n);
    if (!has('host')) headers = { Host: authority!, ...headers };
  }

  const options: http.RequestOptions & https.RequestOptions = {
    method: opts.method ?? 'GET',
    path: path!,
    headers,
    agent: false,
    ...(socketPath !== undefined ? { socketPath } : { host, port }),
  };
  if (secure) {
    const t = opts.tls ?? {};
    Object.assign(options, {
      ca: t.ca,
      cert: t.cert,
      key: t.key,
      servername: t.servername,
      rejectUnauthorized: t.rejectUnauthorized ?? true,
      ALPNProtocols: t.alpn,
    });
  }
  return { secure, options };
}

function send(target: Target, opts: RequestOptions, onResponse: (res: IncomingMessage) => void, onError: (err: Error) => void): http.ClientRequest {
  const { secure, options } = resolveTarget(target, opts);
  const req = (secure ? https : http).request(options, onResponse);
  req.on('error', onError);
  const body = opts.body;
  if (body instanceof Readable) {
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  } else if (body !== undefined) {
    req.end(body);
  } else {
    req.end();
  }
  return req;
}

function describe(target: Target): string {
  return typeof target === 'string' ? target : `${target.url ?? target.socketPath ?? `${target.host}:${target.port}`} ${target.path}`;
}

/** One request on a fresh connection; resolves once the whole body has arrived. */
export function request(target: Target, opts: RequestOptions = {}): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let res: IncomingMessage | undefined;
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!res) {
        const e = new Error(`request ${describe(target)}: ${error?.message ?? 'no response'}`, { cause: error });
        return reject(Object.assign(e, { code: (error as NodeJS.ErrnoException | undefined)?.code }));
      }
      const body = Buffer.concat(chunks);
      const complete = error === undefined && res.complete;
      if (!complete && !opts.allowIncomplete) {
        req.destroy();
        return reject(
          Object.assign(new Error(`request ${describe(target)}: body incomplete after ${body.length} bytes (status ${res.statusCode}): ${error?.message ?? 'connection closed'}`), {
            body,
            status: res.statusCode,
          }),
        );
      }
      const r: Response = {
        status: res.statusCode ?? 0,
        statusMessage: res.statusMessage ?? '',
        httpVersion: res.httpVersion,
        headers: res.headers,
        rawHeaders: res.rawHeaders,
        trailers: res.trailers,
        rawTrailers: res.rawTrailers,
        body,
        complete,
        text: () => body.toString('utf8'),
        json: () => JSON.parse(body.toString('utf8')),
      };
      if (error) r.error = error;
      resolve(r);
    };
    const timer = setTimeout(() => {
      finish(new Error(`no complete response within ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`));
      req.destroy();
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    timer.unref();
    const req = send(
      target,
      opts,
      (r) => {
        res = r;
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => finish());
        r.on('error', (err) => finish(err));
        // 'close' without 'end' is how node:http reports a body cut short.
        r.on('close', () => finish(r.complete ? undefined : new Error('aborted')));
      },
      (err) => finish(err),
    );
  });
}

export interface StreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  res: IncomingMessage;
  /** Everything received so far. */
  received(): Buffer;
  /** Resolves as soon as the received bytes contain `pattern` (or satisfy it). */
  waitFor(pattern: string | RegExp | ((soFar: Buffer) => boolean), timeoutMs?: number): Promise<Buffer>;
  /** True once the body has ended or the connection closed. */
  readonly done: boolean;
  /** Settles when the response ends: `complete` is false if it was cut or closed by us. */
  ended: Promise<{ complete: boolean; body: Buffer; error?: Error }>;
  /** Destroys the connection (the client going away). Idempotent. */
  close(): void;
}

/** Resolves as soon as the response headers arrive, so a test can observe a body as it streams. */
export function openStream(target: Target, opts: RequestOptions = {}): Promise<StreamResponse> {
  return new Promise<StreamResponse>((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const headerTimer = setTimeout(() => {
      req.destroy(new Error(`openStream ${describe(target)}: no response headers within ${timeoutMs} ms`));
    }, timeoutMs);
    headerTimer.unref();
    const req = send(
      target,
      opts,
      (res) => {
        clearTimeout(headerTimer);
        const chunks: Buffer[] = [];
        let size = 0;
        let done = false;
        const waiters = new Set<() => void>();
        const soFar = (): Buffer => {
          if (chunks.length > 1) chunks.splice(0, chunks.length, Buffer.concat(chunks, size));
          return chunks[0] ?? Buffer.alloc(0);
        };
        let endResolve!: (v: { complete: boolean; body: Buffer; error?: Error }) => void;
        const ended = new Promise<{ complete: boolean; body: Buffer; error?: Error }>((r) => (endResolve = r));
        const end = (error?: Error): void => {
          if (done) return;
          done = true;
          const out: { complete: boolean; body: Buffer; error?: Error } = { complete: res.complete && !error, body: soFar() };
          if (error) out.error = error;
          endResolve(out);
          for (const w of waiters) w();
        };
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          size += c.length;
          for (const w of waiters) w();
        });
        res.on('end', () => end());
        res.on('error', (err) => end(err));
        res.on('close', () => end(res.complete ? undefined : new Error('aborted')));
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          res,
          received: soFar,
          get done() {
            return done;
          },
          ended,
          close: () => {
            req.destroy();
            res.destroy();
          },
          waitFor(pattern, waitMs = DEFAULT_TIMEOUT_MS) {
            const test = (b: Buffer): boolean =>
              typeof pattern === 'string' ? b.includes(pattern) : pattern instanceof RegExp ? pattern.test(b.toString('utf8')) : pattern(b);
            return new Promise<Buffer>((ok, fail) => {
              const check = (): void => {
                const b = soFar();
                if (test(b)) {
                  cleanup();
                  ok(b);
                } else if (done) {
                  cleanup();
                  fail(new Error(`openStream: stream ended before ${String(pattern)} arrived; got ${JSON.stringify(b.toString('utf8').slice(-500))}`));
                }
              };
              const timer = setTimeout(() => {
                cleanup();
                fail(new Error(`openStream: ${String(pattern)} not received within ${waitMs} ms; got ${JSON.stringify(soFar().toString('utf8').slice(-500))}`));
              }, waitMs);
              timer.unref();
              const cleanup = (): void => {
                clearTimeout(timer);
                waiters.delete(check);
              };
              waiters.add(check);
              check();
            });
          },
        });
      },
      (err) => {
        clearTimeout(headerTimer);
        reject(err);
      },
    );
  });
}

// ---- raw bytes ----------------------------------------------------------------------------

export interface ParsedResponse {
  httpVersion: string;
  status: number;
  reason: string;
  /** Header lines in order, name casing as received. */
  headers: Array<[string, string]>;
  /** Lower-case name → values. */
  headerMap: Record<string, string[]>;
  /** De-chunked body. */
  body: Buffer;
  trailers: Array<[string, string]>;
  /** 1xx responses (other than 101) seen before this one. */
  informational: ParsedResponse[];
  /** True when framing says the response is whole; false means "read until close". */
  complete: boolean;
  /** Bytes of `buf` this response (and its 1xx predecessors) used. */
  consumed: number;
}

function parseHeaderBlock(text: string): Array<[string, string]> {
  return text
    .split('\r\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const c = l.indexOf(':');
      return c < 0 ? ([l, ''] as [string, string]) : ([l.slice(0, c), l.slice(c + 1).trim()] as [string, string]);
    });
}

/**
 * Parses one HTTP/1.x response from `buf`. Returns undefined while the head is incomplete.
 * `method` matters only for HEAD (no body whatever the headers say).
 */
export function parseRawResponse(buf: Buffer, method = 'GET'): ParsedResponse | undefined {
  const informational: ParsedResponse[] = [];
  let base = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', base);
    if (headEnd < 0) return undefined;
    const head = buf.subarray(base, headEnd).toString('latin1');
    const nl = head.indexOf('\r\n');
    const statusLine = nl < 0 ? head : head.slice(0, nl);
    const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
    if (!m) throw new Error(`parseRawResponse: bad status line ${JSON.stringify(statusLine)}`);
    const headers = parseHeaderBlock(nl < 0 ? '' : head.slice(nl + 2));
    const headerMap: Record<string, string[]> = {};
    for (const [k, v] of headers) (headerMap[k.toLowerCase()] ??= []).push(v);
    const status = Number(m[2]);
    const bodyStart = headEnd + 4;
    const result: ParsedResponse = {
      httpVersion: m[1]!,
      status,
      reason: m[3] ?? '',
      headers,
      headerMap,
      body: Buffer.alloc(0),
      trailers: [],
      informational,
      complete: false,
      consumed: bodyStart,
    };
    if (status >= 100 && status < 200 && status !== 101) {
      informational.push({ ...result, informational: [], complete: true });
      base = bodyStart;
      continue;
    }
    if (status === 101 || status === 204 || status === 304 || method.toUpperCase() === 'HEAD') {
      result.complete = true;
      return result;
    }
    const te = (headerMap['transfer-encoding'] ?? []).join(',').toLowerCase();
    if (te.includes('chunked')) {
      const parts: Buffer[] = [];
      let pos = bodyStart;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', pos);
        if (lineEnd < 0) break;
        const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1').split(';')[0]!.trim(), 16);
        if (Number.isNaN(size)) throw new Error('parseRawResponse: bad chunk size');
        if (size === 0) {
          const trailerEnd = buf.indexOf('\r\n', lineEnd + 2) === lineEnd + 2 ? lineEnd + 2 : buf.indexOf('\r\n\r\n', lineEnd + 2);
          if (trailerEnd < 0) break;
          if (trailerEnd > lineEnd + 2) result.trailers = parseHeaderBlock(buf.subarray(lineEnd + 2, trailerEnd).toString('latin1'));
          result.complete = true;
          result.consumed = trailerEnd + (trailerEnd === lineEnd + 2 ? 2 : 4);
          break;
        }
        if (buf.length < lineEnd + 2 + size + 2) {
          parts.push(buf.subarray(lineEnd + 2, Math.min(buf.length, lineEnd + 2 + size)));
          break;
        }
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        pos = lineEnd + 2 + size + 2;
      }
      result.body = Buffer.concat(parts);
      if (!result.complete) result.consumed = buf.length;
      return result;
    }
    const cl = headerMap['content-length'];
    if (cl !== undefined) {
      const len = Number(cl[0]);
      result.body = buf.subarray(bodyStart, Math.min(buf.length, bodyStart + len));
      result.complete = buf.length >= bodyStart + len;
      result.consumed = Math.min(buf.length, bodyStart + len);
      return result;
    }
    result.body = buf.subarray(bodyStart);
    result.consumed = buf.length;
    return result;
  }
}

export interface RawOptions {
  /** Safety net against hangs; default 30 s. */
  timeoutMs?: number;
  /** Ignore framing and read until the server closes (for pipelined requests). */
  untilClose?: boolean;
}

function rawExchange(connect: net.NetConnectOpts, label: string, bytes: string | Buffer, opts: RawOptions): Promise<Buffer> {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  const method = /^([A-Za-z]+) /.exec(data.subarray(0, 16).toString('latin1'))?.[1] ?? 'GET';
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const sock = net.connect(connect);
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const got = Buffer.concat(chunks);
      // A reset after a response (Node answers 400 and destroys) still delivered the response.
      if (err && got.length === 0) reject(err);
      else resolve(got);
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      sock.destroy();
      const got = Buffer.concat(chunks).toString('latin1');
      reject(new Error(`rawRequest ${label}: no full response within ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms; got ${JSON.stringify(got.slice(0, 2000))}`));
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    timer.unref();
    sock.on('connect', () => sock.write(data));
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      if (opts.untilClose) return;
      try {
        if (parseRawResponse(Buffer.concat(chunks), method)?.complete) done();
      } catch (err) {
        done(err as Error);
      }
    });
    sock.on('end', () => done());
    sock.on('close', () => done());
    sock.on('error', (err) => done(err));
  });
}

/** Writes `bytes` on a fresh TCP connection; returns what came back until one full response or close. */
export function rawRequest(host: string, port: number, bytes: string | Buffer, opts: RawOptions = {}): Promise<Buffer> {
  return rawExchange({ host, port }, `${host}:${port}`, bytes, opts);
}

/** `rawRequest` over a unix socket. */
export function rawRequestUnix(socketPath: string, bytes: string | Buffer, opts: RawOptions = {}): Promise<Buffer> {
  return rawExchange({ path: socketPath }, socketPath, bytes, opts);
}
