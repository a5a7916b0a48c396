// --auth-token: a local access token every client must present, so that another user or process
// on the machine (or a neighbour, when kproxy listens beyond loopback) cannot use the kubeconfig's
// credentials through the proxy. Clients send `Authorization: Bearer <token>`; a browser UI under
// --www gets it as a SameSite=Strict cookie by opening the printed URL once. The token is
// compared in constant time and never forwarded: with a token, the client's own Authorization and
// Impersonate-* headers are dropped and the kubeconfig's identity is used.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileError, UserError } from './errors.js';

/** The cookie (and query parameter) that carries the token for a browser UI. */
export const TOKEN_COOKIE = 'kproxy-token';

export interface AccessToken {
  /** The token itself: written into `--` mode's kubeconfig and printed for `auto`. */
  readonly value: string;
  /** SHA-256 of the token: digests of equal length compare in constant time. */
  readonly digest: Buffer;
  /** True when kproxy made it (`auto`) and must print it once. */
  readonly generated: boolean;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** `--auth-token=auto` makes a random token; any other value names a file holding one. */
export function loadAccessToken(flag: string): AccessToken {
  if (flag === 'auto') {
    const value = randomBytes(32).toString('base64url');
    return { value, digest: sha256(value), generated: true };
  }
  let text: string;
  try {
    text = readFileSync(flag, 'utf8');
  } catch (err) {
    throw new UserError(`--auth-token: ${fileError('open', flag, err)}`);
  }
  const value = text.trim();
  if (value === '') throw new UserError(`--auth-token: token file ${flag} is empty`);
  if (!/^[\x21-\x7e]+$/.test(value)) throw new UserError(`--auth-token: token file ${flag} must hold one token of printable ASCII characters without spaces`);
  return { value, digest: sha256(value), generated: false };
}

export function tokenMatches(token: AccessToken, presented: string): boolean {
  return timingSafeEqual(token.digest, sha256(presented));
}

/** How a request presented the token, as far as admission needs to know. */
export type TokenCheck =
  | { ok: true }
  /** A browser opened the printed URL: answer with the cookie and the URL without the token. */
  | { ok: 'set-cookie'; location: string }
  | { ok: false; reason: string };

/** The value of the token cookie among Cookie headers, if any. */
function cookieToken(rawHeaders: readonly string[]): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 6 || rawHeaders[i]!.toLowerCase() !== 'cookie') continue;
    for (const part of rawHeaders[i + 1]!.split(';')) {
      const p = part.trim();
      if (p.startsWith(TOKEN_COOKIE + '=')) return p.slice(TOKEN_COOKIE.length + 1);
    }
  }
  return undefined;
}

/**
 * Checks the token a request presents: a Bearer Authorization header, else the cookie, else (a
 * GET only) the `kproxy-token` query parameter, which is answered with the cookie.
 */
export function checkToken(token: AccessToken, method: string, url: string, rawHeaders: readonly string[]): TokenCheck {
  let auth: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length === 13 && rawHeaders[i]!.toLowerCase() === 'authorization') {
      if (auth !== undefined) return { ok: false, reason: 'more than one Authorization header' };
      auth = rawHeaders[i + 1]!;
    }
  }
  if (auth !== undefined) {
    const m = /^bearer\s+(\S+)\s*$/i.exec(auth);
    if (m && tokenMatches(token, m[1]!)) return { ok: true };
    return { ok: false, reason: 'the Authorization header does not carry kproxy\'s access token' };
  }
  const cookie = cookieToken(rawHeaders);
  if (cookie !== undefined) {
    if (tokenMatches(token, cookie)) return { ok: true };
    return { ok: false, reason: `the ${TOKEN_COOKIE} cookie does not carry kproxy's access token` };
  }
  const q = url.indexOf('?');
  if (method === 'GET' && q >= 0) {
    const params = new URLSearchParams(url.slice(q + 1));
    const presented = params.get(TOKEN_COOKIE);
    if (presented !== null && tokenMatches(token, presented)) {
      params.delete(TOKEN_COOKIE);
      const rest = params.toString();
      return { ok: 'set-cookie', location: url.slice(0, q) + (rest ? '?' + rest : '') };
    }
  }
  return { ok: false, reason: 'kproxy needs its access token: send Authorization: Bearer <token> (see --auth-token)' };
}

/** The Set-Cookie value that lets a browser UI present the token. */
export function tokenCookie(token: AccessToken): string {
  return `${TOKEN_COOKIE}=${token.value}; Path=/; HttpOnly; SameSite=Strict`;
}

/** A Cookie header value without the token cookie; undefined when nothing else is left. */
export function withoutTokenCookie(value: string): string | undefined {
  if (!value.includes(TOKEN_COOKIE + '=')) return value;
  const kept = value
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith(TOKEN_COOKIE + '='));
  return kept.length === 0 ? undefined : kept.join('; ');
}
