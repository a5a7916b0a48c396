// A fake Kubernetes API server for conformance and proxy tests. It records exactly what arrived
// (raw target, raw headers, TLS identity, body hash) so a test can compare kproxy with kubectl byte
// for byte, and it exposes its streaming routes to the test so streaming claims are proven by
// events rather than by sleeps.

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { gzipSync } from 'node:zlib';
import type { KeyPair, Pki } from './pki.js';
import { FakeServer, versionInfo } from './fake-server.js';
import { patternAt, pumpPattern } from './pattern.js';

export interface UpstreamOptions {
  pki: Pki;
  /** Valid bearer tokens. With `tokens` or `basic`, unauthenticated requests get 401. */
  tokens?: string[];
  basic?: Array<{ user: string; pass: string }>;
  /** Plain HTTP instead of HTTPS. */
  http?: boolean;
  /** Serve another certificate (for example `pki.wrongName`); default `pki.server`. */
  serverCert?: KeyPair;
}

export interface ClientCertInfo {
  cn: string | undefined;
  o: string | undefined;
  issuerCn: string | undefined;
  /** True when the certificate chains to `pki.ca` (Node's `socket.authorized`). */
  verified: boolean;
}

export interface RecordedRequest {
  /** Arrival order, from 1, never reused (survives `reset()`). */
  seq: number;
  method: string;
  /** `req.url` exactly as it arrived on the wire. */
  target: string;
  /** `target` up to the first `?`, still percent-encoded. */
  path: string;
  /** Raw query string without the `?` ('' if none). */
  query: string;
  httpVersion: string;
  rawHeaders: string[];
  headers: IncomingHttpHeaders;
  /** `cert:<CN>`, `bearer:<token>`, `basic:<user>` or `anonymous` (x509 first, as kube-apiserver). */
  identity: string;
  /** Every accepted credential presented, in the same order as for `identity`. */
  credentials: string[];
  clientCert: ClientCertInfo | undefined;
  /** TLS SNI the client sent (undefined for none or plain HTTP). */
  sni: string | undefined;
  /** Negotiated ALPN protocol, or undefined. */
  alpn: string | undefined;
  tls: boolean;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  bodyLength: number;
  bodySha256: string;
  /** False if the client went away before the body ended. */
  bodyComplete: boolean;
  /** The request came through the `upgrade` (or `connect`) event. */
  upgrade: boolean;
  /** `/gzip` only: whether the body was served gzip-encoded. */
  gzip?: boolean;
  /** The response was closed before it finished, by the client (or its proxy) going away. */
  aborted: boolean;
  /** The fixture cut the connection on purpose (`/die-mid-*`). */
  cut: boolean;
  /** Status code the fixture answered with (0 while undecided). */
  status: number;
}

export interface Upstream {
  /** `https://127.0.0.1:<port>` (or `http://`). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly requests: RecordedRequest[];
  /** Responses closed by the peer before they finished (see `RecordedRequest.aborted`). */
  readonly aborted: number;
  /** TLS handshakes that failed on the server side (for example the client refused our cert). */
  readonly tlsErrors: Error[];
  /** Emits 'request' (complete record), 'aborted', 'watch', 'log', 'upgrade' (each with the record). */
  readonly events: EventEmitter;
  /** Open `?watch` streams. */
  readonly watchers: number;
  /** Open `log?follow=true` streams. */
  readonly logFollowers: number;
  waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  waitForAborted(n: number, timeoutMs?: number): Promise<void>;
  waitForWatchers(n: number, timeoutMs?: number): Promise<void>;
  waitForLogFollowers(n: number, timeoutMs?: number): Promise<void>;
  /** Writes `{"type":type,"object":object}\n` to every open watch; returns the line. Throws if none is open. */
  emitWatchEvent(object: unknown, type?: string): string;
  endWatches(): number;
  /** Writes `text` verbatim to every open log follower. Throws if none is open. */
  emitLogLine(text: string): void;
  endLogs(): number;
  /** Forgets recorded requests, the aborted count and TLS errors; open streams stay open. */
  reset(): void;
  /** Stops listening and destroys every socket. Idempotent. */
  close(): Promise<void>;
}

