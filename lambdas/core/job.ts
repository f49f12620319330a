import * as z from 'zod';
import { STAGES } from './errors.js';
import { JobSettingsSchema } from './settings.js';

/**
 * What the pipeline keeps about files, jobs and Runware tasks. Each shape is a zod schema (the stores parse
 * what they read with it, instead of trusting the table) and its inferred type.
 */

export const JobStatusSchema = z.enum([...STAGES, 'FAILED']);
const StageSchema = z.enum(STAGES);
const StageTimesSchema = z.partialRecord(JobStatusSchema, z.string());

/** One object of the input bucket as the pipeline saw it. */
export const FileRefSchema = z.object({
  key: z.string(),
  etag: z.string(),
  size: z.number(),
  /** S3 event sequencer, normalized (see `normalizeSequencer`). */
  sequencer: z.string(),
});
export type FileRef = z.infer<typeof FileRefSchema>;

export const StoredFileSchema = FileRefSchema.extend({
  stem: z.string(),
  role: z.enum(['image', 'audio', 'sidecar']),
  seenAt: z.string(),
});
export type StoredFile = z.infer<typeof StoredFileSchema>;

/** The normalized copy of the image that validation stored in the input bucket for Runware. */
export const NormalizedImageSchema = z.object({
  key: z.string(),
  format: z.literal('jpeg'),
  width: z.number(),
  height: z.number(),
  bytes: z.number(),
  sha256: z.string(),
});
export type NormalizedImageFacts = z.infer<typeof NormalizedImageSchema>;

/** One thing wrong with a job's inputs (validation reports all of them at once). */
export const InputProblemSchema = z.object({ code: z.string(), message: z.string(), file: z.string() });
export type InputProblem = z.infer<typeof InputProblemSchema>;

/** What validation learnt about the inputs. */
export const MediaFactsSchema = z.object({
  image: z.object({
    format: z.string(),
    width: z.number(),
    height: z.number(),
    bytes: z.number(),
    sha256: z.string(),
    /** The copy Runware gets (decoded, rotated as displayed, first frame, JPEG), beside the user's file. */
    normalized: NormalizedImageSchema.optional(),
  }),
  audio: z.object({ format: z.string(), durationSeconds: z.number(), bytes: z.number(), sha256: z.string() }),
});
export type MediaFacts = z.infer<typeof MediaFactsSchema>;

/** One video Runware made for the job. */
export const GenerationResultSchema = z.object({
  videoUUID: z.string(),
  /** When this result reached us (orders the outputs: `<stem>-1`, `<stem>-2`...). */
  receivedAt: z.string(),
  videoURL: z.string(),
  cost: z.number().optional(),
  seed: z.number().optional(),
});
export type GenerationResult = z.infer<typeof GenerationResultSchema>;

export const DeliveredOutputSchema = z.object({ key: z.string(), bytes: z.number(), videoUUID: z.string() });
export type DeliveredOutput = z.infer<typeof DeliveredOutputSchema>;

export const JobErrorSchema = z.object({
  stage: StageSchema,
  code: z.string(),
  message: z.string(),
  at: z.string(),
});
export type JobError = z.infer<typeof JobErrorSchema>;

export const TaskErrorSchema = z.object({ code: z.string(), message: z.string() });
export type TaskError = z.infer<typeof TaskErrorSchema>;

/** A closed attempt, kept when a failed job is retried. */
export const AttemptSummarySchema = z.object({
  attempt: z.number(),
  status: JobStatusSchema,
  taskUUID: z.string().optional(),
  error: JobErrorSchema.optional(),
  stages: StageTimesSchema,
});
export type AttemptSummary = z.infer<typeof AttemptSummarySchema>;

/**
 * The job item in DynamoDB. A job is one stem with one image and one audio content; a re-drop of the same
 * bytes is the same job. `attempt` grows when a failed job is retried; per-attempt fields are reset then.
 */
export const JobRecordSchema = z.object({
  jobId: z.string(),
  stem: z.string(),
  attempt: z.number(),
  status: JobStatusSchema,
  /** Timestamp of each stage this attempt reached. */
  stages: StageTimesSchema,
  inputs: z.object({ image: FileRefSchema, audio: FileRefSchema, sidecar: FileRefSchema.optional() }),
  executionName: z.string(),
  executionArn: z.string().optional(),
  /** Id of the event whose ingest created (claimed) this attempt: a retry of that event may start it. */
  claimedBy: z.string(),
  media: MediaFactsSchema.optional(),
  settings: JobSettingsSchema.optional(),
  /** Output keys reserved for the stem at validation (claims are never released: they stay the stem's). */
  reservedOutputs: z.array(z.string()).optional(),
  /** ISO time after which the job fails with DEADLINE_EXCEEDED. Set at validation. */
  deadline: z.string().optional(),
  taskUUID: z.string().optional(),
  results: z.array(GenerationResultSchema).optional(),
  costUsd: z.number().optional(),
  /** With several results, the ones Runware could not make (the others were delivered). */
  partialFailures: z.array(TaskErrorSchema).optional(),
  outputs: z.array(DeliveredOutputSchema).optional(),
  /**
   * When the job's outputs were last put back in place from the archive (its inputs were dropped again after
   * another job of the stem had replaced them), without a new render.
   */
  restoredAt: z.string().optional(),
  error: JobErrorSchema.optional(),
  /**
   * Every problem validation found in this attempt's inputs (Lambda passes the fail step only a name and a
   * message, so the list travels here; `<stem>.error.json` carries it as `problems`).
   */
  problems: z.array(InputProblemSchema).optional(),
  history: z.array(AttemptSummarySchema).optional(),
  /** When the table's TTL may delete the record (epoch seconds); unset: kept (`jobRecordRetentionDays`). */
  expiresAt: z.number().int().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;

/** The task lookup item: what the webhook and the poller need to complete a Runware task. */
export const TaskRecordSchema = z.object({
  taskUUID: z.string(),
  jobId: z.string(),
  attempt: z.number(),
  numberResults: z.number(),
  /** Step Functions task token of the waiting submit step. Rotated when the step is retried. */
  taskToken: z.string(),
  /** Results received so far, keyed by videoUUID (webhooks are at-least-once and arrive in any order). */
  results: z.record(z.string(), GenerationResultSchema),
  /** Failures reported so far, keyed by a digest of the report (a duplicated delivery counts once). */
  errors: z.record(z.string(), TaskErrorSchema),
  /** Set once the waiting step was told the outcome. */
  completedAt: z.string().optional(),
  createdAt: z.string(),
});
export type TaskRecord = z.infer<typeof TaskRecordSchema>;

/** Input of every step after ingest: the job is read from the table, the state carries only its id. */
export interface StepInput {
  jobId: string;
  attempt: number;
}
