import { parseErrorCause, type Stage, stageOfError } from '../core/errors.js';
import { HOW_TO_RETRY, type OutputWriter } from '../core/outputs.js';
import type { JobStore } from '../core/store/jobs.js';

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
}

export interface FailDeps {
  jobs: JobStore;
  outputs: OutputWriter;
  now: () => Date;
}

/**
 * The end of every unhappy path: marks the attempt FAILED with the stage, a stable code and a message a person
 * can act on, and writes `<stem>.error.json` beside where the video would have been. Inputs are never touched.
 * Idempotent: the first failure recorded wins, and running again rewrites the same file.
 */
export async function failJob(input: FailInput, deps: FailDeps): Promise<FailOutput> {
  const info = parseErrorCause(input.error.Error, input.error.Cause);
  const job = await deps.jobs.get(input.jobId);
  const stage = stageOfError(info.name, job?.status);
  if (job && job.attempt !== input.attempt) {
    // A newer attempt owns the job and its output files now.
    return { code: info.code, message: info.message, stage, errorKey: null };
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
  });
  const base = { code: recorded.code, message: recorded.message, stage: recorded.stage };
  if (!written.written) return { ...base, errorKey: null, errorKeyHeldBy: written.holder };
  return { ...base, errorKey: written.key };
}
