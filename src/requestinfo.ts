// What the API server makes of a request before it authorizes it: its RequestInfoFactory
// (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go), which turns method, decoded path and
// query into a verb, API group, version, namespace, resource, subresource and name. kproxy's
// rules (rules/) decide on this reading, so that a path cannot mean one thing to kproxy and
// another to the API server. Pure: plain strings in, a plain object out; tested as a table
// against the API server's own requestinfo_test.go.

export interface RequestInfo {
  isResourceRequest: boolean;
  /** The decoded path the API server sees (`/` for the empty path). */
  path: string;
  /** The Kubernetes verb for resource requests; the lower-case method otherwise. */
  verb: string;
  apiPrefix: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** The path segments from the resource on: resource, name, subresource, anything after. */
  parts: string[];
  /** For list, watch and deletecollection (not the /watch/ paths): the first `fieldSelector`. */
  fieldSelector: string;
  labelSelector: string;
  /** Set where the API server refuses the request itself (it answers 500 without serving it). */
  error?: string;
}

const API_PREFIXES = new Set(['api', 'apis']);
const GROUPLESS_API_PREFIXES = new Set(['api']);
const SPECIAL_VERBS = new Set(['proxy', 'watch']);
const SPECIAL_VERBS_NO_SUBRESOURCES = new Set(['proxy']);
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);
const VERBS_WITH_SELECTORS = new Set(['list', 'watch', 'deletecollection']);
const METHOD_VERBS = new Map([
  ['POST', 'create'],
  ['GET', 'get'],
  ['HEAD', 'get'],
  ['PUT', 'update'],
  ['PATCH', 'patch'],
  ['DELETE', 'delete'],
]);

/**
 * Go's net/url limit on query parameters (urlmaxqueryparams, 10000 since the 2025 security
 * releases): past it a patched API server reads no parameter at all and an older one reads
 * every one, so kproxy cannot know which request it serves and refuses it.
 */
export const MAX_QUERY_PARAMS = 10_000;

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Go's url.QueryUnescape: `+` is a space, a malformed `%` escape is an error (undefined). */
export function queryUnescape(s: string): string | undefined {
  if (!s.includes('%') && !s.includes('+')) return s;
  const src = Buffer.from(s, 'latin1');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x2b) out[n++] = 0x20;
    else if (c !== 0x25) out[n++] = c;
    else {
      if (i + 2 >= src.length || !isHex(src[i + 1]!) || !isHex(src[i + 2]!)) return undefined;
      out[n++] = parseInt(s.slice(i + 1, i + 3), 16);
      i += 2;
    }
  }
  return out.toString('utf8', 0, n);
}

/**
 * Go's url.ParseQuery as req.URL.Query() uses it: pairs split on `&` only, a pair holding `;`
 * or a malformed escape is dropped, the rest kept in order.
 */
export function parseQuery(rawQuery: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const pair of rawQuery.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const key = queryUnescape(eq === -1 ? pair : pair.slice(0, eq));
    if (key === undefined) continue;
    const value = queryUnescape(eq === -1 ? '' : pair.slice(eq + 1));
    if (value === undefined) continue;
    const list = m.get(key);
    if (list) list.push(value);
    else m.set(key, [value]);
  }
  return m;
}

// Go's strings.EqualFold(v, "false"): Unicode simple folding, under which the long s (U+017F)
// is an `s`. Missing it would let `?watch=falſe` be a list to the API server and a watch here.
const FALSE_FOLDS = [/[fF]/, /[aA]/, /[lL]/, /[sSſ]/, /[eE]/];

/** apimachinery's Convert_Slice_string_To_bool: only "0" and any-case "false" are false. */
export function queryBool(values: readonly string[] | undefined): boolean {
  if (!values || values.length === 0) return false;
  const v = values[0]!;
  if (v === '0') return false;
  const chars = [...v];
  return !(chars.length === 5 && chars.every((c, i) => FALSE_FOLDS[i]!.test(c)));
}

function tooManyParams(rawQuery: string): boolean {
  let n = 0;
  for (let i = rawQuery.indexOf('&'); i !== -1; i = rawQuery.indexOf('&', i + 1)) if (++n >= MAX_QUERY_PARAMS) return true;
  return false;
}

/** Go's strings.Trim(path, "/") then Split, as requestinfo.go's splitPath. */
function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? [] : trimmed.split('/');
}