export const VERSION_INFO = versionInfo('v1.32.4-kproxy-fixture');

function pod(namespace: string, name: string): object {
  return {
    metadata: { name, namespace, uid: `uid-${namespace}-${name}`, resourceVersion: '1000' },
    spec: { containers: [{ name: 'main', image: 'busybox' }] },
    status: { phase: 'Running' },
  };
}

/** The PodList served for `/api/v1/pods` (no namespace) or `/api/v1/namespaces/<ns>/pods`. */
export function podList(namespace?: string): object {
  const all = [pod('default', 'foo'), pod('kube-system', 'bar')];
  return {
    kind: 'PodList',
    apiVersion: 'v1',
    metadata: { resourceVersion: '1000' },
    items: all.filter((p) => namespace === undefined || (p as { metadata: { namespace: string } }).metadata.namespace === namespace),
  };
}

/** The JSON document `/gzip` serves (compressed or not). */
export const GZIP_DOCUMENT = { kind: 'Gzipped', message: 'compressible '.repeat(64).trim() };

export const UNAUTHORIZED_STATUS = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'Unauthorized',
  reason: 'Unauthorized',
  code: 401,
};

export { bigBody, bigSha256 } from './pattern.js';

function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function isTrue(v: string | null): boolean {
  return v === '1' || v === 'true';
}

function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

class UpstreamServer extends FakeServer<ServerResponse> implements Upstream {
  readonly host = '127.0.0.1';
  requests: RecordedRequest[] = [];
  aborted = 0;
  tlsErrors: Error[] = [];
  readonly events = new EventEmitter();

  private seq = 0;
  protected readonly server: http.Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly authRequired: boolean;

