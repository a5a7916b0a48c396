// The `oidc` auth-provider (client-go plugin/pkg/client/auth/oidc/oidc.go): the kubeconfig's
// id-token is sent until 10 s before its `exp`; then the refresh-token is exchanged at the
// issuer's token endpoint (found through discovery) and the new tokens are written back to the
// kubeconfig file that defined the user. Error texts are client-go's (and golang.org/x/oauth2's).
//
// Two deliberate differences, both for a process that runs for days: before refreshing, the
// file is read again, so tokens that kubectl (or another kproxy) refreshed meanwhile are used
// instead of spending a refresh token the IdP may already have rotated; and when writing the
// file fails the new tokens are still used (and the failure logged), where client-go would
// throw away a refresh it can no longer repeat.

import { fileError } from '../errors.js';
import { readFileSync } from 'node:fs';
import { CredentialError } from './errors.js';
import { goBase64Decode } from '../kubeconfig/goyaml.js';
import { ConfigError, type AuthProviderConfig } from '../kubeconfig/types.js';
import * as log from '../log.js';
import { rootCertificates } from '../pem.js';
import { idpRequest } from './http.js';
import { persistProviderConfig, readProviderConfig } from './persist.js';
import { RefreshingCredential, type Obtained } from './refresh.js';

/** client-go's expiryDelta: an id-token this close to `exp` is refreshed. */
export const ID_TOKEN_EXPIRY_DELTA_MS = 10_000;

const CFG_ISSUER = 'idp-issuer-url';
const CFG_CLIENT_ID = 'client-id';
const CFG_CLIENT_SECRET = 'client-secret';
const CFG_CA = 'idp-certificate-authority';
const CFG_CA_DATA = 'idp-certificate-authority-data';
const CFG_ID_TOKEN = 'id-token';
const CFG_REFRESH_TOKEN = 'refresh-token';

/** `exp` of a JWT in ms, or client-go's errors for a token that is not one. */
export function idTokenExpiry(idToken: string): number {
  const parts = idToken.split('.');
  if (parts.length !== 3) throw new CredentialError('ID Token is not a valid JWT');
  if (!/^[A-Za-z0-9_-]*$/.test(parts[1]!)) throw new CredentialError(`illegal base64 data at input byte ${parts[1]!.search(/[^A-Za-z0-9_-]/)}`);
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch (err) {
    throw new CredentialError(`parsing claims: ${(err as Error).message}`);
  }
  const exp = (claims as { exp?: unknown } | null)?.exp;
  // A missing or non-numeric exp is Go's zero time: always expired.
  return typeof exp === 'number' ? exp * 1000 : 0;
}

/** Go's url.QueryEscape, used by x/oauth2 for the form body and the Basic credentials. */
export function goQueryEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function goBase64(s: string): Buffer {
  const b = goBase64Decode(s);
  if (!Buffer.isBuffer(b)) throw new ConfigError(`illegal base64 data at input byte ${b.badByte}`);
  return b;
}

export interface OidcOptions {
  /** The kubeconfig file that defined the user, where refreshed tokens are written. */
  origin: string | undefined;
  userName: string;
  env: NodeJS.ProcessEnv;
  now?: () => number;
  timeoutMs?: number;
}

interface TokenResponse {
  access_token?: unknown;
  refresh_token?: unknown;
  id_token?: unknown;
  error?: unknown;
  error_description?: unknown;
  error_uri?: unknown;
}

/** x/oauth2 RetrieveError text. */
function retrieveError(status: string, body: Buffer, parsed: TokenResponse | undefined): string {
  if (parsed && typeof parsed.error === 'string' && parsed.error !== '') {
    let s = `oauth2: ${JSON.stringify(parsed.error)}`;
    if (typeof parsed.error_description === 'string' && parsed.error_description !== '') s += ` ${JSON.stringify(parsed.error_description)}`;
    if (typeof parsed.error_uri === 'string' && parsed.error_uri !== '') s += ` ${JSON.stringify(parsed.error_uri)}`;
    return s;
  }
  return `oauth2: cannot fetch token: ${status}\nResponse: ${body.toString('utf8')}`;
}

function parseTokenBody(contentType: string | undefined, body: Buffer): TokenResponse | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded' || type === 'text/plain') {
    return Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  }
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    return v && typeof v === 'object' ? (v as TokenResponse) : undefined;
  } catch {
    return undefined;
  }
}

