// Header rules shared by ordinary forwarding and upgrades, in one place so the two paths can
// never disagree about what is hop-by-hop.

/** Go's httputil.ReverseProxy hopHeaders (RFC 9110 §7.6.1), lower-cased. */
export const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Header names listed in Connection values; they are hop-by-hop for this message only. */
export function connectionTokens(rawHeaders: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length === 10 && rawHeaders[i]!.toLowerCase() === 'connection') {
      for (const t of rawHeaders[i + 1]!.split(',')) {
        const name = t.trim().toLowerCase();
        if (name) (tokens ??= new Set()).add(name);
      }
    }
  }
  return tokens;
}

/**
 * True when a header must not cross the proxy. `Te: trailers` is the one hop-by-hop value Go
 * keeps, because gRPC-style backends need it.
 */
export function isHopByHop(lowerName: string, value: string, listed: Set<string> | undefined): boolean {
  if (HOP_BY_HOP.has(lowerName)) return !(lowerName === 'te' && value.trim().toLowerCase() === 'trailers');
  return listed !== undefined && listed.has(lowerName);
}

/** What responseHeaders found out about a response, and whether kproxy decodes its gzip. */
export interface ResponseState {
  /** In: kproxy asked for gzip. Out: the body is gzip and kproxy decodes it. */
  gzip: boolean;
  /** The upstream announced trailers that can be relayed (chunked to the client). */
  trailers: boolean;
  /** The body leaves with a Content-Length. */
  sized: boolean;
}

/** Response headers minus hop-by-hop ones, kept as a flat list so repeats survive. */
export function responseHeaders(raw: readonly (Buffer | string)[], state: ResponseState): string[] {
  const strs: string[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const h = raw[i]!;
    strs[i] = typeof h === 'string' ? h : h.toString('latin1');
  }
  const listed = connectionTokens(strs);
  let gzip = false;
  let sized = false;
  let trailer: string | undefined;
  for (let i = 0; i < strs.length; i += 2) {
    const lower = strs[i]!.toLowerCase();
    if (lower === 'content-encoding' && strs[i + 1]!.trim().toLowerCase() === 'gzip') gzip = true;
    else if (lower === 'content-length') sized = true;
    else if (lower === 'trailer') trailer = trailer === undefined ? strs[i + 1]! : trailer + ', ' + strs[i + 1]!;
  }
  state.gzip = state.gzip && gzip;
  const out: string[] = [];
  for (let i = 0; i < strs.length; i += 2) {
    const lower = strs[i]!.toLowerCase();
    if (isHopByHop(lower, strs[i + 1]!, listed)) continue;
    if (state.gzip && (lower === 'content-encoding' || lower === 'content-length')) continue;
    out.push(strs[i]!, strs[i + 1]!);
  }
  // Trailer is hop-by-hop, but Go's ReverseProxy announces the upstream's trailers again so it
  // can relay them; Node can only send trailers on a chunked response.
  state.trailers = trailer !== undefined && (!sized || state.gzip);
  state.sized = sized && !state.gzip;
  if (state.trailers) out.push('Trailer', trailer!);
  return out;
}
