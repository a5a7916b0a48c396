// Small network helpers shared by the test files: ports nothing listens on, whether a host can be
// bound here, and a back-pressure-aware writer of the `/big` byte pattern.

import { createServer } from 'node:net';
import type { Writable } from 'node:stream';
import { bigBody } from './upstream.js';

/** A port that was free a moment ago: bound once on 127.0.0.1 by us, then released. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

/** A port nothing listens on (a connection to it is refused): the same as `freePort`, named for its use. */
export const closedPort: () => Promise<number> = freePort;

/** Whether a TCP listener can bind `host` here (IPv6 loopback is missing in some containers). */
export async function canListenOn(host: string): Promise<boolean> {
  const s = createServer();
  try {
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.listen(0, host, () => res());
    });
    return true;
  } catch {
    return false;
  } finally {
    if (s.listening) s.close();
  }
}

// The `/big` pattern (byte i is i % 251), so a dropped, repeated or reordered chunk is visible.
const PATTERN = bigBody(64 * 1024 + 251);

/** `n` (at most 64 KiB) bytes of the `/big` pattern starting at byte `offset` of the stream. */
export function patternAt(offset: number, n: number): Buffer {
  const s = offset % 251;
  return PATTERN.subarray(s, s + n);
}

/**
 * Writes `total` bytes of the `/big` pattern (so `bigSha256(total)` is their hash) in 64 KiB
 * chunks, waiting for 'drain' whenever `write()` says the buffer is full, then ends the stream.
 */
export function pumpPattern(socket: Writable, total: number): void {
  let off = 0;
  const pump = (): void => {
    while (off < total) {
      const n = Math.min(64 * 1024, total - off);
      const ok = socket.write(patternAt(off, n));
      off += n;
      if (!ok) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  pump();
}
