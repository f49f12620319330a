/**
 * How long the table keeps what (DynamoDB TTL: an item is deleted some time after its `expiresAt`, in epoch
 * seconds; see TABLE_SCHEMA.timeToLiveAttribute). Every expiry is counted from a moment after which the item's
 * job has certainly ended, so that nothing a running job needs ever expires:
 *
 * - a Runware task (its task token, the results reported so far): 7 days after the longest a job can run;
 * - a pairing record (an inbox file the pairing remembers): 30 days after the file's last upload, counted
 *   after the orphan wait and the longest a job can run;
 * - an orphan watch: 30 days after it fell due (it was reported by then);
 * - a job record: kept unless the `jobRecordRetentionDays` setting says how many days after its creation.
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
