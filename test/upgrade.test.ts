// Upgrades through kproxy (exec, attach, port-forward over WebSocket or SPDY, and any other
// `Upgrade:`): the filter first, then a dedicated HTTP/1.1 connection to the API server with
// the same TLS settings, credentials and impersonation; splicing only after a 101
// (CVE-2018-1002105), error answers relayed and closed, everything else a 500. Teardown and
// half-close are observed through socket events, backpressure through stream 'pause' events;
// nothing here waits on a timer.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { parseRawResponse, type ParsedResponse } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki, type Pki } from './helpers/pki.js';
import { kubectlMissing, runKproxy, runKubectlProxy, startKubectlProxy, type Running, launcher, within } from './helpers/proc.js';
import { bigBody, bigSha256, startUpstream, type RecordedRequest, type Upstream } from './helpers/upstream.js';
import { freePort, patternAt, pumpPattern } from './helpers/net.js';
import { loadResolvedConfig } from '../src/kubeconfig/load.js';
import { createUpstream, type Upstream as KUpstream } from '../src/upstream.js';
import { createCredentials } from '../src/credentials.js';
import { upgrade, type UpgradeContext } from '../src/upgrade.js';
import * as klog from '../src/log.js';

const TOKEN = 'upg-token-3b9d';
/** Safety net for event waits; a wait that needs it has failed. */
const WAIT_MS = 10_000;
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const WS_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const K8S_PROTOCOLS = 'v5.channel.k8s.io, v4.channel.k8s.io, SPDY/3.1+portforward.k8s.io';
const PF = '/api/v1/namespaces/default/pods/foo/portforward?ports=8080';
const EXEC = '/api/v1/namespaces/default/pods/foo/exec?command=sh&stdin=true&stdout=true&tty=true';
const ATTACH = '/api/v1/namespaces/default/pods/foo/attach?stdin=true&stdout=true';

/** A promise with a safety net: a wait that needs it has failed. */

// ---- a raw client for upgrade exchanges ----------------------------------------------------

class RawClient {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  private waiters = new Set<() => void>();
  ended = false;
  closed = false;
  readonly endP: Promise<void>;
  readonly closeP: Promise<void>;

