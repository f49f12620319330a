/**
 * Decodes a portrait for real and makes the copy Runware gets. Parsing headers is not enough: a header can promise
 * more pixels than the file holds, a JPEG can miss part of its scan data and still end with its end-of-image
 * marker, and an EXIF orientation turns what people see. So the image is decoded whole, with sharp (libvips), and
 * the model is sent a normalized JPEG: first frame, rotated as displayed, sRGB, no metadata, within the model's
 * limits. The user's file is never modified: the caller stores the normalized bytes beside it.
 *
 * Failures are {@link ValidationError}s with a message a person can act on. What each refusal guards against:
 * - `IMAGE_TOO_MANY_PIXELS`: a decompression bomb (a few KiB that decode to gigabytes). The pixel count comes from
 *   the header, before anything is decoded, and libvips is given the same limit, so it is refused cheaply.
 * - `ANIMATED_IMAGE`: an animated WebP or PNG; which frame the model would use is anyone's guess.
 * - `CORRUPT_IMAGE`: anything the decoder complains about, warnings included (see {@link FAIL_ON}).
 */
import { createHash } from 'node:crypto';
import type { Metadata } from 'sharp';
import { ConfigurationError, ValidationError } from '../errors.js';
import { formatBeyond } from './format.js';

/**
 * sharp's `failOn` level. `'warning'` because it is the only level that catches a JPEG whose scan data stops
 * early but which still ends with its end-of-image marker: libjpeg reports that ("Corrupt JPEG data: premature
 * end of data segment") as a warning and fills the rest with grey, so `'error'` and `'truncated'` (sharp's
 * default) decode it "fine". The cost: a file whose decoder emits any warning is refused; for a portrait someone
 * can export again, that is the right side to err on, since a refused file costs nothing and a garbled one is paid for.
 * What phones and cameras write decodes without a warning and passes (checked class by class in media-decode.test.ts:
 * EXIF orientation, EXIF no parser understands, padding before the end marker, the trailers phones append, ffmpeg's
 * JPEGs); the warnings libjpeg gives are about the scan data (rows missing or garbled). Extra bytes between header
 * segments ("extraneous bytes before marker") are refused before decoding, by the structure check.
 */
export const FAIL_ON = 'warning' as const;

type Sharp = typeof import('sharp').default;
let loaded: Promise<Sharp> | undefined;

/**
 * sharp, loaded on first use. Its native part (libvips for this platform, from the `@img/sharp-*` packages) must
 * ship beside the bundle; when it does not, the function still starts and the job fails as the pipeline's fault,
 * with a message that says so, instead of every invocation dying at start-up.
 * @throws {@link ConfigurationError} when sharp cannot be loaded.
 */
function loadSharp(): Promise<Sharp> {
  loaded ??= import('sharp').then(
    (module) => {
      const sharp = module.default;
      // One image per invocation: libvips' operation cache would only hold memory between invocations of a warm Lambda.
      sharp.cache(false);
      return sharp;
    },
    (error: unknown) => {
      loaded = undefined; // a later invocation may find it (a broken deploy gets fixed in place)
      throw new ConfigurationError(
        `The image library sharp could not be loaded (${decoderMessage(error)}); check that the validate ` +
          "function's bundle carries sharp and its @img/sharp-<platform> binary.",
      );
    },
  );
  return loaded;
}

export interface ImageDecodeLimits {
  /** Most pixels (width × height) an image may have; more is refused before it is decoded. @default 100 million */
  maxPixels: number;
  /** Longest side of the normalized copy, in pixels; larger images are scaled down. @default 4096 */
  maxSide: number;
  /** Shortest side the normalized copy must keep (the model's minimum). @default 300 */
  minSide: number;
  /** Largest normalized copy, in bytes (the model's "up to 10 MB", read as decimal). @default 10,000,000 */
  maxBytes: number;
  /** JPEG quality of the normalized copy; lowered in steps when the copy would exceed `maxBytes`. @default 90 */
  quality: number;
}

export const DEFAULT_IMAGE_DECODE_LIMITS: Readonly<ImageDecodeLimits> = Object.freeze({
  maxPixels: 100_000_000,
  maxSide: 4096,
  minSide: 300,
  maxBytes: 10_000_000,
  quality: 90,
});

/** What the decoder read from the header, before decoding any pixels. */
export interface ImageHeader {
  /** Width as stored in the file. */
  storedWidth: number;
  storedHeight: number;
  /** Width as displayed, after the EXIF orientation (orientations 5 to 8 swap the sides). */
  width: number;
  height: number;
  /** EXIF orientation, 1 when there is none. */
  orientation: number;
  /** Frames in the file: more than 1 for an animated WebP. */
  pages: number;
}

/** The copy Runware gets: a baseline sRGB JPEG, as displayed, of the first frame. */
export interface NormalizedImage {
  format: 'jpeg';
  bytes: Uint8Array;
  width: number;
  height: number;
  /** Size in bytes. */
  size: number;
  /** SHA-256 of `bytes`, lower-case hex. */
  sha256: string;
}

const EXPORT_AGAIN = 'Export or download it again and upload the new file.';

/**
 * Reads the header only, without a pixel limit (the caller decides on the count), and without decoding pixels.
 * @throws {@link ValidationError} `CORRUPT_IMAGE` when not even the header can be read.
 */
