import { JobStateError, StaleAttemptError } from './errors.js';
import { type AttemptSummary, type JobRecord, RETRYABLE_STATUSES, type StepInput } from './job.js';
import type { JobStore } from './store/jobs.js';

/** The job, if `input` names its current attempt and that attempt is still live (not ended, not cancelled). */
export async function loadAttempt(jobs: JobStore, input: StepInput): Promise<JobRecord> {
  const job = await jobs.get(input.jobId);
  if (!job) throw new JobStateError('JOB_NOT_FOUND', `No job ${input.jobId} in the table.`);
  if (
    job.attempt !== input.attempt ||
    job.status === 'FAILED' ||
    job.status === 'CANCELLED' ||
    job.cancel !== undefined
  ) {
    const state = job.cancel && job.status !== 'CANCELLED' ? `${job.status}, being cancelled` : job.status;
    throw new StaleAttemptError(
      `Job ${input.jobId} attempt ${input.attempt} is over (the job is on attempt ${job.attempt}, ${state}).`,
    );
  }
  return job;
}

/** Whether a new attempt may follow the job's current one: it ended FAILED or CANCELLED. */
export const isRetryable = (job: Pick<JobRecord, 'status'>): boolean =>
  (RETRYABLE_STATUSES as readonly string[]).includes(job.status);

/** What the first attempt of a job, or the next one, starts from. */
export interface AttemptStart {
  jobId: string;
  stem: string;
  inputs: JobRecord['inputs'];
  /** Who claims the attempt: the id of the S3 event (ingest) or `retry:<who>` (the CLI). */
  claimedBy: string;
  now: string;
  /** DynamoDB TTL of the record (epoch seconds); unset: kept. */
  expiresAt?: number | undefined;
}

/** The summary a closed attempt leaves in the job's history. */
function summaryOf(previous: JobRecord): AttemptSummary {
  return {
    attempt: previous.attempt,
    status: previous.status,
    stages: previous.stages,
    ...(previous.taskUUID ? { taskUUID: previous.taskUUID } : {}),
    ...(previous.taskAccepted !== undefined ? { taskAccepted: previous.taskAccepted } : {}),
    ...(previous.error ? { error: previous.error } : {}),
  };
}

/**
 * The record of an attempt, fresh: the first one (no `previous`) or the one after `previous`, which it keeps in
 * its history. The one place a new attempt is made, for ingest and for the CLI's retry alike.
 */
export function newAttempt(start: AttemptStart, previous?: JobRecord): JobRecord {
  const attempt = previous ? previous.attempt + 1 : 1;
  const history = previous ? [...(previous.history ?? []), summaryOf(previous)] : undefined;
  return {
    jobId: start.jobId,
    stem: start.stem,
    attempt,
    status: 'RECEIVED',
    stages: { RECEIVED: start.now },
    inputs: start.inputs,
    executionName: `${start.jobId}-${attempt}`,
    claimedBy: start.claimedBy,
    ...(history ? { history } : {}),
    ...(start.expiresAt ? { expiresAt: start.expiresAt } : {}),
    createdAt: previous?.createdAt ?? start.now,
    updatedAt: start.now,
  };
}

export type AttemptClaim =
  | { claimed: true; job: JobRecord }
  /** Another ingest or retry claimed the next attempt first, or the attempt had not ended: `current` is the job. */
  | { claimed: false; current: JobRecord | undefined };

/**
 * Claims the attempt after `previous` (which must have ended FAILED or CANCELLED) with one conditional write, so
 * that of every ingest of a new upload and every `retry` racing for it exactly one wins. The winner starts its
 * execution; the others change nothing.
 */
export async function claimNextAttempt(
  jobs: JobStore,
  previous: JobRecord,
  start: Omit<AttemptStart, 'jobId' | 'stem'>,
): Promise<AttemptClaim> {
  if (!isRetryable(previous)) return { claimed: false, current: previous };
  const next = newAttempt({ ...start, jobId: previous.jobId, stem: previous.stem }, previous);
  if (await jobs.restart(next, previous.attempt)) return { claimed: true, job: next };
  return { claimed: false, current: await jobs.get(previous.jobId) };
}
