/** The task's inputs, fetched from their URLs and checked the way the model would take them. */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { extractStill, probe } from '../ffmpeg.js';
import { redactText } from './redact.js';
import { describe, type Runtime } from './runtime.js';
import { MODEL_MEDIA_LIMITS } from './spec.js';
import { AUDIO_LIMITS_SECONDS } from './types.js';

const INPUT_FETCH_TIMEOUT_MS = 30_000;
/** Decoding one still frame takes milliseconds; anything slower is a decoder stuck on a bad file. */
const STILL_TIMEOUT_MS = 15_000;
/** The largest input of each kind: Kling's documented limits (spec.ts). */
const MAX_INPUT_BYTES = {
  image: MODEL_MEDIA_LIMITS.maxImageBytes,
  audio: MODEL_MEDIA_LIMITS.maxAudioBytes,
};

/** A task-level failure found while processing, carried to the webhook as Runware's code and message. */
export class TaskFailure extends Error {
  override readonly name = 'TaskFailure';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Downloads one input into the task's folder, as Runware does with the URLs it is given. */
export async function fetchInput(
  runtime: Runtime,
  url: string,
  kind: 'image' | 'audio',
  dir: string,
): Promise<string> {
  const code = kind === 'image' ? 'invalidImageURL' : 'invalidAudioURL';
  // Messages and logs never carry the query string: it is the presigned URL's signature.
  const shown = redactText(url);
  const limit = MAX_INPUT_BYTES[kind];
  let bytes: Uint8Array;
  try {
    const response = await fetch(url, { signal: runtime.deadline(INPUT_FETCH_TIMEOUT_MS) });
    if (!response.ok) {
      await response.body?.cancel();
      throw new TaskFailure(
        code,
        `Could not download inputs.${kind} from ${shown}: HTTP ${response.status}.`,
      );
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > limit) {
      await response.body?.cancel();
      throw new TaskFailure(code, `inputs.${kind} at ${shown} is larger than ${limit} bytes.`);
    }
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    if (error instanceof TaskFailure) throw error;
    throw new TaskFailure(
      code,
      `Could not download inputs.${kind} from ${shown}: ${redactText(describe(error))}.`,
    );
  }
  if (bytes.length === 0) throw new TaskFailure(code, `inputs.${kind} at ${shown} is empty.`);
  let name: string = kind;
  if (kind === 'image') {
    // ffmpeg's looping image reader picks its decoder by extension, so the file needs the right one.
    const ext = imageExtension(bytes);
    if (!ext) {
      throw new TaskFailure('invalidImage', `inputs.image at ${shown} is not a JPEG, PNG or WebP image.`);
    }
    name = `image.${ext}`;
  }
  const file = join(dir, name);
  await writeFile(file, bytes);
  return file;
}

/** What the renderer works from: the decoded still of the image and the audio's duration. */
export interface CheckedInputs {
  still: string;
  durationSeconds: number;
}

/**
 * Checks that the inputs are media the model can use, and decodes the image's still. An image the provider
 * cannot decode (an animated WebP, a damaged file) ends the task as Runware ends it: `invalidImage`.
 */
export async function checkInputs(runtime: Runtime, image: string, audio: string): Promise<CheckedInputs> {
  if (isAnimatedWebp(await readFile(image))) {
    throw new TaskFailure('invalidImage', 'inputs.image is an animated WebP; the model takes a still image.');
  }
  const picture = await probe(image, runtime.deadline(STILL_TIMEOUT_MS)).catch(() => undefined);
  const frame = picture?.streams.find((s) => s.codecType === 'video' && (s.width ?? 0) > 0);
  if (!frame) {
    throw new TaskFailure('invalidImage', 'inputs.image could not be decoded as an image.');
  }
  checkImageSize(frame.width ?? 0, frame.height ?? 0);
  const still = join(dirname(image), 'still.png');
  try {
    await extractStill(image, still, runtime.deadline(STILL_TIMEOUT_MS));
  } catch {
    if (runtime.stopping) throw new TaskFailure('internalError', 'The simulator stopped.');
    throw new TaskFailure('invalidImage', 'inputs.image could not be decoded as an image.');
  }
  const sound = await probe(audio, runtime.deadline(STILL_TIMEOUT_MS)).catch(() => undefined);
  if (!sound?.streams.some((s) => s.codecType === 'audio')) {
    throw new TaskFailure('invalidAudio', 'inputs.audio could not be decoded as audio.');
  }
  const seconds = sound.durationSeconds;
  const { min, max } = AUDIO_LIMITS_SECONDS;
  if (!(seconds >= min && seconds <= max)) {
    throw new TaskFailure(
      'invalidAudioDuration',
      `inputs.audio lasts ${seconds.toFixed(2)} s; the model accepts ${min} to ${max} s.`,
    );
  }
  return { still, durationSeconds: seconds };
}

/**
 * Kling's image limits (spec.ts): each side at least 300 px, aspect ratio within 1:2.5 and 2.5:1. The error codes
 * are INVENTED in Runware's style: how Runware reports a provider's refusal of an input is not documented.
 */
function checkImageSize(width: number, height: number): void {
  const { minImageSide, maxAspectRatio } = MODEL_MEDIA_LIMITS;
  if (width < minImageSide || height < minImageSide) {
    throw new TaskFailure(
      'invalidImage',
      `inputs.image is ${width}x${height} px; the model needs at least ${minImageSide} px on each side.`,
    );
  }
  if (Math.max(width, height) / Math.min(width, height) > maxAspectRatio) {
    throw new TaskFailure(
      'invalidImage',
      `inputs.image is ${width}x${height} px; the model takes aspect ratios from 1:${maxAspectRatio} to ${maxAspectRatio}:1.`,
    );
  }
}

/** A WebP whose VP8X header sets the animation flag, or that carries an ANIM chunk. */
export function isAnimatedWebp(bytes: Uint8Array): boolean {
  const ascii = (from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));
  if (ascii(0, 4) !== 'RIFF' || ascii(8, 12) !== 'WEBP') return false;
  if (ascii(12, 16) === 'VP8X' && ((bytes[20] ?? 0) & 0x02) !== 0) return true;
  for (let at = 12; at + 8 <= bytes.length; ) {
    if (ascii(at, at + 4) === 'ANIM') return true;
    const size = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at + 4, true);
    at += 8 + size + (size % 2);
  }
  return false;
}

/** By magic bytes: what ffmpeg's image reader needs as a file extension. */
function imageExtension(bytes: Uint8Array): string | undefined {
  const ascii = (from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpg';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return undefined;
}
