import { createHash } from 'node:crypto';
import type { FileRole } from './contract/keys.js';
import type { FileRef, JobRecord, StoredFile } from './job.js';

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

/**
 * Same stem and same bytes (by ETag) of the image, the audio and the sidecar are the same job; changed bytes
 * are a new one. Settings are part of the job: another sidecar is another video. Without a sidecar the id is
 * what it was before sidecars counted, so existing jobs keep their ids.
 */
export function jobIdOf(stem: string, image: FileRef, audio: FileRef, sidecar?: FileRef): string {
  const parts = [stem, image.key, image.etag, audio.key, audio.etag];
  if (sidecar) parts.push(sidecar.key, sidecar.etag);
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
}

/**
 * The job the stem's inbox files make now (one image, one audio file, at most one sidecar), or undefined when
 * they make none (a file missing, or two of a kind).
 */
export function inboxJobId(stem: string, files: readonly StoredFile[]): string | undefined {
  const of = (role: FileRole) => files.filter((f) => f.role === role);
  const [images, audios, sidecars] = [of('image'), of('audio'), of('sidecar')];
  const [image] = images;
  const [audio] = audios;
  if (!image || !audio || images.length > 1 || audios.length > 1 || sidecars.length > 1) return undefined;
  return jobIdOf(stem, image, audio, sidecars[0]);
}

/**
 * The roles (image, audio, sidecar) of which the stem's inbox now holds a file that is not the job's: another
 * upload (other bytes or another extension), or a sidecar the job was made without. Empty when the inbox still
 * holds the job. A deleted file changes nothing: deleting inputs starts nothing either (see `forgetObject`).
 */
export function changedInputs(job: Pick<JobRecord, 'inputs'>, files: readonly StoredFile[]): FileRole[] {
  const changed = new Set<FileRole>();
  for (const file of files) {
    const used = job.inputs[file.role];
    if (!used || used.key !== file.key || used.etag !== file.etag) changed.add(file.role);
  }
  return (['image', 'audio', 'sidecar'] as const).filter((role) => changed.has(role));
}
