// The listener: kubectl's http.Server settings (no timeouts that would cut a watch, 1 MiB of
// headers), TCP or a unix socket created 0700, and Go's answers for what never reaches a
// handler (CONNECT, malformed requests).

import { existsSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { answerOnSocket, clientErrorAnswer, CONNECT_ANSWER } from './answers.js';
import { errnoText } from './errors.js';
import { joinHostPort } from './hostport.js';
import { UsageError } from './options.js';

/** Go's default http.Server MaxHeaderBytes. */
export const MAX_HEADER_BYTES = 1 << 20;
/** Above client-go's 90 s idle time so a reused connection is never closed under a client. */
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;

export interface Listening {
  server: Server;
  /** What kubectl prints after "Starting to serve on ". */
  address: string;
  /** The bound TCP address and port, or the socket path. */
  bound: { host: string; port: number } | { socketPath: string };
  /** Stops accepting (removing a unix socket file), waits for `drain`, then closes every connection. */
  close(drain?: () => Promise<void>): Promise<void>;
}

function listenError(err: NodeJS.ErrnoException, where: string): UsageError {
  const reason: Record<string, string> = {
    EADDRINUSE: 'bind: address already in use',
    EACCES: 'bind: permission denied',
    EADDRNOTAVAIL: 'bind: cannot assign requested address',
    ENOTDIR: 'bind: not a directory',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'no such host',
  };
  return new UsageError(`listen ${where}: ${reason[err.code ?? ''] ?? err.message}`);
}

function socketFolderProblem(socketPath: string): string | undefined {
  try {
    if (!statSync(dirname(socketPath)).isDirectory()) return 'not a directory';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return errnoText(err);
  }
  return undefined;
}

export function listen(
  handlers: { request: (req: IncomingMessage, res: ServerResponse) => void; upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void },
  where: { host: string; port: number } | { socketPath: string },
): Promise<Listening> {
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: 0,
      // The router answers a missing Host the way Go does.
      requireHostHeader: false,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      noDelay: true,
    },
    handlers.request,
  );
  server.on('upgrade', handlers.upgrade);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(clientErrorAnswer(err.code));
  });
  // ServeMux answers CONNECT with a redirect to "/"; nothing is tunnelled.
  server.on('connect', (_req, socket) => {
    answerOnSocket(socket, CONNECT_ANSWER);
  });

  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const desc = 'socketPath' in where ? `unix ${where.socketPath}` : `tcp ${joinHostPort(where.host, where.port)}`;
      reject(listenError(err, desc));
    };
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      const a = server.address();
      const address = typeof a === 'string' ? a : joinHostPort((a as AddressInfo).address, (a as AddressInfo).port);
      const bound = typeof a === 'string' ? { socketPath: a } : { host: (a as AddressInfo).address, port: (a as AddressInfo).port };
      let closed: Promise<void> | undefined;
      resolve({
        server,
        address,
        bound,
        close: (drain) =>
          (closed ??= new Promise<void>((res) => {
            server.close(() => res());
            server.closeIdleConnections();
            // Node unlinks a unix socket when its listener closes. Unlinking the path again
            // after the drain could remove the socket of a kproxy started meanwhile.
            const finish = () => server.closeAllConnections();
            if (drain) drain().then(finish, finish);
            else finish();
          })),
      });
    };
    if ('socketPath' in where) {
      // libuv reports a missing folder as EACCES; Go (and so kubectl) says what is wrong.
      const folderProblem = socketFolderProblem(where.socketPath);
      if (folderProblem) {
        reject(new UsageError(`listen unix ${where.socketPath}: bind: ${folderProblem}`));
        return;
      }
      // kubectl removes a stale socket but refuses to replace anything else.
      if (existsSync(where.socketPath)) {
        const st = lstatSync(where.socketPath);
        if (!st.isSocket()) {
          reject(new UsageError(`listen unix ${where.socketPath}: bind: address already in use`));
          return;
        }
        unlinkSync(where.socketPath);
      }
      const old = process.umask(0o077);
      server.listen(where.socketPath, () => done());
      process.umask(old);
    } else {
      server.listen({ host: where.host, port: where.port, ipv6Only: false }, done);
    }
  });
}
