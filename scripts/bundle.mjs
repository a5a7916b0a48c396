// Bundles the compiled CLI (dist/src) into dist/kproxy.mjs, the one file bin/kproxy loads (half
// the start-up time of the module tree), with the version and git commit written in: an
// installed package or a single executable has no checkout to ask.
//
// Modules loaded at run time with createRequire (re2-wasm with its .wasm file, undici's pool,
// send, socks) stay outside the bundle: they are the package's `dependencies`.

import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

// Only this folder's own history: a tarball unpacked inside some other repository must not
// borrow that repository's commit.
const top = git('rev-parse', '--show-toplevel');
const inCheckout = top !== undefined && realpathSync(top) === realpathSync(fileURLToPath(root));
const commit = (inCheckout && git('rev-parse', 'HEAD')) || 'unknown';
const treeState = !inCheckout ? 'unknown' : git('status', '--porcelain', '--untracked-files=no') === '' ? 'clean' : 'dirty';

await build({
  entryPoints: [new URL('dist/src/cli.js', root).pathname],
  outfile: new URL('dist/kproxy.mjs', root).pathname,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['re2-wasm'],
  logLevel: 'warning',
  banner: { js: "import { createRequire as __kproxyRequire } from 'node:module'; const require = __kproxyRequire(import.meta.url);" },
  define: {
    __KPROXY_BUILD__: JSON.stringify({ version: pkg.version, gitCommit: commit, gitTreeState: treeState }),
  },
});