  constructor(opts: net.NetConnectOpts) {
    this.socket = net.connect(opts);
    this.socket.on('error', () => {});
    this.socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.poke();
    });
    this.endP = new Promise((res) =>
      this.socket.once('end', () => {
        this.ended = true;
        this.poke();
        res();
      }),
    );
    this.closeP = new Promise((res) =>
      this.socket.once('close', () => {
        this.closed = true;
        this.poke();
        res();
      }),
    );
  }

  static to(port: number, bytes?: string | Buffer, opts: { host?: string; allowHalfOpen?: boolean } = {}): RawClient {
    const c = new RawClient({ host: opts.host ?? '127.0.0.1', port, allowHalfOpen: opts.allowHalfOpen ?? false });
    if (bytes !== undefined) c.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    return c;
  }

  get buf(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private poke(): void {
    for (const w of this.waiters) w();
  }

  waitFor(pred: (b: Buffer) => boolean, what: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (pred(this.buf)) {
          done();
          resolve(this.buf);
        } else if (this.closed || this.ended) {
          done();
          reject(new Error(`connection ${this.closed ? 'closed' : 'ended'} before ${what}; got ${JSON.stringify(this.buf.toString('latin1').slice(0, 600))}`));
        }
      };
      const t = setTimeout(() => {
        done();
        reject(new Error(`${what} not seen within ${WAIT_MS} ms; got ${JSON.stringify(this.buf.toString('latin1').slice(0, 600))}`));
      }, WAIT_MS);
      t.unref();
      const done = (): void => {
        clearTimeout(t);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The response head (a 101), and the bytes already received after it. */
  async switched(): Promise<{ res: ParsedResponse; after: Buffer }> {
    const b = await this.waitFor((x) => x.includes('\r\n\r\n'), 'a response head');
    const res = parseRawResponse(b)!;
    return { res, after: b.subarray(res.consumed) };
  }

  /** A whole non-101 response by its framing, whether or not the connection is then closed. */
  async response(): Promise<ParsedResponse> {
    const b = await this.waitFor((x) => parseRawResponse(x)?.complete === true || (this.closed && x.length > 0), 'a complete response');
    return parseRawResponse(b)!;
  }

  /** A whole non-101 response, read until the proxy closes the connection. */
  async closedResponse(): Promise<ParsedResponse> {
    await within(this.closeP, 'this.closeP');
    const res = parseRawResponse(this.buf);
    assert.ok(res, `no response head before close: ${JSON.stringify(this.buf.toString('latin1'))}`);
    return res;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function upgradeHead(method: string, target: string, headers: Array<[string, string]>, host = 'localhost'): string {
  return `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

function wsHead(target: string, extra: Array<[string, string]> = [], host?: string): string {
  return upgradeHead(
    'GET',
    target,
    [
      ['Connection', 'Upgrade'],
      ['Upgrade', 'websocket'],
      ['Sec-WebSocket-Version', '13'],
      ['Sec-WebSocket-Key', WS_KEY],
      ['Sec-WebSocket-Protocol', K8S_PROTOCOLS],
      ...extra,
    ],
    host,
  );
}

function spdyHead(target: string, extra: Array<[string, string]> = [], host?: string): string {
  return upgradeHead(
    'POST',
    target,
    [
      ['Connection', 'Upgrade'],
      ['Upgrade', 'SPDY/3.1'],
      ['X-Stream-Protocol-Version', 'portforward.k8s.io'],
      ['Content-Length', '0'],
      ...extra,
    ],
    host,
  );
}

function header(res: ParsedResponse, name: string): string | undefined {
  return res.headerMap[name.toLowerCase()]?.[0];
}

/** A plain one-line error as kubectl's responder writes it. */
function assertOneLineError(res: ParsedResponse, status: number | RegExp, pattern: RegExp): void {
  const body = res.body.toString('utf8');
  const ctx = `${res.status} ${JSON.stringify(body)}`;
  if (typeof status === 'number') assert.equal(res.status, status, ctx);
  else assert.match(String(res.status), status, ctx);
  assert.equal(header(res, 'content-type'), 'text/plain; charset=utf-8', ctx);
  assert.ok(body.endsWith('\n') && body.indexOf('\n') === body.length - 1, `exactly one line: ${ctx}`);
  assert.match(body, pattern, ctx);
}

// ---- an upstream whose upgrade answers the test controls ----------------------------------

interface RawConn {
  mode: string;
  req: IncomingMessage;
  socket: TLSSocket;
  /** Bytes after the request head (the upgrade's `head` and everything read since). */
  received(): Buffer;
  /** The proxy half-closed (FIN) or closed its side. */
  readonly endP: Promise<void>;
  readonly closeP: Promise<void>;
  readonly closed: boolean;
  waitFor(pred: (b: Buffer) => boolean, what: string): Promise<Buffer>;
}

interface RawUpstream {
  url: string;
  port: number;
  conns: RawConn[];
  /** ALPN protocol lists offered by clients, one per TLS connection, in order. */
  offers: string[][];
  /** Ordinary (non-upgrade) requests, e.g. someone following a redirect. */
  plain: string[];
  next(): Promise<RawConn>;
  handlers: Map<string, (c: RawConn) => void>;
  close(): Promise<void>;
}

async function startRawUpstream(pki: Pki): Promise<RawUpstream> {
  const sockets = new Set<net.Socket>();
  const conns: RawConn[] = [];
  const offers: string[][] = [];
  const plain: string[] = [];
  let nextWaiters: Array<(c: RawConn) => void> = [];
  const handlers = new Map<string, (c: RawConn) => void>();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => [...protocols][0] ?? false });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  const server = https.createServer({
    key: pki.server.key,
    cert: pki.server.cert,
    allowHalfOpen: true,
    ALPNCallback: ({ protocols }) => {
      offers.push(protocols);
      return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
    },
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('request', (req, res) => {
    plain.push(`${req.method} ${req.url}`);
    res.end('plain\n');
  });
  server.on('upgrade', (req: IncomingMessage, sock: net.Socket, head: Buffer) => {
    const socket = sock as TLSSocket;
    socket.on('error', () => {});
    const mode = String(req.headers['x-test'] ?? 'echo101');
    const chunks: Buffer[] = head.length > 0 ? [Buffer.from(head)] : [];
    const waiters = new Set<() => void>();
    let closed = false;
    let ended = false;
    const poke = (): void => {
      for (const w of waiters) w();
    };
    const received = (): Buffer => {
      if (chunks.length > 1) chunks.splice(0, chunks.length, Buffer.concat(chunks));
      return chunks[0] ?? Buffer.alloc(0);
    };
    const conn: RawConn = {
      mode,
      req,
      socket,
      received,
      endP: new Promise((res) =>
        socket.once('end', () => {
          ended = true;
          poke();
          res();
        }),
      ),
      closeP: new Promise((res) =>
        socket.once('close', () => {
          closed = true;
          poke();
          res();
        }),
      ),
      get closed() {
        return closed;
      },
      waitFor(pred, what) {
        return new Promise((resolve, reject) => {
          const check = (): void => {
            if (pred(received())) {
              done();
              resolve(received());
            } else if (closed || ended) {
              done();
              reject(new Error(`upstream connection ${closed ? 'closed' : 'ended'} before ${what}; got ${JSON.stringify(received().toString('latin1').slice(0, 300))}`));
            }
          };
          const t = setTimeout(() => {
            done();
            reject(new Error(`upstream: ${what} not seen within ${WAIT_MS} ms`));
          }, WAIT_MS);
          t.unref();
          const done = (): void => {
            clearTimeout(t);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        });
      },
    };
    if (mode !== 'ws') {
      socket.on('data', (d: Buffer) => {
        chunks.push(d);
        poke();
      });
    }
    // The server is half-open capable for the half-close tests only; elsewhere the proxy's FIN
    // ends the connection, so 'close' means "the proxy let go of it".
    if (mode !== 'halfclose') socket.on('end', () => socket.end());
    conns.push(conn);
    const w = nextWaiters;
    nextWaiters = [];
    for (const f of w) f(conn);
    const custom = handlers.get(mode);
    if (custom) return custom(conn);
    const switching = ['HTTP/1.1 101 Switching Protocols', `Upgrade: ${req.headers.upgrade}`, 'Connection: Upgrade', '', ''].join('\r\n');
    switch (mode) {
      case 'ws':
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
        return;
      case 'echo101':
        socket.write(switching);
        if (head.length > 0) socket.write(head);
        socket.on('data', (d: Buffer) => socket.write(d));
        socket.on('end', () => socket.end());
        return;
      case 'early101':
        // The head and the first protocol bytes in one write: the proxy reads them together.
        socket.write(switching + 'early-from-upstream');
        return;
      case '302':
        socket.write(`HTTP/1.1 302 Found\r\nLocation: https://127.0.0.1:${(server.address() as AddressInfo).port}/elsewhere\r\nContent-Length: 0\r\n\r\n`);
        return;
      case '200-keepalive':
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n');
        return;
      case '403-chunked':
        socket.write('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Upstream: raw\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nnope!\n\r\n4\r\nbye\n\r\n0\r\n\r\n');
        return;
      case 'hang':
        return;
      case 'halfclose':
        socket.write(switching);
        socket.on('end', () => socket.end('bye-after-fin'));
        return;
      case 'upfirst':
        socket.end(switching + 'server-done');
        return;
      case 'updestroy':
        socket.write(switching);
        return;
      default:
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
    }
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    conns,
    offers,
    plain,
    handlers,
    next: () => new Promise((res) => nextWaiters.push(res)),
    close: () =>
      new Promise<void>((res) => {
        server.close(() => res());
        for (const s of sockets) s.destroy();
        wss.close();
      }),
  };
}

// ---- fixtures --------------------------------------------------------------------------------

let pki: Pki;
let up: Upstream; // the shared fake API server, which requires the bearer token
let raw: RawUpstream;
let dir: TempDir;
let closedPort: number;
let mainKc: string;
let rawKc: string;

const { launch, track, stopAll } = launcher();

let P: {
  main: Promise<Running>; // default filter
  open: Promise<Running>; // --reject-paths=
  nofilter: Promise<Running>; // --disable-filter
  raw: Promise<Running>; // the raw upstream
  refused: Promise<Running>; // a closed port
  badCa: Promise<Running>; // a CA that did not sign the server
  ka0: Promise<Running>;
  ka45: Promise<Running>;
  kaOff: Promise<Running>;
};

before(async () => {
  pki = await makePki();
  [up, raw] = await Promise.all([startUpstream({ pki, tokens: [TOKEN] }), startRawUpstream(pki)]);
  dir = tempDir('kproxy-upg');
  closedPort = await freePort();
  const common = { caData: pki.ca, token: TOKEN, clientCertData: pki.client.cert, clientKeyData: pki.client.key, tlsServerName: 'kubernetes.local' };
  mainKc = writeKubeconfig(dir.path, { server: up.url, ...common, as: 'jane', asGroups: ['g1', 'g2'], fileName: 'main' });
  rawKc = writeKubeconfig(dir.path, { server: raw.url, caData: pki.ca, token: TOKEN, fileName: 'raw' });
  const refusedKc = writeKubeconfig(dir.path, { server: `https://127.0.0.1:${closedPort}`, caData: pki.ca, token: TOKEN, fileName: 'refused' });
  const badCaKc = writeKubeconfig(dir.path, { server: up.url, caData: pki.otherCa, token: TOKEN, fileName: 'bad-ca' });
  P = {
    main: launch(['--port=0', '--kubeconfig', mainKc]),
    open: launch(['--port=0', '--reject-paths=', '--kubeconfig', mainKc]),
    nofilter: launch(['--port=0', '--disable-filter', '--kubeconfig', mainKc]),
    raw: launch(['--port=0', '--kubeconfig', rawKc]),
    refused: launch(['--port=0', '--kubeconfig', refusedKc]),
    badCa: launch(['--port=0', '--kubeconfig', badCaKc]),
    ka0: launch(['--port=0', '--keepalive=0', '--kubeconfig', rawKc]),
    ka45: launch(['--port=0', '--keepalive=45s', '--kubeconfig', rawKc]),
    kaOff: launch(['--port=0', '--keepalive=-1s', '--kubeconfig', rawKc]),
  };
});

after(async () => {
  await stopAll();
  await Promise.all([up?.close(), raw?.close()]);
  dir?.cleanup();
});

function headerValues(rec: RecordedRequest, name: string): string[] {
  const lower = name.toLowerCase();
  return rec.rawHeaders.filter((_, i) => i % 2 === 1 && rec.rawHeaders[i - 1]!.toLowerCase() === lower);
}

function upgradesFor(pathPart: string): RecordedRequest[] {
  return up.requests.filter((r) => r.upgrade && r.target.includes(pathPart));
}

/** A port-forward upgrade through `p` that must reach the upstream: proof that earlier requests had their chance. */
async function marker(p: Running, tag: string): Promise<void> {
  const target = `/api/v1/namespaces/default/pods/marker-${tag}/portforward`;
  const c = RawClient.to(p.port, wsHead(target));
  const { res } = await c.switched();
  assert.equal(res.status, 101);
  await up.waitForRequest((r) => r.target === target);
  c.destroy();
}

/** Round trip of `payload` through an established upgrade. */
async function echo(c: RawClient, payload: string): Promise<void> {
  const before = c.buf.length;
  c.socket.write(payload);
  await c.waitFor((b) => b.subarray(before).includes(payload), `echo of ${payload}`);
}

// ---- tests -----------------------------------------------------------------------------------

describe('101: relayed verbatim, then bytes both ways', () => {
  test('WebSocket GET with the k8s subprotocols: credentials, Host, impersonation, TLS identity and ALPN as for ordinary requests', async () => {
    const p = await P.main;
    const target = PF + '&ws=1';
    // The request and the first protocol bytes in one write: they arrive at the proxy together.
    const c = RawClient.to(p.port, wsHead(target, [['X-Custom', 'kept']]) + 'early-client-bytes');
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    assert.equal(res.reason, 'Switching Protocols');
    assert.equal(header(res, 'upgrade'), 'websocket');
    assert.equal(header(res, 'sec-websocket-accept'), WS_ACCEPT);
    assert.equal(header(res, 'sec-websocket-protocol'), 'v5.channel.k8s.io');
    await c.waitFor((b) => b.subarray(res.consumed).toString() === 'early-client-bytes', 'echo of the bytes sent with the request');
    await echo(c, 'stdin-frame-1');
    await echo(c, '\x00\x01binary\xff');

    const rec = (await up.waitForRequest((r) => r.upgrade && r.target === target))!;
    assert.equal(rec.method, 'GET');
    assert.equal(rec.httpVersion, '1.1');
    assert.equal(rec.headers.host, `127.0.0.1:${up.port}`);
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(rec.credentials, ['cert:alice', `bearer:${TOKEN}`], 'the kubeconfig client certificate and token');
    assert.equal(rec.tls, true);
    assert.equal(rec.alpn, 'http/1.1');
    assert.equal(rec.sni, 'kubernetes.local', 'tls-server-name applies to upgrades too');
    assert.deepEqual(headerValues(rec, 'impersonate-user'), ['jane']);
    assert.deepEqual(headerValues(rec, 'impersonate-group'), ['g1', 'g2']);
    assert.deepEqual(headerValues(rec, 'upgrade'), ['websocket']);
    assert.match(String(rec.headers.connection), /upgrade/i);
    assert.equal(rec.headers['sec-websocket-key'], WS_KEY);
    assert.equal(rec.headers['sec-websocket-version'], '13');
    assert.equal(rec.headers['sec-websocket-protocol'], K8S_PROTOCOLS);
    assert.equal(rec.headers['x-custom'], 'kept');
    assert.equal(rec.headers['x-forwarded-for'], '127.0.0.1');

    // The client closes: the upstream's echo loop sees the end, and the proxy closes the client.
    c.socket.end();
    await within(c.closeP, 'c.closeP');
  });

  test('SPDY POST (Upgrade: SPDY/3.1) to port-forward', async () => {
    const p = await P.main;
    const target = PF + '&spdy=1';
    const c = RawClient.to(p.port, spdyHead(target));
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    assert.equal(header(res, 'upgrade'), 'SPDY/3.1');
    assert.equal(header(res, 'x-stream-protocol-version'), 'portforward.k8s.io');
    await echo(c, 'spdy-frame');
    const rec = await up.waitForRequest((r) => r.upgrade && r.target === target);
    assert.equal(rec.method, 'POST');
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(rec.headers.upgrade, 'SPDY/3.1');
    assert.equal(rec.headers['x-stream-protocol-version'], 'portforward.k8s.io');
    c.destroy();
  });

  test('the upgrade connection offers only http/1.1 in ALPN (ordinary requests may use h2)', async () => {
    const p = await P.raw;
    const before = raw.offers.length;
    const c = RawClient.to(p.port, wsHead(PF));
    assert.equal((await c.switched()).res.status, 101);
    assert.deepEqual(raw.offers.slice(before), [['http/1.1']]);
    c.destroy();
  });

  test('bytes the upstream sent together with its 101 reach the client right after the head', async () => {
    const p = await P.raw;
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'early101']]));
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    await c.waitFor((b) => b.subarray(res.consumed).toString() === 'early-from-upstream', 'the upstream bytes');
    c.destroy();
  });

  test('bytes the client sends before the 101 arrives reach the upstream after it, in order', async () => {
    const p = await P.raw;
    raw.handlers.set('late101', (conn) => {
      conn.socket.removeAllListeners('data');
      conn.socket.pause();
    });
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'late101']]));
    const conn = await within(next, 'the upstream connection');
    c.socket.write('sent-before-101;');
    // The upstream answers only now, then echoes.
    const s = conn.socket;
    s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    s.on('data', (d: Buffer) => s.write(d));
    s.resume();
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    c.socket.write('sent-after-101');
    await c.waitFor((b) => b.subarray(res.consumed).toString() === 'sent-before-101;sent-after-101', 'both echoes, in order');
    c.destroy();
    await within(conn.closeP, 'conn.closeP');
    raw.handlers.delete('late101');
  });

  test('a real WebSocket client (ws) and server: subprotocol negotiated, binary channel frames both ways', async () => {
    const p = await P.raw;
    // (ws refuses to offer `SPDY/3.1+portforward.k8s.io`: '/' is not a token character.)
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}${PF}`, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], {
      headers: { 'X-Test': 'ws' },
    });
    await new Promise<void>((res, rej) => {
      ws.once('open', res);
      ws.once('error', rej);
      ws.once('unexpected-response', (_req, r) => rej(new Error(`unexpected ${r.statusCode}`)));
    });
    assert.equal(ws.protocol, 'v5.channel.k8s.io');
    const frames = [Buffer.from([0, 0x68, 0x69]), Buffer.from([1, ...bigBody(70_000)]), Buffer.from([255])];
    const got: Buffer[] = [];
    const all = new Promise<void>((res) =>
      ws.on('message', (d: Buffer, isBinary: boolean) => {
        assert.equal(isBinary, true);
        got.push(d);
        if (got.length === frames.length) res();
      }),
    );
    for (const f of frames) ws.send(f);
    await within(all, 'all');
    assert.deepEqual(got, frames);
    const closed = new Promise<number>((res) => ws.once('close', (code: number) => res(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);
  });

  test('16 MB each way at once through the echo arrive intact', async () => {
    const p = await P.main;
    const c = RawClient.to(p.port, spdyHead(PF + '&big=1'));
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    const size = 16 * 1024 * 1024;
    const start = res.consumed;
    pumpPattern(c.socket, size);
    await within(c.closeP, 'c.closeP');
    const body = c.buf.subarray(start);
    assert.equal(body.length, size);
    assert.equal(createHash('sha256').update(body).digest('hex'), bigSha256(size));
  });
});

describe('the filter runs before anything is dialled', () => {
  test('default reject list: exec and attach upgrades (WebSocket and SPDY) get 403 and nothing reaches upstream', async () => {
    const p = await P.main;
    const cases: Array<[string, string]> = [
      ['ws exec', wsHead(EXEC)],
      ['spdy exec', spdyHead(EXEC)],
      ['ws attach', wsHead(ATTACH)],
      ['spdy attach', spdyHead(ATTACH)],
      ['exec in another namespace', spdyHead('/api/v1/namespaces/kube-system/pods/etcd-0/exec?command=id')],
    ];
    for (const [name, bytes] of cases) {
      const res = await RawClient.to(p.port, bytes).closedResponse();
      assert.equal(res.status, 403, name);
      assert.equal(res.body.toString(), 'Forbidden\n', name);
      assert.equal(header(res, 'content-type'), 'text/plain; charset=utf-8', name);
    }
    // The ws library sees the refusal the way kubectl does ("unable to upgrade connection: Forbidden").
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}${EXEC}`, ['v5.channel.k8s.io']);
    const status = await new Promise<number>((res, rej) => {
      ws.once('unexpected-response', (_req: ClientRequest, r: IncomingMessage) => {
        r.resume();
        res(r.statusCode ?? 0);
      });
      ws.once('open', () => rej(new Error('exec upgrade was opened')));
      ws.once('error', () => {});
    });
    assert.equal(status, 403);
    ws.terminate();
    await marker(p, 'filter');
    assert.deepEqual(
      up.requests.filter((r) => /\/(exec|attach)/.test(r.path)).map((r) => r.target),
      [],
      'no exec or attach request reached the upstream',
    );
  });

  test('a Host outside --accept-hosts is refused before the upstream is dialled', async () => {
    const p = await P.main;
    const target = PF + '&evil=1';
    const res = await RawClient.to(p.port, wsHead(target, [], 'evil.com')).closedResponse();
    assert.equal(res.status, 403);
    await marker(p, 'host');
    assert.deepEqual(upgradesFor('evil=1'), []);
  });

  test('--reject-paths= opens exec and attach', async () => {
    const p = await P.open;
    for (const [name, bytes, target] of [
      ['ws exec', wsHead(EXEC + '&open=1'), EXEC + '&open=1'],
      ['spdy attach', spdyHead(ATTACH + '&open=2'), ATTACH + '&open=2'],
    ] as const) {
      const c = RawClient.to(p.port, bytes);
      assert.equal((await c.switched()).res.status, 101, name);
      await echo(c, `hello-${name}`);
      const rec = await up.waitForRequest((r) => r.target === target);
      assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
      c.destroy();
    }
  });

  test('--disable-filter opens exec, whatever the Host', async () => {
    const p = await P.nofilter;
    const target = EXEC + '&nofilter=1';
    const c = RawClient.to(p.port, wsHead(target, [], 'evil.com'));
    assert.equal((await c.switched()).res.status, 101);
    await echo(c, 'id\n');
    const rec = await up.waitForRequest((r) => r.target === target);
    assert.equal(rec.headers.host, `127.0.0.1:${up.port}`, 'Host is still the upstream');
    c.destroy();
  });
});

