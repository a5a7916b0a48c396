// Credentials added to every upstream request. The hot path reads a precomputed string; a
// token file is re-read in the background the way client-go's cached file token source does.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { escapeExtraKey } from './headers.js';
import * as log from './log.js';
import { ConfigError, type ResolvedConfig } from './kubeconfig/types.js';

/** client-go re-reads a tokenFile at most once a minute (NewCachedFileTokenSource). */
export const TOKEN_FILE_PERIOD_MS = 60_000;

/** A credential could not be obtained; `status` is what the waiting client is answered. */
export class CredentialError extends Error {
  override name = 'CredentialError';
  constructor(
    message: string,
    readonly status = 500,
  ) {
    super(message);
  }
}

export interface Credentials {
  /**
   * The Authorization value to add when the client sent none: at once for static credentials,
   * or a promise when one must first be obtained (exec plugin, OIDC refresh). A promise
   * rejects with a CredentialError.
   */
  authorization(): string | undefined | Promise<string | undefined>;
  /** The API server answered 401 to a request sent with `used`: obtain a fresh one next time. */
  rejected(used: string): void;
  /** Impersonate-* headers as [name, value] pairs, added when the client sent no Impersonate-User. */
  readonly impersonation: readonly string[];
  close(): void;
}

function readToken(path: string): string {
  const token = readFileSync(path, 'utf8').trim();
  if (token === '') throw new Error(`token file ${path} is empty`);
  return token;
}

export function impersonationHeaders(cfg: ResolvedConfig): string[] {
  const imp = cfg.impersonate;
  if (!imp || !imp.user) return [];
  const out = ['Impersonate-User', imp.user];
  if (imp.uid) out.push('Impersonate-Uid', imp.uid);
  for (const g of imp.groups) out.push('Impersonate-Group', g);
  for (const [key, values] of Object.entries(imp.extra)) {
    for (const v of values) out.push('Impersonate-Extra-' + escapeExtraKey(key), v);
  }
  return out;
}

export function createCredentials(cfg: ResolvedConfig, isTLS: boolean): Credentials {
  const impersonation = impersonationHeaders(cfg);
  let current: string | undefined;
  let timer: NodeJS.Timeout | undefined;

  // client-go sends user credentials only over TLS (ClientConfig's IsConfigTransportTLS).
  if (isTLS) {
    if (cfg.token) current = 'Bearer ' + cfg.token;
    if (cfg.tokenFile) {
      const file = cfg.tokenFile;
      try {
        current = 'Bearer ' + readToken(file);
      } catch (err) {
        if (!cfg.token) throw new ConfigError(`unable to read tokenFile ${file}: ${(err as Error).message}`);
        log.warn(`Unable to read tokenFile ${file}, using the static token: ${(err as Error).message}`);
      }
      timer = setInterval(() => {
        readFile(file, 'utf8').then(
          (text) => {
            const token = text.trim();
            if (token === '') log.warn(`Unable to rotate token: token file ${file} is empty`);
            else current = 'Bearer ' + token;
          },
          (err: Error) => log.warn(`Unable to rotate token: ${err.message}`),
        );
      }, TOKEN_FILE_PERIOD_MS);
      timer.unref();
    }
    if (!current && cfg.username !== undefined) {
      current = 'Basic ' + Buffer.from(`${cfg.username}:${cfg.password ?? ''}`).toString('base64');
    }
  }

  return {
    authorization: () => current,
    rejected() {
      // A static token cannot be refreshed; a token file is re-read on its own schedule.
    },
    impersonation,
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
