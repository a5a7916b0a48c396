// A minimal OpenID Connect issuer over HTTPS (test CA): the discovery document and a token
// endpoint that answers refresh grants. Refresh tokens are scripted: each known refresh token
// yields a given id-token and (optionally) a rotated refresh token, and is spent on use, as
// IdPs that rotate refresh tokens do. Every request is recorded with its form body and headers.

import { EventEmitter } from 'node:events';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { Pki } from './pki.js';

/** An unsigned-looking JWT; client-go reads `exp` and never checks the signature. */
export function makeJwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'RS256', typ: 'JWT', kid: 'test' })}.${b64(claims)}.${Buffer.from('signature').toString('base64url')}`;
}

export interface IssuerRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Raw body. */
  body: string;
  /** Parsed form body. */
  form: Record<string, string>;
  status: number;
}

export interface Grant {
  idToken?: string;
  /** A new refresh token to hand out; the used one is then spent. */
  refreshToken?: string;
  /** Leave `id_token` out of the answer. */
  noIdToken?: boolean;
}

export interface IssuerOptions {
  pki: Pki;
  clientId: string;
  clientSecret?: string;
  /** Refresh token → what the token endpoint returns for it. */
  grants: Record<string, Grant>;
}

export interface Issuer {
  readonly url: string;
  readonly requests: IssuerRequest[];
  waitForRequests(n: number, timeoutMs?: number): Promise<IssuerRequest[]>;
  close(): Promise<void>;
}

export async function startIssuer(opts: IssuerOptions): Promise<Issuer> {
  const requests: IssuerRequest[] = [];
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  const spent = new Set<string>();
  let url = '';
  const server = https.createServer({ key: opts.pki.server.key, cert: opts.pki.server.cert }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const rec: IssuerRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: { ...req.headers },
        body,
        form: Object.fromEntries(new URLSearchParams(body)),
        status: 0,
      };
      const json = (status: number, obj: unknown): void => {
        rec.status = status;
        requests.push(rec);
        events.emit('request');
        const text = JSON.stringify(obj);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.method === 'GET' && rec.path === '/.well-known/openid-configuration') {
        // Endpoints under the name the client used, so a client going through a proxy stays on it.
        const base = `https://${req.headers.host ?? url.slice('https://'.length)}`;
        return json(200, { issuer: base, token_endpoint: `${base}/token`, authorization_endpoint: `${base}/auth`, jwks_uri: `${base}/keys` });
      }
      if (req.method === 'POST' && rec.path === '/token') {
        // Client authentication: HTTP Basic (x/oauth2's first try) or form parameters.
        let id: string | undefined;
        let secret: string | undefined;
        const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
        if (basic) {
          const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
          const colon = decoded.indexOf(':');
          id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
          secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
        } else {
          id = rec.form.client_id;
          secret = rec.form.client_secret;
        }
        if (id !== opts.clientId || (opts.clientSecret !== undefined && secret !== opts.clientSecret)) {
          return json(401, { error: 'invalid_client', error_description: 'client authentication failed' });
        }
        if (rec.form.grant_type !== 'refresh_token') return json(400, { error: 'unsupported_grant_type' });
        const rt = rec.form.refresh_token ?? '';
        const grant = opts.grants[rt];
        if (!grant || spent.has(rt)) return json(400, { error: 'invalid_grant', error_description: 'Refresh token is invalid or has already been claimed by another client' });
        if (grant.refreshToken) spent.add(rt);
        const answer: Record<string, unknown> = { access_token: 'access-' + rt, token_type: 'Bearer', expires_in: 3600 };
        if (!grant.noIdToken) answer.id_token = grant.idToken;
        if (grant.refreshToken) answer.refresh_token = grant.refreshToken;
        return json(200, answer);
      }
      json(404, { error: 'not found' });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    waitForRequests(n, timeoutMs = 20_000) {
      if (requests.length >= n) return Promise.resolve(requests.slice());
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (requests.length >= n) {
            clearTimeout(timer);
            events.off('request', check);
            resolve(requests.slice());
          }
        };
        const timer = setTimeout(() => {
          events.off('request', check);
          reject(new Error(`issuer: timed out waiting for ${n} request(s); got ${requests.map((r) => `${r.method} ${r.path} -> ${r.status}`).join(', ')}`));
        }, timeoutMs);
        timer.unref();
        events.on('request', check);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