describe('answers other than 101 (CVE-2018-1002105 / CVE-2020-8559)', () => {
  test('>= 400 is relayed with its body, then the connection is closed', async () => {
    const p = await P.main;
    for (const code of [400, 401, 403, 404, 500, 503]) {
      const c = RawClient.to(p.port, spdyHead(`/upgrade/status/${code}`));
      const res = await c.closedResponse();
      assert.equal(res.status, code);
      assert.equal(res.body.toString(), 'denied\n', String(code));
      assert.equal(header(res, 'content-type'), 'text/plain', String(code));
      assert.equal(c.ended, true, 'closed with a FIN after the body');
    }
  });

  test('a chunked 403 on a kept-alive upstream connection: body relayed, upstream connection closed, pipelined bytes never sent', async () => {
    const p = await P.raw;
    const next = raw.next();
    const smuggled = 'GET /api/v1/namespaces/kube-system/secrets HTTP/1.1\r\nHost: x\r\n\r\n';
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', '403-chunked']]) + smuggled);
    const conn = await within(next, 'the upstream connection');
    const res = await c.closedResponse();
    assert.equal(res.status, 403);
    assert.equal(res.body.toString(), 'nope!\nbye\n');
    assert.equal(header(res, 'x-upstream'), 'raw');
    assert.equal(header(res, 'transfer-encoding'), undefined, 're-framed by closing the connection');
    await within(conn.closeP, 'conn.closeP');
    assert.equal(conn.received().length, 0, 'nothing after the upgrade request reached the upstream');
  });

  test('Upgrade: h2c answered with 200 becomes 500 "invalid upgrade response: status code 200"', async () => {
    const p = await P.main;
    const c = RawClient.to(p.port, upgradeHead('GET', '/api/v1/pods?h2c=1', [['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAMAAABkAAQAoAAAAAIAAAAA']]));
    const res = await c.closedResponse();
    assertOneLineError(res, 500, /^invalid upgrade response: status code 200\n$/);
    assert.equal(header(res, 'x-content-type-options'), 'nosniff');
    const rec = await up.waitForRequest((r) => r.target === '/api/v1/pods?h2c=1');
    assert.equal(rec.headers.upgrade, 'h2c');
  });

  test('a 302 is neither followed nor relayed: 500, no Location, upstream connection closed', async () => {
    const p = await P.raw;
    const next = raw.next();
    const plainBefore = raw.plain.length;
    const connsBefore = raw.conns.length;
    const c = RawClient.to(p.port, spdyHead(PF, [['X-Test', '302']]) + 'pipelined-after-302');
    const conn = await within(next, 'the upstream connection');
    const res = await c.closedResponse();
    assertOneLineError(res, 500, /^invalid upgrade response: status code 302\n$/);
    assert.equal(header(res, 'location'), undefined);
    await within(conn.closeP, 'conn.closeP');
    assert.equal(conn.received().length, 0);
    assert.equal(raw.plain.length, plainBefore, 'the Location was not followed');
    assert.equal(raw.conns.length, connsBefore + 1);
  });

  test('a 200 on a kept-alive upstream connection: 500, the upstream connection is not kept', async () => {
    const p = await P.raw;
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', '200-keepalive']]) + 'GET /api/v1/secrets HTTP/1.1\r\nHost: x\r\n\r\n');
    const conn = await within(next, 'the upstream connection');
    assertOneLineError(await c.closedResponse(), 500, /^invalid upgrade response: status code 200\n$/);
    await within(conn.closeP, 'conn.closeP');
    assert.equal(conn.received().length, 0);
  });

  test('dial failure: 5xx with a one-line reason', async () => {
    const p = await P.refused;
    const res = await RawClient.to(p.port, wsHead(PF)).closedResponse();
    assertOneLineError(res, /^5\d\d$/, new RegExp(`^error dialing backend: dial tcp 127\\.0\\.0\\.1:${closedPort}: connect: connection refused\\n$`));
  });

  test('TLS failure (unknown authority): 5xx with a one-line reason, nothing relayed', async () => {
    const p = await P.badCa;
    const target = PF + '&badca=1';
    const res = await RawClient.to(p.port, spdyHead(target)).closedResponse();
    assertOneLineError(res, /^5\d\d$/, /x509: certificate signed by unknown authority/);
    assert.deepEqual(upgradesFor('badca=1'), []);
  });

  test('the upstream closes before answering: 5xx with a one-line reason', async () => {
    const p = await P.raw;
    raw.handlers.set('hangup', (conn) => conn.socket.destroy());
    const res = await RawClient.to(p.port, wsHead(PF, [['X-Test', 'hangup']])).closedResponse();
    raw.handlers.delete('hangup');
    assertOneLineError(res, /^5\d\d$/, /^error dialing backend: (unexpected EOF|.*socket hang up.*)\n$/);
  });

  // The listener keeps half-open sockets: a client FIN before the upstream's answer is only seen
  // because kproxy reads the client meanwhile (fixed in src/upgrade.ts; before, the upstream
  // connection stayed until the 30 s idle timeout).
  for (const how of ['FIN', 'RST'] as const) {
    test(
      `an upstream that never answers: when the client goes away (${how}), the upstream connection is closed`,
      async () => {
        const p = await P.raw;
        const next = raw.next();
        const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'hang']]));
        const conn = await within(next, 'the upstream connection');
        assert.equal(conn.closed, false);
        if (how === 'RST') c.socket.resetAndDestroy();
        else c.destroy();
        await within(conn.closeP, 'the upstream connection closing');
      },
    );
  }
});

