// kproxy's version and build: written into the bundle by scripts/bundle.mjs (an installed
// package or a single executable has no checkout to ask); the unbundled build used by the tests
// reads package.json instead and knows no commit.

import { readFileSync } from 'node:fs';

interface BuildInfo {
  version: string;
  gitCommit: string;
  gitTreeState: 'clean' | 'dirty' | 'unknown';
}

declare const __KPROXY_BUILD__: BuildInfo | undefined;

const BUILD: BuildInfo = typeof __KPROXY_BUILD__ === 'object' ? __KPROXY_BUILD__ : { version: readVersion(), gitCommit: 'unknown', gitTreeState: 'unknown' };

export const VERSION: string = BUILD.version;

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export type VersionFormat = 'text' | 'json' | 'yaml';

/** `kproxy version`'s fields, named like `kubectl version`'s client block. */
export function versionInfo(): Record<string, string> {
  return {
    gitVersion: `v${BUILD.version}`,
    gitCommit: BUILD.gitCommit,
    gitTreeState: BUILD.gitTreeState,
    nodeVersion: process.version,
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

/** `kproxy --version`: one line. */
export function versionLine(): string {
  const i = versionInfo();
  return `kproxy ${i.gitVersion} (commit ${i.gitCommit}, node ${i.nodeVersion})\n`;
}

/** `kproxy version [-o json|yaml]`. */
export function versionReport(format: VersionFormat): string {
  const i = versionInfo();
  if (format === 'json') return JSON.stringify({ kproxyVersion: i }, null, 2) + '\n';
  const lines = Object.entries(i).map(([k, v]) => `  ${k}: ${v}`);
  if (format === 'yaml') return `kproxyVersion:\n${lines.join('\n')}\n`;
  return `kproxy Version: ${i.gitVersion}\nGit Commit: ${i.gitCommit} (${i.gitTreeState})\nNode.js Version: ${i.nodeVersion}\nPlatform: ${i.platform}\n`;
}
