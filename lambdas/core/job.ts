import * as z from 'zod';
import { JobSettingsSchema } from './contract/job-settings.js';
import { STAGES } from './contract/lifecycle.js';
import { OutputCheckSchema } from './output-check.js';

/**
 * What the pipeline keeps about files, jobs and Runware tasks. Each shape is a zod schema (the stores parse
 * what they read with it, instead of trusting the table) and its inferred type.
 */

export const JobStatusSchema = z.enum([...STAGES, 'FAILED', 'CANCELLED']);
/** The statuses a job attempt ends in; a job in any other one is still running. */
export const TERMINAL_STATUSES = ['DELIVERED', 'FAILED', 'CANCELLED'] as const;
/** The ended statuses a new attempt may follow (an explicit retry, or a new upload of the same bytes). */
export const RETRYABLE_STATUSES = ['FAILED', 'CANCELLED'] as const;
/** Where a cancel may stop a job: before its video is made (GENERATED is made and paid: it is only delivered). */
export const CANCELLABLE_STATUSES = ['RECEIVED', 'VALIDATED', 'QUEUED', 'SUBMITTED'] as const;
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

/**
 * An operator's cancel of the attempt (`avatar-pipeline cancel`). Written first, while the job runs; from then on
 * no step of the attempt may change it (see `liveAttempt`), and whichever step or end of the execution comes next
 * turns it CANCELLED (see `finishCancel`).
 */
export const CancelRequestSchema = z.object({
  requestedAt: z.string(),
  /** Who asked: `<user>@<host>` of the CLI. */
  by: z.string(),
  /** The status the job was in when the cancel was asked for. */
  during: JobStatusSchema,
  /** Set once the JobCancelled event was put (so that a retried finish puts it at most once more). */
  announcedAt: z.string().optional(),
});
export type CancelRequest = z.infer<typeof CancelRequestSchema>;

/**
 * A Runware task an attempt took over from the attempt before it, which ended without a definite answer from
 * Runware (see `adoptableTask` in attempt.ts): the attempt asks Runware about it and never pays for a new one.
 */
export const AdoptedTaskSchema = z.object({
  taskUUID: z.string(),
  /** The attempt whose task it was. */
  fromAttempt: z.number(),
});
export type AdoptedTask = z.infer<typeof AdoptedTaskSchema>;

/** Why a delivered job's outputs were not put in place (see `notShown` in {@link JobRecordSchema}). */
export const NotShownSchema = z.object({
  at: z.string(),
  code: z.literal('INBOX_CHANGED'),
  message: z.string(),
  /** The roles whose inbox file was no longer the job's when its outputs were to be shown. */
  changed: z.array(z.enum(['image', 'audio', 'sidecar'])),
});
export type NotShown = z.infer<typeof NotShownSchema>;

/** A closed attempt, kept when a failed job is retried. */
export const AttemptSummarySchema = z.object({
  attempt: z.number(),
  status: JobStatusSchema,
  taskUUID: z.string().optional(),
  /** A cancelled attempt whose task Runware had accepted (a new attempt may have to account for it). */
  taskAccepted: z.boolean().optional(),
  /** A send of that attempt's task got no answer before Runware refused a resend (see the job's field). */
  sendUnanswered: z.boolean().optional(),
  /** Set when that attempt took over the task of the attempt before it. */
  adoptedTask: AdoptedTaskSchema.optional(),
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
  /** Output keys reserved for the stem at validation (they stay the stem's past the job's end: see `retention.ts`). */
  reservedOutputs: z.array(z.string()).optional(),
  /** ISO time after which the job fails with DEADLINE_EXCEEDED. Set at validation. */
  deadline: z.string().optional(),
  /**
   * Validation's estimate of this attempt's charge (core/cost.ts: audio seconds x price x results), reserved
   * against the budget at submit; `costUsd` is what Runware reported, beside it.
   */
  estimatedCostUsd: z.number().optional(),
  /** The model's price per second of video that the estimate used. */
  priceUsdPerSecond: z.number().optional(),
  taskUUID: z.string().optional(),
  /** This attempt continues the previous attempt's Runware task instead of sending a new one. */
  adoptedTask: AdoptedTaskSchema.optional(),
  results: z.array(GenerationResultSchema).optional(),
  /** What Runware reported it charged: the sum over the results, when it reported a cost for every one. */
  costUsd: z.number().optional(),
  /**
   * Runware reported no cost for some result: the charge is unknown (never taken as 0), `costUsd` stays unset, and
   * the estimate stands in for it where a number is needed (the budget counts it; the CLI shows it as such).
   */
  costUnknown: z.literal(true).optional(),
  /** With several results, the ones Runware could not make (the others were delivered). */
  partialFailures: z.array(TaskErrorSchema).optional(),
  outputs: z.array(DeliveredOutputSchema).optional(),
  /**
   * What delivery found in the videos' containers (tracks, length against the audio's, dimensions). A video with a
   * problem is still delivered (it was paid for); the problems are here for the person to judge.
   */
  outputCheck: OutputCheckSchema.optional(),
  /**
   * When the job's outputs were last put back in place from the archive (its inputs were dropped again after
   * another job of the stem had replaced them), without a new render.
   */
  restoredAt: z.string().optional(),
  /**
   * Set when delivery archived the videos but did not show them: while the job rendered, the stem's inbox files
   * changed to another job's, and the output folder shows what the inbox holds. The job is DELIVERED (made,
   * paid, kept under `archive/<jobId>/`); its inputs uploaded again put its outputs in place (`restoredAt`).
   */
  notShown: NotShownSchema.optional(),
  error: JobErrorSchema.optional(),
  /**
   * Every problem validation found in this attempt's inputs (Lambda passes the fail step only a name and a
   * message, so the list travels here; `<stem>.error.json` carries it as `problems`).
   */
  problems: z.array(InputProblemSchema).optional(),
  history: z.array(AttemptSummarySchema).optional(),
  /** Set when an operator cancelled this attempt (see {@link CancelRequestSchema}). */
  cancel: CancelRequestSchema.optional(),
  /** When the attempt ended CANCELLED (also `stages.CANCELLED`). */
  cancelledAt: z.string().optional(),
  /**
   * Runware had accepted the task before the cancel: it cannot be recalled, and what Runware charged for it
   * (reported after the cancel; never delivered) is `lateCostUsd`, also counted in `costUsd`.
   */
  taskAccepted: z.boolean().optional(),
  lateCostUsd: z.number().optional(),
  /**
   * A send of this attempt's task got no answer (time-out, network, server error) and a resend was refused (a bad
   * key, no credit): Runware may hold the task, so the next attempt continues it instead of a new task UUID.
   */
  sendUnanswered: z.boolean().optional(),
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
