/**
 * Media validation for the validate step: is the portrait a usable image and the voice track a usable audio file?
 * Everything is decided from the bytes (magic numbers, headers, frame walks over the whole stream, a full decode of
 * the image), never from the file name, so a mislabelled or damaged file is caught before Runware is paid to fail
 * on it. Limits are compared on exact values. Every failure is a {@link ValidationError} whose message quotes the
 * file's own numbers (never rounded onto the limit) and says what to do; {@link inspectMedia} collects them all.
 *
 * The handler reads each object with one S3 GetObject: it calls {@link checkDeclaredSize} (or
 * {@link declaredSizeProblem}) on the ContentLength first (so an oversized file fails before its body is
 * downloaded), then passes the whole body here.
 */
import { createHash } from 'node:crypto';
import { type FileTypeResult, fileTypeFromBuffer } from 'file-type';
import {
  CouldNotDetermineFileTypeError,
  type IAudioMetadata,
  parseBuffer,
  UnsupportedFileTypeError,
} from 'music-metadata';
import { DEFAULT_SETTINGS } from '../contract/defaults.js';
import { ConfigurationError, ValidationError } from '../errors.js';
import {
  checkImageHeader,
  DEFAULT_IMAGE_DECODE_LIMITS,
  type ImageDecodeLimits,
  type NormalizedImage,
  normalizeImage,
  readImageHeader,
} from './decode.js';
import {
  contentOf,
  describe,
  fileLabel,
  formatBeyond,
  formatDuration,
  formatLimit,
  formatSizes,
} from './format.js';
import { walkAdts, walkMp3 } from './frame-walk.js';
import {
  imageDataEnd,
  isoBmffProblem,
  jpegProblem,
  knownTrailer,
  oggProblem,
  pngFrameCount,
  pngProblem,
  wavProblem,
  webpProblem,
} from './structure.js';

/** Limits the inputs must meet. The model limits are Runware's published ones (see reference/RUNWARE-API.md). */
export interface MediaLimits {
  /** Largest accepted image, in bytes. @default 10 MiB */
  maxImageBytes: number;
  /** Largest accepted audio file, in bytes. @default 50 MiB */
  maxAudioBytes: number;
  /** Shortest accepted side of the image, in pixels. @default 300 */
  minImageSide: number;
  /** Largest accepted ratio of the long side to the short side. @default 2.5 */
  maxAspectRatio: number;
  /** Shortest accepted audio, in seconds. @default 2 */
  minAudioSeconds: number;
  /** Longest accepted audio, in seconds. @default 300 */
  maxAudioSeconds: number;
  /** Most pixels an image may have; more is refused before decoding. @default 100 million */
  maxImagePixels?: number;
  /** Longest side of the normalized copy sent to the model. @default 4096 */
  maxNormalizedSide?: number;
  /** Largest normalized copy, in bytes. @default 10,000,000 (the model's "10 MB") */
  maxNormalizedBytes?: number;
  /** Accept Ogg audio, which Kling does not document (docs/runware-api.md section 6). @default false */
  acceptOggAudio: boolean;
}

/** The limits of `klingai:avatar@2.0-pro`, with file sizes generous enough for any sensible portrait and voice. */
export const DEFAULT_MEDIA_LIMITS: Readonly<MediaLimits> = Object.freeze({
  maxImageBytes: DEFAULT_SETTINGS.maxImageBytes,
  maxAudioBytes: DEFAULT_SETTINGS.maxAudioBytes,
  minImageSide: 300,
  maxAspectRatio: 2.5,
  minAudioSeconds: 2,
  maxAudioSeconds: 300,
  acceptOggAudio: DEFAULT_SETTINGS.acceptOggAudio,
});

/** Every code {@link inspectImage}, {@link inspectAudio} and {@link checkDeclaredSize} can fail with. */
export const MEDIA_ERROR_CODES = [
  'EMPTY_FILE',
  'FILE_TOO_LARGE',
  'NOT_AN_IMAGE',
  'UNSUPPORTED_IMAGE_FORMAT',
  'CORRUPT_IMAGE',
  'IMAGE_TOO_SMALL',
  'IMAGE_ASPECT_RATIO',
  'IMAGE_TOO_MANY_PIXELS',
  'IMAGE_TRAILING_DATA',
  'IMAGE_TOO_COMPLEX',
  'ANIMATED_IMAGE',
  'NOT_AN_AUDIO_FILE',
  'UNSUPPORTED_AUDIO_FORMAT',
  'CORRUPT_AUDIO',
  'AUDIO_TOO_SHORT',
  'AUDIO_TOO_LONG',
] as const;
export type MediaErrorCode = (typeof MEDIA_ERROR_CODES)[number];

