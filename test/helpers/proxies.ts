// Loopback proxies for connection tests: an HTTP CONNECT proxy (plain or TLS), a SOCKS5 proxy
// (RFC 1928/1929) and a plain TCP forwarder. The proxies resolve names only from their own
// `hosts` table, never through DNS, so a test can give the API server a name that does not
// resolve on this machine and prove that the name, not an address, reached the proxy. Every
// CONNECT is recorded, and waits resolve from the recording code, never by polling.

import { EventEmitter } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DEFAULT_WAIT_MS, listenEphemeral } from './fake-server.js';
import type { KeyPair } from './pki.js';

export interface ProxyRecord {
  /** `connect` (HTTP CONNECT) or `socks`. */
  kind: 'connect' | 'socks';
  /** The destination as the client asked for it: `host:port` (IPv6 bracketed). */
  target: string;
  host: string;
  port: number;
  /** SOCKS address type the client used. */
  addressType?: 'ipv4' | 'domain' | 'ipv6';
  /** HTTP CONNECT request headers. */
  headers?: IncomingMessage['headers'];
  /** SOCKS username, when the client authenticated. */
  user?: string;
  /** What the proxy answered: 200/407/502 for CONNECT, the SOCKS reply code (0 = success). */
  status: number;
}

export interface TestProxy {
  /** `http://127.0.0.1:<port>`, `https://…` or `socks5://…` (without credentials). */
  readonly url: string;
  readonly port: number;
  readonly records: ProxyRecord[];
  /** Open tunnels right now. */
  readonly open: number;
  waitForRecords(n: number, timeoutMs?: number): Promise<ProxyRecord[]>;
  reset(): void;
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** Name → IP address for destinations; IP literals pass through. Other names fail. */
  hosts?: Record<string, string>;
  /** Required credentials (Basic for CONNECT, RFC 1929 for SOCKS). */
  auth?: { user: string; pass: string };
}


abstract class Base implements TestProxy {
  url = '';
  port = 0;
  records: ProxyRecord[] = [];
  protected readonly sockets = new Set<Duplex>();
  protected readonly events = new EventEmitter();
  private tunnels = 0;
  private closing: Promise<void> | undefined;

  constructor(protected readonly opts: ProxyOptions) {}

  get open(): number {
    return this.tunnels;
  }

  protected abstract server: net.Server;

  protected track(s: Duplex): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => {});
  }

  protected record(r: ProxyRecord): void {
    this.records.push(r);
    this.events.emit('record');
  }

  protected resolveHost(host: string): string | undefined {
    if (net.isIP(host)) return host;
    return this.opts.hosts?.[host.toLowerCase()];
  }

  /** Pipes both ways; either side closing closes the other. */
  protected splice(a: Duplex, b: Duplex): void {
    this.tunnels++;
    let counted = true;
    const end = (): void => {
      if (counted) {
        counted = false;
        this.tunnels--;
      }
      a.destroy();
      b.destroy();
    };
    a.pipe(b);
    b.pipe(a);
    a.on('close', end);
    b.on('close', end);
    a.on('error', end);
    b.on('error', end);
  }

  waitForRecords(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<ProxyRecord[]> {
    if (this.records.length >= n) return Promise.resolve(this.records.slice());
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.records.length >= n) {
          clearTimeout(timer);
          this.events.off('record', check);
          resolve(this.records.slice());
        }
      };
      const timer = setTimeout(() => {
        this.events.off('record', check);
        reject(new Error(`proxy ${this.url}: timed out waiting for ${n} record(s); got ${JSON.stringify(this.records)}`));
      }, timeoutMs);
      timer.unref();
      this.events.on('record', check);
    });
  }

  reset(): void {
    this.records = [];
  }

  async listen(scheme: string): Promise<void> {
    this.port = await listenEphemeral(this.server);
    this.url = `${scheme}://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
    });
    return this.closing;
  }
}

function splitAuthority(authority: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(authority) ?? /^([^:]+):(\d+)$/.exec(authority);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

class ConnectProxy extends Base {
  protected server: http.Server;

  constructor(opts: ProxyOptions & { tls?: KeyPair }) {
    super(opts);
    this.server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }) : http.createServer();
    this.server.on('connection', (s: Socket) => this.track(s));
    this.server.on('secureConnection', (s: Socket) => this.track(s));
    // Plain requests are not forwarded: kproxy must tunnel everything.
    this.server.on('request', (_req, res) => {
      res.writeHead(501, { 'Content-Type': 'text/plain' });
      res.end('only CONNECT\n');
    });
    this.server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => this.onConnect(req, client, head));
  }

  private onConnect(req: IncomingMessage, client: Socket, head: Buffer): void {
    this.track(client);
    const target = req.url ?? '';
    const hp = splitAuthority(target);
    const rec: ProxyRecord = { kind: 'connect', target, host: hp?.host ?? '', port: hp?.port ?? 0, headers: { ...req.headers }, status: 0 };
    const answer = (status: number, text: string, extra = ''): void => {
      rec.status = status;
      this.record(rec);
      client.end(`HTTP/1.1 ${status} ${text}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    const auth = this.opts.auth;
    if (auth) {
      const want = 'Basic ' + Buffer.from(`${auth.user}:${auth.pass}`).toString('base64');
      if (req.headers['proxy-authorization'] !== want) return answer(407, 'Proxy Authentication Required', 'Proxy-Authenticate: Basic realm="test"\r\n');
    }
    const ip = hp ? this.resolveHost(hp.host) : undefined;
    if (!hp || !ip) return answer(502, 'Bad Gateway');
    const up = net.connect({ host: ip, port: hp.port });
    this.track(up);
    up.once('connect', () => {
      rec.status = 200;
      this.record(rec);
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length > 0) up.write(head);
      this.splice(client, up);
    });
    up.once('error', () => {
      if (rec.status === 0) answer(502, 'Bad Gateway');
    });
  }
}

