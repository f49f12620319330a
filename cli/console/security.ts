import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The console's gate, as pure functions over what a request says (method, path, headers): every request passes
 * here before any route runs. The console listens on 127.0.0.1 only, so what it must keep out is other web pages
 * open in the same browser:
 * - a page of another site whose name is made to resolve to 127.0.0.1 (DNS rebinding) sends its own name in
 *   `Host`: only `127.0.0.1:<port>` and `localhost:<port>` are served (421 otherwise);
 * - any other page can make the browser send requests here, but cannot know the random token: every request
 *   carries it (401 without it, 403 with a wrong one);
 * - actions change jobs: they need POST (405 otherwise) and the token in the `Authorization` header, which a
 *   cross-site form or `<img>` cannot send and a cross-site `fetch` cannot add without a CORS preflight, which
 *   this server never grants; an `Origin` other than its own is refused too (403).
 */

/** A random token (256 bits, URL-safe): unguessable, and short enough to paste. */
export const newToken = (): string => randomBytes(32).toString('base64url');

/** The console's own origin names: the only `Host` values it serves. */
export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

/** Compares in constant time (over digests, so the lengths given away are equal too). */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** What the gate needs of a request (node's IncomingMessage has these). */
export interface RequestFacts {
  method: string;
  /** Path and query, as in the request line. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

export type Refusal = { status: 401 | 403 | 405 | 421; message: string; headers?: Record<string, string> };

export interface GateOptions {
  token: string;
  port: number;
  readOnly: boolean;
}

/** Paths that change something: POST only, token in the header, refused in read-only mode. */
export const isActionPath = (path: string): boolean => /^\/api\/jobs\/[^/]+\/(retry|cancel)$/.test(path);

/** Paths that only read, but take a body (an audio file to estimate): POST with the header token. */
const isPostPath = (path: string): boolean => isActionPath(path) || path === '/api/estimate';

const header = (facts: RequestFacts, name: string): string | undefined => {
  const value = facts.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const bearer = (facts: RequestFacts): string | undefined => {
  const match = /^Bearer ([A-Za-z0-9_-]+)$/.exec(header(facts, 'authorization') ?? '');
  return match?.[1];
};

/** Undefined when the request may go on; otherwise the answer that refuses it. */
export function checkRequest(facts: RequestFacts, options: GateOptions): Refusal | undefined {
  const host = (header(facts, 'host') ?? '').toLowerCase();
  if (!allowedHosts(options.port).includes(host))
    return {
      status: 421,
      message: `This console answers only to ${allowedHosts(options.port).join(' or ')}.`,
    };

  const url = new URL(facts.url, `http://${host}`);
  const post = isPostPath(url.pathname);
  const fromHeader = bearer(facts);
  const given = fromHeader ?? url.searchParams.get('token') ?? undefined;
  if (given === undefined)
    return {
      status: 401,
      message: 'Open the console with the address it printed (it carries the access token).',
      headers: { 'www-authenticate': 'Bearer realm="avatar-pipeline console"' },
    };
  if (!tokenMatches(given, options.token))
    return {
      status: 403,
      message: 'Wrong access token: open the console with the address it printed when it started.',
    };

  if (post && facts.method !== 'POST')
    return { status: 405, message: `${url.pathname} needs POST.`, headers: { allow: 'POST' } };
  if (!post && facts.method !== 'GET' && facts.method !== 'HEAD')
    return { status: 405, message: `${url.pathname} is read with GET.`, headers: { allow: 'GET, HEAD' } };
  // A token in the query serves only reads: the page's own address carries it (it is how the page is opened);
  // what is posted must come from the page's script, which sends it as a header.
  if (post && fromHeader === undefined)
    return {
      status: 401,
      message: 'Send the access token in the Authorization header.',
      headers: { 'www-authenticate': 'Bearer realm="avatar-pipeline console"' },
    };
  if (post) {
    const origin = header(facts, 'origin');
    if (origin !== undefined && !allowedHosts(options.port).some((h) => origin === `http://${h}`))
      return { status: 403, message: 'Actions are taken only from the console page itself.' };
    if (options.readOnly && isActionPath(url.pathname))
      return { status: 403, message: 'This console is read-only (started with --read-only).' };
  }
  return undefined;
}

/**
 * Headers of every answer: nothing cached, nothing framed, no referrer (the page's address carries the token; a
 * video URL it opens must not be told it), and for the page a policy that runs only its own nonce-marked script.
 */
export function securityHeaders(mediaOrigins: readonly string[], nonce?: string): Record<string, string> {
  const media = ["'self'", ...mediaOrigins].join(' ');
  const policy = [
    "default-src 'none'",
    nonce ? `script-src 'nonce-${nonce}'` : undefined,
    nonce ? `style-src 'nonce-${nonce}'` : undefined,
    `img-src ${media} data:`,
    `media-src ${media}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].filter((part): part is string => part !== undefined);
  return {
    'content-security-policy': policy.join('; '),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
}
