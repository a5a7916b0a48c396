// Least-privilege rules over the API server's own reading of a request (requestinfo.ts):
// --read-only, --deny and --allow rules, and the rules file. Rules have RBAC's shape (verbs,
// API groups, resources with `res/sub` subresources, names, namespaces, non-resource URLs);
// names and namespaces are picomatch globs. A deny rule reads everything a request could reach:
// a collection or cluster-wide request reaches the names and namespaces it names, and `pods`
// covers pods' subresources. Pure: compiled from plain data, decided on plain data.

import picomatch from 'picomatch';
import { UserError } from '../errors.js';
import { requestInfo, type RequestInfo } from '../requestinfo.js';

/** A rule that cannot be compiled; the caller says where it came from. */
export class RuleError extends UserError {
  override name = 'RuleError';
}

/** `group` and `resource` are '*' for any; `subresource` undefined for none, '*' for any. */
export interface ResourcePattern {
  group: string;
  resource: string;
  subresource: string | undefined;
}

/** A rule as written, before its globs are compiled. */
export interface RuleInput {
  /** How the verdict names it: `--allow "get pods"`, `rules.yaml:4`. */
  label: string;
  verbs: string[];
  resources: ResourcePattern[];
  nonResourceURLs: string[];
  /** Globs; undefined means any name. */
  names?: string[];
  /** Globs; undefined means any namespace and cluster-wide requests. */
  namespaces?: string[];
}

export interface Rule {
  label: string;
  verbs: ReadonlySet<string>;
  resources: ResourcePattern[];
  nonResourceURLs: string[];
  names?: (s: string) => boolean;
  namespaces?: (s: string) => boolean;
}

export interface Rules {
  readOnly: boolean;
  allow: Rule[];
  deny: Rule[];
}

export type RulesDecision = { allow: boolean; rule: string };

/** Verbs RequestInfo gives resource requests, and the methods non-resource requests carry. */
export const RESOURCE_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'proxy'] as const;
export const NON_RESOURCE_VERBS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'] as const;
const KNOWN_VERBS = new Set<string>(['*', ...RESOURCE_VERBS, ...NON_RESOURCE_VERBS]);

const READ_VERBS = new Set(['get', 'list', 'watch']);
const READ_METHODS = new Set(['get', 'head']);
/** Subresources that run code in, or open a tunnel to, a pod, service or node. */
export const TUNNEL_SUBRESOURCES = new Set(['exec', 'attach', 'portforward', 'proxy']);

/**
 * The non-resource URLs every authenticated user may GET (RBAC's system:discovery and
 * system:public-info-viewer): with allow rules, kubectl still needs them to find anything.
 */
const DISCOVERY_URLS = ['/api', '/api/*', '/apis', '/apis/*', '/openapi', '/openapi/*', '/version', '/version/', '/healthz', '/livez', '/readyz'];

const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const GROUP = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

export function checkVerb(verb: string): string {
  if (!KNOWN_VERBS.has(verb)) {
    throw new RuleError(`unknown verb "${verb}" (one of *, ${RESOURCE_VERBS.join(', ')}; for non-resource URLs ${NON_RESOURCE_VERBS.join(', ')})`);
  }
  return verb;
}

/**
 * `pods`, `pods/exec`, `pods/*` (any subresource), `*`, or a subresource of any resource (`*`
 * then `/scale`), in `group` ('*' for any, '' for the core group).
 */
export function resourcePattern(spec: string, group: string): ResourcePattern {
  const slash = spec.indexOf('/');
  const resource = slash === -1 ? spec : spec.slice(0, slash);
  const subresource = slash === -1 ? undefined : spec.slice(slash + 1);
  if (resource !== '*' && !NAME.test(resource)) throw new RuleError(`invalid resource "${spec}": resources are lower-case plural names such as pods or deployments`);
  if (subresource !== undefined && subresource !== '*' && !NAME.test(subresource)) throw new RuleError(`invalid subresource in "${spec}"`);
  if (group !== '*' && group !== '' && !GROUP.test(group)) throw new RuleError(`invalid API group "${group}"`);
  return { group, resource, subresource };
}

export function checkNonResourceURL(url: string): string {
  if (url !== '*' && !url.startsWith('/')) throw new RuleError(`invalid non-resource URL "${url}": must start with "/"`);
  if (url.indexOf('*') !== -1 && url.indexOf('*') !== url.length - 1) throw new RuleError(`invalid non-resource URL "${url}": "*" may only end it`);
  return url;
}

export function checkGlobs(what: string, patterns: string[] | undefined): void {
  if (patterns !== undefined && (patterns.length === 0 || patterns.some((p) => p === ''))) throw new RuleError(`empty ${what} pattern`);
}

