// A minimal upgrade client (what kubectl port-forward sends: `Upgrade: SPDY/3.1`): sends the
// request on a raw socket, reads the answer head, and when it is a 101 checks that bytes
// written afterwards come back through the fake upstream's echo.

import net from 'node:net';

export interface UpgradeResult {
  status: number;
  head: string;
  /** What came back after the 101 for the probe bytes ('' for other answers). */
  echoed: string;
  /** The body of a non-101 answer. */
  body: string;
}

export function upgradeEcho(host: string, port: number, path: string, opts: { probe?: string; timeoutMs?: number; headers?: string[] } = {}): Promise<UpgradeResult> {
  const probe = opts.probe ?? 'ping-through-the-tunnel';
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let head: string | undefined;
    let status = 0;
    let settled = false;
    const finish = (err: Error | undefined, r?: UpgradeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(r!);
    };
    const timer = setTimeout(() => finish(new Error(`upgrade ${path}: no complete answer; got ${JSON.stringify(buf.toString('latin1').slice(0, 500))}`)), opts.timeoutMs ?? 20_000);
    timer.unref();
    const hostHeader = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const extra = (opts.headers ?? []).map((h) => h + '\r\n').join('');
    sock.on('connect', () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n${extra}\r\n`);
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (head === undefined) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = buf.subarray(0, end).toString('latin1');
        status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
        buf = buf.subarray(end + 4);
        if (status === 101) sock.write(probe);
      }
      if (status === 101 && buf.toString('latin1').includes(probe)) finish(undefined, { status, head, echoed: buf.toString('latin1'), body: '' });
    });
    const ended = (): void => {
      if (head !== undefined && status !== 101) finish(undefined, { status, head, echoed: '', body: buf.toString('utf8') });
      else finish(new Error(`upgrade ${path}: connection closed; got ${JSON.stringify((head ?? '') + buf.toString('latin1'))}`));
    };
    sock.on('end', ended);
    sock.on('close', ended);
    sock.on('error', (err) => finish(err));
  });
}
