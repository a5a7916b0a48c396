// The byte pattern of the fake upstream's `/big` route, and of the large transfers the tests
// push through the proxy themselves: byte i of the stream is i % 251, a prime period that makes a
// dropped, repeated or reordered chunk visible.

import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';

const PERIOD = 251;
const CHUNK = 64 * 1024;
const PATTERN = Buffer.from(Uint8Array.from({ length: CHUNK + PERIOD }, (_, i) => i % PERIOD));

/** `length` (at most 64 KiB) bytes of the pattern starting at byte `offset` of the stream. */
export function patternAt(offset: number, length: number): Buffer {
  const start = offset % PERIOD;
  return PATTERN.subarray(start, start + length);
}

/** The first `size` bytes `/big` serves. */
export function bigBody(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let off = 0; off < size; off += CHUNK) patternAt(off, Math.min(CHUNK, size - off)).copy(out, off);
  return out;
}

/** sha256 (hex) of `bigBody(size)`, computed without holding it all in memory. */
export function bigSha256(size: number): string {
  const h = createHash('sha256');
  for (let off = 0; off < size; off += CHUNK) h.update(patternAt(off, Math.min(CHUNK, size - off)));
  return h.digest('hex');
}

/**
 * Writes the first `total` bytes of the pattern (so `bigSha256(total)` is their hash) in 64 KiB
 * chunks, waiting for 'drain' whenever `write()` says the buffer is full, then ends the stream.
 * Stops quietly if the stream is destroyed meanwhile.
 */
export function pumpPattern(stream: Writable, total: number): void {
  let off = 0;
  const pump = (): void => {
    while (off < total) {
      if (stream.destroyed) return;
      const n = Math.min(CHUNK, total - off);
      const ok = stream.write(patternAt(off, n));
      off += n;
      if (!ok) {
        stream.once('drain', pump);
        return;
      }
    }
    stream.end();
  };
  pump();
}
