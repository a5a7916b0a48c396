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

/**
 * client-go's headerKeyEscape for Impersonate-Extra-<key>: every byte that is not an RFC 7230
 * token character, and `%` itself, becomes %XX.
 */
export function escapeExtraKey(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (byte < 0x80 && byte !== 0x25 && /[!#$&'*+\-.^_`|~0-9A-Za-z]/.test(c)) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
