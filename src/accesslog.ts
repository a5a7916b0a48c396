// --access-log: one line per request, text or JSON. Only the path is logged (never the query,
// headers or bodies), so tokens, cookies and credentials cannot end up in it. When the flag is
// off nothing here runs.

import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Verdict } from './admit.js';
import { fileError, UserError } from './errors.js';
import * as log from './log.js';

export type AccessLogFormat = 'text' | 'json';

/** decision: accept / reject, or local for answers the router gives itself (redirects, 404, 400); rule: the pattern (or reason) that decided. */
export type AccessEntry = { method: string; path: string; /** --contexts: the context it went to. */ context?: string } & Verdict;

export interface AccessLog {
  /** Starts timing a request; the line is written when its response is done. */
  begin(req: IncomingMessage, res: ServerResponse, entry: AccessEntry): void;
  /** `status` is 101 for a forwarded upgrade (the upstream may still refuse it), else the local answer. */
  beginUpgrade(req: IncomingMessage, entry: AccessEntry, status: number): void;
  close(): Promise<void>;
}

function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The destination, opened now: a path that cannot be written is refused before the start line. */
function open(dest: string): NodeJS.WritableStream | WriteStream {
  if (dest === '-') return process.stderr;
  let fd: number;
  try {
    fd = openSync(dest, 'a', 0o600);
  } catch (err) {
    throw new UserError(`--access-log: ${fileError('open', dest, err)}`);
  }
  const out = createWriteStream(dest, { fd });
  // A write failing later (a full disk) must not take the proxy down with it.
  let failed = false;
  out.on('error', (err) => {
    if (!failed) log.error(`--access-log ${dest}: ${(err as Error).message}; no more lines are written`);
    failed = true;
  });
  return out;
}

export function createAccessLog(dest: string, format: AccessLogFormat): AccessLog {
  const out = open(dest);
  const write = (fields: { time: string; method: string; path: string; status: number; bytes: number; durationMs: number } & Omit<AccessEntry, 'method' | 'path'>) => {
    if (format === 'json') out.write(JSON.stringify(fields) + '\n');
    else
      out.write(
        `${fields.time} ${fields.method} ${JSON.stringify(fields.path)} ${fields.status} ${fields.bytes} ${fields.durationMs}ms ${fields.decision} ${JSON.stringify(fields.rule)}${fields.context !== undefined ? ` context=${JSON.stringify(fields.context)}` : ''}\n`,
      );
  };
  return {
    begin(req, res, entry) {
      const start = process.hrtime.bigint();
      let bytes = 0;
      const origWrite = res.write;
      const origEnd = res.end;
      // Counting body bytes means seeing every write; this wrapper exists only with --access-log.
      res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
        if (chunk) bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length;
        return (origWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
      } as typeof res.write;
      res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
        if (chunk && typeof chunk !== 'function') bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length;
        return (origEnd as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
      } as typeof res.end;
      res.once('close', () => {
        write({
          time: new Date().toISOString(),
          method: entry.method,
          path: pathOnly(entry.path),
          status: res.headersSent ? res.statusCode : 0,
          bytes,
          durationMs: Number((process.hrtime.bigint() - start) / 1000n) / 1000,
          decision: entry.decision,
          rule: entry.rule,
          context: entry.context,
        });
      });
    },
    beginUpgrade(req, entry, status) {
      const start = process.hrtime.bigint();
      req.socket.once('close', () => {
        write({
          time: new Date().toISOString(),
          method: entry.method,
          path: pathOnly(entry.path),
          status,
          bytes: req.socket.bytesWritten,
          durationMs: Number((process.hrtime.bigint() - start) / 1000n) / 1000,
          decision: entry.decision,
          rule: entry.rule,
          context: entry.context,
        });
      });
    },
    close() {
      const file = out as WriteStream;
      if (out === process.stderr || file.destroyed) return Promise.resolve();
      return new Promise((resolve) => file.end(() => resolve()));
    },
  };
}
