import { loadAttempt } from '../core/attempt.js';
import type { ObjectReader, ObjectWriter } from '../core/aws/input-objects.js';
import { estimateCost, type ModelPrices } from '../core/contract/cost.js';
import {
  resolveSettings,
  type SettingsDefaults,
  SidecarSchema,
  ttlProblem,
} from '../core/contract/job-settings.js';
import { normalizedImageKey } from '../core/contract/keys.js';
import { ValidationError } from '../core/errors.js';
import type { FileRef, MediaFacts, StepInput } from '../core/job.js';
import type { MediaLimits } from '../core/media/inspect.js';
import {
  declaredSizeProblem,
  inspectMedia,
  type MediaProblem,
  MediaProblemsError,
} from '../core/media/problems.js';
import { reserveOutputNames } from '../core/outputs/reserve.js';
import { ambiguityOf } from '../core/stem-files.js';
import type { FileStore } from '../core/store/files.js';
import type { JobStore } from '../core/store/jobs.js';
import type { OutputNameStore } from '../core/store/output-claims.js';

/** A sidecar is a few settings; anything larger is not one. */
export const MAX_SIDECAR_BYTES = 64 * 1024;

export interface ValidateDeps {
  jobs: JobStore;
  files: FileStore;
  /** Who holds each output key (see core/output-names.ts). */
  outputNames: OutputNameStore;
  objects: ObjectReader;
  /** Stores the normalized image beside the user's inputs (never over them). */
  normalized: ObjectWriter;
  limits: MediaLimits;
  defaults: SettingsDefaults;
  hardDeadlineSeconds: number;
  /** USD per second of video per model (`modelPricesUsdPerSecond`), for the job's cost estimate. */
  prices: ModelPrices;
  now: () => Date;
}

export interface ValidateOutput {
  deadline: string;
  numberResults: number;
}

/**
 * The user's input was refused: the job fails at validation, as it would if the step had thrown, but the step
 * itself succeeded. A refusal is the user's to fix, not a fault of the function: it must not count among the
 * function's Errors (which raise an alarm). `Error` and `Cause` have the shape of what a Catch puts in `$.error`
 * (`Cause` as Lambda serializes a thrown error), so the state machine hands it to the fail step unchanged.
 */
export interface ValidateRefusal {
  refused: { Error: string; Cause: string };
}

/**
 * {@link validateJob}, with its refusals of the input ({@link ValidationError}: bad files, a bad sidecar, an
 * ambiguous or changed input) returned as a {@link ValidateRefusal} instead of thrown. Every other error (a
 * superseded attempt, S3 or DynamoDB failing) is still thrown: those are faults.
 */
export async function validateOrRefuse(
  input: StepInput,
  deps: ValidateDeps,
): Promise<ValidateOutput | ValidateRefusal> {
  try {
    return await validateJob(input, deps);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return {
      refused: {
        Error: error.name,
        Cause: JSON.stringify({ errorType: error.name, errorMessage: error.message }),
      },
    };
  }
}

/**
 * Checks everything that can be checked before money is spent: real file types by their bytes, sizes, image
 * dimensions, audio duration and the sidecar. Every problem is collected before anything is refused, so a person
 * fixes everything in one round: the job's `problems` get the list and a {@link MediaProblemsError} (the first
 * problem's code, every problem in its message) fails the step. On success the normalized image Runware gets is
 * stored under `normalized/<jobId>/<attempt>/` and the job is VALIDATED with the facts of both copies, its
 * settings and hard deadline. The user's files are only read.
 */
