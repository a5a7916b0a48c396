// An HTTPS API server whose answers to upgrade requests the test controls, chosen per request by
// the `X-Test` header: `echo101` (the default: 101, then an echo), `ws` (a real WebSocket echo
// through the ws library), `early101`, `302`, `200-keepalive`, `403-chunked`, `hang`,
// `halfclose`, `upfirst`, `updestroy`, or any mode the test registers in `handlers`. Every
// upgrade connection is exposed as a `RawConn` (what the proxy sent after the request head, and
// its end/close as promises); `next()` resolves with the next one. Ordinary requests are counted
// in `plain` (someone following a redirect) and answered `plain`.

import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { Pki } from './pki.js';

/** Safety net for event waits; a wait that needs it has failed. */
const WAIT_MS = 10_000;

export interface RawConn {
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

export interface RawUpgradeUpstream {
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

export async function startRawUpgradeUpstream(pki: Pki): Promise<RawUpgradeUpstream> {
  const sockets = new Set<Socket>();
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
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('request', (req, res) => {
    plain.push(`${req.method} ${req.url}`);
    res.end('plain\n');
  });
  server.on('upgrade', (req: IncomingMessage, sock: Socket, head: Buffer) => {
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
