/**
 * The one place that removes secrets from text before it reaches a job record, an error file, an event or a log.
 * Secrets travel in URLs (a presigned input URL's signature and session token, a webhook URL's `token`, a video
 * URL with a user and password) and in HTTP headers (`Authorization`), and they reach us in many spellings:
 * plain, percent-encoded (a URL nested in another URL's query), JSON-escaped (`\/` and `\u0026` in a provider
 * message that quotes a JSON body), or inside another library's message (fetch quotes the URL it refused).
 * No heavy import (only the bounds helpers), so the local simulator can use it too.
 */

import { truncateChars } from './bounds.js';

/** What replaces a secret. Visible on purpose: the reader sees that something was there. */
export const REDACTED = '[redacted]';

/** Query parameters whose value is a credential (AWS SigV4 presigning, our webhook token). */
const SECRET_PARAMETERS = [
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
  // SigV2 presigned URLs and CloudFront signed URLs.
  'Signature',
  'AWSAccessKeyId',
  'token',
];

/** `/` in any of its spellings: plain, JSON-escaped, percent-encoded. */
const SLASH = String.raw`(?:\\?\/|%2F)`;
/** `:` after the scheme, plain or percent-encoded. */
const COLON = '(?::|%3A)';
/** Characters that end a URL in running text (quotes, brackets, whitespace), plain or JSON-escaped. */
const URL_END = String.raw`\s"'<>()\[\]{}`;

/**
 * `https://user:pass@host`: everything between `//` and the last `@` (or `%40`) of the authority. The authority
 * ends at the first `/`, `?`, `#` (or their escapes), so an `@` later in the path or text is left alone.
 */
const USERINFO = new RegExp(
  String.raw`(\b[a-z][a-z0-9+.-]*${COLON}${SLASH}${SLASH})((?:(?!${SLASH}|%3F|%23)[^${URL_END}/?#\\])*?)(@|%40)`,
  'gi',
);

/**
 * A URL's query string and fragment, in plain or JSON-escaped text. Trailing punctuation is left alone: it
 * belongs to the sentence, not to the URL.
 */
const URL_QUERY = new RegExp(
  `(https?:${SLASH}${SLASH}[^${URL_END}?#]*)[?#][^${URL_END}]*?(?=[.,;:!]*(?:[${URL_END}]|$))`,
  'gi',
);

/**
 * `name=value` of a secret parameter wherever it stands: after `?`, `&`, `;`, `&amp;`, `\u0026`, their
 * percent-encodings (`%3F`, `%26`, once or twice encoded) or the start of a word; the `=` may be `%3D` or
 * `%253D`. The value ends at the next separator in any of those spellings.
 */
const PARAMETER = new RegExp(
  String.raw`((?:^|[?&;\s"'(,]|\\u0026|%3F|%26|%253F|%2526)(?:${SECRET_PARAMETERS.map(escapeRegExp).join('|')})(?:=|%3D|%253D))((?:(?!\\u0026|%26|%2526|&amp;)[^&;${URL_END}\\])+)`,
  'gi',
);

/** `Authorization: Bearer <token>` / `Basic <credentials>`, and a bare `Bearer <token>`. */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+(?!\[redacted\])[^\s"',;)\\]+/gi;

export interface RedactOptions {
  /**
   * Exact values to remove wherever they appear (the API key, the webhook secret). Values shorter than 8
   * characters are ignored: they would match innocent text, and real keys are long.
   */
  secrets?: readonly string[];
}

/**
 * Returns `text` without secrets: URL user info becomes `[redacted]@`, URL query strings and fragments are
 * removed (the path stays, so an operator still sees which file), secret query parameters left anywhere else
 * (percent-encoded or JSON-escaped) get the value `[redacted]`, `Bearer`/`Basic` credentials and the given
 * exact secrets become `[redacted]`. Never throws; text without secrets comes back unchanged.
 */
export function redactSecrets(text: string, options: RedactOptions = {}): string {
  // Queries first: the user-info marker contains brackets, which end a URL for URL_QUERY.
  let out = text.replace(URL_QUERY, '$1');
  out = out.replace(USERINFO, (_, scheme: string, _info: string, at: string) => `${scheme}${REDACTED}${at}`);
  out = out.replace(PARAMETER, (_, name: string) => `${name}${REDACTED}`);
  out = out.replace(AUTH_SCHEME, (_, scheme: string) => `${scheme} ${REDACTED}`);
  for (const secret of options.secrets ?? []) {
    if (secret.length >= 8) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** Longest message kept by {@link safeMessage}: enough for any provider message a person will read. */
export const SAFE_MESSAGE_MAX_CHARS = 4000;

/**
 * What every message goes through before it reaches a job record, `<stem>.error.json`, an event or a log line:
 * {@link redactSecrets}, then cut to `maxChars` with a visible marker. Never throws.
 */
export function safeMessage(text: string, options: RedactOptions & { maxChars?: number } = {}): string {
  return truncateChars(redactSecrets(text, options), options.maxChars ?? SAFE_MESSAGE_MAX_CHARS);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