  constructor(private readonly opts: UpstreamOptions) {
    super('upstream');
    this.authRequired = opts.tokens !== undefined || opts.basic !== undefined;
    // Long timeouts: the proxy under test keeps connections and watches open, and a server-side
    // idle close racing a reused connection would show up as a flaky proxy error.
    const common: http.ServerOptions = { maxHeaderSize: 2 * 1024 * 1024, requestTimeout: 0 };
    if (opts.http) {
      this.server = http.createServer(common);
    } else {
      const pair = opts.serverCert ?? opts.pki.server;
      this.server = https.createServer({
        ...common,
        key: pair.key,
        cert: pair.cert,
        ca: opts.pki.ca,
        requestCert: true,
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      });
      this.server.on('secureConnection', (s: TLSSocket) => this.track(s));
      this.server.on('tlsClientError', (err: Error) => {
        this.tlsErrors.push(err);
        this.poke();
      });
    }
    this.server.keepAliveTimeout = 0;
    this.server.on('connection', (s: Socket) => this.track(s));
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.server.on('connect', (req, socket) => {
      const rec = this.begin(req, true);
      rec.status = 405;
      this.finishRecord(rec, 0, createHash('sha256'), true);
      socket.on('error', () => {});
      socket.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
  }

  listen(): Promise<void> {
    return this.listenOn(this.host, this.opts.http ? 'http' : 'https');
  }

  protected describeRequests(): string {
    return this.requests.map((r) => `  #${r.seq} ${r.method} ${r.target} -> ${r.status} (${r.identity})`).join('\n');
  }


  async waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]> {
    await this.waitUntil(`${n} request(s)`, () => this.requests.length >= n, timeoutMs);
    return this.requests.slice();
  }

  async waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest> {
    let found: RecordedRequest | undefined;
    await this.waitUntil('a matching request', () => (found = this.requests.find(pred)) !== undefined, timeoutMs);
    return found!;
  }

  waitForAborted(n: number, timeoutMs?: number): Promise<void> {
    return this.waitUntil(`${n} aborted response(s)`, () => this.aborted >= n, timeoutMs);
  }

  waitForWatchers(n: number, timeoutMs?: number): Promise<void> {
    return this.waitUntil(`${n} open watch(es)`, () => this.watchStreams.size >= n, timeoutMs);
  }

  emitWatchEvent(object: unknown, type = 'ADDED'): string {
    if (this.watchStreams.size === 0) throw new Error('upstream: no watch is open (await upstream.waitForWatchers(1) first)');
    const line = JSON.stringify({ type, object }) + '\n';
    for (const res of this.watchStreams) res.write(line);
    return line;
  }

  protected watchResponse(res: ServerResponse): ServerResponse {
    return res;
  }

  emitLogLine(text: string): void {
    this.writeLogs(text, 'upstream: no log follower is open (await upstream.waitForLogFollowers(1) first)');
  }

  reset(): void {
    this.requests = [];
    this.aborted = 0;
    this.tlsErrors = [];
  }

  protected override beforeClose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---- recording -------------------------------------------------------------------------

  private begin(req: IncomingMessage, upgrade: boolean): RecordedRequest {
    const socket = req.socket as Socket & Partial<TLSSocket>;
    const isTls = typeof socket.getPeerCertificate === 'function';
    let clientCert: ClientCertInfo | undefined;
    let sni: string | undefined;
    let alpn: string | undefined;
    if (isTls) {
      const tls = socket as TLSSocket;
      const peer = tls.getPeerCertificate();
      if (peer && Object.keys(peer).length > 0) {
        clientCert = {
          cn: first(peer.subject?.CN),
          o: first(peer.subject?.O),
          issuerCn: first(peer.issuer?.CN),
          verified: tls.authorized,
        };
      }
      const servername = (tls as unknown as { servername?: string | false }).servername;
      sni = typeof servername === 'string' && servername !== '' ? servername : undefined;
      alpn = typeof tls.alpnProtocol === 'string' ? tls.alpnProtocol : undefined;
    }

    const credentials: string[] = [];
    if (clientCert?.verified && clientCert.cn !== undefined) credentials.push(`cert:${clientCert.cn}`);
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const bearer = /^Bearer (.+)$/i.exec(auth);
      const basic = /^Basic (.+)$/i.exec(auth);
      if (bearer) {
        const token = bearer[1]!;
        if (!this.authRequired || this.opts.tokens?.includes(token)) credentials.push(`bearer:${token}`);
      } else if (basic) {
        const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const user = colon < 0 ? decoded : decoded.slice(0, colon);
        const pass = colon < 0 ? '' : decoded.slice(colon + 1);
        if (!this.authRequired || this.opts.basic?.some((b) => b.user === user && b.pass === pass)) credentials.push(`basic:${user}`);
      }
    }
    const { path, query } = splitTarget(req.url ?? '');
    return {
      seq: ++this.seq,
      method: req.method ?? '',
      target: req.url ?? '',
      path,
      query,
      httpVersion: req.httpVersion,
      rawHeaders: req.rawHeaders.slice(),
      headers: { ...req.headers },
      identity: credentials[0] ?? 'anonymous',
      credentials,
      clientCert,
      sni,
      alpn,
      tls: isTls,
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      bodyLength: 0,
      bodySha256: '',
      bodyComplete: false,
      upgrade,
      aborted: false,
      cut: false,
      status: 0,
    };
  }

  private finishRecord(rec: RecordedRequest, length: number, hash: ReturnType<typeof createHash>, complete: boolean): void {
    rec.bodyLength = length;
    rec.bodySha256 = hash.digest('hex');
    rec.bodyComplete = complete;
    this.requests.push(rec);
    this.events.emit('request', rec);
    this.poke();
  }

