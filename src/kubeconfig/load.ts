// Finding and reading kubeconfig files (client-go loader.go ClientConfigLoadingRules.Load). The
// only kubeconfig module that touches the file system; certificate and token files referenced
// by the config are not read here.

import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { mergeKubeconfigs } from './merge.js';
import { parseKubeconfig } from './parse.js';
import { resolveConfig } from './resolve.js';
import { ConfigError, type ConfigOverrides, type KubeconfigFile, type MergedKubeconfig, type ResolvedConfig } from './types.js';

export interface LoadedKubeconfig {
  merged: MergedKubeconfig;
  /** Files that existed and were loaded, in precedence order. Empty when nothing was found. */
  files: string[];
  /** Every candidate path, in order, for a "no kubeconfig found (looked at ...)" message. */
  lookedAt: string[];
}

/** Go's syscall error strings, which kubectl prints after `stat <path>: ` or `open <path>: `. */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
};

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return (e.code && ERRNO_TEXT[e.code]) || e.message;
}

/** Candidate files: --kubeconfig alone, else the KUBECONFIG list, else ~/.kube/config. */
function candidates(explicitPath: string | undefined, env: NodeJS.ProcessEnv, home: string): string[] {
  if (explicitPath) return [explicitPath];
  const list = env.KUBECONFIG;
  if (list) {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const entry of list.split(path.delimiter)) {
      if (entry === '' || seen.has(entry)) continue;
      seen.add(entry);
      out.push(entry);
    }
    return out;
  }
  return [path.join(home, '.kube', 'config')];
}

/**
 * Load and merge kubeconfig files. Paths are reported as given and opened relative to `cwd`
 * (default: the process working directory). Missing files in the list are skipped, like
 * kubectl; a missing --kubeconfig or any unreadable or broken file is a ConfigError.
 */
export function loadKubeconfig(opts: { explicitPath?: string; env: NodeJS.ProcessEnv; home: string; cwd?: string }): LoadedKubeconfig {
  const cwd = opts.cwd ?? process.cwd();
  const lookedAt = candidates(opts.explicitPath || undefined, opts.env, opts.home);
  if (opts.explicitPath) {
    try {
      statSync(path.resolve(cwd, opts.explicitPath));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ConfigError(`stat ${opts.explicitPath}: ${errnoText(err)}`);
      }
      // Other stat failures surface as the read error below, as in client-go.
    }
  }

  const parsed: KubeconfigFile[] = [];
  const errors: string[] = [];
  for (const file of lookedAt) {
    let text: string;
    try {
      text = readFileSync(path.resolve(cwd, file), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      // Go's os.ReadFile fails in open() for permissions and in read() for directories.
      const op = code === 'EISDIR' ? 'read' : 'open';
      errors.push(`error loading config file "${file}": ${op} ${file}: ${errnoText(err)}`);
      continue;
    }
    try {
      parsed.push(parseKubeconfig(text, file));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      errors.push(err.message);
    }
  }
  // kubectl collects every broken file and prints one per line; any of them stops it.
  if (errors.length > 0) throw new ConfigError(errors.join('\n'));
  return { merged: mergeKubeconfigs(parsed), files: parsed.map((f) => f.path), lookedAt };
}

/**
 * Load the kubeconfig for `overrides` and resolve it. With no kubeconfig at all, only --server
 * makes a usable configuration (kubectl would fall back to http://localhost:8080 instead).
 */
export function loadResolvedConfig(overrides: ConfigOverrides, env: NodeJS.ProcessEnv, home: string, cwd: string): ResolvedConfig {
  const explicitPath = overrides.kubeconfig || undefined;
  const loaded = loadKubeconfig({ ...(explicitPath !== undefined ? { explicitPath } : {}), env, home, cwd });
  if (loaded.files.length === 0 && !overrides.server) {
    const where = loaded.lookedAt.length > 0 ? `looked at ${loaded.lookedAt.join(', ')}` : 'KUBECONFIG lists no file';
    throw new ConfigError(`no kubeconfig found: ${where}; set --kubeconfig or KUBECONFIG, or pass --server`);
  }
  return resolveConfig(loaded.merged, overrides, cwd);
}
