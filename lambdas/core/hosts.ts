/**
 * Where the pipeline may download videos from. An entry is a host name, which allows HTTPS to that host
 * (`vm.runware.ai`), a wildcard for its sub-domains (`*.runware.ai`, which does not match `runware.ai`
 * itself), or a full origin, which allows exactly that scheme, host and port (`http://127.0.0.1:8089`, for a
 * simulator).
 */
export function isAllowedUrl(url: URL, allowed: readonly string[]): boolean {
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  return allowed.some((raw) => {
    const entry = raw.trim().toLowerCase();
    if (entry.includes('://')) {
      try {
        return new URL(entry).origin === url.origin.toLowerCase();
      } catch {
        return false;
      }
    }
    if (url.protocol !== 'https:' || (url.port !== '' && url.port !== '443')) return false;
    if (entry.startsWith('*.')) return host.endsWith(entry.slice(1)) && host.length > entry.length - 1;
    return host === entry;
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