  private authOk(rec: RecordedRequest): boolean {
    return !this.authRequired || rec.credentials.length > 0;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const rec = this.begin(req, false);
    const hash = createHash('sha256');
    let length = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      this.finishRecord(rec, length, hash, true);
      this.route(req, res, rec);
    });
    req.on('close', () => {
      if (done) return;
      done = true;
      this.finishRecord(rec, length, hash, false);
    });
    res.on('close', () => {
      this.watchStreams.delete(res);
      this.logStreams.delete(res);
      if (!res.writableFinished && !rec.cut) {
        rec.aborted = true;
        this.aborted++;
        this.events.emit('aborted', rec);
        this.poke();
      }
    });
  }

  private echo(rec: RecordedRequest): object {
    return {
      method: rec.method,
      target: rec.target,
      httpVersion: rec.httpVersion,
      headers: rec.headers,
      rawHeaders: rec.rawHeaders,
      identity: rec.identity,
      bodyLength: rec.bodyLength,
      bodySha256: rec.bodySha256,
    };
  }

  private send(res: ServerResponse, rec: RecordedRequest, status: number, body: string | Buffer, type = 'application/json'): void {
    rec.status = status;
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(buf.length) });
    res.end(buf);
  }

  private json(res: ServerResponse, rec: RecordedRequest, status: number, obj: unknown): void {
    this.send(res, rec, status, JSON.stringify(obj));
  }

  private cut(res: ServerResponse, rec: RecordedRequest): void {
    rec.cut = true;
    res.socket?.destroy();
  }

  private route(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): void {
    if (!this.authOk(rec)) return this.json(res, rec, 401, UNAUTHORIZED_STATUS);
    const { method, path } = rec;
    const q = new URLSearchParams(rec.query);
    const get = method === 'GET' || method === 'HEAD';
    let m: RegExpExecArray | null;

    if (get && path === '/version') return this.json(res, rec, 200, VERSION_INFO);
    if (get && (path === '/api' || path === '/api/')) {
      return this.json(res, rec, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${this.host}:${this.port}` }],
      });
    }
    if (get && (path === '/apis' || path === '/apis/')) return this.json(res, rec, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });

    if (get && (m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?pods$/.exec(path))) {
      if (isTrue(q.get('watch'))) return this.openStream(res, rec, this.watchStreams, 'application/json', 'watch');
      return this.json(res, rec, 200, podList(m[1]));
    }
    if (get && (m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(path))) {
      if (isTrue(q.get('follow'))) return this.openStream(res, rec, this.logStreams, 'text/plain', 'log');
      return this.send(res, rec, 200, `log of ${m[1]}/${m[2]}\nline 2\n`, 'text/plain');
    }

    switch (path) {
      case '/big': {
        const size = Math.max(0, Number(q.get('size') ?? '0') | 0);
        const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/octet-stream' };
        if (!isTrue(q.get('chunked'))) headers['Content-Length'] = String(size);
        rec.status = 200;
        res.writeHead(200, headers);
        return pumpPattern(res, size);
      }
      case '/upload':
        if (method === 'POST' || method === 'PUT') return this.json(res, rec, 200, { bodyLength: rec.bodyLength, bodySha256: rec.bodySha256 });
        break;
      case '/gzip': {
        const plain = Buffer.from(JSON.stringify(GZIP_DOCUMENT));
        rec.gzip = acceptsGzip(first(req.headers['accept-encoding']));
        const body = rec.gzip ? gzipSync(plain) : plain;
        rec.status = 200;
        const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/json', 'Content-Length': String(body.length), Vary: 'Accept-Encoding' };
        if (rec.gzip) headers['Content-Encoding'] = 'gzip';
        res.writeHead(200, headers);
        res.end(body);
        return;
      }
      case '/die-mid-body':
      case '/die-mid-chunked': {
        rec.status = 200;
        const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/octet-stream' };
        if (path === '/die-mid-body') headers['Content-Length'] = '1000';
        res.writeHead(200, headers);
        // The cut waits for the 100 bytes to reach the socket, so the peer really sees a partial body.
        res.write(patternAt(0, 100), () => this.cut(res, rec));
        return;
      }
      case '/slow': {
        const ms = Math.max(0, Number(q.get('ms') ?? '0') || 0);
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!res.destroyed) this.json(res, rec, 200, this.echo(rec));
        }, ms);
        this.timers.add(t);
        res.on('close', () => {
          clearTimeout(t);
          this.timers.delete(t);
        });
        return;
      }
      case '/redirect':
        rec.status = 302;
        res.writeHead(302, { Location: `${this.opts.http ? 'http' : 'https'}://${this.host}:${this.port}/api/v1/elsewhere`, 'Content-Type': 'text/plain', 'Content-Length': '6' });
        res.end('found\n');
        return;
      case '/hop': {
        rec.status = 200;
        const body = JSON.stringify(this.echo(rec));
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Content-Length', String(Buffer.byteLength(body)));
        res.setHeader('Connection', 'x-custom');
        res.setHeader('X-Custom', '1');
        res.setHeader('Keep-Alive', 'timeout=5');
        res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; Path=/']);
        res.setHeader('Warning', ['299 - "first warning"', '299 - "second warning"']);
        res.writeHead(200);
        res.end(body);
        return;
      }
      case '/cors':
        rec.status = 200;
        res.setHeader('Access-Control-Allow-Origin', '*');
        res.setHeader('Access-Control-Allow-Credentials', 'true');
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
        if (method === 'OPTIONS') {
          rec.status = 204;
          res.writeHead(204);
          res.end();
          return;
        }
        return this.json(res, rec, 200, this.echo(rec));
      case '/trailers': {
        rec.status = 200;
        const body = Buffer.from('body with a trailer\n');
        res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-Body-Sha256' });
        res.write(body);
        res.addTrailers({ 'X-Body-Sha256': createHash('sha256').update(body).digest('hex') });
        res.end();
        return;
      }
      case '/hang':
        rec.status = 200;
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.flushHeaders();
        return;
    }

    if ((m = /^\/status\/(\d{3})$/.exec(path))) {
      const code = Number(m[1]);
      if (code >= 200 && code <= 599) {
        rec.status = code;
        if (code === 204 || code === 304) {
          res.writeHead(code);
          res.end();
          return;
        }
        return this.send(res, rec, code, `status ${code}\n`, 'text/plain');
      }
    }
    return this.json(res, rec, 200, this.echo(rec));
  }

  private openStream(res: ServerResponse, rec: RecordedRequest, set: Set<ServerResponse>, type: string, event: string): void {
    rec.status = 200;
    res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    set.add(res);
    this.events.emit(event, rec);
    this.poke();
  }

  // Upgrades: /upgrade/status/<code> answers that code and closes (the apiserver's 403 on exec);
  // `Upgrade: h2c` gets a plain 200 as a Go server without h2c would; everything else gets 101
  // and an echo of the bytes that follow.
  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const rec = this.begin(req, true);
    this.finishRecord(rec, 0, createHash('sha256'), true);
    socket.on('error', () => {});
    const raw = (status: number, headers: string[], body: string): void => {
      rec.status = status;
      const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Unknown'}`, ...headers, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', '', body];
      socket.end(lines.join('\r\n'));
    };
    if (!this.authOk(rec)) return raw(401, ['Content-Type: application/json'], JSON.stringify(UNAUTHORIZED_STATUS));
    const m = /^\/upgrade\/status\/(\d{3})$/.exec(rec.path);
    if (m) return raw(Number(m[1]), ['Content-Type: text/plain'], 'denied\n');
    // /upgrade/switch-to/<protocol> switches to that protocol whatever the client offered.
    const to = /^\/upgrade\/switch-to\/(.+)$/.exec(rec.path);
    const proto = to ? decodeURIComponent(to[1]!) : (first(req.headers.upgrade) ?? '');
    if (!to && proto.toLowerCase() === 'h2c') return raw(200, ['Content-Type: application/json'], JSON.stringify(this.echo(rec)));

    const headers = ['HTTP/1.1 101 Switching Protocols', `Upgrade: ${proto}`, 'Connection: Upgrade'];
    const key = first(req.headers['sec-websocket-key']);
    if (key) headers.push(`Sec-WebSocket-Accept: ${createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')}`);
    const offered = first(req.headers['sec-websocket-protocol']);
    if (offered) headers.push(`Sec-WebSocket-Protocol: ${offered.split(',')[0]!.trim()}`);
    const spdy = first(req.headers['x-stream-protocol-version']);
    if (spdy) headers.push(`X-Stream-Protocol-Version: ${spdy}`);
    rec.status = 101;
    socket.write(headers.join('\r\n') + '\r\n\r\n');
    if (head.length > 0) socket.write(head);
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => socket.end());
    this.events.emit('upgrade', rec);
  }
}

export async function startUpstream(opts: UpstreamOptions): Promise<Upstream> {
  const up = new UpstreamServer(opts);
  await up.listen();
  return up;
}
