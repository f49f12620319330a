import { JobStateError, RunwareRejectedError, SupersededAttemptError } from './errors.js';
import type { AdoptedTask, AttemptSummary, JobRecord, StepInput } from './job.js';
import { RETRYABLE_STATUSES } from './job.js';
import type { RunwareClient, TaskPoll } from './runware/client.js';
import { RUNWARE_ERROR_CODES } from './runware/error-codes.js';
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
    throw new SupersededAttemptError(
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

/**
 * The record of an attempt, fresh: the first one (no `previous`) or the one after `previous`, which it keeps in
 * its history. The one place a new attempt is made, for ingest and for the CLI's retry alike.
 */
export function newAttempt(start: AttemptStart, previous?: JobRecord): JobRecord {
  const attempt = previous ? previous.attempt + 1 : 1;
  const history = previous ? [...(previous.history ?? []), summarizeAttempt(previous)] : undefined;
  // A task Runware may have accepted is continued, never sent again under a new UUID (paid twice).
  const adoptedTask = previous ? adoptableTask(previous) : undefined;
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
    ...(adoptedTask ? { adoptedTask } : {}),
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

/**
 * Error codes that are Runware's answer to a request: it refused it (400/401/402/403/404 and other refusals) or
 * it reported that the task failed. Any other way an attempt ends after its task UUID was given out (an aborted or
 * timed-out execution, a crashed or timed-out step, the job's deadline while waiting, Runware unreachable after
 * every retry, a cancel) leaves the task's fate unknown. A refusal is a definite answer about the task only when
 * the request refused was the task itself (see {@link adoptableTask}).
 */
export const DEFINITE_RUNWARE_CODES: ReadonlySet<string> = new Set([
  RUNWARE_ERROR_CODES.invalidRequest,
  RUNWARE_ERROR_CODES.unauthorized,
  RUNWARE_ERROR_CODES.insufficientBalance,
  RUNWARE_ERROR_CODES.notFound,
  RUNWARE_ERROR_CODES.rejected,
  RUNWARE_ERROR_CODES.taskFailed,
]);
/** What {@link adoptableTask} needs of the attempt that ended (a job record, or the CLI's view of one). */
export interface EndedAttempt {
  attempt: number;
  /** `FAILED`, `CANCELLED`, ...: any status but DELIVERED. */
  status: string;
  /** Given out (and stored) just before the task was sent: with one, Runware may have accepted the task. */
  taskUUID?: string | undefined;
  /** The task this attempt itself took over from the attempt before it. */
  adoptedTask?: AdoptedTask | undefined;
  stages: Partial<Record<string, string>>;
  error?: { code: string } | undefined;
  /** A send of the task got no answer before Runware refused a resend: the refusal says nothing about the task. */
  sendUnanswered?: boolean | undefined;
}

/**
 * The rule for a job's next attempt: it takes over the previous attempt's Runware task, instead of a new task
 * UUID, when that task may have been accepted and Runware never gave a definite answer about it. Runware refuses
 * a second task with the same UUID, so the next attempt can never pay for a second video of the same try; it
 * asks Runware about the task first (see lambdas/submit/adopt.ts) and sends it again under the same UUID only if
 * Runware does not know it.
 *
 * No adoption (a new task UUID, as for a first attempt) when the previous attempt had no task (it never reached
 * the submit call and adopted none), got its results (GENERATED: a retry after that is a new render), was
 * DELIVERED, or ended with a definite answer: Runware reported the task failed, or refused the task itself.
 * A refusal (a bad key, no credit...) of a *status request* is not an answer about the task: the attempt had
 * sent its task (SUBMITTED: the poller was refused), or it was continuing an adopted one, whose lookup comes
 * first. The next attempt then adopts the same task again; asking about a task Runware lacks costs nothing.
 * An adopting attempt that ended before it gave its UUID out (no slot, over budget) hands the task on as well.
 * So does an attempt whose send got no answer (a time-out) before a resend was refused (`sendUnanswered`).
 */
export function adoptableTask(previous: EndedAttempt): AdoptedTask | undefined {
  const taskUUID = previous.taskUUID ?? previous.adoptedTask?.taskUUID;
  if (!taskUUID) return undefined;
  if (previous.status === 'DELIVERED' || previous.stages.GENERATED !== undefined) return undefined;
  if (previous.error && isAnswerAboutTask(previous, previous.error.code)) return undefined;
  const fromAttempt = previous.taskUUID
    ? previous.attempt
    : (previous.adoptedTask?.fromAttempt ?? previous.attempt);
  return { taskUUID, fromAttempt };
}

/** Whether `code`, the error the attempt ended with, is Runware's definite word about the attempt's task. */
function isAnswerAboutTask(previous: EndedAttempt, code: string): boolean {
  if (code === RUNWARE_ERROR_CODES.taskFailed) return true;
  if (!DEFINITE_RUNWARE_CODES.has(code)) return false;
  // A refusal answers for the task only when the refused request was the task's first send.
  // Nor when an earlier send got no answer: Runware may have taken that one before it refused the resend.
  const refusedLookup = previous.stages.SUBMITTED !== undefined || previous.adoptedTask !== undefined;
  return !refusedLookup && previous.sendUnanswered !== true;
}

/**
 * `getResponse` for a task the attempt holds (its own, or one it adopted). Runware refusing the request (a bad
 * key, no credit) says nothing about the task, so the next attempt adopts it again (see {@link adoptableTask});
 * the refusal's message gains what the person needs to know besides what to fix.
 */
export async function lookUpTask(runware: RunwareClient, taskUUID: string): Promise<TaskPoll> {
  try {
    return await runware.getResponse(taskUUID);
  } catch (error) {
    if (!(error instanceof RunwareRejectedError)) throw error;
    const message = `${error.detail} ${refusedLookupNote(taskUUID)}`;
    throw new RunwareRejectedError(error.code, message, error.httpStatus);
  }
}

/** What the message of a refused resend adds, when an earlier send got no answer: the retry continues the task. */
export const unansweredSendNote = (taskUUID: string): string =>
  `An earlier send of task ${taskUUID} got no answer, so Runware may hold it (and charge it). Once this is ` +
  'fixed, the retry continues that same task (it asks Runware about it first, and sends it under the same UUID ' +
  'only if Runware does not have it), so it is never paid for twice.';

/** What the message of a refused status request adds: the task is kept, and the retry continues it. */
export const refusedLookupNote = (taskUUID: string): string =>
  `Runware refused the status request, not the task: task ${taskUUID} may be in its hands (and be charged). ` +
  'Nothing new was sent; once this is fixed, the retry continues that same task (it asks Runware about it ' +
  'first, and sends it under the same UUID only if Runware does not have it), so it is never paid for twice.';

/** What the attempt history keeps of an attempt that ended, when the job starts its next one. */
export function summarizeAttempt(job: JobRecord): AttemptSummary {
  return {
    attempt: job.attempt,
    status: job.status,
    stages: job.stages,
    ...(job.taskUUID ? { taskUUID: job.taskUUID } : {}),
    ...(job.taskAccepted !== undefined ? { taskAccepted: job.taskAccepted } : {}),
    ...(job.sendUnanswered ? { sendUnanswered: true } : {}),
    ...(job.adoptedTask ? { adoptedTask: job.adoptedTask } : {}),
    ...(job.error ? { error: job.error } : {}),
  };
}
