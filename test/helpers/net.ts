// Small network helpers shared by the test files: ports nothing listens on, whether a host can be
// bound here, and (from pattern.ts) a back-pressure-aware writer of the `/big` byte pattern.

import { createServer } from 'node:net';

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

export { patternAt, pumpPattern } from './pattern.js';
