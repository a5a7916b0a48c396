// One API server as one user: the upstream pool (upstream.ts) and the credentials
// (auth/credentials.ts) built from a resolved kubeconfig context, as the request path needs them.
// kubectl's single context is one destination; --contexts makes one per context (serving.ts).

import { createCredentials, type Credentials } from './auth/credentials.js';
import type { ResolvedConfig } from './kubeconfig/types.js';
import type { UpstreamRequestContext } from './outgoing.js';
import { createUpstream, type Upstream } from './upstream.js';
import { VERSION } from './version.js';

/**
 * After a reload, how long a replaced destination still takes new dispatches: a request admitted
 * just before the swap may still be waiting for a credential (an exec plugin) when it happens.
 */
export const RETIRE_GRACE_MS = 30_000;

export const USER_AGENT = `kproxy/${VERSION} (${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch})`;

export interface Destination {
  readonly cfg: ResolvedConfig;
  readonly upstream: Upstream;
  readonly credentials: Credentials;
  readonly ctx: UpstreamRequestContext;
  /** Shutdown: pools destroyed, credential sources stopped. */
  close(): Promise<void>;
  /** Open pooled connections by protocol, read by /metrics. */
  connections(): Array<{ protocol: string; count: number }>;
  /**
   * After a reload: no new request is routed here; after RETIRE_GRACE_MS the pools close once
   * the requests on them (watches, log follows) are done, then everything is closed. Upgraded
   * sessions have their own connections and are not affected. `close()` still ends it at once.
   */
  retire(graceMs?: number): Promise<void>;
}

export interface DestinationOptions {
  env: NodeJS.ProcessEnv;
  /** --upstream-http2 */
  http2: boolean;
  /** --auth-token is on. */
  tokenAuth: boolean;
  /** Log lines about this destination name it (--contexts). */
  label?: string;
}

export function openDestination(cfg: ResolvedConfig, opts: DestinationOptions): Destination {
  const upstream = createUpstream(cfg, { env: opts.env, http2: opts.http2 });
  let credentials: Credentials;
  try {
    // Exec plugins run on the first request; a certificate they return replaces the pool.
    credentials = createCredentials(cfg, upstream.isTLS, { env: opts.env, setClientCertificate: (cert, key) => upstream.setClientCertificate(cert, key) });
  } catch (err) {
    void upstream.close();
    throw err;
  }
  const ctx: UpstreamRequestContext = {
    upstream,
    credentials,
    disableCompression: cfg.disableCompression,
    userAgent: USER_AGENT,
    tokenAuth: opts.tokenAuth,
  };
  const close = async (): Promise<void> => {
    credentials.close();
    await upstream.close();
  };
  let retired: Promise<void> | undefined;
  return {
    cfg,
    upstream,
    credentials,
    ctx,
    close,
    connections: () => upstream.connections(),
    retire(graceMs = RETIRE_GRACE_MS) {
      retired ??= new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()).then(async () => {
        // The pools close once the requests they carry are done; then the credentials.
        await upstream.drain();
        credentials.close();
      });
      return retired;
    },
  };
}