/** fields.ParseSelector's term split: commas, except a backslash-escaped one. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

/** fields.UnescapeValue: `\\`, `\,` and `\=` only; a bare `,` or `=` is an error. */
function unescapeValue(s: string): string | undefined {
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') return undefined;
      out += c;
      inSlash = false;
    } else if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=') return undefined;
    else out += c;
  }
  return inSlash ? undefined : out;
}

/**
 * The name a field selector pins (`metadata.name=foo` or `==foo`), as
 * fields.ParseSelector(...).RequiresExactMatch("metadata.name") finds it: terms are sorted and
 * the first equality term on the field wins. Undefined when the selector does not parse.
 */
export function selectorName(selector: string): string | undefined {
  const terms = selector === '' ? [] : splitTerms(selector).sort(byBytes);
  let found: string | undefined;
  for (const term of terms) {
    if (term === '') continue;
    const op = /!=|==|=/.exec(term);
    if (!op) return undefined;
    const value = unescapeValue(term.slice(op.index + op[0].length));
    if (value === undefined) return undefined;
    if (found === undefined && op[0] !== '!=' && term.slice(0, op.index) === 'metadata.name') found = value;
  }
  return found;
}

// Go sorts strings by bytes, JavaScript by UTF-16 units; they differ only past the BMP.
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** apimachinery's path.IsValidPathSegmentName. */
function validPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}

/**
 * RequestInfoFactory.NewRequestInfo for kube-apiserver's prefixes (`api` without a group,
 * `apis` with one), with the AuthorizeWithSelectors reading of field and label selectors.
 * `path` is decoded (req.URL.Path); `rawQuery` is as received.
 */
export function requestInfo(method: string, path: string, rawQuery: string): RequestInfo {
  const info: RequestInfo = {
    isResourceRequest: false,
    path: path === '' ? '/' : path,
    verb: method.toLowerCase(),
    apiPrefix: '',
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
    fieldSelector: '',
    labelSelector: '',
  };
  let parts = splitPath(path);
  if (parts.length < 3 || !API_PREFIXES.has(parts[0]!)) return info;
  info.apiPrefix = parts[0]!;
  parts = parts.slice(1);
  if (!GROUPLESS_API_PREFIXES.has(info.apiPrefix)) {
    if (parts.length < 3) return info;
    info.apiGroup = parts[0]!;
    parts = parts.slice(1);
  }
  info.isResourceRequest = true;
  info.apiVersion = parts[0]!;
  parts = parts.slice(1);

  let verbViaPath = false;
  if (SPECIAL_VERBS.has(parts[0]!)) {
    if (parts.length < 2) {
      info.error = 'unable to determine kind and namespace from url';
      return info;
    }
    info.verb = parts[0]!;
    parts = parts.slice(1);
    verbViaPath = true;
  } else {
    info.verb = METHOD_VERBS.get(method) ?? '';
  }

  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1]!;
      // namespaces/{ns}/status is the namespace's own subresource; anything else is a resource.
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
    }
  }
  info.parts = parts;
  if (parts.length >= 3 && !SPECIAL_VERBS_NO_SUBRESOURCES.has(info.verb)) info.subresource = parts[2]!;
  if (parts.length >= 2) info.name = parts[1]!;
  if (parts.length >= 1) info.resource = parts[0]!;

  if (tooManyParams(rawQuery)) {
    info.error = `more than ${MAX_QUERY_PARAMS} query parameters`;
    return info;
  }
  // Built lazily: most requests never need the query.
  let query: Map<string, string[]> | undefined;
  const q = () => (query ??= parseQuery(rawQuery));

  if (info.name === '' && info.verb === 'get') {
    const values = q();
    info.verb = queryBool(values.get('watch')) ? 'watch' : 'list';
    const fs = values.get('fieldSelector');
    if (fs && fs.length > 0) {
      const name = selectorName(fs[0]!);
      if (name !== undefined && validPathSegmentName(name)) info.name = name;
    }
  }
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';

  if (!verbViaPath && VERBS_WITH_SELECTORS.has(info.verb)) {
    info.fieldSelector = q().get('fieldSelector')?.[0] ?? '';
    info.labelSelector = q().get('labelSelector')?.[0] ?? '';
  }
  return info;
}