export type ImageFormat = 'jpeg' | 'png' | 'webp';
export type AudioFormat = 'mp3' | 'wav' | 'm4a' | 'aac' | 'ogg';

/** What the validate step learns about a usable image. */
export interface ImageInfo {
  /** The real format, from the content (a PNG named `.jpg` is `png`). */
  format: ImageFormat;
  /** Width as displayed: for a JPEG with an EXIF rotation of 90° or 270°, the stored height. */
  width: number;
  /** Height as displayed (see `width`). */
  height: number;
  /** Size of the file in bytes. */
  bytes: number;
  /** SHA-256 of the file, lower-case hex. */
  sha256: string;
}

/** What the validate step learns about a usable audio file. */
export interface AudioInfo {
  /** The real format, from the content (Ogg Vorbis and Ogg Opus are both `ogg`; MP4 audio is `m4a`). */
  format: AudioFormat;
  /** Playing time, rounded to 0.01 s for the record. The limits are checked against the exact value. */
  durationSeconds: number;
  /** Size of the file in bytes. */
  bytes: number;
  /** SHA-256 of the file, lower-case hex. */
  sha256: string;
}

export type Role = 'image' | 'audio';

/** The formats accepted, in words, under the settings in force (Ogg only with `acceptOggAudio`). */
const ACCEPTED = (limits: Pick<MediaLimits, 'acceptOggAudio'>): Record<Role, string> => ({
  image: 'JPEG, PNG or WebP',
  audio: limits.acceptOggAudio ? 'MP3, WAV, M4A, AAC or OGG' : 'MP3, WAV, M4A or AAC',
});

function fail(code: MediaErrorCode, message: string): never {
  throw new ValidationError(code, message);
}

/**
 * Fails fast on a size known before the body is read (an S3 object's ContentLength), with the same codes and
 * messages {@link inspectImage} and {@link inspectAudio} use on the bytes.
 * @throws {@link ValidationError} `EMPTY_FILE` for 0 bytes, `FILE_TOO_LARGE` above the role's limit.
 */
export function checkDeclaredSize(role: Role, size: number, limits: MediaLimits): void {
  const noun = role === 'image' ? 'image' : 'audio file';
  if (size <= 0) {
    fail(
      'EMPTY_FILE',
      `The ${noun} is empty (0 bytes). Upload the ${role === 'image' ? 'portrait' : 'voice track'} again.`,
    );
  }
  const limit = role === 'image' ? limits.maxImageBytes : limits.maxAudioBytes;
  if (size > limit) {
    const [measured, allowed] = formatSizes(size, limit);
    const advice =
      role === 'image'
        ? 'Save it as a JPEG at a smaller size (1080 px on the long side is plenty for the model) and upload it again.'
        : 'Export it as MP3 (128 kbps is plenty for a voice) and upload it again.';
    fail('FILE_TOO_LARGE', `The ${noun} is ${measured}; the limit is ${allowed}. ${advice}`);
  }
}

/** A usable image and the normalized copy of it that Runware gets (see {@link normalizeImage}). */
export interface PreparedImage {
  info: ImageInfo;
  normalized: NormalizedImage;
}

/**
 * Checks that `bytes` are a portrait the model can use: a complete JPEG, PNG or WebP (whatever its extension says),
 * still, with nothing after its image data, within `maxImagePixels`, that decodes whole without a single decoder
 * warning, of at least `minImageSide` px on the short side and at most `maxAspectRatio` long side / short side as
 * displayed (after its EXIF orientation).
 * @param declaredExtension - the extension of the uploaded key (with or without the dot), only for messages.
 * @throws {@link ValidationError} with code `EMPTY_FILE`, `FILE_TOO_LARGE`, `NOT_AN_IMAGE`,
 *   `UNSUPPORTED_IMAGE_FORMAT`, `CORRUPT_IMAGE`, `IMAGE_TRAILING_DATA`, `IMAGE_TOO_MANY_PIXELS`, `ANIMATED_IMAGE`,
 *   `IMAGE_TOO_SMALL` or `IMAGE_ASPECT_RATIO`.
 */
