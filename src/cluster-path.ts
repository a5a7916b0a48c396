// --contexts / --all-contexts: which served kubeconfig context a request under
// `<api-prefix>clusters/<context>/` is for, and what is left of its target for the filter and the
// API server. Pure: it takes the route's target and the table of served clusters, and is tested
// as a table.
//
// A context name is one URL-escaped path segment (`arn:aws:eks:…:cluster%2Fprod`), but client-go
// builds request paths from the decoded server path, so a kubeconfig whose server is
// `…/clusters/arn:aws:eks:…:cluster%2Fprod` reaches kproxy as `…/cluster/prod/api/v1/…`. Both
// spellings are accepted: the served name made of the fewest leading segments wins only when it
// is the one name that matches; two served names that both match (`a` and `a/api`) are refused
// rather than guessed, since a guess could send a request to the wrong cluster.

import type { FilterRules } from './filter/filter.js';
import type { UpstreamRequestContext } from './outgoing.js';
import { decodePath } from './route.js';

/** One kubeconfig context that kproxy serves under `/clusters/<name>/`. */
export interface ServedCluster {
  /** The kubeconfig context name. */
  readonly name: string;
  readonly clusterName: string;
  /** The API server URL (scheme, host, port, path); nothing secret. */
  readonly server: string;
  /** Its upstream pool and credentials. */
  readonly ctx: UpstreamRequestContext;
  /** Its filter (per-context rules, else the global ones); undefined with --disable-filter. */
  readonly filter: FilterRules | undefined;
  /** --append-server-path: the server URL's path, prefixed to every target. */
  readonly serverPath?: string;
}

export type ClusterPick =
  /** `/clusters` or `/clusters/`: the list. */
  | { kind: 'list' }
  /** Not under `/clusters/`. */
  | { kind: 'outside' }
  | { kind: 'unknown'; name: string }
  | { kind: 'ambiguous'; names: string[] }
  /** `path` is what the filter matches, `target` what goes to the cluster (query kept). */
  | { kind: 'cluster'; cluster: ServedCluster; path: string; target: string };

/** What precedes `clusters/` in a route target: kubectl leaves an api-prefix starting with /api in it. */
export function clusterBase(apiPrefix: string): string {
  return apiPrefix === '/' || !apiPrefix.startsWith('/api') ? '/' : apiPrefix;
}

/** The path segment that names `context` (every reserved character escaped). */
export function contextSegment(context: string): string {
  return encodeURIComponent(context);
}

/**
 * `target` is the route's (escaped path, api-prefix stripped, query kept); `base` is the part of
 * it that precedes `clusters/`: '/' when the api-prefix was stripped, else the api-prefix.
 */
export function pickCluster(target: string, base: string, served: ReadonlyMap<string, ServedCluster>): ClusterPick {
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  const root = base + 'clusters';
  if (rawPath === root || rawPath === root + '/') return { kind: 'list' };
  if (!rawPath.startsWith(root + '/')) return { kind: 'outside' };
  const segs = rawPath.slice(root.length + 1).split('/');
  const first = decodePath(segs[0]!) ?? segs[0]!;
  const found: number[] = [];
  let name = '';
  for (let k = 0; k < segs.length; k++) {
    const d = decodePath(segs[k]!);
    if (d === undefined) break;
    name = k === 0 ? d : name + '/' + d;
    if (served.has(name)) found.push(k + 1);
  }
  if (found.length === 0) return { kind: 'unknown', name: first };
  if (found.length > 1) return { kind: 'ambiguous', names: found.map((k) => segs.slice(0, k).map((s) => decodePath(s)!).join('/')) };
  const k = found[0]!;
  const cluster = served.get(segs.slice(0, k).map((s) => decodePath(s)!).join('/'))!;
  const rest = segs.slice(k).join('/');
  const path = rest === '' ? '' : '/' + decodePath(rest)!;
  let forward = '/' + rest;
  if (cluster.serverPath) forward = cluster.serverPath + forward;
  return { kind: 'cluster', cluster, path, target: forward + query };
}

/** What `GET /clusters` lists for each served context: names and the server URL, no credential. */
export function clusterList(served: Iterable<ServedCluster>, base: string): Array<{ context: string; cluster: string; server: string; path: string }> {
  return [...served].map((c) => ({ context: c.name, cluster: c.clusterName, server: c.server, path: `${base}clusters/${contextSegment(c.name)}/` }));
}

/** Served names where one is a leading run of segments of another: their unescaped paths collide. */
export function ambiguousNames(names: Iterable<string>): Array<[string, string]> {
  const all = [...names];
  const out: Array<[string, string]> = [];
  for (const a of all) for (const b of all) if (a !== b && b.startsWith(a + '/')) out.push([a, b]);
  return out;
}

/** `--contexts=a,b`: names separated by commas; empty names dropped, duplicates kept once. */
export function parseContextList(value: string): string[] {
  return [...new Set(value.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
}