/** Reads exact byte counts from a socket until detached. */
function byteReader(sock: Socket): { read(n: number): Promise<Buffer>; detach(): Buffer } {
  let buf = Buffer.alloc(0);
  let want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  const pump = (): void => {
    if (want && buf.length >= want.n) {
      const w = want;
      want = undefined;
      const out = buf.subarray(0, w.n);
      buf = buf.subarray(w.n);
      w.resolve(out);
    }
  };
  const onData = (d: Buffer): void => {
    buf = Buffer.concat([buf, d]);
    pump();
  };
  const onEnd = (): void => want?.reject(new Error('closed'));
  sock.on('data', onData);
  sock.on('end', onEnd);
  sock.on('close', onEnd);
  return {
    read(n) {
      return new Promise((resolve, reject) => {
        want = { n, resolve, reject };
        pump();
      });
    },
    detach() {
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('close', onEnd);
      return buf;
    },
  };
}

class SocksProxy extends Base {
  protected server: net.Server;

  constructor(opts: ProxyOptions) {
    super(opts);
    this.server = net.createServer((s) => {
      this.track(s);
      this.handle(s).catch(() => s.destroy());
    });
  }

  private async handle(sock: Socket): Promise<void> {
    const r = byteReader(sock);
    const [ver, nMethods] = await r.read(2);
    if (ver !== 5) return void sock.destroy();
    const methods = [...(await r.read(nMethods!))];
    let user: string | undefined;
    const auth = this.opts.auth;
    if (auth) {
      if (!methods.includes(2)) return void sock.end(Buffer.from([5, 0xff]));
      sock.write(Buffer.from([5, 2]));
      const [, ulen] = await r.read(2);
      user = (await r.read(ulen!)).toString();
      const [plen] = await r.read(1);
      const pass = (await r.read(plen!)).toString();
      const ok = user === auth.user && pass === auth.pass;
      sock.write(Buffer.from([1, ok ? 0 : 1]));
      if (!ok) return void sock.end();
    } else {
      if (!methods.includes(0)) return void sock.end(Buffer.from([5, 0xff]));
      sock.write(Buffer.from([5, 0]));
    }
    const [, cmd, , atyp] = await r.read(4);
    let host: string;
    let addressType: ProxyRecord['addressType'];
    if (atyp === 1) {
      host = [...(await r.read(4))].join('.');
      addressType = 'ipv4';
    } else if (atyp === 3) {
      const [len] = await r.read(1);
      host = (await r.read(len!)).toString();
      addressType = 'domain';
    } else if (atyp === 4) {
      const b = await r.read(16);
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
      host = net.isIP(groups.join(':')) ? new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1) : groups.join(':');
      addressType = 'ipv6';
    } else {
      return void sock.destroy();
    }
    const port = (await r.read(2)).readUInt16BE(0);
    const rec: ProxyRecord = { kind: 'socks', target: `${host.includes(':') ? `[${host}]` : host}:${port}`, host, port, addressType, status: 0 };
    if (user !== undefined) rec.user = user;
    const reply = (code: number): void => {
      rec.status = code;
      this.record(rec);
      sock.write(Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]));
    };
    if (cmd !== 1) {
      reply(7);
      return void sock.end();
    }
    const ip = this.resolveHost(host);
    if (!ip) {
      reply(4);
      return void sock.end();
    }
    const up = net.connect({ host: ip, port });
    this.track(up);
    up.once('connect', () => {
      const rest = r.detach();
      reply(0);
      if (rest.length > 0) up.write(rest);
      this.splice(sock, up);
    });
    up.once('error', () => {
      if (rec.status === 0) {
        reply(5);
        sock.end();
      }
    });
  }
}

/** An HTTP CONNECT proxy; with `tls`, an https:// one serving that certificate. */
export async function startConnectProxy(opts: ProxyOptions & { tls?: KeyPair } = {}): Promise<TestProxy> {
  const p = new ConnectProxy(opts);
  await p.listen(opts.tls ? 'https' : 'http');
  return p;
}

/** A SOCKS5 proxy (CONNECT only). */
export async function startSocksProxy(opts: ProxyOptions = {}): Promise<TestProxy> {
  const p = new SocksProxy(opts);
  await p.listen('socks5');
  return p;
}

export interface Forwarder {
  readonly port: number;
  readonly connections: number;
  /** Stops moving bytes on every open connection, both ways, and keeps them open: a network that drops everything. */
  blackhole(): void;
  close(): Promise<void>;
}

/** Listens on `host` (for example `::1`) and pipes every connection to 127.0.0.1:`targetPort`. */
export async function startTcpForwarder(host: string, targetPort: number): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let connections = 0;
  const server = net.createServer((c) => {
    connections++;
    const u = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [c, u]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        c.destroy();
        u.destroy();
      });
    }
    c.pipe(u);
    u.pipe(c);
    const pair: [Socket, Socket] = [c, u];
    pairs.add(pair);
    c.once('close', () => pairs.delete(pair));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    blackhole() {
      for (const [c, u] of pairs) {
        c.unpipe(u);
        u.unpipe(c);
        c.pause();
        u.pause();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