describe('splice: half-close and teardown, observed through socket events', () => {
  test('client half-close: the upstream sees the FIN after the data and can still answer; then both sides close', async () => {
    const p = await P.raw;
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'halfclose']]), { allowHalfOpen: true });
    const conn = await within(next, 'the upstream connection');
    const { res } = await c.switched();
    assert.equal(res.status, 101);
    c.socket.end('last-words');
    await within(conn.endP, 'conn.endP');
    assert.equal(conn.received().toString(), 'last-words');
    await c.waitFor((b) => b.subarray(res.consumed).toString() === 'bye-after-fin', 'the answer sent after the FIN');
    await within(c.endP, 'c.endP');
    await within(Promise.all([c.closeP, conn.closeP]), 'both sides closed');
  });

  test('upstream finishes first: its last bytes and its FIN reach the client, then both sides close', async () => {
    const p = await P.raw;
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'upfirst']]));
    const conn = await within(next, 'the upstream connection');
    const { res } = await c.switched();
    await within(c.endP, 'c.endP');
    assert.equal(c.buf.subarray(res.consumed).toString(), 'server-done');
    await within(Promise.all([c.closeP, conn.closeP]), 'both sides closed');
  });

  test('the client disconnects abruptly: the upstream connection is closed', async () => {
    const p = await P.raw;
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'updestroy']]));
    const conn = await within(next, 'the upstream connection');
    assert.equal((await c.switched()).res.status, 101);
    c.destroy();
    await within(conn.closeP, 'conn.closeP');
  });

  test('the upstream disconnects abruptly: the client connection is closed', async () => {
    const p = await P.raw;
    const next = raw.next();
    const c = RawClient.to(p.port, wsHead(PF, [['X-Test', 'updestroy']]));
    const conn = await within(next, 'the upstream connection');
    assert.equal((await c.switched()).res.status, 101);
    conn.socket.destroy();
    await within(c.closeP, 'c.closeP');
  });
});