function globs(what: string, patterns: string[] | undefined): ((s: string) => boolean) | undefined {
  checkGlobs(what, patterns);
  if (patterns === undefined) return undefined;
  // dot: a `*` matches every name; a name cannot hold a '/', so the path rules do not matter.
  return picomatch(patterns, { dot: true });
}

export function compileRule(input: RuleInput): Rule {
  if (input.verbs.length === 0) throw new RuleError('a rule needs at least one verb');
  if (input.resources.length === 0 && input.nonResourceURLs.length === 0) throw new RuleError('a rule needs resources or non-resource URLs');
  if (input.resources.length === 0 && (input.names !== undefined || input.namespaces !== undefined)) {
    throw new RuleError('names and namespaces apply to resources, and this rule has only non-resource URLs');
  }
  input.verbs.forEach(checkVerb);
  input.nonResourceURLs.forEach(checkNonResourceURL);
  return {
    label: input.label,
    verbs: new Set(input.verbs),
    resources: input.resources,
    nonResourceURLs: input.nonResourceURLs,
    names: globs('name', input.names),
    namespaces: globs('namespace', input.namespaces),
  };
}

function matchResource(p: ResourcePattern, info: RequestInfo, deny: boolean): boolean {
  if (p.group !== '*' && p.group !== info.apiGroup) return false;
  if (p.resource !== '*' && p.resource !== info.resource) return false;
  // RBAC: "*" is every resource and every subresource.
  if (p.subresource === undefined) return p.resource === '*' || info.subresource === '' || deny;
  if (p.subresource === '*') return info.subresource !== '';
  return p.subresource === info.subresource;
}

/** RBAC's NonResourceURLMatches: exact, or a prefix ending in '*'. */
function matchURL(pattern: string, path: string, deny: boolean): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return path.startsWith(pattern.slice(0, -1));
  return path === pattern || (deny && path === pattern + '/');
}

/** A glob for a name or namespace; a request without one reaches them all, so a deny matches it. */
function matchScoped(glob: ((s: string) => boolean) | undefined, value: string, deny: boolean): boolean {
  if (glob === undefined) return true;
  return value === '' ? deny : glob(value);
}

export function ruleMatches(rule: Rule, info: RequestInfo, deny: boolean): boolean {
  if (!rule.verbs.has('*') && !rule.verbs.has(info.verb)) return false;
  if (!info.isResourceRequest) return rule.nonResourceURLs.some((u) => matchURL(u, info.path, deny));
  if (!rule.resources.some((p) => matchResource(p, info, deny))) return false;
  return matchScoped(rule.names, info.name, deny) && matchScoped(rule.namespaces, info.namespace, deny);
}

/** Why --read-only refuses the request, or undefined. */
export function readOnlyRefusal(info: RequestInfo): string | undefined {
  if (!info.isResourceRequest) return READ_METHODS.has(info.verb) ? undefined : `method ${info.verb.toUpperCase()}`;
  if (!READ_VERBS.has(info.verb)) return `verb ${info.verb || '(none)'}`;
  if (TUNNEL_SUBRESOURCES.has(info.subresource)) return `subresource ${info.subresource}`;
  return undefined;
}

function isDiscovery(info: RequestInfo): boolean {
  return !info.isResourceRequest && info.verb === 'get' && DISCOVERY_URLS.some((u) => matchURL(u, info.path, false));
}

/** Order: what the API server cannot parse, --read-only, deny rules, then allow rules if any. */
export function decideRules(rules: Rules, info: RequestInfo): RulesDecision {
  if (info.error !== undefined) return { allow: false, rule: `unparseable request: ${info.error}` };
  if (rules.readOnly) {
    const why = readOnlyRefusal(info);
    if (why !== undefined) return { allow: false, rule: `--read-only (${why})` };
  }
  for (const r of rules.deny) if (ruleMatches(r, info, true)) return { allow: false, rule: r.label };
  if (rules.allow.length === 0) return { allow: true, rule: rules.readOnly ? '--read-only' : 'no deny rule matched' };
  for (const r of rules.allow) if (ruleMatches(r, info, false)) return { allow: true, rule: r.label };
  if (isDiscovery(info)) return { allow: true, rule: 'discovery (allowed with any allow rule)' };
  return { allow: false, rule: 'no allow rule matched' };
}

/** The rules' verdict on a request: `path` decoded (the filter's path), `rawQuery` as received. */
export function checkRequest(rules: Rules, method: string, path: string, rawQuery: string): RulesDecision {
  return decideRules(rules, requestInfo(method, path, rawQuery));
}
