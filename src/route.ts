// Routing: what Go's ServeMux and kubectl's stripLeaveSlash do to a request target before the
// filter sees it (static files or the API prefix, redirects, 404s), the one place where kproxy
// is deliberately stricter (percent-encoded dot segments), and the other pure questions asked
// of a target: --append-server-path, and whether it is a watch or a log follow. Pure: no I/O,
// so it is tested as a table.

export interface Mounts {
  /** Ends with '/'. */
  apiPrefix: string;
  /** Ends with '/'; only when --www is set. */
  staticPrefix?: string;
  /** The kubeconfig server's path, prefixed to every API target (--append-server-path). */
  serverPath?: string;
}

export type Route =
  | { kind: 'options-star' }
  | { kind: 'redirect'; location: string }
  | { kind: 'bad-request'; reason: string }
  | { kind: 'not-found' }
  /** `path` is the decoded path below the static prefix, with a leading '/'. */
  | { kind: 'static'; path: string }
  /**
   * `path` is what the filter matches (decoded, api-prefix stripped); `target` is the request
   * target to send upstream (escaped path as received, api-prefix stripped, raw query kept).
   */
  | { kind: 'api'; path: string; target: string };

/** A route and the authority of an absolute-form target, which the Host check needs first. */
export type Routed = Route & { authority?: string };

export interface Target {
  /** From an absolute-form request target; it wins over the Host header, as in Go. */
  authority?: string;
  rawPath: string;
  /** Undefined when the target had no '?'. */
  rawQuery?: string;
}

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** Splits a request target (RFC 9112 §3.2). Returns undefined for forms Go answers with 400. */
export function parseTarget(url: string): Target | undefined {
  let rest = url;
  let authority: string | undefined;
  if (rest.charCodeAt(0) !== 0x2f /* / */) {
    const m = ABSOLUTE_FORM.exec(rest);
    if (!m) return undefined;
    rest = rest.slice(m[0].length);
    let end = rest.length;
    for (let i = 0; i < rest.length; i++) {
      const c = rest[i];
      if (c === '/' || c === '?') {
        end = i;
        break;
      }
    }
    authority = rest.slice(0, end);
    rest = rest.slice(end);
  }
  const q = rest.indexOf('?');
  if (q === -1) return { authority, rawPath: rest };
  return { authority, rawPath: rest.slice(0, q), rawQuery: rest.slice(q + 1) };
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexVal(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

/**
 * Go's url.unescape in path mode: `%XX` decoded, anything else kept, a malformed escape is an
 * error. The bytes are read as UTF-8 the way Go's string-based regexp sees them.
 */
export function decodePath(raw: string): string | undefined {
  let simple = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 || c >= 0x80) {
      simple = false;
      break;
    }
  }
  if (simple) return raw;
  const src = Buffer.from(raw, 'latin1');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c !== 0x25) {
      out[n++] = c;
      continue;
    }
    if (i + 2 >= src.length || !isHex(src[i + 1]!) || !isHex(src[i + 2]!)) return undefined;
    out[n++] = (hexVal(src[i + 1]!) << 4) | hexVal(src[i + 2]!);
    i += 2;
  }
  return out.toString('utf8', 0, n);
}

// Go's shouldEscape(c, encodePath).
function shouldEscapePath(c: number): boolean {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)) return false;
  switch (c) {
    case 0x2d: // -
    case 0x5f: // _
    case 0x2e: // .
    case 0x7e: // ~
    case 0x24: // $
    case 0x26: // &
    case 0x2b: // +
    case 0x2c: // ,
    case 0x2f: // /
    case 0x3a: // :
    case 0x3b: // ;
    case 0x3d: // =
    case 0x40: // @
      return false;
    default:
      return true;
  }
}

// Go's validEncoded(s, encodePath): may the raw path be forwarded as it is?
function validEncoded(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    switch (c) {
      case 0x21: // !
      case 0x24:
      case 0x26:
      case 0x27: // '
      case 0x28: // (
      case 0x29: // )
      case 0x2a: // *
      case 0x2b:
      case 0x2c:
      case 0x3b:
      case 0x3d:
      case 0x3a:
      case 0x40:
      case 0x5b: // [
      case 0x5d: // ]
      case 0x25: // %
        continue;
      default:
        if (c > 0x7f || shouldEscapePath(c)) return false;
    }
  }
  return true;
}

function escapePath(decoded: string): string {
  let out = '';
  for (const b of Buffer.from(decoded, 'utf8')) {
    out += shouldEscapePath(b) ? '%' + b.toString(16).toUpperCase().padStart(2, '0') : String.fromCharCode(b);
  }
  return out;
}

/** Go's URL.EscapedPath(): the raw path when it is a valid encoding, else a re-escaped one. */
export function escapedPath(rawPath: string, decoded: string): string {
  return validEncoded(rawPath) ? rawPath : escapePath(decoded);
}

/** Go's path.Clean. */
export function cleanSlashPath(p: string): string {
  const rooted = p.startsWith('/');
  const parts = p.split('/');
  const out: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** net/http's cleanPath: path.Clean that keeps a trailing slash. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  if (p[0] !== '/') p = '/' + p;
  let np = cleanSlashPath(p);
  if (p[p.length - 1] === '/' && np !== '/') {
    if (p.length === np.length + 1 && p.startsWith(np)) np = p;
    else np += '/';
  }
  return np;
}

/**
 * Number of leading segments of `escaped` (a clean path) that equal the subtree pattern
 * `prefix` ('/a/b/'), comparing unescaped segments as Go 1.22's ServeMux does; -1 when it does
 * not match. `exactWithoutSlash` reports a path equal to the pattern minus its trailing slash.
 */
