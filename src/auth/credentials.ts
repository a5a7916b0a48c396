// Credentials added to every upstream request. Static credentials are a precomputed string on
// the hot path; a token file is re-read every minute the way client-go's cached file token
// source does (and at once after a 401); exec plugins and the oidc auth-provider are obtained on
// the first request, cached while valid and refreshed by src/auth/*.

import { fileError } from '../errors.js';
import { readFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import { execClusterInfo, execCredential } from './exec.js';
import { OidcProvider } from './oidc.js';
import { reportRefresh, type RefreshingCredential } from './refresh.js';
import * as log from '../log.js';
import { ConfigError, type ResolvedConfig } from '../kubeconfig/types.js';

export { CredentialError } from './errors.js';

/** client-go re-reads a tokenFile at most once a minute (NewCachedFileTokenSource). */
export const TOKEN_FILE_PERIOD_MS = 60_000;

export interface Credentials {
  /**
   * The Authorization value to add when the client sent none: at once for static credentials,
   * or a promise when one must first be obtained (exec plugin, OIDC refresh). A promise
   * rejects with a CredentialError.
   */
  authorization(): string | undefined | Promise<string | undefined>;
  /**
   * The API server answered 401 to a request kproxy added credentials to, `used` being the
   * Authorization value (undefined when only a client certificate was presented): obtain a
   * fresh credential next time.
   */
  rejected(used: string | undefined): void;
  /** Impersonate-* headers as [name, value] pairs, added when the client sent no Impersonate-User. */
  readonly impersonation: readonly string[];
  close(): void;
}

export interface CredentialOptions {
  /** The environment exec plugins inherit and OIDC requests take proxies from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where a client certificate returned by an exec plugin goes (the upstream's TLS options). */
  setClientCertificate?: (cert: Buffer, key: Buffer) => void;
  /** Whether stdin is a terminal, for exec interactiveMode; default isatty(0). */
  stdinIsTTY?: boolean;
  /** Clock for expiry and back-off decisions (tests). */
  now?: () => number;
  /** Token file re-read period (tests); default TOKEN_FILE_PERIOD_MS. */
  tokenFilePeriodMs?: number;
}

/** Messages of the auth-provider stubs client-go keeps after removing the providers (1.26). */
export const REMOVED_AUTH_PROVIDERS: Record<string, string> = {
  gcp:
    'The gcp auth plugin has been removed.\nPlease use the "gke-gcloud-auth-plugin" kubectl/client-go credential plugin instead.\nSee https://cloud.google.com/blog/products/containers-kubernetes/kubectl-auth-changes-in-gke for further details',
  azure:
    'The azure auth plugin has been removed.\nPlease use the https://github.com/Azure/kubelogin kubectl/client-go credential plugin instead.\nSee https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins for further details',
};

function readToken(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(fileError('open', path, err));
  }
  const token = text.trim();
  if (token === '') throw new Error(`token file ${path} is empty`);
  // Checked here so that a bad file fails at start-up, not as a 500 on every request.
  if (/[\u0000-\u001f\u007f]/.test(token)) throw new Error(`token file ${path} contains a line break or control character`);
  return token;
}

/**
 * client-go's headerKeyEscape for Impersonate-Extra-<key>: every byte that is not an RFC 7230
 * token character, and `%` itself, becomes %XX.
 */
export function escapeExtraKey(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (byte < 0x80 && byte !== 0x25 && /[!#$&'*+\-.^_`|~0-9A-Za-z]/.test(c)) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
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

/** Wraps a RefreshingCredential (exec, oidc) as Credentials. */
function refreshing(credential: RefreshingCredential, impersonation: string[], onClose?: () => void): Credentials {
  return {
    authorization: () => credential.authorization(),
    rejected: (used) => credential.rejected(used),
    impersonation,
    close() {
      credential.close();
      onClose?.();
    },
  };
}

export function createCredentials(cfg: ResolvedConfig, isTLS: boolean, opts: CredentialOptions = {}): Credentials {
  const impersonation = impersonationHeaders(cfg);
  const env = opts.env ?? process.env;
  const hasStatic = Boolean(cfg.token || cfg.tokenFile || cfg.username);

  // client-go sends user credentials only over TLS (ClientConfig's IsConfigTransportTLS).
  if (isTLS && cfg.authProvider) {
    const name = cfg.authProvider.name;
    if (Object.hasOwn(REMOVED_AUTH_PROVIDERS, name)) throw new ConfigError(REMOVED_AUTH_PROVIDERS[name]!);
    if (name !== 'oidc') throw new ConfigError(`no Auth Provider found for name ${JSON.stringify(name)}`);
    // Built (and checked) even when a static token wins, as client-go builds it.
    const oidc = new OidcProvider(cfg.authProvider, {
      origin: cfg.userOrigin,
      userName: cfg.userName,
      env,
      ...(opts.now ? { now: opts.now } : {}),
    });
    // The bearer round tripper sits outside the auth-provider's and its header wins.
    if (!hasStatic) return refreshing(oidc.credential, impersonation);
    log.warn(`user ${JSON.stringify(cfg.userName)} has both a static credential and the oidc auth-provider; the auth-provider is not used (as in kubectl)`);
  }

  if (isTLS && cfg.exec) {
    const { credential, plugin } = execCredential(cfg.exec, {
      env,
      // isatty(0) rather than process.stdin: creating that stream would change how fd 0 is used.
      stdinIsTTY: opts.stdinIsTTY ?? isatty(0),
      clusterInfo: () => execClusterInfo(cfg),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.setClientCertificate ? { setClientCertificate: opts.setClientCertificate } : {}),
    });
    return refreshing(credential, impersonation, () => plugin.kill());
  }

  let current: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const tokenFile = isTLS ? cfg.tokenFile : undefined;
  const reread = (file: string): void => {
    try {
      current = 'Bearer ' + readToken(file);
      reportRefresh('token-file', true);
    } catch (err) {
      reportRefresh('token-file', false);
      log.warn(`Unable to rotate token: ${(err as Error).message}`);
    }
  };

  if (isTLS) {
    if (cfg.token) current = 'Bearer ' + cfg.token;
    if (tokenFile) {
      try {
        current = 'Bearer ' + readToken(tokenFile);
      } catch (err) {
        if (!cfg.token) throw new ConfigError(`unable to read tokenFile ${tokenFile}: ${(err as Error).message}`);
        log.warn(`Unable to read tokenFile ${tokenFile}, using the static token: ${(err as Error).message}`);
      }
      // A read of a few hundred bytes once a minute: done synchronously, as client-go does in
      // the request path, so the new token is in place the moment the timer fires.
      timer = setInterval(() => reread(tokenFile), opts.tokenFilePeriodMs ?? TOKEN_FILE_PERIOD_MS);
      timer.unref();
    }
    if (!current && cfg.username !== undefined) {
      current = 'Basic ' + Buffer.from(`${cfg.username}:${cfg.password ?? ''}`).toString('base64');
    }
  }

  return {
    authorization: () => current,
    rejected(used) {
      // client-go's ResetTokenOlderThan: a refused token from a file is re-read at once (a
      // rotated service-account token is then used by the very next request). A static token
      // cannot be refreshed.
      if (!tokenFile || used !== current) return;
      reread(tokenFile);
    },
    impersonation,
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
