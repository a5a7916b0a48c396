// A raw client for upgrade exchanges: writes the request bytes itself on a plain TCP socket, keeps
// everything it receives, and waits for what it expects through socket events (the timeout is a
// safety net whose message shows what was received). `switched()` parses a 101 head, `response()`
// a whole answer by its framing, `closedResponse()` an answer read until the proxy closes.

import assert from 'node:assert/strict';
import net from 'node:net';
import { parseRawResponse, type ParsedResponse } from './http.js';
import { within } from './proc.js';

/** Safety net for event waits; a wait that needs it has failed. */
const WAIT_MS = 10_000;

export class RawClient {
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