function matchPrefix(prefix: string, escapedSegs: string[]): { n: number; exactWithoutSlash: boolean } {
  if (prefix === '/') return { n: 0, exactWithoutSlash: false };
  const want = prefix.slice(1, -1).split('/');
  if (escapedSegs.length < want.length) return { n: -1, exactWithoutSlash: false };
  for (let i = 0; i < want.length; i++) {
    if (decodePath(escapedSegs[i]!) !== want[i]) return { n: -1, exactWithoutSlash: false };
  }
  if (escapedSegs.length === want.length) return { n: -1, exactWithoutSlash: true };
  return { n: want.length, exactWithoutSlash: false };
}

function withQuery(path: string, rawQuery: string | undefined): string {
  return rawQuery ? path + '?' + rawQuery : path;
}

export function route(method: string, url: string, mounts: Mounts): Routed {
  if (url === '*') {
    return method === 'OPTIONS' ? { kind: 'options-star' } : { kind: 'bad-request', reason: 'invalid request target' };
  }
  const t = parseTarget(url);
  if (!t) return { kind: 'bad-request', reason: 'invalid request target' };
  const r = routeTarget(t, mounts);
  if (t.authority !== undefined) r.authority = t.authority;
  return r;
}

function routeTarget(t: Target, mounts: Mounts): Routed {
  const decoded = decodePath(t.rawPath);
  if (decoded === undefined) return { kind: 'bad-request', reason: 'invalid URL escape in path' };
  const escaped = escapedPath(t.rawPath, decoded);

  const clean = cleanPath(escaped);
  // segments of '/a/b' are ['a','b']; of '/a/b/' are ['a','b','']. The default mount needs none.
  const segs = mounts.apiPrefix === '/' && mounts.staticPrefix === undefined ? [] : clean.slice(1).split('/');
  const api = matchPrefix(mounts.apiPrefix, segs);
  const stat = mounts.staticPrefix !== undefined ? matchPrefix(mounts.staticPrefix, segs) : undefined;

  // ServeMux: "/tree" is redirected to "/tree/" when "/tree/" is registered, even if a shorter
  // subtree such as "/" would also match.
  if (api.exactWithoutSlash || stat?.exactWithoutSlash) return { kind: 'redirect', location: withQuery(clean + '/', t.rawQuery) };
  let chosen: 'api' | 'static' | undefined;
  if (api.n >= 0 && (!stat || stat.n < 0 || api.n >= stat.n)) chosen = 'api';
  else if (stat && stat.n >= 0) chosen = 'static';
  if (chosen === undefined) return { kind: 'not-found' };
  if (clean !== escaped) return { kind: 'redirect', location: withQuery(clean, t.rawQuery) };

  if (chosen === 'static') {
    const rest = segs.slice(stat!.n).join('/');
    const p = decodePath(rest);
    if (p === undefined) return { kind: 'bad-request', reason: 'invalid URL escape in path' };
    return { kind: 'static', path: '/' + p };
  }

  let filterPath = decoded;
  let forwardPath = escaped;
  // kubectl strips the api-prefix only when it does not start with "/api" (stripLeaveSlash);
  // stripping "/" changes nothing but turns "/" itself into the empty path.
  if (mounts.apiPrefix === '/') {
    if (decoded === '/') filterPath = '';
  } else if (!mounts.apiPrefix.startsWith('/api')) {
    const rawRest = segs.slice(api.n).join('/');
    const rest = decodePath(rawRest)!;
    filterPath = rest === '' ? '' : '/' + rest;
    // kubectl re-escapes the stripped path (so %2F becomes a real slash upstream); kproxy keeps
    // the bytes as received, which is what the client asked for.
    forwardPath = '/' + rawRest;
  }
  // Go >= 1.22 cleans the escaped path only, so %2e%2e and %2F-built dot segments reach the
  // filter as "/apis/../api/..." and bypass it (golang/go#70130). kproxy refuses them instead.
  if (filterPath !== '' && cleanPath(filterPath) !== filterPath) {
    return { kind: 'bad-request', reason: 'path contains encoded dot segments or empty segments' };
  }
  if (mounts.serverPath) forwardPath = joinServerPath(mounts.serverPath, forwardPath);
  // An empty query keeps its '?' upstream, as Go's ForceQuery does.
  return { kind: 'api', path: filterPath, target: t.rawQuery === undefined ? forwardPath : forwardPath + '?' + t.rawQuery };
}

/** kubectl's singleJoiningSlash(serverPath, requestPath) for --append-server-path. */
export function joinServerPath(serverPath: string, target: string): string {
  if (serverPath === '') return target;
  return serverPath + (target.startsWith('/') ? target : '/' + target);
}

// The API server reads `watch` and `follow` with Go's strconv.ParseBool, and still serves the
// deprecated /watch/ paths (/api/v1/watch/pods, /apis/apps/v1/watch/namespaces/x/deployments).
const LONG_RUNNING_QUERY = /[?&](?:watch|follow)=(?:1|t|T|true|TRUE|True)(?:&|$)/;
const LEGACY_WATCH_PATH = /\/(?:api|apis\/[^/]+)\/[^/]+\/watch(?:\/|$)/;

/** A watch or a log follow: a response that lasts as long as the client wants it. */
export function isLongRunning(method: string | undefined, url: string): boolean {
  if (method !== 'GET') return false;
  return LONG_RUNNING_QUERY.test(url) || LEGACY_WATCH_PATH.test(url.split('?', 1)[0]!);
}
