import { loadAttempt, lookUpTask } from '../core/attempt.js';
import { evaluateTask, recordTaskReports } from '../core/completion.js';
import { deadlineMessage } from '../core/deadline.js';
import { DeadlineExceededError, JobStateError, RunwareTaskError } from '../core/errors.js';
import type { StepInput, TaskRecord } from '../core/job.js';
import type { RunwareClient } from '../core/runware/client.js';
import { capResults } from '../core/runware/reports.js';
import type { JobStore } from '../core/store/jobs.js';
import type { TaskStore } from '../core/store/tasks.js';

export interface PollDeps {
  jobs: JobStore;
  tasks: TaskStore;
  runware: RunwareClient;
  now: () => Date;
  minWaitSeconds?: number;
  maxWaitSeconds?: number;
  /** For the log: results beyond `numberResults` (ignored) and transient errors inside a 200 answer. */
  log?: (message: 'poll.extraResults' | 'poll.transient', detail: Record<string, unknown>) => void;
}

export interface PollOutput {
  done: boolean;
  /** How long the state machine waits before the next poll. */
  waitSeconds: number;
}

/**
 * The fallback when no webhook came in time: asks Runware (`getResponse`) how the task is doing. Results it
 * reports go through the same store as webhook deliveries, so whichever arrives first counts once. Backs off as
 * the task gets older, and gives up with DEADLINE_EXCEEDED at the job's hard deadline: nothing waits forever.
 */
export async function pollJob(input: StepInput, deps: PollDeps): Promise<PollOutput> {
  const job = await loadAttempt(deps.jobs, input);
  if (!job.taskUUID)
    throw new JobStateError('NOT_SUBMITTED', `Job ${job.jobId} has no Runware task to poll.`);
  let task = await deps.tasks.get(job.taskUUID);
  if (!task)
    throw new JobStateError('NOT_SUBMITTED', `Task ${job.taskUUID} of job ${job.jobId} is not recorded.`);

  if (evaluateTask(task).state === 'pending') task = await refresh(task, deps);
  const outcome = evaluateTask(task);
  if (outcome.state === 'succeeded') {
    await deps.tasks.markCompleted(task.taskUUID, deps.now().toISOString());
    return { done: true, waitSeconds: 0 };
  }
  if (outcome.state === 'failed') {
    await deps.tasks.markCompleted(task.taskUUID, deps.now().toISOString());
    throw new RunwareTaskError(outcome.error.code, outcome.error.message);
  }

  const now = deps.now().getTime();
  const deadline = job.deadline ? Date.parse(job.deadline) : Number.POSITIVE_INFINITY;
  if (now >= deadline) {
    const minutes = Math.round((deadline - Date.parse(job.stages.VALIDATED ?? job.createdAt)) / 60_000);
    throw new DeadlineExceededError(
      deadlineMessage({
        kind: 'not-finished',
        taskUUID: task.taskUUID,
        minutes,
        received: outcome.received,
        expected: outcome.expected,
      }),
    );
  }
  const min = deps.minWaitSeconds ?? 5;
  const max = deps.maxWaitSeconds ?? 60;
  const age = (now - Date.parse(job.stages.SUBMITTED ?? task.createdAt)) / 1000;
  const backoff = Math.min(max, Math.max(min, Math.round(age / 10)));
  const untilDeadline = Math.ceil((deadline - now) / 1000);
  return { done: false, waitSeconds: Math.max(1, Math.min(backoff, untilDeadline)) };
}

async function refresh(task: TaskRecord, deps: PollDeps): Promise<TaskRecord> {
  const poll = await lookUpTask(deps.runware, task.taskUUID);
  if (poll.transient?.length) {
    deps.log?.('poll.transient', {
      taskUUID: task.taskUUID,
      errors: poll.transient.map((e) => ({ code: e.code, message: e.message })),
    });
  }
  // As for the webhook: results beyond what the task asked for are never recorded, delivered or billed.
  const { kept, extra } = capResults(poll.results, {
    numberResults: task.numberResults,
    recorded: Object.keys(task.results ?? {}),
  });
  if (extra.length > 0) {
    deps.log?.('poll.extraResults', { taskUUID: task.taskUUID, ignored: extra.map((r) => r.videoUUID) });
  }
  return recordTaskReports(
    deps.tasks,
    task,
    { results: kept, errors: poll.errors },
    deps.now().toISOString(),
  );
}
