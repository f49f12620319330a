import * as z from 'zod';
import { STAGES } from './lifecycle.js';

/**
 * The events the pipeline puts on the default EventBridge bus when a job ends (docs/events.md), as zod schemas a
 * consumer (or a test) parses a `detail` with.
 *
 * Versioning: every detail carries `version`. Adding a field keeps the version (consumers must ignore fields they
 * do not know, which is why these schemas are loose); renaming, removing or changing the meaning or type of a
 * field makes a new version, published beside the old one for a while.
 */

/** `source` of every job event. */
export const JOB_EVENT_SOURCE = 'avatar-pipeline';

/** The current version of every job event's detail. */
export const JOB_EVENT_VERSION = '1';

const JobIdentity = {
  version: z.literal(JOB_EVENT_VERSION),
  /** The job: one stem with one image and one audio content (32 hex digits). */
  jobId: z.string().regex(/^[0-9a-f]{32}$/),
  /** Which attempt of the job ended (1, then 2... after each retry). */
  attempt: z.number().int().positive(),
  /** The stem the files were dropped under (`inbox/<stem>.<ext>`); outputs are named after it. */
  stem: z.string().min(1),
};

/**
 * `JobSucceeded`: the job's videos and its record are in the output bucket: under the stem's names, or (`shown`
 * false) only in the job's archive, because the stem's inbox held another job's files by then.
 */
export const JobSucceededDetailSchema = z.looseObject({
  ...JobIdentity,
  /** Output bucket keys of the videos, in result order (their archive keys when not shown). */
  outputs: z.array(z.string().min(1)).min(1),
  /** Output bucket key of the job record: `<stem>.json`, or `archive/<jobId>/record.json.archived`. */
  recordKey: z.string().min(1),
  /**
   * Whether the outputs were put in place under the stem's names. Added in version 1 (optional for events put by
   * earlier releases, which always showed them).
   */
  shown: z.boolean().optional(),
  /**
   * What the check of the delivered videos found: tracks, length against the audio's, dimensions. The videos are
   * delivered whatever it says (they were paid for). Added in version 1 (absent from events of earlier releases).
   */
  outputCheck: z
    .looseObject({
      passed: z.boolean(),
      problems: z.array(z.looseObject({ output: z.string(), code: z.string(), message: z.string() })),
    })
    .optional(),
});
export type JobSucceededDetail = z.infer<typeof JobSucceededDetailSchema>;

/** `JobFailed`: the job ended FAILED; `<stem>.error.json` says why and what to do. */
export const JobFailedDetailSchema = z.looseObject({
  ...JobIdentity,
  /** A stable code (e.g. IMAGE_TOO_SMALL, RUNWARE_TASK_FAILED, DEADLINE_EXCEEDED). */
  code: z.string().regex(/^[A-Z0-9_]+$/),
  /** What went wrong and what to do, for a person. Never carries a secret. */
  message: z.string(),
  /** The stage the job failed at. */
  stage: z.enum(STAGES),
  /** Output bucket key of `<stem>.error.json`, or null when it was not written (a newer attempt owns it). */
  errorKey: z.string().min(1).nullable(),
});
export type JobFailedDetail = z.infer<typeof JobFailedDetailSchema>;

/** `JobCancelled`: an operator cancelled the job (`avatar-pipeline cancel`). */
export const JobCancelledDetailSchema = z.looseObject({
  ...JobIdentity,
  /** Runware had already accepted the task: it cannot be recalled, and its charge may still come. */
  taskAccepted: z.boolean(),
  /** When the job was cancelled (ISO 8601). */
  at: z.iso.datetime({ offset: true }),
});
export type JobCancelledDetail = z.infer<typeof JobCancelledDetailSchema>;

/** Detail schema of each job event, by its `detail-type`. */
export const JOB_EVENT_DETAILS = {
  JobSucceeded: JobSucceededDetailSchema,
  JobFailed: JobFailedDetailSchema,
  JobCancelled: JobCancelledDetailSchema,
} as const;
export type JobEventType = keyof typeof JOB_EVENT_DETAILS;
export const JOB_EVENT_TYPES = Object.keys(JOB_EVENT_DETAILS) as JobEventType[];

/** A job event as EventBridge delivers it to a rule's target (the fields a consumer needs). */
export const JobEventSchema = z.discriminatedUnion('detail-type', [
  z.looseObject({
    source: z.literal(JOB_EVENT_SOURCE),
    'detail-type': z.literal('JobSucceeded'),
    detail: JobSucceededDetailSchema,
  }),
  z.looseObject({
    source: z.literal(JOB_EVENT_SOURCE),
    'detail-type': z.literal('JobFailed'),
    detail: JobFailedDetailSchema,
  }),
  z.looseObject({
    source: z.literal(JOB_EVENT_SOURCE),
    'detail-type': z.literal('JobCancelled'),
    detail: JobCancelledDetailSchema,
  }),
]);
export type JobEvent = z.infer<typeof JobEventSchema>;
