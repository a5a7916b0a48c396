// What is in flight, so that SIGINT/SIGTERM can stop the proxy gracefully: ordinary requests
// get a short grace period, watches and log follows are ended cleanly at once (their clients
// re-watch as after any server-side end), upgraded sessions are closed.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { isLongRunning } from './route.js';

/** How long ordinary in-flight requests may take to finish after a stop signal. */
export const SHUTDOWN_GRACE_MS = 5_000;

interface Entry {
  req: IncomingMessage;
  /** Ends the response cleanly and aborts its upstream request. */
  stop?: () => void;
}

export class Inflight {
  private readonly requests = new Map<ServerResponse, Entry>();
  private readonly sockets = new Set<Duplex>();
  private draining = false;
  private idle: (() => void) | undefined;

  track(req: IncomingMessage, res: ServerResponse): void {
    this.requests.set(res, { req });
    res.once('close', () => {
      this.requests.delete(res);
      if (this.draining && this.requests.size === 0) this.idle?.();
    });
  }

  setStop(res: ServerResponse, stop: () => void): void {
    const e = this.requests.get(res);
    if (e) e.stop = stop;
  }

  trackSocket(socket: Duplex): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  get size(): number {
    return this.requests.size + this.sockets.size;
  }

  /** Resolves when nothing is in flight any more, or when the grace period is over. */
  drain(graceMs: number): Promise<void> {
    this.draining = true;
    for (const s of this.sockets) s.destroy();
    for (const [res, e] of this.requests) {
      if (isLongRunning(e.req.method, e.req.url ?? '')) {
        if (e.stop) e.stop();
        else res.end();
      }
    }
    if (this.requests.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const res of this.requests.keys()) res.destroy();
        resolve();
      }, graceMs);
      timer.unref();
      this.idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