describe('backpressure in both directions (src/upgrade.ts in-process, real sockets to the upstream)', () => {
  // The client side is a Duplex the test controls, so "the proxy stopped reading the client" and
  // "the proxy stopped reading the upstream" are stream 'pause' events, not timings.
  let ctx: UpgradeContext;
  let kup: KUpstream;
  let front: http.Server;
  let frontPort: number;
  let onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void = () => {};

  before(async () => {
    klog.setSink(() => {});
    const cfg = loadResolvedConfig({ kubeconfig: rawKc }, {}, dir.path, dir.path);
    kup = createUpstream(cfg);
    ctx = { upstream: kup, credentials: createCredentials(cfg, kup.isTLS), disableCompression: false, userAgent: 'upgrade-test', keepaliveMs: 0 };
    front = http.createServer();
    front.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(req, socket, head));
    await new Promise<void>((res) => front.listen(0, '127.0.0.1', res));
    frontPort = (front.address() as AddressInfo).port;
  });

  after(async () => {
    ctx?.credentials.close();
    // (Upstream gained close() with certificate reloading; older trees only have the pool.)
    const closable = kup as unknown as { close?: () => Promise<void> } | undefined;
    if (closable?.close) await closable.close();
    else await kup?.pool.destroy();
    front?.closeAllConnections();
    await new Promise<void>((res) => (front ? front.close(() => res()) : res()));
  });

  /** Sends a real upgrade request to the in-process front server; its IncomingMessage goes to `upgrade()` with `client`. */
  async function startUpgrade(client: Duplex, mode: string, path: string): Promise<{ front: net.Socket }> {
    const handed = new Promise<void>((res) => {
      onUpgrade = (req, socket, head) => {
        upgrade(req, client, head, req.url!, ctx);
        // The request has been read; its own connection is not used any further.
        socket.destroy();
        res();
      };
    });
    const s = net.connect({ host: '127.0.0.1', port: frontPort });
    s.on('error', () => {});
    s.write(wsHead(path, [['X-Test', mode]]));
    await within(handed, 'handed');
    return { front: s };
  }

  test('client → upstream: with the upstream not reading, the proxy pauses the client; resumed, every byte arrives', async () => {
    const total = 96 * 1024 * 1024; // more than every socket buffer on the way (tcp_rmem max is 32 MB here)
    let pushed = 0;
    let headSeen = '';
    const client = new Duplex({
      read() {
        if (pushed >= total) {
          this.push(null);
          return;
        }
        const n = Math.min(64 * 1024, total - pushed);
        this.push(patternAt(pushed, n));
        pushed += n;
      },
      write(chunk: Buffer, _enc, cb) {
        // The relayed 101 head is the first write; only pauses after it are the splice's.
        if (headSeen === '') client.once('pause', () => pausedNow?.());
        headSeen += chunk.toString('latin1');
        cb();
      },
    });
    let pausedNow: (() => void) | undefined;
    let serverBytes = 0;
    const h = createHash('sha256');
    raw.handlers.set('bp-c2u', (conn) => {
      conn.socket.removeAllListeners('data');
      conn.socket.pause();
      conn.socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    const next = raw.next();
    const paused = new Promise<void>((res, rej) => {
      pausedNow = res;
      client.once('end', () => rej(new Error(`the proxy read all ${total} bytes from the client while the upstream read nothing`)));
    });
    const { front: fs } = await startUpgrade(client, 'bp-c2u', '/bp/c2u');
    const conn = await within(next, 'the upstream connection');
    await within(paused, 'paused');
    const consumed = pushed - client.readableLength;
    assert.match(headSeen, /^HTTP\/1\.1 101 /);
    assert.ok(consumed < total, `consumed ${consumed} of ${total}`);
    // Now the upstream reads: the client is resumed and the whole stream arrives in order.
    const done = new Promise<void>((res) => conn.socket.once('end', res));
    conn.socket.on('data', (d: Buffer) => {
      h.update(d);
      serverBytes += d.length;
    });
    conn.socket.resume();
    await within(done, 'done');
    assert.equal(serverBytes, total);
    assert.equal(h.digest('hex'), bigSha256(total));
    conn.socket.end();
    await within(conn.closeP, 'conn.closeP');
    fs.destroy();
    raw.handlers.delete('bp-c2u');
  });

  test('upstream → client: with the client not reading, the proxy pauses the upstream socket; resumed, every byte arrives', async () => {
    const total = 64 * 1024 * 1024;
    let held: (() => void) | undefined;
    let holding = true;
    let received = 0;
    let headLen = -1;
    const h = createHash('sha256');
    const client = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        if (headLen < 0) {
          // The relayed 101 head comes first, in one write.
          headLen = chunk.length;
          cb();
          return;
        }
        h.update(chunk);
        received += chunk.length;
        if (holding && held === undefined) held = cb;
        else cb();
      },
    });
    const finished = new Promise<void>((res) => client.once('finish', res));
    raw.handlers.set('bp-u2c', (conn) => {
      conn.socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      pumpPattern(conn.socket, total);
    });
    // The proxy's own upstream socket, to see it paused.
    let upSocket: net.Socket | undefined;
    const upPaused = new Promise<void>((res) => {
      const onStart = (m: unknown): void => {
        const req = (m as { request: ClientRequest }).request;
        if (req.path !== '/bp/u2c') return;
        unsubscribe('http.client.request.start', onStart);
        req.once('upgrade', (_r: IncomingMessage, s: net.Socket) => {
          upSocket = s;
          s.once('pause', () => res());
        });
      };
      subscribe('http.client.request.start', onStart);
    });
    const { front: fs } = await startUpgrade(client, 'bp-u2c', '/bp/u2c');
    await within(upPaused, 'upPaused');
    const absorbed = received + client.writableLength;
    assert.ok(absorbed <= 1024 * 1024, `the client absorbed ${absorbed} bytes without reading`);
    assert.ok(upSocket);
    holding = false;
    held?.();
    await within(finished, 'finished');
    assert.equal(received, total);
    assert.equal(h.digest('hex'), bigSha256(total));
    client.push(null);
    fs.destroy();
    raw.handlers.delete('bp-u2c');
  });
});

