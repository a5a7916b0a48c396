// kproxy's own version, read from package.json wherever the code runs from.

import { readFileSync } from 'node:fs';

export const VERSION: string = readVersion();

function readVersion(): string {
  // dist/src/version.js and the dist/kproxy.mjs bundle sit at different depths below package.json.
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next */
    }
  }
  return 'unknown';
}
