// A minimal API server that offers h2 and http/1.1 through ALPN, as kube-apiserver does, with a
// configurable SETTINGS_MAX_CONCURRENT_STREAMS. It records which protocol, which connection and
// which stream carried each request; watches and log follows stay open until the test emits or
// ends them; it can send GOAWAY on one connection or tear them all down. Every wait is on an event
// (Waiters), never a poll.

import { once } from 'node:events';
import http2, { type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Pki } from './pki.js';
import { Waiters } from './waiters.js';

export interface Seen {
  path: string;
  httpVersion: string;
  /** Which connection carried it (h2 sessions and h1 sockets numbered from 1 in arrival order). */
  conn: number;
  /** HTTP/2 stream id (0 over HTTP/1.1). */
  stream: number;
  authorization: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export interface H2ApiOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS (default 250, kube-apiserver's). */
  maxConcurrentStreams?: number;
  /** The bearer token every request must carry (401 otherwise). */
  token: string;
}

export class H2Api {
  readonly seen: Seen[] = [];
  readonly changed = new Waiters('h2 api', () => this.seen.map((s) => `  ${s.httpVersion} #${s.conn}/${s.stream} ${s.path}`).join('\n'));
  /** Streams whose client went away before the response ended (by path). */
  readonly closedEarly: string[] = [];
  /** Connections (numbered as in `seen`) whose session has closed. */
  readonly closedConns: number[] = [];
  url = '';
  port = 0;
  private readonly open = new Set<Http2ServerResponse>();
  private readonly sessions = new Map<number, ServerHttp2Session>();
  private conns = 0;
  private readonly ids = new WeakMap<object, number>();

  private constructor(
    private readonly server: Http2SecureServer,
    private readonly token: string,
  ) {
    server.on('session', (s: ServerHttp2Session) => {
      const id = this.idOf(s);
      this.sessions.set(id, s);
      s.on('error', () => {});
      s.once('close', () => {
        this.sessions.delete(id);
        this.closedConns.push(id);
        this.changed.poke();
      });
      this.changed.poke();
    });
    server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => this.handle(req, res));
  }

  static async start(pki: Pki, opts: H2ApiOptions): Promise<H2Api> {
    const server = http2.createSecureServer({
      key: pki.server.key,
      cert: pki.server.cert,
      allowHTTP1: true,
      settings: { maxConcurrentStreams: opts.maxConcurrentStreams ?? 250 },
    });
    const api = new H2Api(server, opts.token);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    api.port = (server.address() as AddressInfo).port;
    api.url = `https://127.0.0.1:${api.port}`;
    return api;
  }

  private idOf(key: object): number {
    let id = this.ids.get(key);
    if (id === undefined) this.ids.set(key, (id = ++this.conns));
    return id;
  }

  private handle(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const url = req.url;
    const h2 = req.httpVersion === '2.0';
    this.seen.push({
      path: url,
      httpVersion: req.httpVersion,
      conn: this.idOf(h2 ? req.stream.session! : req.socket),
      stream: h2 ? req.stream.id! : 0,
      authorization: req.headers.authorization,
      headers: { ...req.headers },
    });
    this.changed.poke();
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","code":401}');
      return;
    }
    if (/[?&](watch|follow)=true/.test(url)) {
      res.writeHead(200, { 'content-type': 'application/json', 'audit-id': 'a-1' });
      this.open.add(res);
      res.once('close', () => {
        this.open.delete(res);
        if (!res.writableEnded) this.closedEarly.push(url);
        this.changed.poke();
      });
      // Headers now, as the API server does for a watch.
      res.write('');
      return;
    }
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Echo', bytes: Buffer.concat(chunks).length }));
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'audit-id': 'a-2' });
    res.end(JSON.stringify({ kind: 'PodList', items: [] }));
  }

  /** Writes `line` to every open watch (optionally only those whose path matches). */
  emit(line: string, path?: (p: string) => boolean): void {
    for (const res of this.open) if (!path || path(res.req.url)) res.write(line + '\n');
  }

  /** Ends open watches normally (optionally only those whose path matches). */
  endStreams(path?: (p: string) => boolean): void {
    for (const res of [...this.open]) if (!path || path(res.req.url)) res.end();
  }

  /**
   * GOAWAY on connection `conn` (NO_ERROR unless `code`, e.g. 2 INTERNAL_ERROR as nghttp2 sends
   * it to a client that resets too many streams): the streams it carries may finish, no new ones.
   */
  goaway(conn: number, code = 0): void {
    const s = this.sessions.get(conn);
    if (!s) throw new Error(`no open connection #${conn}`);
    const last = Math.max(0, ...this.seen.filter((x) => x.conn === conn).map((x) => x.stream));
    s.goaway(code, last);
  }

  /** Tears every connection down, as an API server that dies does. */
  killSessions(): void {
    for (const s of this.sessions.values()) s.destroy();
  }

  get openStreams(): number {
    return this.open.size;
  }

  /** Connections open now. */
  get openConns(): number {
    return this.sessions.size;
  }

  /** Distinct HTTP/2 connections that carried requests matching `paths`. */
  h2Conns(paths: (p: string) => boolean = () => true): Set<number> {
    return new Set(this.seen.filter((s) => s.httpVersion === '2.0' && paths(s.path)).map((s) => s.conn));
  }

  /** The record of the last request whose path is `path`. */
  last(path: string): Seen | undefined {
    for (let i = this.seen.length - 1; i >= 0; i--) if (this.seen[i]!.path === path) return this.seen[i];
    return undefined;
  }

  reset(): void {
    this.seen.length = 0;
    this.closedEarly.length = 0;
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.killSessions();
    this.server.close();
  }
}
