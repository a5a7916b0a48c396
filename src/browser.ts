// Browser protection: a web page the user opens must not be able to use the proxy. Browsers
// apply no same-origin policy to WebSockets, and form posts or no-cors requests need no CORS
// permission, so without this any site could watch secrets or tunnel into pods through
// localhost (kubectl has the same hole; kubetail-org/kubetail PR #6). Modelled on the Fetch
// Metadata resource isolation policy and Go 1.25's http.CrossOriginProtection, stricter in one
// way: safe methods are checked too, because a WebSocket (a GET) is the attack. Non-browser
// clients send neither Origin nor Sec-Fetch-* and are never refused. Pure.

import { UserError } from './errors.js';

export interface BrowserPolicy {
  /** --allow-origins, serialized as URL#origin (lower-case scheme and host, default port dropped). */
  allowOrigins: ReadonlySet<string>;
}

/** Parses --allow-origins: comma-separated origins such as `http://localhost:3000`. */
export function parseAllowOrigins(value: string): BrowserPolicy {
  const allow = new Set<string>();
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      url = undefined;
    }
    // Nothing but scheme, host and port: no path, query, fragment or userinfo.
    const bare = url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && url.href === url.origin + '/';
    if (!bare) {
      throw new UserError(`invalid --allow-origins entry "${entry}": must be an origin such as http://localhost:3000 (scheme, host and optional port only)`);
    }
    allow.add(url!.origin);
  }
  return { allowOrigins: allow };
}

/** Why a request is refused, for the answer and the access log. */
export interface CrossOriginRefusal {
  /** One line for the client. */
  message: string;
  /** Short form for the access log. */
  rule: string;
}

/**
 * The refusal for a browser request from another origin, or undefined when the request may
 * proceed. `host` is the Host the client used (or the absolute-form authority), which makes
 * the proxy's own origin `http://<host>`.
 */
export function crossOriginRefusal(method: string, rawHeaders: readonly string[], host: string, policy: BrowserPolicy): CrossOriginRefusal | undefined {
  let origin: string | undefined;
  let site: string | undefined;
  let mode: string | undefined;
  let repeated = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    // Only names of these lengths can matter; most requests skip the lower-casing entirely.
    if (name.length !== 6 && name.length !== 14) continue;
    const lower = name.toLowerCase();
    if (lower === 'origin') {
      repeated ||= origin !== undefined;
      origin = rawHeaders[i + 1]!.trim();
    } else if (lower === 'sec-fetch-site') {
      repeated ||= site !== undefined;
      site = rawHeaders[i + 1]!.trim().toLowerCase();
    } else if (lower === 'sec-fetch-mode') {
      mode = rawHeaders[i + 1]!.trim().toLowerCase();
    }
  }
  if (origin === undefined && site === undefined) return undefined;
  if (repeated) return { message: 'Forbidden: more than one Origin or Sec-Fetch-Site header', rule: 'cross-origin: repeated Origin or Sec-Fetch-Site' };
  // A top-level navigation (a pasted link, a bookmark) cannot read what it opens from another
  // site, so dashboards opened by URL keep working; a navigating form POST is refused below.
  if (method === 'GET' && mode === 'navigate') return undefined;
  if (origin !== undefined) {
    const o = origin.toLowerCase();
    if (o === ownOrigin(host) || policy.allowOrigins.has(o)) return undefined;
    return {
      message: `Forbidden: cross-origin request from ${origin} refused (kproxy --allow-origins admits named origins)`,
      rule: `cross-origin: Origin ${origin}`,
    };
  }
  if (site === 'same-origin' || site === 'none') return undefined;
  return {
    message: `Forbidden: ${site} browser request refused (Sec-Fetch-Site: ${site})`,
    rule: `cross-origin: Sec-Fetch-Site ${site}`,
  };
}

/** `http://host[:port]` as a browser serializes the proxy's origin: lower case, no :80. */
export function ownOrigin(host: string): string {
  const h = host.toLowerCase();
  return 'http://' + (h.endsWith(':80') ? h.slice(0, -3) : h);
}