export async function readImageHeader(bytes: Uint8Array, label: string): Promise<ImageHeader> {
  const sharp = await loadSharp();
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false, failOn: 'none' }).metadata();
  } catch (error) {
    throw new ValidationError(
      'CORRUPT_IMAGE',
      `The ${label} image is damaged: its header cannot be read (${decoderMessage(error)}). ${EXPORT_AGAIN}`,
    );
  }
  const storedWidth = metadata.width ?? 0;
  // An animated image's height is one frame's (sharp reads one page unless asked for more).
  const storedHeight = metadata.pageHeight ?? metadata.height ?? 0;
  const orientation = metadata.orientation ?? 1;
  const quarterTurn = orientation >= 5 && orientation <= 8;
  return {
    storedWidth,
    storedHeight,
    width: quarterTurn ? storedHeight : storedWidth,
    height: quarterTurn ? storedWidth : storedHeight,
    orientation,
    pages: metadata.pages ?? 1,
  };
}

/**
 * Refuses what the header alone condemns: a pixel count beyond `maxPixels` (a decompression bomb, or just an
 * absurd image) and an animation (`pages` over 1, or `frames` from an APNG's acTL chunk, which libvips ignores).
 * @throws {@link ValidationError} `IMAGE_TOO_MANY_PIXELS` or `ANIMATED_IMAGE`.
 */
export function checkImageHeader(
  header: ImageHeader,
  label: string,
  limits: Pick<ImageDecodeLimits, 'maxPixels'>,
  frames = header.pages,
): void {
  const pixels = header.storedWidth * header.storedHeight;
  if (pixels > limits.maxPixels) {
    throw new ValidationError(
      'IMAGE_TOO_MANY_PIXELS',
      `The ${label} image says it is ${header.width}×${header.height} px ` +
        `(${formatBeyond(pixels / 1e6, limits.maxPixels / 1e6, { minDecimals: 1 })} megapixels); ` +
        `the limit is ${limits.maxPixels / 1e6} megapixels. If that is really its size, scale it down ` +
        '(1080 px on the long side is plenty for the model); otherwise the file is damaged: export it again.',
    );
  }
  if (frames > 1) {
    throw new ValidationError(
      'ANIMATED_IMAGE',
      `The ${label} image is animated (${frames} frames); the model takes a still portrait. ` +
        'Save the frame you want as a JPEG or PNG and upload that.',
    );
  }
}

/**
 * Decodes every pixel (so damage anywhere in the data is found) and encodes the normalized copy in the same pass:
 * rotated as displayed, first frame, transparency flattened onto white, sRGB, metadata dropped, scaled down to
 * `maxSide` on the long side (never up), JPEG at `quality`, lowered in steps (then scaled further) until it fits
 * in `maxBytes`.
 * @throws {@link ValidationError} `CORRUPT_IMAGE` when the decoder finds anything wrong, or `IMAGE_TOO_MANY_PIXELS`
 *   when libvips' own pixel limit trips (a header {@link readImageHeader} could not see).
 */
export async function normalizeImage(
  bytes: Uint8Array,
  label: string,
  header: ImageHeader,
  limits: ImageDecodeLimits,
): Promise<NormalizedImage> {
  const long = Math.max(header.width, header.height);
  const short = Math.min(header.width, header.height);
  // Scale down to the longest side allowed, unless that would take the short side under the model's minimum.
  let scale = Math.min(1, limits.maxSide / long);
  if (short * scale < limits.minSide) scale = Math.min(1, limits.minSide / short);
  let quality = limits.quality;
  for (;;) {
    const width = Math.max(1, Math.round(header.width * scale));
    const height = Math.max(1, Math.round(header.height * scale));
    const out = await encode(bytes, label, limits.maxPixels, width, height, quality);
    if (out.length <= limits.maxBytes) {
      return {
        format: 'jpeg',
        bytes: out,
        width,
        height,
        size: out.length,
        sha256: createHash('sha256').update(out).digest('hex'),
      };
    }
    if (quality > 60) quality -= 10;
    else if (Math.min(width, height) * 0.8 >= limits.minSide) scale *= 0.8;
    else {
      // Only pathological content (noise) gets here: no portrait compresses this badly.
      throw new ValidationError(
        'IMAGE_TOO_COMPLEX',
        `The ${label} image cannot be made into a JPEG of at most ${limits.maxBytes} bytes at ${width}×${height} px. ` +
          'Upload a smaller or simpler portrait.',
      );
    }
  }
}

async function encode(
  bytes: Uint8Array,
  label: string,
  maxPixels: number,
  width: number,
  height: number,
  quality: number,
): Promise<Buffer> {
  const sharp = await loadSharp();
  try {
    return await sharp(bytes, { failOn: FAIL_ON, limitInputPixels: maxPixels, pages: 1, page: 0 })
      .autoOrient()
      .resize(width, height, { fit: 'fill' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .jpeg({ quality, chromaSubsampling: '4:2:0', progressive: false })
      .toBuffer();
  } catch (error) {
    const message = decoderMessage(error);
    if (/pixel limit/i.test(message)) {
      throw new ValidationError(
        'IMAGE_TOO_MANY_PIXELS',
        `The ${label} image has more than ${maxPixels / 1e6} megapixels. Scale it down and upload it again.`,
      );
    }
    throw new ValidationError(
      'CORRUPT_IMAGE',
      `The ${label} image is damaged: it cannot be decoded whole (${message}). ${EXPORT_AGAIN}`,
    );
  }
}

/** sharp's message, without its stack or the libvips prefix noise, on one line. */
function decoderMessage(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  return raw.replace(/\s+/g, ' ').trim().slice(0, 200);
}
