/**
 * How long the table keeps what (DynamoDB TTL: an item is deleted some time after its `expiresAt`, in epoch
 * seconds; see TABLE_SCHEMA.timeToLiveAttribute). Every expiry is counted from a moment after which the item's
 * job has certainly ended, so that nothing a running job needs ever expires:
 *
 * - a Runware task (its task token, the results reported so far): 7 days after the longest a job can run;
 * - a pairing record (an inbox file the pairing remembers): 30 days after the file's last upload, counted
 *   after the orphan wait and the longest a job can run;
 * - an orphan watch: 30 days after it fell due (it was reported by then);
 * - a job record: kept unless the `jobRecordRetentionDays` setting says how many days after its creation;
 * - an output-name reservation (`OUTPUT#<key>`, the stem that holds a key of the output bucket): a key the stem
 *   has written (a video, `<stem>.json`, `<stem>.error.json`) is kept for good, because the pipeline never expires
 *   outputs (a delivered job's files stay shown until a later job of the same stem replaces them, and can be put
 *   back from the archive by restoring its inputs, which needs its names again); a key reserved at validation and
 *   never written lapses 30 days after the latest its job can end, and a new job of the stem renews it.
 *
 * Outside the table, the normalized images validation stores under `normalized/` of the input bucket (read by the
 * submit step, and by Runware through a presigned URL) are expired by an S3 lifecycle rule
 * ({@link normalizedCopyExpirationDays}).
 * No imports, so that the CDK app can read the bounds.
 */

const DAY = 86_400;

/** The largest `hardDeadlineSeconds` the settings accept: no job runs longer (after validation). */
export const MAX_HARD_DEADLINE_SECONDS = 7 * DAY;
/** The fewest days the `jobRecordRetentionDays` setting may keep a job: it must outlive the job. */
export const MIN_JOB_RECORD_RETENTION_DAYS = 8;

export const RETENTION = {
  /** Kept after the latest moment the task's job can end, to explain late webhooks and support questions. */
  taskAfterJobSeconds: 7 * DAY,
  pairingSeconds: 30 * DAY,
  orphanWatchSeconds: 30 * DAY,
  /** Kept after the latest moment the reserving job can end, for a key that job never wrote. */
  outputReservationAfterJobSeconds: 30 * DAY,
} as const;

/** Seconds after `iso` (now, if it is not a time: an expiry must never be NaN, which DynamoDB refuses). */
function epoch(iso: string, plusSeconds: number): number {
  const ms = Date.parse(iso);
  return Math.floor((Number.isNaN(ms) ? Date.now() : ms) / 1000) + Math.ceil(plusSeconds);
}

/** `expiresAt` of a task saved at `createdAt` (the submit step; the job ends within the hard deadline). */
export function taskExpiresAt(createdAt: string): number {
  return epoch(createdAt, MAX_HARD_DEADLINE_SECONDS + RETENTION.taskAfterJobSeconds);
}

/** `expiresAt` of a pairing record for an upload seen at `seenAt`. */
export function pairingExpiresAt(seenAt: string, orphanAfterSeconds: number): number {
  return epoch(seenAt, orphanAfterSeconds + MAX_HARD_DEADLINE_SECONDS + RETENTION.pairingSeconds);
}

/** `expiresAt` of an orphan watch due at `dueAt`. */
export function orphanWatchExpiresAt(dueAt: string): number {
  return epoch(dueAt, RETENTION.orphanWatchSeconds);
}

/** `expiresAt` of a job record created at `createdAt`, or none when job records are kept (0 days). */
export function jobExpiresAt(createdAt: string, retentionDays: number): number | undefined {
  if (retentionDays <= 0) return undefined;
  return epoch(createdAt, Math.max(retentionDays, MIN_JOB_RECORD_RETENTION_DAYS) * DAY);
}

/**
 * `expiresAt` of an output-name reservation made at `claimedAt` (validation, or a later step of the same job) for a
 * key nothing has been written to yet. Counted from the claim, the job ends within the largest hard deadline; the
 * writer removes the expiry when it writes the key (see `OutputNameStore.keep`).
 */
export function outputReservationExpiresAt(claimedAt: string): number {
  return epoch(claimedAt, MAX_HARD_DEADLINE_SECONDS + RETENTION.outputReservationAfterJobSeconds);
}

/**
 * Days the input bucket keeps a normalized image (`normalized/<jobId>/<attempt>/image.jpg`). Each attempt validates
 * again and stores its own copy, so a copy serves one attempt: its submit step (and every retry of that step) reads
 * it until the job's hard deadline, and Runware may fetch it through a presigned URL until that URL ends. Kept for `taskAfterJobSeconds` more, like the task it was sent with, for support questions;
 * whole days, rounded up (S3 counts lifecycle days from the object's creation, to the next midnight UTC).
 */
export function normalizedCopyExpirationDays(hardDeadlineSeconds: number, presignTtlSeconds: number): number {
  return Math.ceil((hardDeadlineSeconds + presignTtlSeconds + RETENTION.taskAfterJobSeconds) / DAY);
}
