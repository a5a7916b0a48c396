// npm's `prepare`: builds dist/ (tsc, then the bundle). npm runs it after `npm ci` or
// `npm install` in a clone, before `npm pack` (so the tarball carries the built bundle), and on
// `npm link`, which since npm 7 links the folder *without installing its dependencies*: there
// the build tools and the runtime dependencies are missing, so they are installed here first,
// from the lockfile, exactly as `npm ci` would.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const has = (mod) => existsSync(new URL(`node_modules/${mod}/package.json`, root));

function npm(...args) {
  // The outer npm's own settings (npm link's global prefix, its command) must not leak into
  // this local install; .npmrc files and the cache are read again by the child as usual.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || /^npm_config_(cache|userconfig|registry)$/i.test(k)),
  );
  const npmCli = process.env.npm_execpath;
  const [cmd, cmdArgs] = npmCli && npmCli.endsWith('.js') ? [process.execPath, [npmCli, ...args]] : ['npm', args];
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!has('typescript') || !has('esbuild')) {
  process.stderr.write('kproxy: installing its dependencies first (npm ci), as npm link does not\n');
  // Scripts off: this script is the one that would run again, and the build follows below.
  npm('ci', '--ignore-scripts', '--no-audit', '--no-fund');
}
npm('run', 'build', '--silent');
