// A credential that has to be obtained (exec plugin run, OIDC refresh) and is then cached until
// it expires. Requests read the cached Authorization value synchronously; only when none is
// usable do they get a promise, and every request waiting at that moment shares the same one,
// because a plugin may be interactive and must never run twice at once. After a failure the
// next attempt waits an exponentially growing delay, and requests arriving meanwhile are
// answered at once with the last error, so a broken plugin is not re-run per request.

import { CredentialError } from './errors.js';
import * as log from '../log.js';

export const BACKOFF_INITIAL_MS = 1_000;
export const BACKOFF_MAX_MS = 30_000;

export interface Obtained {
  /** The Authorization value, or undefined when the credential is a client certificate only. */
  authorization: string | undefined;
  /** Until then the value is used as is (ms since the epoch; Infinity when it does not expire). */
  freshUntil: number;
  /**
   * After `freshUntil` and before this, the value is still sent while a new one is obtained in
   * the background; after it, requests wait for the new one.
   */
  expiresAt: number;
}

/** --admin-address: told of every credential obtained or refused (metrics.ts); unset otherwise. */
let observer: ((kind: string, ok: boolean) => void) | undefined;

export function observeRefreshes(fn: ((kind: string, ok: boolean) => void) | undefined): void {
  observer = fn;
}

/** For credential sources outside this class (token files). */
export function reportRefresh(kind: string, ok: boolean): void {
  observer?.(kind, ok);
}

export interface RefreshingOptions {
  /** Obtains a new credential; rejects with a CredentialError (other errors are wrapped). */
  obtain: () => Promise<Obtained>;
  now?: () => number;
  /** For log lines. */
  what: string;
  /** For metrics: exec, oidc. */
  kind?: string;
}

export class RefreshingCredential {
  private current: Obtained | undefined;
  private inflight: Promise<string | undefined> | undefined;
  private failure: { error: CredentialError; retryAt: number; count: number } | undefined;
  private readonly now: () => number;
  private readonly obtainFn: () => Promise<Obtained>;
  private readonly what: string;
  private readonly kind: string;
  private closed = false;

  constructor(opts: RefreshingOptions) {
    this.now = opts.now ?? Date.now;
    this.obtainFn = opts.obtain;
    this.what = opts.what;
    this.kind = opts.kind ?? 'other';
  }

  authorization(): string | undefined | Promise<string | undefined> {
    const c = this.current;
    if (c !== undefined) {
      const t = this.now();
      if (t < c.freshUntil) return c.authorization;
      if (t < c.expiresAt) {
        this.refreshInBackground();
        return c.authorization;
      }
    }
    return this.obtain();
  }

  /** The API server refused `used`: if it is still the cached value, obtain a new one next time. */
  rejected(used: string | undefined): void {
    if (this.current !== undefined && this.current.authorization === used) this.current = undefined;
  }

  /** Seeds the cache (an OIDC id-token from the kubeconfig, for example). */
  seed(value: Obtained): void {
    this.current = value;
  }

  /** The value currently cached, whether fresh or not (for tests and logs). */
  peek(): Obtained | undefined {
    return this.current;
  }

  close(): void {
    this.closed = true;
  }

  private refreshInBackground(): void {
    if (this.inflight || this.closed) return;
    if (this.failure && this.now() < this.failure.retryAt) return;
    this.obtain().catch((err: Error) => log.warn(`Unable to refresh the ${this.what} before it expires: ${err.message}`));
  }

  private obtain(): Promise<string | undefined> {
    if (this.inflight) return this.inflight;
    const f = this.failure;
    if (f && this.now() < f.retryAt) return Promise.reject(f.error);
    const p = this.obtainFn().then(
      (got) => {
        observer?.(this.kind, true);
        this.current = got;
        this.failure = undefined;
        return got.authorization;
      },
      (err: unknown) => {
        observer?.(this.kind, false);
        const error = err instanceof CredentialError ? err : new CredentialError((err as Error).message ?? String(err));
        const count = (this.failure?.count ?? 0) + 1;
        const delay = Math.min(BACKOFF_INITIAL_MS * 2 ** (count - 1), BACKOFF_MAX_MS);
        this.failure = { error, retryAt: this.now() + delay, count };
        throw error;
      },
    );
    this.inflight = p;
    const clear = (): void => {
      if (this.inflight === p) this.inflight = undefined;
    };
    p.then(clear, clear);
    return p;
  }
}
