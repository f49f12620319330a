import { fitS3Key } from './bounds.js';

/**
 * The drop-folder contract: which keys are jobs' inputs, and which job (stem) each belongs to.
 * `inbox/promo/anna.jpg` + `inbox/promo/anna.mp3` (+ optional `inbox/promo/anna.json`) is job stem `promo/anna`.
 */

export const INBOX_PREFIX = 'inbox/';

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp'] as const;
export const AUDIO_EXTENSIONS = ['mp3', 'wav', 'm4a', 'aac', 'ogg'] as const;
export const SIDECAR_EXTENSION = 'json';

/**
 * The audio extensions the settings in force accept: `.ogg` pairs like the others (so that validation can say why it
 * is refused) but is accepted only with `acceptOggAudio`, since the model's documented formats exclude it.
 */
export function acceptedAudioExtensions(acceptOggAudio: boolean): readonly string[] {
  return acceptOggAudio ? AUDIO_EXTENSIONS : AUDIO_EXTENSIONS.filter((extension) => extension !== 'ogg');
}

/**
 * The extensions a role accepts, as every message lists them: `.jpg .jpeg .png .webp`, `.mp3 .wav .m4a .aac`.
 * Where the settings are not known (the CLI before a job runs), `undefined` says when `.ogg` is accepted.
 */
export function acceptedExtensionsText(role: 'image' | 'audio', acceptOggAudio: boolean | undefined): string {
  const dotted = (list: readonly string[]) => list.map((extension) => `.${extension}`).join(' ');
  if (role === 'image') return dotted(IMAGE_EXTENSIONS);
  if (acceptOggAudio === undefined)
    return `${dotted(acceptedAudioExtensions(false))} (.ogg only where acceptOggAudio is set)`;
  return dotted(acceptedAudioExtensions(acceptOggAudio));
}

export type FileRole = 'image' | 'audio' | 'sidecar';

export interface InboxKey {
  key: string;
  stem: string;
  role: FileRole;
  /** Extension in lower case, without the dot. */
  extension: string;
}

/**
 * S3 event notifications carry keys URL-encoded the way HTML forms are: `+` for a space, `%2B` for `+`, and
 * UTF-8 percent escapes for everything else.
 */
export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

/**
 * Classifies a decoded key of the input bucket. The stem is in Unicode NFC, so names that look the same but were
 * typed in different normalization forms (macOS file names are NFD) are one job; `key` stays as S3 has it. Returns `undefined` for keys that are not job inputs (outside
 * `inbox/`, folders, unknown extensions), which the pipeline ignores.
 */
export function classifyKey(key: string): InboxKey | undefined {
  if (!key.startsWith(INBOX_PREFIX) || key.endsWith('/')) return undefined;
  const rest = key.slice(INBOX_PREFIX.length);
  const slash = rest.lastIndexOf('/');
  const dot = rest.lastIndexOf('.');
  if (dot <= slash + 1) return undefined; // no extension, or a dot-file such as `.jpg`
  const extension = rest.slice(dot + 1).toLowerCase();
  const stem = rest.slice(0, dot).normalize('NFC');
  const role = roleOf(extension);
  if (!role) return undefined;
  return { key, stem, role, extension };
}

function roleOf(extension: string): FileRole | undefined {
  if ((IMAGE_EXTENSIONS as readonly string[]).includes(extension)) return 'image';
  if ((AUDIO_EXTENSIONS as readonly string[]).includes(extension)) return 'audio';
  if (extension === SIDECAR_EXTENSION) return 'sidecar';
  return undefined;
}

/**
 * Output keys mirror the stem: `<stem>.mp4`, or `<stem>-1.mp4`, `<stem>-2.mp4`... with several results. An input
 * key near S3's 1,024-byte limit would make a longer output key, so each is fitted (see {@link fitS3Key}: the
 * suffix stays, a hash keeps long keys apart).
 */
export function videoOutputKey(stem: string, extension: string, index: number, count: number): string {
  return fitS3Key(stem, count > 1 ? `-${index + 1}.${extension}` : `.${extension}`);
}

/**
 * Prefix of the normalized images in the input bucket: outside `inbox/`, so they never start a job, and one
 * folder per attempt, so no job's copy can overwrite another's.
 */
export const NORMALIZED_PREFIX = 'normalized/';
export const normalizedImageKey = (jobId: string, attempt: number): string =>
  `${NORMALIZED_PREFIX}${jobId}/${attempt}/image.jpg`;

export const recordOutputKey = (stem: string): string => fitS3Key(stem, '.json');
export const errorOutputKey = (stem: string): string => fitS3Key(stem, '.error.json');

/**
 * S3 event sequencers are hexadecimal strings of varying length; compared after left-padding to one length
 * they order the events of one key. Stored padded, so DynamoDB conditions can compare them as strings.
 */
export function normalizeSequencer(sequencer: string): string {
  return sequencer.toUpperCase().padStart(32, '0');
}