export async function inspectImage(
  bytes: Uint8Array,
  declaredExtension: string,
  limits: MediaLimits,
): Promise<ImageInfo> {
  return (await prepareImage(bytes, declaredExtension, limits)).info;
}

/**
 * {@link inspectImage}, plus the normalized copy for Runware: a baseline sRGB JPEG of the first frame, rotated as
 * displayed, scaled down to `maxNormalizedSide` on its long side, at most `maxNormalizedBytes`. Decoding is the
 * check (damage anywhere in the data fails it), so the copy comes at no extra decode.
 * @throws {@link ValidationError} as {@link inspectImage}, and `IMAGE_TOO_COMPLEX` when no JPEG of it fits.
 */
export async function prepareImage(
  bytes: Uint8Array,
  declaredExtension: string,
  limits: MediaLimits,
): Promise<PreparedImage> {
  checkDeclaredSize('image', bytes.length, limits);
  const named = fileLabel(declaredExtension);
  const type = await fileTypeFromBuffer(bytes);
  const format = imageFormatOf(type);
  if (!format) {
    if (type?.mime.startsWith('image/')) {
      fail(
        'UNSUPPORTED_IMAGE_FORMAT',
        `${named} is ${describe(type)}; the model accepts ${ACCEPTED(limits).image} only. Convert it to JPEG or PNG and upload it again.`,
      );
    }
    fail(
      'NOT_AN_IMAGE',
      `${named} is not an image: ${contentOf(type)}. Upload the portrait as ${ACCEPTED(limits).image}.`,
    );
  }

  const label = format === 'jpeg' ? 'JPEG' : format === 'png' ? 'PNG' : 'WebP';
  const problem =
    format === 'jpeg' ? jpegProblem(bytes) : format === 'png' ? pngProblem(bytes) : webpProblem(bytes);
  if (problem)
    fail('CORRUPT_IMAGE', `The ${label} image is damaged or incomplete: ${problem}. ${EXPORT_AGAIN}`);

  const end = imageDataEnd(bytes, format);
  if (end !== undefined && end < bytes.length && !knownTrailer(bytes.subarray(end), format)) {
    const extra = bytes.length - end;
    fail(
      'IMAGE_TRAILING_DATA',
      `The ${label} image has ${extra === 1 ? '1 byte' : `${extra} bytes`} of something else after its end ` +
        `(from byte ${end}): another file was joined to it, or it is damaged. Open it and save it again as a new ` +
        `${label === 'WebP' ? 'JPEG or PNG' : label}, then upload that.`,
    );
  }

  const decodeLimits: ImageDecodeLimits = {
    maxPixels: limits.maxImagePixels ?? DEFAULT_IMAGE_DECODE_LIMITS.maxPixels,
    maxSide: limits.maxNormalizedSide ?? DEFAULT_IMAGE_DECODE_LIMITS.maxSide,
    maxBytes: limits.maxNormalizedBytes ?? DEFAULT_IMAGE_DECODE_LIMITS.maxBytes,
    minSide: limits.minImageSide,
    quality: DEFAULT_IMAGE_DECODE_LIMITS.quality,
  };
  const header = await readImageHeader(bytes, label);
  // libvips reads an APNG's default image only, so its animation is found in the chunks.
  checkImageHeader(header, label, decodeLimits, format === 'png' ? pngFrameCount(bytes) : header.pages);
  const { width, height } = header;
  if (!(width > 0 && height > 0)) {
    fail(
      'CORRUPT_IMAGE',
      `The ${label} image is damaged: it says it is ${width}×${height} px. ${EXPORT_AGAIN}`,
    );
  }
  // Decode before judging the size: "damaged" is the more useful thing to hear first.
  const normalized = await normalizeImage(bytes, label, header, decodeLimits);

  const short = Math.min(width, height);
  const long = Math.max(width, height);
  if (short < limits.minImageSide) {
    fail(
      'IMAGE_TOO_SMALL',
      `The image is ${width}×${height} px; the model needs at least ${limits.minImageSide} px on the short side. ` +
        'Use a larger portrait.',
    );
  }
  if (long / short > limits.maxAspectRatio) {
    const ratio = formatBeyond(long / short, limits.maxAspectRatio, { minDecimals: 2 });
    fail(
      'IMAGE_ASPECT_RATIO',
      `The image is ${width}×${height} px, a ratio of ${ratio}:1; the model accepts at most ` +
        `${limits.maxAspectRatio}:1 (long side to short side). Crop it around the face, for example to 3:4 or 9:16.`,
    );
  }
  return { info: { format, width, height, bytes: bytes.length, sha256: sha256(bytes) }, normalized };
}