export class OidcProvider {
  private cfg: Record<string, string>;
  private readonly ca: string[] | undefined;
  private readonly now: () => number;
  readonly credential: RefreshingCredential;

  /** Throws client-go's start-up errors (missing issuer or client id, unreadable CA). */
  constructor(
    provider: AuthProviderConfig,
    private readonly opts: OidcOptions,
  ) {
    this.cfg = { ...provider.config };
    this.now = opts.now ?? Date.now;
    if (!this.cfg[CFG_ISSUER]) throw new ConfigError('Must provide idp-issuer-url');
    if (!this.cfg[CFG_CLIENT_ID]) throw new ConfigError('Must provide client-id');
    let ca: Buffer | undefined;
    if (this.cfg[CFG_CA_DATA]) {
      ca = goBase64(this.cfg[CFG_CA_DATA]);
    } else if (this.cfg[CFG_CA]) {
      // client-go does not resolve this path against the kubeconfig's folder.
      const file = this.cfg[CFG_CA];
      try {
        ca = readFileSync(file);
      } catch (err) {
        throw new ConfigError(fileError('open', file, err));
      }
    }
    try {
      // client-go builds the issuer's transport at start-up, refusing a CA without a certificate.
      this.ca = ca && rootCertificates(ca);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    this.credential = new RefreshingCredential({ now: this.now, what: 'OIDC id-token', kind: 'oidc', obtain: () => this.idToken() });
  }

  private usable(idToken: string): Obtained | undefined {
    const until = idTokenExpiry(idToken) - ID_TOKEN_EXPIRY_DELTA_MS;
    if (this.now() >= until) return undefined;
    return { authorization: 'Bearer ' + idToken, freshUntil: until, expiresAt: until };
  }

  /** oidcAuthProvider.idToken: the cached id-token if valid, else a refresh. */
  private async idToken(): Promise<Obtained> {
    this.adoptFromFile();
    const current = this.cfg[CFG_ID_TOKEN];
    if (current) {
      const ok = this.usable(current);
      if (ok) return ok;
    }
    const rt = this.cfg[CFG_REFRESH_TOKEN];
    if (!rt) throw new CredentialError('No valid id-token, and cannot refresh without refresh-token');
    const tokenURL = await this.tokenEndpoint();
    const got = await this.refresh(tokenURL, rt);
    const next = { ...this.cfg };
    if (got.refreshToken && got.refreshToken !== rt) next[CFG_REFRESH_TOKEN] = got.refreshToken;
    next[CFG_ID_TOKEN] = got.idToken;
    this.persist(next);
    this.cfg = next;
    let until: number;
    try {
      until = idTokenExpiry(got.idToken) - ID_TOKEN_EXPIRY_DELTA_MS;
    } catch {
      // client-go hands it out anyway and only complains on the next request.
      until = 0;
    }
    return { authorization: 'Bearer ' + got.idToken, freshUntil: until, expiresAt: until };
  }

  /** Tokens refreshed by someone else since kproxy read the file replace the stale ones in memory. */
  private adoptFromFile(): void {
    if (!this.opts.origin) return;
    let onDisk: Record<string, string> | undefined;
    try {
      onDisk = readProviderConfig(this.opts.origin, this.opts.userName);
    } catch {
      return;
    }
    if (!onDisk || onDisk[CFG_ISSUER] !== this.cfg[CFG_ISSUER] || onDisk[CFG_CLIENT_ID] !== this.cfg[CFG_CLIENT_ID]) return;
    const idToken = onDisk[CFG_ID_TOKEN];
    if (!idToken || idToken === this.cfg[CFG_ID_TOKEN]) return;
    try {
      if (!this.usable(idToken)) return;
    } catch {
      return;
    }
    this.cfg = { ...this.cfg, [CFG_ID_TOKEN]: idToken };
    if (onDisk[CFG_REFRESH_TOKEN]) this.cfg[CFG_REFRESH_TOKEN] = onDisk[CFG_REFRESH_TOKEN];
  }

  private async tokenEndpoint(): Promise<string> {
    const wellKnown = this.cfg[CFG_ISSUER]!.replace(/\/$/, '') + '/.well-known/openid-configuration';
    let res;
    try {
      res = await idpRequest(wellKnown, this.request('GET'));
    } catch (err) {
      throw new CredentialError((err as Error).message);
    }
    if (res.status !== 200) {
      let body = res.body;
      if (body.length > 80) body = Buffer.concat([body.subarray(0, 80), Buffer.from('...')]);
      throw new CredentialError(`oidc: failed to query metadata endpoint ${res.statusLine}: ${JSON.stringify(body.toString('latin1'))}`);
    }
    let metadata: unknown;
    try {
      metadata = JSON.parse(res.body.toString('utf8'));
    } catch (err) {
      throw new CredentialError(`oidc: failed to decode provider discovery object: ${(err as Error).message}`);
    }
    const url = (metadata as { token_endpoint?: unknown } | null)?.token_endpoint;
    if (typeof url !== 'string' || url === '') throw new CredentialError("oidc: discovery object doesn't contain a token_endpoint");
    return url;
  }

  private request(method: 'GET' | 'POST', headers?: Record<string, string>, body?: string) {
    return {
      method,
      env: this.opts.env,
      ...(this.ca ? { ca: this.ca } : {}),
      ...(headers ? { headers } : {}),
      ...(body !== undefined ? { body } : {}),
      ...(this.opts.timeoutMs ? { timeoutMs: this.opts.timeoutMs } : {}),
    };
  }

  /** x/oauth2's refresh grant with AuthStyleAutoDetect: Basic credentials first, then in the form. */
  private async refresh(tokenURL: string, refreshToken: string): Promise<{ idToken: string; refreshToken?: string }> {
    const clientId = this.cfg[CFG_CLIENT_ID]!;
    const secret = this.cfg[CFG_CLIENT_SECRET] ?? '';
    const form = (extra: Array<[string, string]>): string =>
      [['grant_type', 'refresh_token'], ['refresh_token', refreshToken], ...extra]
        .sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
        .map(([k, v]) => `${goQueryEscape(k!)}=${goQueryEscape(v!)}`)
        .join('&');
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const attempt = async (inHeader: boolean): Promise<TokenResponse> => {
      const h: Record<string, string> = { ...headers };
      let body: string;
      if (inHeader) {
        h.Authorization = 'Basic ' + Buffer.from(`${goQueryEscape(clientId)}:${goQueryEscape(secret)}`).toString('base64');
        body = form([]);
      } else {
        body = form(secret !== '' ? [['client_id', clientId], ['client_secret', secret]] : [['client_id', clientId]]);
      }
      const res = await idpRequest(tokenURL, this.request('POST', h, body));
      const parsed = parseTokenBody(res.headers['content-type'], res.body);
      if (res.status < 200 || res.status > 299) throw new Error(retrieveError(res.statusLine, res.body, parsed));
      if (!parsed || typeof parsed.access_token !== 'string' || parsed.access_token === '') throw new Error('oauth2: server response missing access_token');
      return parsed;
    };
    let token: TokenResponse;
    try {
      try {
        token = await attempt(true);
      } catch {
        token = await attempt(false);
      }
    } catch (err) {
      throw new CredentialError(`failed to refresh token: ${(err as Error).message}`);
    }
    if (typeof token.id_token !== 'string') {
      throw new CredentialError(
        'token response did not contain an id_token, either the scope "openid" wasn\'t requested upon login, or the provider doesn\'t support id_tokens as part of the refresh response',
      );
    }
    const out: { idToken: string; refreshToken?: string } = { idToken: token.id_token };
    if (typeof token.refresh_token === 'string' && token.refresh_token !== '') out.refreshToken = token.refresh_token;
    return out;
  }

  private persist(next: Record<string, string>): void {
    if (!this.opts.origin) {
      log.warn('could not persist new tokens: the user was not defined in a kubeconfig file');
      return;
    }
    const updates: Record<string, string> = { [CFG_ID_TOKEN]: next[CFG_ID_TOKEN]! };
    if (next[CFG_REFRESH_TOKEN] !== undefined && next[CFG_REFRESH_TOKEN] !== this.cfg[CFG_REFRESH_TOKEN]) updates[CFG_REFRESH_TOKEN] = next[CFG_REFRESH_TOKEN];
    try {
      persistProviderConfig(this.opts.origin, this.opts.userName, updates);
    } catch (err) {
      log.warn(`could not persist new tokens: ${(err as Error).message} (the new tokens are used until kproxy exits)`);
    }
  }
}
