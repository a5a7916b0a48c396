// An HTTPS/1.1 API server for the differential test (test/differential/) that accepts any method
// token and records each request in the fake upstream's `RecordedRequest` shape.

import { createHash } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Pki } from './pki.js';
import type { RecordedRequest } from './upstream.js';

/** What a differential row needs from an API server: its port and the requests it recorded since `reset()`. */
export interface Recorder {
  readonly port: number;
  readonly url: string;
  readonly requests: RecordedRequest[];
  reset(): void;
  close(): Promise<void>;
}

/** Lower-case header name → values in order, from a flat raw header list. */
export function multimap(rawHeaders: string[]): Record<string, string[]> {
  const m: Record<string, string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) (m[rawHeaders[i]!.toLowerCase()] ??= []).push(rawHeaders[i + 1]!);
  return m;
}

/**
 * A minimal HTTPS/1.1 server that records the raw request head and answers `200 ok`. Node's HTTP
 * parser (and so the fake upstream) answers 400 to a method it does not know, such as `post` or
 * `FOO`, so only this one can show what kubectl forwards then.
 */
export async function startRecordingUpstream(pki: Pki): Promise<Recorder> {
  let requests: RecordedRequest[] = [];
  let seq = 0;
  const sockets = new Set<Socket>();
  const server = createTlsServer({ key: pki.server.key, cert: pki.server.cert }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method = '', target = '', version = ''] = lines[0]!.split(' ');
        const rawHeaders: string[] = [];
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':');
          rawHeaders.push(l.slice(0, c), l.slice(c + 1).trim());
        }
        const cl = Number(multimap(rawHeaders)['content-length']?.[0] ?? '0');
        if (buf.length < end + 4 + cl) return;
        const body = buf.subarray(end + 4, end + 4 + cl);
        buf = buf.subarray(end + 4 + cl);
        const q = target.indexOf('?');
        requests.push({
          seq: ++seq,
          method,
          target,
          path: q < 0 ? target : target.slice(0, q),
          query: q < 0 ? '' : target.slice(q + 1),
          httpVersion: version.replace('HTTP/', ''),
          rawHeaders,
          headers: {},
          identity: 'anonymous',
          credentials: [],
          clientCert: undefined,
          sni: undefined,
          alpn: undefined,
          tls: true,
          remoteAddress: sock.remoteAddress,
          remotePort: sock.remotePort,
          bodyLength: body.length,
          bodySha256: createHash('sha256').update(body).digest('hex'),
          bodyComplete: true,
          upgrade: false,
          aborted: false,
          cut: false,
          status: 200,
        });
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    reset() {
      requests = [];
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
