import type { StoredFile } from './job.js';
import type { FileRole } from './keys.js';

const WHAT: Record<FileRole, string> = {
  image: 'image',
  audio: 'audio file',
  sidecar: 'settings sidecar (.json)',
};

/**
 * The first role (image, audio, sidecar) of which a stem has more than one file, with the keys and the message
 * that says what to do; undefined when the stem is unambiguous. Which of two images, two audio files or two
 * sidecars (`a.json` and `a.JSON`) the person meant is unknown, so nothing is paid for.
 */
export function ambiguityOf(
  stem: string,
  files: readonly StoredFile[],
): { role: FileRole; keys: string[]; message: string } | undefined {
  for (const role of ['image', 'audio', 'sidecar'] as const) {
    const keys = files
      .filter((f) => f.role === role)
      .map((f) => f.key)
      .sort();
    if (keys.length < 2) continue;
    return {
      role,
      keys,
      message:
        `More than one ${WHAT[role]} has the name "${stem}": ${keys.map(visibleKey).join(', ')}. ` +
        'Keep one image and one audio file per name, and at most one sidecar (delete or rename the others), ' +
        'then upload the one you want again.',
    };
  }
  return undefined;
}

/**
 * A key as a person can tell it apart from a look-alike: with its non-ASCII characters also spelled as code
 * points, so `café` typed as `e` + a combining accent, or a trailing space, shows.
 */
export function visibleKey(key: string): string {
  const chars = [...key];
  // Printable ASCII stays; so does a space between words. Anything else is spelled out.
  const plain = (c: string, i: number) =>
    /[\x21-\x7e]/.test(c) || (c === ' ' && /\S/.test(chars[i + 1] ?? ''));
  if (chars.every(plain)) return key;
  const spelled = chars
    .map((c, i) => (plain(c, i) ? c : `\\u{${(c.codePointAt(0) ?? 0).toString(16).toUpperCase()}}`))
    .join('');
  return `${key} (spelled ${spelled})`;
}
