// What the fake API servers (upstream.ts, kube-api.ts) share: listening on an ephemeral loopback
// port, tracking sockets so that close() can destroy them, the open watch and log-follow streams,
// and waits that resolve from the code that changes the state (`poke()`), never by polling.

import type { ServerResponse } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { Waiters } from './waiters.js';

/** Safety net only: a wait that never resolves must fail the test with a useful message. */
export const DEFAULT_WAIT_MS = 20_000;

/** The `/version` document of a fake API server: kubectl 1.32's, with its own `gitVersion`. */
export function versionInfo(gitVersion: string) {
  return {
    major: '1',
    minor: '32',
    gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.23.8',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

/** Listens on an ephemeral port of `host` (a listen error rejects); returns the port. */
export async function listenEphemeral(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** `Watch` is what one open watch stream is kept as (a response, or a response with its filter). */
export abstract class FakeServer<Watch> {
  url = '';
  port = 0;

  protected abstract readonly server: Server;
  protected readonly sockets = new Set<Duplex>();
  protected readonly watchStreams = new Set<Watch>();
  protected readonly logStreams = new Set<ServerResponse>();
  private readonly waiters: Waiters;
  private closing: Promise<void> | undefined;

  /** `name` prefixes timeout messages. */
  constructor(name: string) {
    this.waiters = new Waiters(name, () => this.describeRequests());
  }

  /** The recorded requests, one per line, for timeout messages. */
  protected abstract describeRequests(): string;

  /** The response an open watch writes to. */
  protected abstract watchResponse(w: Watch): ServerResponse;

  /** Runs first in close(), before the streams are forgotten and the sockets destroyed. */
  protected beforeClose(): void {}

  protected async listenOn(host: string, scheme: string): Promise<void> {
    this.port = await listenEphemeral(this.server, host);
    this.url = `${scheme}://${host}:${this.port}`;
  }

  get watchers(): number {
    return this.watchStreams.size;
  }

  get logFollowers(): number {
    return this.logStreams.size;
  }

  protected track(s: Duplex): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }

  // Every state change pokes the waiters: waits resolve from the code that changed the state.
  protected poke(): void {
    this.waiters.poke();
  }

  protected waitUntil(what: string, check: () => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    return this.waiters.until(what, check, timeoutMs);
  }

  waitForLogFollowers(n: number, timeoutMs?: number): Promise<void> {
    return this.waitUntil(`${n} open log follower(s)`, () => this.logStreams.size >= n, timeoutMs);
  }

  endWatches(): number {
    const n = this.watchStreams.size;
    for (const w of this.watchStreams) this.watchResponse(w).end();
    this.watchStreams.clear();
    return n;
  }

  /** Writes `text` verbatim to every open log follower; throws `missing` when none is open. */
  protected writeLogs(text: string, missing: string): void {
    if (this.logStreams.size === 0) throw new Error(missing);
    for (const res of this.logStreams) res.write(text);
  }

  endLogs(): number {
    const n = this.logStreams.size;
    for (const res of this.logStreams) res.end();
    this.logStreams.clear();
    return n;
  }

  /** Stops listening and destroys every socket. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.beforeClose();
      this.watchStreams.clear();
      this.logStreams.clear();
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
    });
    return this.closing;
  }
}