describe('--keepalive', () => {
  /** The keep-alive timer of the proxy's connection to the raw upstream, as `ss` shows it. */
  function keepaliveTimer(conn: RawConn): string | undefined {
    const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${conn.socket.remotePort} )`], { encoding: 'utf8' });
    assert.ok(out.trim() !== '', `ss found no socket from port ${conn.socket.remotePort}`);
    return /timer:\(keepalive,([^,]+),/.exec(out)?.[1];
  }
  function seconds(t: string): number {
    const m = /^(?:(\d+)min)?(?:(\d+)(?:\.\d+)?sec)?(?:(\d+)ms)?$/.exec(t);
    assert.ok(m, `timer ${t}`);
    return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) + Number(m[3] ?? 0) / 1000;
  }
  let hasSs = true;
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
  } catch {
    hasSs = false;
  }

  for (const [name, key, check] of [
    ['0 (Go default: 15s)', 'ka0', (t: string | undefined) => assert.ok(t !== undefined && seconds(t) <= 15, `timer ${t}`)],
    ['45s', 'ka45', (t: string | undefined) => assert.ok(t !== undefined && seconds(t) > 15 && seconds(t) <= 45, `timer ${t}`)],
    ['-1s (off)', 'kaOff', (t: string | undefined) => assert.equal(t, undefined)],
  ] as const) {
    test(`--keepalive=${name}: upgrades work and the upstream connection's keep-alive is set accordingly`, async () => {
      const p = await P[key];
      const next = raw.next();
      const c = RawClient.to(p.port, wsHead(PF));
      const conn = await within(next, 'the upstream connection');
      assert.equal((await c.switched()).res.status, 101);
      await echo(c, `ka-${key}`);
      if (hasSs) check(keepaliveTimer(conn));
      c.destroy();
      await within(conn.closeP, 'conn.closeP');
    });
  }

  test('a bad --keepalive is a usage error: exit 1, one line', async () => {
    for (const [value, why] of [
      ['abc', 'invalid duration'],
      ['10', 'missing unit in duration'],
      // Go says `time: unknown unit "x" in duration "5x"`; kproxy's wording differs (reported).
      ['5x', '(?:unknown unit "x" in|missing unit in) duration'],
      ['1h2', 'missing unit in duration'],
    ]) {
      const r = await runKproxy(['--port=0', `--keepalive=${value}`, '--kubeconfig', mainKc]);
      assert.equal(r.code, 1, `${value}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^error: invalid argument "${value}" for "--keepalive" flag: time: ${why} "${value}"`));
    }
  });
});

