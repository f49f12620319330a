/**
 * The one place that removes secrets from text before it reaches a job record, an error file, an event or a log.
 * Secrets travel in URLs (a presigned input URL's signature and session token, a webhook URL's `token`, a video
 * URL with a user and password) and in HTTP headers (`Authorization`), and they reach us in many spellings:
 * plain, percent-encoded (a URL nested in another URL's query), JSON-escaped (`\/` and `\u0026` in a provider
 * message that quotes a JSON body), or inside another library's message (fetch quotes the URL it refused).
 * No heavy import (only the bounds helpers). The Runware simulator has its own, smaller pass
 * (local/runware/redact.ts): it imports nothing from lambdas/.
 */

import { truncateChars } from './contract/bounds.js';

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
 * ends at the first `/`, `?`, `#` (or their escapes), so an `@` later in the path or text is left alone. The
 * scheme must start a run of scheme characters (a lookbehind, not `\b`): with `\b`, text such as `a.a.a.a...`
 * would be rescanned from every dot, in quadratic time.
 */
const USERINFO = new RegExp(
  String.raw`((?<![a-z0-9+.-])[a-z][a-z0-9+.-]*${COLON}${SLASH}${SLASH})((?:(?!${SLASH}|%3F|%23)[^${URL_END}/?#\\])*)(@|%40)`,
  'gi',
);

/**
 * An http(s) URL in plain or JSON-escaped text, up to the next character that ends a URL in running text. Its
 * query string is cut in code ({@link withoutQuery}): a regex with a look-ahead for trailing punctuation takes
 * quadratic time on long runs of punctuation.
 */
const URL_TOKEN = new RegExp(`https?:${SLASH}${SLASH}[^${URL_END}]*`, 'gi');

/** Sentence punctuation that may follow a URL. */
const TRAILING_PUNCTUATION = new Set(['.', ',', ';', ':', '!']);

/** A URL without its query string and fragment; trailing punctuation belongs to the sentence and stays. */
function withoutQuery(url: string): string {
  const query = url.search(/[?#]/);
  if (query < 0) return url;
  let end = url.length;
  while (end > query && TRAILING_PUNCTUATION.has(url.charAt(end - 1))) end -= 1;
  return url.slice(0, query) + url.slice(end);
}

/**
 * `name=value` of a secret parameter wherever it stands: after `?`, `&`, `;`, `&amp;`, `\u0026`, their
 * percent-encodings (`%3F`, `%26`, once or twice encoded) or the start of a word; the `=` may be `%3D` or
 * `%253D`. The value ends at the next separator in any of those spellings.
 */
const PARAMETER = new RegExp(
  String.raw`((?:^|[?&;\s"'(,]|\\u0026|%3F|%26|%253F|%2526)(?:${SECRET_PARAMETERS.map(escapeRegExp).join('|')})(?:=|%3D|%253D))((?:(?!\\u0026|%26|%2526|&amp;)[^&;${URL_END}\\])+)`,
  'gi',
);

/** A JSON member whose value is a credential: `"apiKey": "..."`, plain or inside JSON-escaped JSON. */
const JSON_SECRET =
  /(\\?"(?:apiKey|api_key|password|secret|token|authorization)\\?"\s*:\s*\\?")(?:[^"\\]|\\(?!"))*/gi;

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
  let out = text.replace(URL_TOKEN, withoutQuery);
  out = out.replace(USERINFO, (_, scheme: string, _info: string, at: string) => `${scheme}${REDACTED}${at}`);
  out = out.replace(PARAMETER, (_, name: string) => `${name}${REDACTED}`);
  out = out.replace(JSON_SECRET, `$1${REDACTED}`);
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
