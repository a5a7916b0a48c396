// Bundles the compiled CLI (dist/src) into dist/kproxy.mjs, the one file bin/kproxy loads (half
// the start-up time of the module tree), with the version and git commit written in: an
// installed package has no checkout to ask.
//
// Modules loaded at run time with createRequire (re2-wasm with its .wasm file, undici's pool,
// send, socks) or import() (prom-client, only with --admin-address) stay outside the bundle:
// they are the package's `dependencies`.

import { build } from 'esbuild';
import { buildInfoDefine, root } from './build-info.mjs';

await build({
  entryPoints: [new URL('dist/src/cli.js', root).pathname],
  outfile: new URL('dist/kproxy.mjs', root).pathname,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['re2-wasm', 'prom-client'],
  logLevel: 'warning',
  banner: { js: "import { createRequire as __kproxyRequire } from 'node:module'; const require = __kproxyRequire(import.meta.url);" },
  define: buildInfoDefine(),
});
