// Back-pressure through a spliced upgrade in both directions, with src/upgrade.ts in-process
// (imported through test/helpers/upgrade-harness.ts) and real sockets to the raw upgrade upstream:
// "the proxy stopped reading" is a stream 'pause' event, not a timing.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { patternAt, pumpPattern } from '../helpers/net.js';
import { within } from '../helpers/proc.js';
import { createCredentials, createUpstream, dir, klog, type KUpstream, loadResolvedConfig, raw, rawKc, upgrade, type UpgradeContext, useUpgradeFixture, wsHead } from '../helpers/upgrade-harness.js';
import { bigSha256 } from '../helpers/upstream.js';

useUpgradeFixture([]);

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
    await kup?.close();
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
