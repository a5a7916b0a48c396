// What forward.ts sends a request through: the small part of undici's Dispatcher it uses, which
// undici's Pool (HTTP/1.1) and H2Pool (h2pool.ts, HTTP/2) both provide.

import type { Readable } from 'node:stream';

/** What forward.ts sends: undici's DispatchOptions, the part it uses. */
export interface RequestOptions {
  path: string;
  method: string;
  /** Flat name/value list, as outgoing.ts builds it. */
  headers: string[];
  body: Readable | null;
}

/** undici's (legacy) DispatchHandler, the part forward.ts implements. */
export interface ResponseHandler {
  onConnect(abort: (err?: Error) => void): void;
  /** Return false to pause the body until `resume` is called. */
  onHeaders(status: number, rawHeaders: (Buffer | string)[], resume: () => void, statusText: string): boolean;
  /** Return false to pause the body until `resume` is called. */
  onData(chunk: Buffer): boolean;
  onComplete(trailers: (Buffer | string)[] | null): void;
  onError(err: Error): void;
}

/** A pool forward.ts can send a request through: undici's Pool, or H2Pool. */
export interface RequestDispatcher {
  dispatch(opts: RequestOptions, handler: ResponseHandler): boolean;
}
