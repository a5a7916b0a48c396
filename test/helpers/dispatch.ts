// One request sent straight through an upstream pool (upstream.poolFor(...).dispatch), recorded as
// forward.ts would see it: status, headers, body as it streams, and how it ended.

import type { ResponseHandler } from '../../src/dispatcher.js';
import type { Upstream } from '../../src/upstream.js';
import { within } from './proc.js';

/** One request through an upstream pool, recorded as a test client would see it. */
export class Call {
  status = 0;
  body = '';
  private abortFn: ((err?: Error) => void) | undefined;
  private onStatus!: (s: number) => void;
  private onEnd!: (r: { complete: boolean; error?: Error }) => void;
  readonly headers = new Promise<number>((r) => (this.onStatus = r));
  readonly ended = new Promise<{ complete: boolean; error?: Error }>((r) => (this.onEnd = r));
  rawHeaders: string[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(up: Upstream, authorization: string, path: string, method = 'GET') {
    const handler: ResponseHandler = {
      onConnect: (abort) => {
        this.abortFn = abort;
      },
      onHeaders: (status, raw) => {
        if (status < 200) return true;
        this.status = status;
        this.rawHeaders = raw.map(String);
        this.onStatus(status);
        return true;
      },
      onData: (chunk) => {
        this.body += chunk.toString();
        for (const w of this.waiters) w();
        return true;
      },
      onComplete: () => this.onEnd({ complete: true }),
      onError: (error) => {
        this.onStatus(0);
        this.onEnd({ complete: false, error });
      },
    };
    up.poolFor(method, path).dispatch({ path, method, headers: ['host', up.hostHeader, 'authorization', authorization], body: null }, handler);
  }

  waitFor(text: string): Promise<void> {
    return within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.body.includes(text)) {
            this.waiters.delete(check);
            resolve();
          }
        };
        this.waiters.add(check);
        check();
      }),
      `"${text}" received`,
    );
  }

  abort(): void {
    this.abortFn?.(new Error('client went away'));
  }
}

