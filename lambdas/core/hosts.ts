/**
 * The only hosts the pipeline downloads videos from. Entries are exact host names (`vm.runware.ai`) or a
 * wildcard for sub-domains (`*.runware.ai`, which does not match `runware.ai` itself).
 */
export function isAllowedHost(hostname: string, allowed: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return allowed.some((entry) => {
    const pattern = entry.toLowerCase().trim();
    if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
    return host === pattern;
  });
}

/** A URL with its query string and fragment removed: safe to log (presigned signatures are secrets). */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}
