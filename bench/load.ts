// Load generation: a closed-loop request generator, a set of long-lived watches that measure
// event delay, and an abort storm. All three drive undici's `dispatch` directly with minimal
// handlers (no Readable streams per response), so the generator stays cheap next to the proxy.

import type { ConnectionOptions } from 'node:tls';
import { Pool, type Dispatcher } from 'undici';

type Abort = (err?: Error) => void;

export interface Target {
  name: 'direct' | 'kubectl' | 'kproxy';
  /** `http://127.0.0.1:port` for a proxy, `https://127.0.0.1:port` for the upstream. */
  origin: string;
  /** TLS options (trust the benchmark CA) for the direct target. */
  tls?: ConnectionOptions;
  /** Extra request headers; the direct target carries the bearer token itself. */
  headers: string[];
}

export function makePool(t: Target, connections: number): Pool {
  return new Pool(t.origin, {
    connections,
    pipelining: 1,
    connect: t.tls ? { ...(t.tls as Record<string, unknown>) } : undefined,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 120_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
}

// ---- statistics -----------------------------------------------------------------------------

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** A growable Float64Array of samples. */
export class Samples {
  private buf = new Float64Array(1 << 14);
  length = 0;
  push(x: number): void {
    if (this.length === this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.length++] = x;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.length).sort();
  }
}

// ---- closed loop ----------------------------------------------------------------------------

export interface LoopSpec {
  path: string;
  method?: 'GET' | 'POST';
  headers?: string[];
  body?: Buffer;
  /** Concurrent requests (and connections). */
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Called as the measured window opens and closes (run.ts reads the proxy's CPU there). */
  onWindow?: (phase: 'start' | 'end') => void;
}

export interface LoopResult {
  /** Completed requests inside the measured window. */
  requests: number;
  /** Requests per second inside the window. */
  rps: number;
  /** Response bytes (GET) or request bytes (POST) moved inside the window, per second, in MB/s (10^6 bytes). */
  mbps: number;
  /** Latency percentiles of requests completed in the window, microseconds. */
  p50us: number;
  p99us: number;
  errors: number;
  /** Status codes other than 2xx, by code. */
  badStatus: Record<string, number>;
  /** CPU of the proxy's process tree inside the window, in % of one core; set by run.ts. */
  cpuPct?: number;
  /** The proxy's CPU inside the window per request (µs) and per MB of body (ms); set by run.ts. */
  cpuUsPerReq?: number;
  cpuMsPerMB?: number;
  /** Bytes counted in the window (the MB/s numerator). */
  bytes: number;
  firstError?: string;
}

/**
 * N workers, each sending its next request as soon as the previous response has been read in
 * full. Throughput counts responses completed inside [warm-up end, warm-up end + duration].
 */
export function closedLoop(t: Target, spec: LoopSpec): Promise<LoopResult> {
  const pool = makePool(t, spec.concurrency);
  const method = spec.method ?? 'GET';
  const headers = [...t.headers, ...(spec.headers ?? [])];
  const lat = new Samples();
  const badStatus: Record<string, number> = {};
  let inWindow = false;
  let stopping = false;
  let count = 0;
  let bytes = 0;
  let errors = 0;
  let firstError: string | undefined;
  let active = 0;
  const upload = spec.body !== undefined;
  // Uploads go out in 256 KiB pieces so that the bytes sent inside the window can be counted
  // (undici reports each piece once the socket has taken it, with backpressure).
  const body = spec.body;
  const pieces = body ? function* (): Generator<Buffer> {
    for (let i = 0; i < body.length; i += 256 * 1024) yield body.subarray(i, i + 256 * 1024);
  } : undefined;
  if (body) headers.push('content-length', String(body.length));

  return new Promise<LoopResult>((resolve) => {
    let windowStart = 0;
    let windowEnd = 0;
    const finish = (): void => {
      const secs = (windowEnd - windowStart) / 1000;
      const sorted = lat.sorted();
      pool.destroy().catch(() => {});
      resolve({
        requests: count,
        rps: count / secs,
        mbps: bytes / secs / 1e6,
        p50us: percentile(sorted, 50),
        p99us: percentile(sorted, 99),
        bytes,
        errors,
        badStatus,
        firstError,
      });
    };

    const issue = (): void => {
      active++;
      const start = performance.now();
      let status = 0;
      const done = (err?: Error): void => {
        active--;
        const end = performance.now();
        if (err) {
          errors++;
          firstError ??= `${err.name}: ${err.message}`;
        } else if (status < 200 || status > 299) {
          badStatus[status] = (badStatus[status] ?? 0) + 1;
        } else if (inWindow) {
          // Throughput: every response completed inside the window; latency: those also sent in it.
          count++;
          if (start >= windowStart) lat.push((end - start) * 1000);
        }
        if (stopping) {
          if (active === 0) finish();
        } else if (err) {
          // Do not spin on a dead target.
          setTimeout(issue, 20);
        } else {
          issue();
        }
      };
      const handler = {
        onConnect() {},
        onHeaders(statusCode: number) {
          status = statusCode;
          return true;
        },
        onData(chunk: Buffer) {
          // Bytes are counted as they arrive, so a 32 MiB body straddling the window counts in part.
          if (inWindow && !upload) bytes += chunk.length;
          return true;
        },
        // undici passes the piece itself (its typings say a size).
        onBodySent(chunk: unknown) {
          if (inWindow) bytes += (chunk as Buffer).length;
        },
        onComplete() {
          done();
        },
        onError(err: Error) {
          done(err);
        },
      } as unknown as Dispatcher.DispatchHandler;
      const b = (pieces ? pieces() : null) as Dispatcher.DispatchOptions['body'];
      pool.dispatch({ origin: t.origin, path: spec.path, method, headers, body: b }, handler);
    };

    for (let i = 0; i < spec.concurrency; i++) issue();
    setTimeout(() => {
      spec.onWindow?.('start');
      inWindow = true;
      windowStart = performance.now();
      setTimeout(() => {
        inWindow = false;
        windowEnd = performance.now();
        spec.onWindow?.('end');
        stopping = true;
      }, spec.durationMs);
    }, spec.warmupMs);
  });
}

// ---- watches --------------------------------------------------------------------------------

const MARK = Buffer.from('"bench.kproxy.dev/emitted-ns":"');

export interface WatchSet {
  /** Watches whose response headers have arrived and that are still open. */
  open(): number;
  errors(): number;
  firstError(): string | undefined;
  /** Start/stop recording event delays. */
  record(on: boolean): void;
  /** Event delays (ms) recorded so far, and events seen in total. */
  delays(): Samples;
  /** Per watch: request dispatched → its first event received (ms). */
  firstEvents(): Samples;
  events(): number;
  close(): Promise<void>;
}

/**
 * Opens `count` watches (at most `openConcurrency` being set up at once) and resolves once all
 * have their response headers. Each received event's delay is now - emitted-ns.
 */
export async function openWatches(t: Target, path: string, count: number, openConcurrency: number, timeoutMs: number): Promise<WatchSet> {
  const pool = makePool(t, count);
  const controllers = new Set<Abort>();
  const delays = new Samples();
  const firstEvents = new Samples();
  let recording = false;
  let opened = 0;
  let openNow = 0;
  let errors = 0;
  let events = 0;
  let firstError: string | undefined;
  let closing = false;

  /** Counts the events in `buf`; returns how many. */
  const scan = (buf: Buffer, now: bigint): number => {
    let at = 0;
    let n = 0;
    for (;;) {
      const i = buf.indexOf(MARK, at);
      if (i < 0) return n;
      const s = i + MARK.length;
      const e = buf.indexOf(0x22, s);
      if (e < 0) return n;
      events++;
      n++;
      if (recording) delays.push(Number(now - BigInt(buf.toString('latin1', s, e))) / 1e6);
      at = e;
    }
  };

  const start = (onOpen: () => void): void => {
    let tail: Buffer | undefined;
    let isOpen = false;
    const sent = process.hrtime.bigint();
    let first = true;
    let abort: Abort | undefined;
    const handler: Dispatcher.DispatchHandler = {
      onConnect(a) {
        abort = a;
        controllers.add(a);
      },
      onHeaders(status) {
        if (status < 200) return true;
        if (status === 200) {
          isOpen = true;
          opened++;
          openNow++;
        } else {
          errors++;
          firstError ??= `watch answered ${status}`;
        }
        onOpen();
        return true;
      },
      onData(chunk) {
        const now = process.hrtime.bigint();
        // Events can straddle chunks: keep the bytes after the last newline for the next one.
        const buf = tail ? Buffer.concat([tail, chunk]) : chunk;
        const nl = buf.lastIndexOf(0x0a);
        if (nl < 0) {
          tail = buf;
          return true;
        }
        if (scan(nl === buf.length - 1 ? buf : buf.subarray(0, nl + 1), now) > 0 && first) {
          first = false;
          firstEvents.push(Number(now - sent) / 1e6);
        }
        tail = nl === buf.length - 1 ? undefined : Buffer.from(buf.subarray(nl + 1));
        return true;
      },
      onComplete() {
        if (abort) controllers.delete(abort);
        if (isOpen) openNow--;
        if (!closing) {
          errors++;
          firstError ??= 'watch ended by the server';
        }
      },
      onError(err) {
        if (abort) controllers.delete(abort);
        if (isOpen) openNow--;
        if (!closing) {
          errors++;
          firstError ??= `${err.name}: ${err.message}`;
          if (!isOpen) onOpen();
        }
      },
    };
    pool.dispatch({ origin: t.origin, path, method: 'GET', headers: t.headers }, handler);
  };

  await new Promise<void>((resolve, reject) => {
    let started = 0;
    let settled = 0;
    const timer = setTimeout(() => reject(new Error(`only ${opened}/${count} watches opened within ${timeoutMs} ms (${errors} errors; ${firstError ?? ''})`)), timeoutMs);
    const more = (): void => {
      while (started < count && started - settled < openConcurrency) {
        started++;
        start(() => {
          settled++;
          if (settled === count) {
            clearTimeout(timer);
            resolve();
          } else more();
        });
      }
    };
    more();
  }).catch(async (err) => {
    closing = true;
    for (const a of controllers) a(new Error('closing'));
    await pool.destroy().catch(() => {});
    throw err;
  });

  return {
    open: () => openNow,
    errors: () => errors,
    firstError: () => firstError,
    record: (on) => {
      recording = on;
    },
    delays: () => delays,
    firstEvents: () => firstEvents,
    events: () => events,
    async close() {
      closing = true;
      for (const a of [...controllers]) a(new Error('watch closed by the benchmark'));
      controllers.clear();
      await pool.destroy().catch(() => {});
    },
  };
}

// ---- abort storm ----------------------------------------------------------------------------

export interface AbortResult {
  /** Requests cut after the first body bytes had arrived. */
  aborted: number;
  /** Requests that failed before any body arrived (not counting our own aborts). */
  failed: number;
  /** Requests that completed before we could cut them. */
  completed: number;
  ms: number;
  firstError?: string;
}

/**
 * `total` requests, `concurrency` at a time, cycling through `paths`; each one is aborted as soon
 * as the first chunk of its body arrives (mid-response), which destroys its client connection.
 */
export function abortStorm(t: Target, paths: string[], total: number, concurrency: number): Promise<AbortResult> {
  const pool = makePool(t, concurrency);
  const cut = new Error('aborted by the benchmark');
  let started = 0;
  let ended = 0;
  let aborted = 0;
  let failed = 0;
  let completed = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const one = (): void => {
      const path = paths[started % paths.length]!;
      started++;
      let cutting = false;
      const end = (): void => {
        ended++;
        if (started < total) one();
        else if (ended === total) {
          pool.destroy().catch(() => {});
          resolve({ aborted, failed, completed, ms: performance.now() - t0, firstError });
        }
      };
      let abort: Abort | undefined;
      const handler: Dispatcher.DispatchHandler = {
        onConnect(a) {
          abort = a;
        },
        onHeaders() {
          return true;
        },
        onData() {
          if (!cutting) {
            cutting = true;
            abort!(cut);
          }
          return true;
        },
        onComplete() {
          completed++;
          end();
        },
        onError(err) {
          if (cutting) aborted++;
          else {
            failed++;
            firstError ??= `${err.name}: ${err.message}`;
          }
          end();
        },
      };
      pool.dispatch({ origin: t.origin, path, method: 'GET', headers: t.headers }, handler);
    };
    for (let i = 0; i < Math.min(concurrency, total); i++) one();
  });
}

/** One GET, body read in full; returns the status. */
export async function getOnce(t: Target, path: string): Promise<number> {
  const pool = makePool(t, 1);
  try {
    const r = await pool.request({ origin: t.origin, path, method: 'GET', headers: t.headers });
    await r.body.dump();
    return r.statusCode;
  } finally {
    await pool.destroy().catch(() => {});
  }
}