export async function validateJob(input: StepInput, deps: ValidateDeps): Promise<ValidateOutput> {
  const job = await loadAttempt(deps.jobs, input);
  if (job.status !== 'RECEIVED' && job.deadline && job.settings) {
    // A retried step after the job moved on: report what was decided, change nothing.
    return { deadline: job.deadline, numberResults: job.settings.numberResults };
  }

  const { image, audio } = job.inputs;
  // A file too large to download is not downloaded; the other one is still inspected.
  const imageTooLarge = declaredSizeProblem('image', image.size, deps.limits, image.key);
  const audioTooLarge = declaredSizeProblem('audio', audio.size, deps.limits, audio.key);
  const read = async (ref: FileRef, maxBytes: number) => ({
    key: ref.key,
    bytes: await deps.objects.read(ref.key, ref.etag, maxBytes),
  });
  // The three reads are independent: made at once (one round trip instead of three), awaited in this order, so a
  // failure is reported as before (the image's before the audio's before the inbox's).
  const imageRead = imageTooLarge ? undefined : read(image, deps.limits.maxImageBytes);
  const audioRead = audioTooLarge ? undefined : read(audio, deps.limits.maxAudioBytes);
  // The sidecar is read now, after the settle wait, so one uploaded with the pair counts whatever the order.
  const filesRead = deps.files.list(job.stem);
  for (const pending of [imageRead, audioRead, filesRead]) pending?.catch(() => undefined);
  const inspection = await inspectMedia(
    { image: await imageRead, audio: await audioRead },
    deps.limits,
    [imageTooLarge, audioTooLarge].filter((p): p is MediaProblem => p !== undefined),
  );
  const problems = inspection.problems;

  const files = await filesRead;
  // So does a second image or audio file: which one the person meant is unknown, so nothing is paid for.
  const ambiguous = ambiguityOf(job.stem, files);
  if (ambiguous) {
    problems.push({ code: 'AMBIGUOUS_INPUT', file: ambiguous.keys.join(', '), message: ambiguous.message });
  }
  // The sidecar is part of the job's identity: one that came after ingest started this job is another job,
  // which its own upload started; this one stops before anything is paid for.
  const sidecarFile = ambiguous?.role === 'sidecar' ? undefined : files.find((f) => f.role === 'sidecar');
  const sidecarRef: FileRef | undefined = ambiguous?.role === 'sidecar' ? undefined : job.inputs.sidecar;
  if (sidecarFile && (sidecarFile.key !== sidecarRef?.key || sidecarFile.etag !== sidecarRef.etag)) {
    throw new ValidationError(
      'INPUT_CHANGED',
      `${sidecarFile.key} arrived while this job was starting. Its settings make another job, which the upload started; nothing to do.`,
    );
  }
  let sidecar = {};
  if (sidecarRef) {
    try {
      sidecar = await readSidecar(sidecarRef, deps.objects, deps.defaults);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      problems.push({ code: error.code, message: error.detail, file: sidecarRef.key });
    }
  }
  if (problems.length > 0 || !inspection.image || !inspection.audio) {
    // Lambda hands the fail step only a name and a message: the list travels on the job record.
    await deps.jobs.update(job.jobId, job.attempt, { problems });
    throw new MediaProblemsError(problems);
  }

  const normalized = inspection.image.normalized;
  const normalizedKey = normalizedImageKey(job.jobId, job.attempt);
  await deps.normalized.put(normalizedKey, normalized.bytes, 'image/jpeg');
  const media: MediaFacts = {
    image: {
      ...inspection.image.info,
      normalized: {
        key: normalizedKey,
        format: normalized.format,
        width: normalized.width,
        height: normalized.height,
        bytes: normalized.size,
        sha256: normalized.sha256,
      },
    },
    audio: inspection.audio,
  };
  const settings = resolveSettings(sidecar, deps.defaults);
  // No job's outputs may overwrite another's: its output keys are reserved before anything is paid for.
  const reservedOutputs = await reserveOutputNames(job.stem, settings, deps.outputNames, deps.now());

  const deadline = new Date(deps.now().getTime() + deps.hardDeadlineSeconds * 1000).toISOString();
  // Known before anything is paid: the budget reserves this amount at submit.
  const estimate = estimateCost(
    media.audio.durationSeconds,
    settings.model,
    settings.numberResults,
    deps.prices,
  );
  await deps.jobs.advance(job.jobId, job.attempt, 'VALIDATED', {
    media,
    settings,
    deadline,
    estimatedCostUsd: estimate.estimatedUsd,
    priceUsdPerSecond: estimate.usdPerSecond,
    reservedOutputs,
    inputs: { image, audio, ...(sidecarRef ? { sidecar: sidecarRef } : {}) },
  });
  return { deadline, numberResults: settings.numberResults };
}

async function readSidecar(ref: FileRef, objects: ObjectReader, defaults: SettingsDefaults) {
  if (ref.size > MAX_SIDECAR_BYTES) {
    throw new ValidationError(
      'INVALID_SIDECAR',
      `${ref.key} is ${ref.size} bytes; a settings sidecar is at most ${MAX_SIDECAR_BYTES} bytes of JSON.`,
    );
  }
  const bytes = await objects.read(ref.key, ref.etag, MAX_SIDECAR_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new ValidationError(
      'INVALID_SIDECAR_JSON',
      `${ref.key} is not valid JSON (${(error as Error).message}). Fix the file and upload it again.`,
    );
  }
  const parsed = SidecarSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys')
        // Inside `safety`, the field is named with its path (`safety.mode`), as the person would look for it.
        return `unknown field(s) ${issue.keys.map((k) => `"${[...issue.path, k].join('.')}"`).join(', ')}`;
      const where = issue.path.length ? `"${issue.path.join('.')}"` : 'the file';
      return `${where}: ${issue.message}`;
    });
    throw new ValidationError(
      'INVALID_SIDECAR',
      `${ref.key} has invalid settings: ${problems.join('; ')}. Allowed fields: prompt (1-2500 characters), ` +
        'outputFormat (MP4, WEBM or MOV), outputQuality (20-99), numberResults (1-4), safety ' +
        '({checkContent, mode: none|fast|full}), model (klingai:avatar@2.0-pro or klingai:avatar@2.0-standard), ' +
        'ttl (seconds Runware keeps the video, at least 60 and at least what this deployment needs to deliver it).',
    );
  }
  const tooShort = ttlProblem(parsed.data.ttl, defaults);
  if (tooShort) throw new ValidationError('INVALID_SIDECAR', `${ref.key} has invalid settings: ${tooShort}.`);
  return parsed.data;
}
