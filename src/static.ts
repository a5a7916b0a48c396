// --www: static files under --www-prefix, served by `send` (content types, index.html, Range,
// conditional requests). kproxy adds what kubectl's http.FileServer lacks: nothing outside the
// directory is served, including through symlinks that point out of it.

import { realpath } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolve, sep } from 'node:path';
import { createRequire } from 'node:module';
import type sendType from 'send';
import { NOT_FOUND, writeAnswer } from './answers.js';

function notFound(res: ServerResponse): void {
  writeAnswer(res, NOT_FOUND);
}

/** `path` is the decoded path below the prefix, starting with '/', already cleaned by the router. */
export function createStaticHandler(dir: string): (req: IncomingMessage, res: ServerResponse, path: string) => void {
  // Only --www needs `send`; loading it here keeps it off every other start-up.
  const send = createRequire(import.meta.url)('send') as typeof sendType;
  const root = resolve(dir);
  let realRoot: Promise<string> | undefined;
  return (req, res, path) => {
    if (path.includes('\0') || path.split('/').includes('..')) {
      notFound(res);
      return;
    }
    // A directory is served through its index.html, which is checked like any other file (it
    // may itself be a symlink out of the directory).
    const file = path.endsWith('/') ? path + 'index.html' : path;
    realRoot ??= realpath(root).catch(() => root);
    void realRoot
      .then(async (rr) => {
        // Resolve symlinks of what exists; a missing file is send's 404 to give.
        const real = await realpath(resolve(root, '.' + file)).catch(() => undefined);
        if (real !== undefined && real !== rr && !real.startsWith(rr + sep)) return false;
        return true;
      })
      .then((inside) => {
        if (!inside) {
          notFound(res);
          return;
        }
        const encoded = file.split('/').map(encodeURIComponent).join('/');
        send(req, encoded, { root, index: false, dotfiles: 'allow' })
          .on('directory', () => {
            // Keep the client's own URL (with the prefix) when adding the slash.
            const q = req.url!.indexOf('?');
            const location = (q === -1 ? req.url! : req.url!.slice(0, q)) + '/' + (q === -1 ? '' : req.url!.slice(q));
            res.writeHead(301, { Location: location, 'Content-Length': 0 });
            res.end();
          })
          .on('error', (err: { status?: number }) => {
            if (res.headersSent) res.destroy();
            else if (err.status === 404 || err.status === 403) notFound(res);
            else {
              res.writeHead(err.status ?? 500, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 0 });
              res.end();
            }
          })
          .pipe(res);
      });
  };
}
