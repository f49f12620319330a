/**
 * Every problem at once: the image and the audio of a job are inspected in full, and every problem of both (and
 * of the sidecar, passed in by the caller) is collected, so a person fixes everything in one round.
 */
import { PipelineError, ValidationError } from '../errors.js';
import {
  type AudioInfo,
  checkDeclaredSize,
  inspectAudio,
  type MediaLimits,
  type PreparedImage,
  prepareImage,
  type Role,
} from './inspect.js';

/** One thing wrong with one file of a job. */
export interface MediaProblem {
  /** The error code this problem alone would fail with (`CORRUPT_IMAGE`, `AUDIO_TOO_SHORT`, `INVALID_SIDECAR`...). */
  code: string;
  /** The message for a person, without the `[CODE]` prefix. */
  message: string;
  /** The file it is about: its key (or whatever name the caller gives it). */
  file: string;
}

/** A file to inspect: its bytes, and its key for messages and problems. */
export interface MediaFile {
  bytes: Uint8Array;
  /** The object key (or name); its extension is only used in messages. */
  key: string;
}

/** Everything {@link inspectMedia} learnt: every problem, and the facts of each file that had none. */
export interface MediaInspection {
  problems: MediaProblem[];
  image?: PreparedImage;
  audio?: AudioInfo;
}

/**
 * Inspects the image and the audio file of a job and collects every problem instead of stopping at the first,
 * so a person can fix everything in one round. A file given as `undefined` is skipped (the caller already has a
 * problem for it, for example its declared size); `known` problems (the sidecar's, a declared size) come first in
 * the list, in the order given, then the image's, then the audio's.
 * @throws anything that is not a {@link ValidationError} (a {@link ConfigurationError}: the pipeline's fault).
 */
export async function inspectMedia(
  files: { image: MediaFile | undefined; audio: MediaFile | undefined },
  limits: MediaLimits,
  known: readonly MediaProblem[] = [],
): Promise<MediaInspection> {
  const result: MediaInspection = { problems: [...known] };
  if (files.image) {
    const { bytes, key } = files.image;
    const prepared = await asProblem(prepareImage(bytes, extensionOfKey(key), limits), key, result.problems);
    if (prepared) result.image = prepared;
  }
  if (files.audio) {
    const { bytes, key } = files.audio;
    const info = await asProblem(inspectAudio(bytes, extensionOfKey(key), limits), key, result.problems);
    if (info) result.audio = info;
  }
  return result;
}

/**
 * {@link checkDeclaredSize} as a problem instead of a throw, for {@link inspectMedia}'s `known` list (a file too
 * large to download is not downloaded, and the other file is still inspected).
 */
export function declaredSizeProblem(
  role: Role,
  size: number,
  limits: MediaLimits,
  file: string,
): MediaProblem | undefined {
  try {
    checkDeclaredSize(role, size, limits);
    return undefined;
  } catch (error) {
    if (error instanceof ValidationError) return { code: error.code, message: error.detail, file };
    throw error;
  }
}

/** A ValidationError carrying every problem: the first one's code, the whole list in the message and `problems`. */
export class MediaProblemsError extends ValidationError {
  constructor(readonly problems: readonly MediaProblem[]) {
    super(problems[0]?.code ?? 'INVALID_INPUT', problemsMessage(problems));
  }
}

/**
 * The message for a list of problems: the problem's own message when there is one, else a count and each problem
 * with its file ("2 problems to fix: (1) portrait.png: The image is 200×180 px...; (2) portrait.mp3: ...").
 */
export function problemsMessage(problems: readonly MediaProblem[]): string {
  if (problems.length === 0) return 'No problem was found.';
  if (problems.length === 1) return problems[0]?.message ?? '';
  const items = problems.map((p, i) => `(${i + 1}) ${p.file}: ${p.message}`);
  return `${problems.length} problems to fix: ${items.join(' ')}`;
}

async function asProblem<T>(
  check: Promise<T>,
  file: string,
  problems: MediaProblem[],
): Promise<T | undefined> {
  try {
    return await check;
  } catch (error) {
    if (!(error instanceof PipelineError) || error.name !== 'ValidationError') throw error;
    problems.push({ code: error.code, message: error.detail, file });
    return undefined;
  }
}

const extensionOfKey = (key: string): string => {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : '';
};
