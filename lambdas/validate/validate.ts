import { loadAttempt } from '../core/attempt.js';
import { ValidationError } from '../core/errors.js';
import type { FileRef, MediaFacts, StepInput } from '../core/job.js';
import { checkDeclaredSize, inspectAudio, inspectImage, type MediaLimits } from '../core/media/inspect.js';
import type { ObjectReader } from '../core/objects.js';
import { resolveSettings, type SettingsDefaults, SidecarSchema } from '../core/settings.js';
import { ambiguityOf } from '../core/stem-files.js';
import type { FileStore } from '../core/store/files.js';
import type { JobStore } from '../core/store/jobs.js';
import type { OutputNameStore } from '../core/store/outputs.js';
import { reserveOutputNames } from './reserve-outputs.js';

/** A sidecar is a few settings; anything larger is not one. */
export const MAX_SIDECAR_BYTES = 64 * 1024;

export interface ValidateDeps {
  jobs: JobStore;
  files: FileStore;
  /** Who holds each output key (see core/output-names.ts). */
  outputNames: OutputNameStore;
  objects: ObjectReader;
  limits: MediaLimits;
  defaults: SettingsDefaults;
  hardDeadlineSeconds: number;
  now: () => Date;
}

export interface ValidateOutput {
  deadline: string;
  numberResults: number;
}

/**
 * Checks everything that can be checked before money is spent: real file types by their bytes, sizes, image
 * dimensions, audio duration and the sidecar. Any problem is a {@link ValidationError} whose message tells the
 * person what to change. On success the job is VALIDATED with its media facts, settings and hard deadline.
 */
export async function validateJob(input: StepInput, deps: ValidateDeps): Promise<ValidateOutput> {
  const job = await loadAttempt(deps.jobs, input);
  if (job.status !== 'RECEIVED' && job.deadline && job.settings) {
    // A retried step after the job moved on: report what was decided, change nothing.
    return { deadline: job.deadline, numberResults: job.settings.numberResults };
  }

  const { image, audio } = job.inputs;
  checkDeclaredSize('image', image.size, deps.limits);
  checkDeclaredSize('audio', audio.size, deps.limits);
  const imageBytes = await deps.objects.read(image.key, image.etag, deps.limits.maxImageBytes);
  const imageFacts = await inspectImage(imageBytes, extensionOf(image), deps.limits);
  const audioBytes = await deps.objects.read(audio.key, audio.etag, deps.limits.maxAudioBytes);
  const audioFacts = await inspectAudio(audioBytes, extensionOf(audio), deps.limits);
  const media: MediaFacts = { image: imageFacts, audio: audioFacts };

  // The sidecar is read now, after the settle wait, so one uploaded with the pair counts whatever the order.
  const files = await deps.files.list(job.stem);
  // So does a second image or audio file: which one the person meant is unknown, so nothing is paid for.
  const ambiguous = ambiguityOf(job.stem, files);
  if (ambiguous) throw new ValidationError('AMBIGUOUS_INPUT', ambiguous.message);
  const sidecarFile = files.find((f) => f.role === 'sidecar');
  const sidecarRef: FileRef | undefined = sidecarFile && {
    key: sidecarFile.key,
    etag: sidecarFile.etag,
    size: sidecarFile.size,
    sequencer: sidecarFile.sequencer,
  };
  const sidecar = sidecarRef ? await readSidecar(sidecarRef, deps.objects) : {};
  const settings = resolveSettings(sidecar, deps.defaults);
  // No job's outputs may overwrite another's: its output keys are reserved before anything is paid for.
  const reservedOutputs = await reserveOutputNames(job.stem, settings, deps.outputNames, deps.now());

  const deadline = new Date(deps.now().getTime() + deps.hardDeadlineSeconds * 1000).toISOString();
  await deps.jobs.advance(job.jobId, job.attempt, 'VALIDATED', {
    media,
    settings,
    deadline,
    reservedOutputs,
    inputs: { image, audio, ...(sidecarRef ? { sidecar: sidecarRef } : {}) },
  });
  return { deadline, numberResults: settings.numberResults };
}

const extensionOf = (file: FileRef): string => file.key.slice(file.key.lastIndexOf('.') + 1).toLowerCase();

async function readSidecar(ref: FileRef, objects: ObjectReader) {
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
        '({checkContent, mode: none|fast|full}), model (klingai:avatar@2.0-pro or klingai:avatar@2.0-standard).',
    );
  }
  return parsed.data;
}
