// What the bundles say about themselves (`kproxy version`): the package version and the git
// commit of this folder, 'unknown' outside a git checkout of it.

import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = new URL('..', import.meta.url);

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

export function buildInfo() {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  // Only this folder's own history: a tarball unpacked inside some other repository must not
  // borrow that repository's commit.
  const top = git('rev-parse', '--show-toplevel');
  const inCheckout = top !== undefined && realpathSync(top) === realpathSync(fileURLToPath(root));
  // A container build has no .git: the Dockerfile passes the commit in.
  const gitCommit = (inCheckout && git('rev-parse', 'HEAD')) || process.env.KPROXY_GIT_COMMIT || 'unknown';
  const gitTreeState = !inCheckout ? 'unknown' : git('status', '--porcelain', '--untracked-files=no') === '' ? 'clean' : 'dirty';
  return { version: pkg.version, gitCommit, gitTreeState };
}

/** esbuild `define` for src/version.ts. */
export function buildInfoDefine() {
  return { __KPROXY_BUILD__: JSON.stringify(buildInfo()) };
}
