// `npm pack` of this checkout for the tests that install or unpack the package. It packs the
// bundle `npm test` (pretest) just built and never runs the build again (--ignore-scripts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './proc.js';

/** Runs npm without the npm_* settings an outer `npm test` puts in the environment. */
export function npm(args: string[], cwd: string): string {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `npm ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export interface Packed {
  tarball: string;
  /** Paths inside the tarball, without the leading `package/`. */
  files: string[];
}

export function packInto(dir: string): Packed {
  const [packed] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], repoRoot())) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: join(dir, packed!.filename), files: packed!.files.map((f) => f.path) };
}
