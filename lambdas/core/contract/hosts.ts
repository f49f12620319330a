/**
 * Where the pipeline may download videos from by default: any sub-domain of Runware's own domain, over HTTPS.
 * Every result host in Runware's docs is one (`vm.runware.ai` on the model page, `im.runware.ai` in the
 * getResponse and video API examples; docs/runware-api.md section 4), no list of result hosts is documented,
 * and nothing outside `runware.ai` is allowed. This module imports nothing, so settings code can use it.
 */
export const DEFAULT_ALLOWED_VIDEO_HOSTS: readonly string[] = Object.freeze(['*.runware.ai']);

/** One DNS label: letters, digits and inner hyphens (or underscores, which some CDNs use). */
const LABELS = /^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;

/**
 * Where the pipeline may download videos from. An entry is a host name, which allows HTTPS to that host
 * (`vm.runware.ai`), a wildcard for its sub-domains (`*.runware.ai`, which matches `vm.runware.ai` and
 * `a.b.runware.ai` but not `runware.ai` itself, `evilrunware.ai` or `runware.ai.evil.com`), or a full origin,
 * which allows exactly that scheme, host and port (`http://127.0.0.1:8089`, for a simulator). A URL that
 * carries a user name or password is never allowed: Runware does not send one, and fetch would quote it.
 */
export function isAllowedUrl(url: URL, allowed: readonly string[]): boolean {
  if (url.username !== '' || url.password !== '') return false;
  const host = withoutTrailingDot(url.hostname.toLowerCase());
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
    if (entry.startsWith('*.')) {
      // Exact suffix on a label boundary: the dot is part of the suffix, and what precedes it must be labels.
      const suffix = withoutTrailingDot(entry.slice(1));
      return host.endsWith(suffix) && LABELS.test(host.slice(0, -suffix.length));
    }
    return host === withoutTrailingDot(entry);
  });
}

function withoutTrailingDot(host: string): string {
  return host.endsWith('.') ? host.slice(0, -1) : host;
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
