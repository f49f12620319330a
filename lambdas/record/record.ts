import { loadAttempt } from '../core/attempt.js';
import { evaluateTask, recordableVideoUrl } from '../core/completion.js';
import { JobStateError, RunwareTaskError } from '../core/errors.js';
import { exitAttempt, type Holdings } from '../core/holdings.js';
import type { StepInput } from '../core/job.js';
import type { JobStore } from '../core/store/jobs.js';
import type { TaskStore } from '../core/store/tasks.js';

export interface RecordOutput {
  results: number;
  /** What Runware charged; absent when it reported no cost for some result (`costUnknown`). */
  costUsd?: number;
  /** Runware reported no cost for some result: the charge is unknown, and the estimate is counted instead. */
  costUnknown?: true;
  /**
   * What the budget counts for the job: Runware's `actual` cost replaced the reservation, or the `estimate` was
   * kept because Runware reported no cost (absent when the attempt held no reservation, e.g. recorded before).
   */
  budgetCharged?: 'actual' | 'estimate';
}

/**
 * Copies the task's results (video UUIDs and URLs, cost, seeds) into the job: GENERATED. The generation has
 * ended, so the attempt exits (`exitAttempt`): its budget reservation is replaced by the actual cost (once) and its
 * Runware slot is given back (again, harmlessly, when the step is retried).
 */
export async function recordResults(
  input: StepInput,
  deps: Holdings & { jobs: JobStore; tasks: TaskStore },
): Promise<RecordOutput> {
  const job = await loadAttempt(deps.jobs, input);
  if (!job.taskUUID) throw new JobStateError('NOT_SUBMITTED', `Job ${job.jobId} has no Runware task.`);
  const task = await deps.tasks.get(job.taskUUID);
  if (!task)
    throw new JobStateError('NOT_SUBMITTED', `Task ${job.taskUUID} of job ${job.jobId} is not recorded.`);
  const outcome = evaluateTask(task);
  if (outcome.state === 'failed') throw new RunwareTaskError(outcome.error.code, outcome.error.message);
  if (outcome.state === 'pending') {
    throw new JobStateError(
      'NOT_GENERATED',
      `Task ${task.taskUUID} has ${outcome.received} of ${outcome.expected} results.`,
    );
  }
  // Runware reports cost per result; five decimals is its precision. A result without one makes the charge unknown:
  // counting it as 0 would under-report the spend and let the budget admit jobs it cannot pay for.
  const known = outcome.results.every((r) => r.cost !== undefined);
  const costUsd = known
    ? Math.round(outcome.results.reduce((sum, r) => sum + (r.cost ?? 0), 0) * 100_000) / 100_000
    : undefined;
  const cost = costUsd === undefined ? { costUnknown: true as const } : { costUsd };
  await deps.jobs.advance(job.jobId, job.attempt, 'GENERATED', {
    // The job record outlives the task item and is copied into <stem>.json: its URLs carry no query (a presigned
    // URL's signature) and no user; deliver reads the full URL from the task item.
    results: outcome.results.map((r) => ({ ...r, videoURL: recordableVideoUrl(r.videoURL) })),
    ...cost,
    ...(outcome.errors.length ? { partialFailures: outcome.errors } : {}),
  });
  // The reservation made at submit gives way to what Runware charged; with no cost reported, the estimate stays.
  const { settlement: settled } = await exitAttempt(deps, job, { kind: 'recorded', costUsd });
  return {
    results: outcome.results.length,
    ...cost,
    ...(settled ? { budgetCharged: known ? ('actual' as const) : ('estimate' as const) } : {}),
  };
}
