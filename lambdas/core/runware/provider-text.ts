/**
 * Runware's own words, ready to sit inside one of our sentences: trimmed, without the full stop(s) they may
 * end in, so `...: ${providerWords(m)}. Check ...` never reads `..` whatever Runware sent.
 */
export function providerWords(message: string): string {
  return message.trim().replace(/[\s.]+$/u, '');
}
