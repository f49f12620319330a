import { loadAttempt } from '../core/attempt.js';
import { evaluateTask } from '../core/completion.js';
import { JobStateError, RunwareTaskError } from '../core/errors.js';
import type { StepInput } from '../core/job.js';
import type { JobStore } from '../core/store/jobs.js';
import type { SlotStore } from '../core/store/slots.js';
import type { TaskStore } from '../core/store/tasks.js';

export interface RecordOutput {
  results: number;
  costUsd: number;
}

/**
 * Copies the task's results (video UUIDs and URLs, cost, seeds) into the job: GENERATED. The generation has
 * ended, so the job's Runware slot is given back (again, harmlessly, when the step is retried).
 */
export async function recordResults(
  input: StepInput,
  deps: { jobs: JobStore; tasks: TaskStore; slots: SlotStore },
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
  // Runware reports cost per result; five decimals is its precision.
  const costUsd = Math.round(outcome.results.reduce((sum, r) => sum + (r.cost ?? 0), 0) * 100_000) / 100_000;
  await deps.jobs.advance(job.jobId, job.attempt, 'GENERATED', {
    results: outcome.results,
    costUsd,
    ...(outcome.errors.length ? { partialFailures: outcome.errors } : {}),
  });
  await deps.slots.release(job.jobId, job.attempt);
  return { results: outcome.results.length, costUsd };
}
