import type { JobEventPublisher } from '../core/aws/job-event-publisher.js';
import { finishCancel } from '../core/cancel.js';
import type { Stage } from '../core/contract/lifecycle.js';
import { parseErrorCause, stageOfError } from '../core/errors.js';
import { exitAttempt, type Holdings } from '../core/holdings.js';
import { HOW_TO_RETRY, type OutputWriter } from '../core/outputs/writer.js';
import { safeMessage } from '../core/redact.js';
import { endingOf } from '../core/rules/attempt-ending.js';
import type { JobStore } from '../core/store/jobs.js';
import type { TaskStore } from '../core/store/tasks.js';

export interface FailInput {
  jobId: string;
  attempt: number;
  stem: string;
  /** What Step Functions caught: `{ Error, Cause }`. */
  error: { Error: string; Cause?: string | undefined };
}

export interface FailOutput {
  code: string;
  message: string;
  stage: Stage;
  /**
   * `<stem>.error.json`, or null when the attempt was already replaced by a newer one, or when that key belongs
   * to another stem (the error is then only in the job record and the log).
   */
  errorKey: string | null;
  /** The stem that holds `<stem>.error.json` when it is not this job's. */
  errorKeyHeldBy?: string;
  /** The attempt was cancelled by an operator: it ended CANCELLED (code CANCELLED), not FAILED. */
  cancelled?: true;
  /**
   * The attempt had already ended (FAILED or CANCELLED) before this run, or a newer attempt owns the job: a second
   * report of the same end (a stopped execution is seen by the Catch and by the execution-ended rule), not counted
   * again.
   */
  repeated?: true;
}

export interface FailDeps extends Holdings {
  jobs: JobStore;
  tasks: TaskStore;
  outputs: OutputWriter;
  /** Puts JobCancelled (JobFailed is put by the state machine). */
  events: JobEventPublisher;
  /** Told of a cancelled task's charge that arrived before the cancel was finished (the cost metric). */
  onLateCharge?: (usd: number) => void;
  now: () => Date;
}

/**
 * The end of every unhappy path: marks the attempt FAILED with the stage, a stable code and a message a person
 * can act on, and writes `<stem>.error.json` beside where the video would have been. Inputs are never touched.
 * Idempotent: the first failure recorded wins, and running again rewrites the same file.
 * The attempt's Runware slot (or its place in the queue for one) is given back: its generation has ended,
 * whether the failure was caught by the state machine or the execution ended (timed out, aborted).
 * An attempt an operator cancelled ends CANCELLED instead, however its execution ended (see core/cancel.ts): the
 * stop makes it ABORTED, and a step that ran after the cancel was asked for fails as superseded.
 */
export async function failJob(input: FailInput, deps: FailDeps): Promise<FailOutput> {
  const current = await deps.jobs.get(input.jobId);
  const repeated =
    current !== undefined &&
    (current.attempt !== input.attempt || current.status === 'FAILED' || current.status === 'CANCELLED');
  const once = repeated ? ({ repeated: true } as const) : {};
  // A cancelled attempt exits inside finishCancel; any other here. Either way through the one exit, which closes
  // the reservation (given back unless Runware may have charged: see `reservationFate`) and gives the slot back.
  const cancelled = await finishCancel(input, deps, { job: current });
  if (cancelled) {
    const { code, message, stage, errorKey, errorKeyHeldBy } = cancelled;
    return {
      code,
      message,
      stage,
      errorKey,
      ...(errorKeyHeldBy ? { errorKeyHeldBy } : {}),
      cancelled: true,
      ...once,
    };
  }
  await exitAttempt(deps, input, endingOf(current, input.attempt));
  const parsed = parseErrorCause(input.error.Error, input.error.Cause);
  // The message reaches the job record, `<stem>.error.json`, the JobFailed event and the log: no secret in
  // any spelling, and bounded (DynamoDB 400 KB items, EventBridge 256 KB entries).
  const info = { ...parsed, message: safeMessage(parsed.message) };
  // Nothing above changed the job record (finishCancel returned without writing): the read serves.
  const job = current;
  const stage = stageOfError(info.name, job?.status);
  if (job && job.attempt !== input.attempt) {
    // A newer attempt owns the job and its output files now.
    return { code: info.code, message: info.message, stage, errorKey: null, ...once };
  }
  const at = deps.now().toISOString();
  const failed = job
    ? await deps.jobs.fail(job.jobId, job.attempt, { stage, code: info.code, message: info.message, at })
    : undefined;
  // If it had failed already, report the failure that was recorded first.
  const recorded = failed?.error ??
    (job?.status === 'FAILED' ? job.error : undefined) ?? {
      stage,
      code: info.code,
      message: info.message,
      at,
    };

  const written = await deps.outputs.putError({
    stem: input.stem,
    jobId: input.jobId,
    attempt: input.attempt,
    stage: recorded.stage,
    code: recorded.code,
    message: recorded.message,
    howToRetry: HOW_TO_RETRY,
    ...(job
      ? { inputs: Object.fromEntries(Object.entries(job.inputs).map(([role, ref]) => [role, ref.key])) }
      : {}),
    failedAt: recorded.at,
    // Every problem validation found, when it found several (the code and message above are the first's).
    ...(recorded.stage === 'VALIDATED' && job?.problems?.length ? { problems: job.problems } : {}),
  });
  const base = { code: recorded.code, message: recorded.message, stage: recorded.stage, ...once };
  if (!written.written) return { ...base, errorKey: null, errorKeyHeldBy: written.holder };
  return { ...base, errorKey: written.key };
}

/**
 * The log line of a failed job. Powertools reserves `message` (the line's own text) and drops an attribute of
 * that name, so the reason travels as `reason`: operators see in the log why the job failed.
 */
export function failureLogAttributes(output: FailOutput): Record<string, unknown> {
  return { code: output.code, stage: output.stage, reason: output.message, errorKey: output.errorKey };
}
