// client-go's multi-file merge (loader.go Load + merge.go). Its documented rule: "The first file
// to set a particular value or map key wins", and an entry is never assembled from fields of two
// files: a `red-user` from the second file is discarded whole even if it adds fields.

import type { KubeconfigEntry, KubeconfigFile, MergedKubeconfig } from './types.js';

function firstWins<T>(maps: Map<string, KubeconfigEntry<T>>[]): Map<string, KubeconfigEntry<T>> {
  const out = new Map<string, KubeconfigEntry<T>>();
  for (const m of maps) {
    for (const [name, entry] of m) if (!out.has(name)) out.set(name, entry);
  }
  return out;
}

/** Merge files given in precedence order (the `KUBECONFIG` order). */
export function mergeKubeconfigs(files: KubeconfigFile[]): MergedKubeconfig {
  const merged: MergedKubeconfig = {
    clusters: firstWins(files.map((f) => f.clusters)),
    users: firstWins(files.map((f) => f.users)),
    contexts: firstWins(files.map((f) => f.contexts)),
  };
  // A later file can still supply the context that an earlier file's current-context names.
  const current = files.find((f) => f.currentContext)?.currentContext;
  if (current) merged.currentContext = current;
  return merged;
}
