// Every answer kproxy writes itself, rather than relays from the API server: the router's
// redirects, 400s and 404s, the filter's 403, upstream and credential failures, and Go's bare
// answers to malformed requests. One place, so the http.Error format cannot drift.

import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** A response kproxy answers itself, before anything goes upstream. */
export interface LocalAnswer {
  status: number;
  /** A reason phrase other than the standard one. */
  reason?: string;
  /** Written raw and close-delimited, as Go's server does for malformed requests. */
  bare?: boolean;
  headers: Record<string, string | number>;
  body: string;
}

/** Go's http.Error: a plain-text body, never sniffed. */
export function plainAnswer(status: number, body: string, extra?: Record<string, string>): LocalAnswer {
  return {
    status,
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
      'Content-Length': Buffer.byteLength(body),
      ...extra,
    },
    body,
  };
}

/** kubectl's responder: a one-line message and a newline. */
export function errorAnswer(message: string, status = 500): LocalAnswer {
  return plainAnswer(status, message + '\n');
}

export const FORBIDDEN: LocalAnswer = plainAnswer(403, 'Forbidden\n');
export const NOT_FOUND: LocalAnswer = plainAnswer(404, '404 page not found\n');

// ---- --contexts / --all-contexts (cluster-path.ts) ----

/** A JSON document kproxy answers itself (`GET /clusters`). */
export function jsonAnswer(status: number, value: unknown): LocalAnswer {
  const body = JSON.stringify(value) + '\n';
  return { status, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) }, body };
}

export function unknownClusterAnswer(name: string, served: readonly string[]): LocalAnswer {
  return plainAnswer(404, `404 context ${JSON.stringify(name)} is not served; served contexts: ${served.map((n) => JSON.stringify(n)).join(', ')}\n`);
}

export function ambiguousClusterAnswer(names: readonly string[]): LocalAnswer {
  const list = names.map((n) => JSON.stringify(n)).join(' and ');
  return plainAnswer(400, `400 Bad Request: the path names both ${list}; write "/" in the context name as %2F\n`);
}

export function outsideClustersAnswer(base: string): LocalAnswer {
  return plainAnswer(404, `404 page not found: the API of each context is served under ${base}clusters/<context>/ (list: ${base}clusters)\n`);
}

export const METHOD_NOT_ALLOWED: LocalAnswer = plainAnswer(405, '405 Method Not Allowed\n', { Allow: 'GET, HEAD' });

/** The bare answer Go's server writes for malformed requests, before any handler runs. */
export function goBadRequest(body: string, reason?: string): LocalAnswer {
  return { status: 400, reason: reason || undefined, bare: true, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body };
}

function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** http.Redirect: a small HTML body for GET and HEAD only. */
export function redirectAnswer(method: string, location: string): LocalAnswer {
  if (method === 'GET' || method === 'HEAD') {
    const body = `<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n`;
    return { status: 301, headers: { Location: location, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }, body };
  }
  return { status: 301, headers: { Location: location, 'Content-Length': 0 }, body: '' };
}

/** Writes an answer on a response that has not started; one that has is cut instead. */
export function writeAnswer(res: ServerResponse, a: LocalAnswer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (a.bare) {
    answerOnSocket(res.socket!, a);
    return;
  }
  if (a.reason) res.writeHead(a.status, a.reason, a.headers);
  else res.writeHead(a.status, a.headers);
  res.end(a.body);
}

/** Sends a one-line plain-text error the way kubectl's responder does (http.Error). */
export function sendError(res: ServerResponse, status: number, message: string): void {
  writeAnswer(res, errorAnswer(message, status));
}

/** Writes a complete response on a raw client socket and closes it. */
export function answerOnSocket(socket: Duplex, a: LocalAnswer): void {
  let head = `HTTP/1.1 ${a.status} ${a.reason ?? STATUS_CODES[a.status] ?? ''}\r\n`;
  for (const [k, v] of Object.entries(a.headers)) if (k.toLowerCase() !== 'connection') head += `${k}: ${v}\r\n`;
  head += 'Connection: close\r\n\r\n';
  socket.end(head + a.body);
}

/** ServeMux answers CONNECT with a redirect to "/"; nothing is tunnelled. */
export const CONNECT_ANSWER: LocalAnswer = { status: 301, headers: { Location: '/', 'Content-Length': 0 }, body: '' };

/** What Node's parser refused (listener's clientError): Go's wording, written raw. */
export function clientErrorAnswer(code: string | undefined): string {
  const status = code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
  return `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${status}`;
}
