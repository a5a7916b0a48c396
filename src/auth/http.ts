// A small HTTP client for identity providers (OIDC discovery and token refresh): the IdP's own
// CA when one is configured, HTTPS_PROXY/NO_PROXY as client-go's oidc transport honours them,
// redirects followed for GET as Go's http.Client does, and Go's error wording
// (`Get "<url>": <reason>`), since these messages end up in answers to the proxy's clients.

import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { dial } from '../dial.js';
import { proxyFromEnvironment, proxyTlsOptions } from '../proxy-env.js';
import { describeUpstreamError } from '../errors.js';

export interface IdpResponse {
  status: number;
  /** Go's resp.Status: `200 OK`. */
  statusLine: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface IdpRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** PEM trust anchors replacing the default ones. */
  ca?: Buffer | string[];
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

const MAX_BODY = 1 << 20;
const MAX_REDIRECTS = 10;

function once(url: URL, req: IdpRequest, deadline: number): Promise<IdpResponse> {
  const secure = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  let tls: ConnectionOptions | undefined;
  if (secure) {
    tls = { minVersion: 'TLSv1.2', servername: isIP(host) ? '' : host, ALPNProtocols: ['http/1.1'] };
    if (req.ca) tls.ca = req.ca;
  }
  const proxy = proxyFromEnvironment(url, req.env);
  const proxyTls = proxy && proxy.url.protocol === 'https:' ? proxyTlsOptions(tls ?? {}, proxy.url) : undefined;
  const remaining = Math.max(1, deadline - Date.now());
  return new Promise<IdpResponse>((resolve, reject) => {
    const headers: Record<string, string> = { Host: url.host, 'User-Agent': 'kproxy', ...req.headers };
    if (req.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(req.body));
    const options: RequestOptions = {
      method: req.method,
      path: url.pathname + url.search,
      headers,
      setHost: false,
      createConnection: (_o, cb) => {
        dial({ host, port }, { proxy, tls, proxyTls, timeoutMs: remaining }).then(
          (s) => cb(null, s as Socket),
          (err: Error) => cb(err, undefined as unknown as Socket),
        );
        return undefined;
      },
    };
    const r = httpRequest(options);
    const timer = setTimeout(() => r.destroy(new Error('context deadline exceeded (Client.Timeout exceeded while awaiting headers)')), remaining);
    timer.unref();
    r.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    r.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      res.once('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          statusLine: `${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
          headers: res.headers,
          body: Buffer.concat(chunks),
        });
      });
      res.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    r.end(req.body);
  });
}

/** One request, with Go's `Method "url": reason` wrapping of transport errors. */
export async function idpRequest(rawUrl: string, req: IdpRequest): Promise<IdpResponse> {
  const deadline = Date.now() + (req.timeoutMs ?? 30_000);
  let url = new URL(rawUrl);
  const verb = req.method === 'GET' ? 'Get' : 'Post';
  for (let hops = 0; ; hops++) {
    let res: IdpResponse;
    try {
      res = await once(url, req, deadline);
    } catch (err) {
      throw new Error(`${verb} ${JSON.stringify(url.href)}: ${describeUpstreamError(err as Error)}`);
    }
    const location = res.headers.location;
    if (req.method !== 'GET' || ![301, 302, 303, 307, 308].includes(res.status) || !location) return res;
    if (hops + 1 >= MAX_REDIRECTS) throw new Error(`${verb} ${JSON.stringify(url.href)}: stopped after ${MAX_REDIRECTS} redirects`);
    url = new URL(location, url);
  }
}