describe('same answers as kubectl proxy', { skip: kubectlMissing() }, () => {
  test('101 echo, 403 relay, h2c → 500 text', async () => {
    const kubectl = await startKubectlProxy(['--port=0', `--kubeconfig=${mainKc}`]);
    track(kubectl);
    const kproxy = await P.main;
    const exchange = async (port: number, bytes: string, payload?: string) => {
      const c = RawClient.to(port, bytes);
      if (payload === undefined) {
        // kubectl keeps the connection open after its own 500 and 403 (kproxy closes it).
        const res = await c.response();
        c.destroy();
        return { res, echoed: '' };
      }
      const { res } = await c.switched();
      await echo(c, payload);
      const echoed = c.buf.subarray(res.consumed).toString();
      c.destroy();
      return { res, echoed };
    };
    const norm = (r: ParsedResponse, names: string[]) => ({
      status: r.status,
      reason: r.reason,
      body: r.body.toString(),
      headers: Object.fromEntries(names.map((n) => [n, r.headerMap[n]])),
    });
    const cases: Array<{ name: string; bytes: string; payload?: string; headers: string[] }> = [
      { name: '101 echo (WebSocket)', bytes: wsHead(PF + '&cmp=1'), payload: 'ping', headers: ['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol'] },
      { name: '101 echo (SPDY)', bytes: spdyHead(PF + '&cmp=2'), payload: 'ping', headers: ['upgrade', 'connection', 'x-stream-protocol-version'] },
      { name: '403 relay', bytes: spdyHead('/upgrade/status/403'), headers: ['content-type', 'content-length'] },
      {
        name: 'h2c → 500',
        bytes: upgradeHead('GET', '/api/v1/pods?cmp=h2c', [['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAMAAABkAAQAoAAAAAIAAAAA']]),
        headers: ['content-type', 'x-content-type-options'],
      },
      { name: 'exec refused by the default filter', bytes: wsHead(EXEC + '&cmp=3'), headers: ['content-type', 'x-content-type-options'] },
    ];
    for (const cs of cases) {
      const [k, m] = await Promise.all([exchange(kubectl.port, cs.bytes, cs.payload), exchange(kproxy.port, cs.bytes, cs.payload)]);
      assert.deepEqual(norm(m.res, cs.headers), norm(k.res, cs.headers), cs.name);
      assert.equal(m.echoed, k.echoed, cs.name);
    }
    // What the upstream saw on the upgrade connection: the same credentials and identity.
    const recs = up.requests.filter((r) => r.target === PF + '&cmp=1');
    assert.equal(recs.length, 2);
    for (const r of recs) {
      assert.deepEqual(r.credentials, ['cert:alice', `bearer:${TOKEN}`]);
      assert.equal(r.alpn, 'http/1.1');
      assert.equal(r.headers.host, `127.0.0.1:${up.port}`);
      assert.deepEqual(headerValues(r, 'impersonate-user'), ['jane']);
    }
    // Pinned difference: kubectl writes the client's headers raw (hop-by-hop ones and those the
    // Connection header lists included); kproxy sends only Connection: Upgrade and Upgrade.
    for (const [port, who] of [
      [kubectl.port, 'kubectl'],
      [kproxy.port, 'kproxy'],
    ] as const) {
      const target = `${PF}&hop=${who}`;
      const c = RawClient.to(
        port,
        upgradeHead('GET', target, [
          ['Connection', 'Upgrade, X-Listed'],
          ['Upgrade', 'websocket'],
          ['X-Listed', '1'],
          ['Keep-Alive', 'timeout=5'],
          ['Sec-WebSocket-Version', '13'],
          ['Sec-WebSocket-Key', WS_KEY],
        ]),
      );
      assert.equal((await c.switched()).res.status, 101);
      c.destroy();
    }
    const hop = (who: string) => up.requests.find((r) => r.target === `${PF}&hop=${who}`)!;
    assert.equal(hop('kubectl').headers['x-listed'], '1');
    assert.equal(hop('kubectl').headers['keep-alive'], 'timeout=5');
    assert.equal(hop('kproxy').headers['x-listed'], undefined);
    assert.equal(hop('kproxy').headers['keep-alive'], undefined);
    assert.match(String(hop('kproxy').headers.connection), /^upgrade$/i);

    const kb = await runKubectlProxy(['--port=0', '--keepalive=abc', `--kubeconfig=${mainKc}`]);
    assert.equal(kb.code, 1);
    assert.match(kb.stderr, /invalid argument "abc" for "--keepalive" flag: time: invalid duration "abc"/);
    await kubectl.stop();
  });
});
