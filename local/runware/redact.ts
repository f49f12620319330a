/**
 * What the simulator's logs and messages show of the URLs it was sent (its inputs, the pipeline's webhook): never
 * a query string or fragment, which carry the presigned signatures and the pipeline's webhook token, nor a user and
 * password. The simulator only ever shows URLs inside its own text, so one text-level pass is all it needs (the
 * pipeline's redaction, in `lambdas/`, handles the many spellings that reach it from elsewhere; the simulator
 * imports nothing from there).
 */

/** An http(s) URL in running text: scheme, user info (dropped), the rest up to its query or fragment (dropped). */
const URL_IN_TEXT = /(https?:\/\/)(?:[^\s/?#@"'<>]*@)?([^\s?#"'<>]*)(?:[?#][^\s"'<>]*)?/gi;

/** A text (a URL, an error message, a log line) with the user info and query strings of its URLs removed. */
export function redactText(text: string): string {
  return text.replace(URL_IN_TEXT, '$1$2');
}