/**
 * Checks that `bytes` are a voice track the model can use: a complete MP3, WAV, M4A (MP4 audio without a video
 * track), AAC (ADTS) or Ogg (Vorbis, Opus) file, whatever its extension says, lasting between `minAudioSeconds` and
 * `maxAudioSeconds`. MP3 and AAC are timed by walking their frames, the others by music-metadata.
 * @param declaredExtension - the extension of the uploaded key (with or without the dot), only for messages.
 * @throws {@link ValidationError} with code `EMPTY_FILE`, `FILE_TOO_LARGE`, `NOT_AN_AUDIO_FILE`,
 *   `UNSUPPORTED_AUDIO_FORMAT`, `CORRUPT_AUDIO`, `AUDIO_TOO_SHORT` or `AUDIO_TOO_LONG`.
 * @throws {@link ConfigurationError} when music-metadata cannot load a parser for a format it supports (a broken
 *   bundle), so the job fails as the pipeline's fault rather than the file's.
 */
export async function inspectAudio(
  bytes: Uint8Array,
  declaredExtension: string,
  limits: MediaLimits,
): Promise<AudioInfo> {
  checkDeclaredSize('audio', bytes.length, limits);
  const named = fileLabel(declaredExtension);
  const type = (await fileTypeFromBuffer(bytes)) ?? id3Only(bytes);
  const candidate = audioFormatOf(type);
  if (!candidate || !type) {
    if (type && isAudioMime(type) && !type.mime.startsWith('video/')) {
      fail(
        'UNSUPPORTED_AUDIO_FORMAT',
        `${named} is ${describe(type)}; the model accepts ${ACCEPTED(limits).audio} only. Convert it to MP3 and upload it again.`,
      );
    }
    const video = type?.mime.startsWith('video/') ? ' If it is a video, extract its sound track first.' : '';
    fail(
      'NOT_AN_AUDIO_FILE',
      `${named} is not an audio file: ${contentOf(type)}. Upload the voice track as ${ACCEPTED(limits).audio}.${video}`,
    );
  }
  const format: AudioFormat = candidate;
  if (format === 'ogg' && !limits.acceptOggAudio) {
    fail(
      'UNSUPPORTED_AUDIO_FORMAT',
      `${named} is Ogg audio, which the model does not document (it takes MP3, WAV, M4A or AAC). Convert it to MP3 and upload it again, or set acceptOggAudio.`,
    );
  }
  const label = format === 'm4a' ? 'M4A' : format.toUpperCase();
  const corrupt = (reason: string): never =>
    fail('CORRUPT_AUDIO', `The ${label} audio is damaged or incomplete: ${reason}. ${EXPORT_AGAIN}`);

  let seconds: number | undefined;
  if (format === 'mp3' || format === 'aac') {
    const walk = format === 'mp3' ? walkMp3(bytes) : walkAdts(bytes);
    if (walk.frames === 0) corrupt('no audio frames were found in it');
    if (walk.problem) corrupt(walk.problem);
    seconds = walk.durationSeconds;
  } else {
    const problem =
      format === 'wav' ? wavProblem(bytes) : format === 'm4a' ? isoBmffProblem(bytes) : oggProblem(bytes);
    if (problem) corrupt(problem);
    let metadata: IAudioMetadata;
    try {
      metadata = await parseBuffer(bytes, { mimeType: type.mime, size: bytes.length });
    } catch (error) {
      if (error instanceof UnsupportedFileTypeError || error instanceof CouldNotDetermineFileTypeError) {
        // We hand music-metadata a MIME type it supports, so "no parser for it" is our build's fault, not the
        // user's file: music-metadata's `import ContentType from 'content-type'` (a CJS module flagged __esModule)
        // comes out undefined when a tool compiles music-metadata to CommonJS (tsx from a CJS .ts file does).
        throw new ConfigurationError(
          `music-metadata could not load its ${type.mime} parser (${error.message}); check how the function is bundled.`,
        );
      }
      return corrupt(`it cannot be read (${error instanceof Error ? error.message : String(error)})`);
    }
    if (format === 'm4a') {
      // music-metadata reports hasAudio = true for any MP4, so look for a real sound track instead.
      if (metadata.format.hasVideo) {
        fail(
          'NOT_AN_AUDIO_FILE',
          `${named} is a video (MP4 with a picture track), not a voice track. Extract its sound as M4A or MP3 and upload that.`,
        );
      }
      if (!metadata.format.trackInfo.some((track) => track.audio !== undefined)) {
        fail(
          'NOT_AN_AUDIO_FILE',
          `${named} is an MP4 file without a sound track. Upload the voice track as ${ACCEPTED(limits).audio}.`,
        );
      }
    }
    seconds = metadata.format.duration;
  }
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) {
    return corrupt('its playing time cannot be determined');
  }

  // Compared exact: a file 0.0005 s short of the limit is short, and the model would refuse it after payment.
  if (seconds < limits.minAudioSeconds) {
    fail(
      'AUDIO_TOO_SHORT',
      `The voice track lasts ${formatDuration(seconds, limits.minAudioSeconds)}; the model needs at least ${formatLimit(limits.minAudioSeconds)}. ` +
        'Use a longer recording.',
    );
  }
  if (seconds > limits.maxAudioSeconds) {
    fail(
      'AUDIO_TOO_LONG',
      `The voice track lasts ${formatDuration(seconds, limits.maxAudioSeconds)}; the model accepts at most ${formatLimit(limits.maxAudioSeconds)}. ` +
        'Trim it, or split it into several jobs.',
    );
  }
  const durationSeconds = Math.round(seconds * 100) / 100;
  return { format, durationSeconds, bytes: bytes.length, sha256: sha256(bytes) };
}

