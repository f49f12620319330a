/**
 * What the simulator's logs and messages show of a URL: never its query string or fragment, which carry the
 * presigned signatures and the pipeline's webhook token. The simulator's own copy, so that local/runware/ needs
 * nothing from `lambdas/`.
 */

/** A URL without its query string, fragment and user info; `<invalid URL>` for what is not one. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}

/** Every http(s) URL in a text cut before its query string or fragment. */
const URL_WITH_QUERY = /(https?:\/\/[^\s?#"'<>]*)[?#][^\s"'<>]*/gi;

/** A text (an error message, a log line) with the query strings of the URLs in it removed. */
export function redactText(text: string): string {
  return text.replace(URL_WITH_QUERY, '$1');
}