const EXPORT_AGAIN = 'Export or download it again and upload the new file.';

function imageFormatOf(type: FileTypeResult | undefined): ImageFormat | undefined {
  switch (type?.mime) {
    case 'image/jpeg':
      return 'jpeg';
    case 'image/png':
    case 'image/apng': // an animated PNG is a valid PNG: every decoder shows its default image
      return 'png';
    case 'image/webp':
      return 'webp';
    default:
      return undefined;
  }
}

/**
 * Maps file-type's verdict to an accepted audio format. MP4 is special: file-type calls any MP4 with a generic
 * brand (`isom`, `mp42`: what most phones and ffmpeg write) `video/mp4`, so it is a candidate here and the sound
 * and picture tracks decide later.
 */
function audioFormatOf(type: FileTypeResult | undefined): AudioFormat | undefined {
  if (!type) return undefined;
  switch (type.ext) {
    case 'mp3':
      return 'mp3';
    case 'wav':
      return 'wav';
    case 'aac':
      return 'aac';
    case 'm4a':
    case 'm4b':
    case 'f4a':
    case 'f4b':
    case 'mp4':
      return 'm4a';
    case 'ogg': // Vorbis
    case 'opus':
      return 'ogg';
    default:
      return undefined;
  }
}

/**
 * file-type skips a leading ID3v2 tag and judges what follows, so a tag with no audio after it (a broken export)
 * comes back unknown. Only MP3 (and rarely AAC) files start with ID3: call it a damaged MP3, not "not audio".
 */
function id3Only(bytes: Uint8Array): FileTypeResult | undefined {
  const startsWithId3 = bytes[0] === 0x49 && bytes[1] === 0x44 && bytes[2] === 0x33;
  return startsWithId3 ? { ext: 'mp3', mime: 'audio/mpeg' } : undefined;
}

/** Audio that is not accepted (FLAC, AIFF, MP2, Ogg FLAC, Speex, AMR, WMA...), as opposed to something that is not audio. */
function isAudioMime(type: FileTypeResult): boolean {
  return type.mime.startsWith('audio/') || type.ext === 'asf';
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
