import { lookUpTask } from '../core/attempt.js';
import { evaluateTask, notifyIfDone, recordTaskReports, type TaskNotifier } from '../core/completion.js';
import type { RunwareClient } from '../core/runware/client.js';
import { capResults } from '../core/runware/reports.js';
import type { JobStore } from '../core/store/jobs.js';
import type { NewTask, TaskStore } from '../core/store/tasks.js';

/** What Runware said about an adopted task, in {@link SubmitOutput}-compatible words. */
export interface AdoptionOutcome {
  taskUUID: string;
  /** `unknown`: Runware had no such task, so it was sent now, under the same UUID. */
  found: 'finished' | 'processing' | 'unknown';
}

export interface AdoptDeps {
  jobs: JobStore;
  tasks: TaskStore;
  runware: RunwareClient;
  notifier: TaskNotifier;
  now: () => Date;
}

/**
 * The submit step of an attempt that took over the previous attempt's Runware task (see `adoptableTask`): it
 * never pays for a new video of the same try. The task lookup passes to this attempt first (its token, so that a
 * webhook arriving meanwhile completes this step), then Runware is asked about the task (`getResponse`):
 * - it has results (or a failure): they are recorded like a webhook's, and the step is told at once, without a
 *   new `videoInference` request;
 * - it is still processing: nothing is sent; the webhook, or the poller after the step's timeout, finishes it;
 * - Runware does not know it (never accepted, e.g. the stack died before the request left): `send` sends it,
 *   under the same task UUID, so a late original can only meet `conflictTaskUUID`, never a second charge.
 * A result the previous attempt already recorded is told to this step without asking Runware.
 * Runware refusing the lookup itself (a bad key, no credit) says nothing about the task: the attempt fails with
 * the refusal's code and a message that says so, and the next attempt adopts the same task again (`adoptableTask`).
 */
export async function continueAdoptedTask(
  task: NewTask,
  deps: AdoptDeps,
  send: () => Promise<unknown>,
): Promise<AdoptionOutcome> {
  let record = await deps.tasks.adopt(task);
  if (evaluateTask(record).state === 'pending') {
    const poll = await lookUpTask(deps.runware, task.taskUUID);
    if (poll.unknownTask) {
      await send();
      return { taskUUID: task.taskUUID, found: 'unknown' };
    }
    // As for the webhook and the poller: never more results than the task asked for.
    const { kept } = capResults(poll.results, {
      numberResults: record.numberResults,
      recorded: Object.keys(record.results ?? {}),
    });
    record = await recordTaskReports(
      deps.tasks,
      record,
      { results: kept, errors: poll.errors },
      deps.now().toISOString(),
    );
  }
  // Runware holds the task: the attempt is SUBMITTED (before the step is told, so record finds it there).
  await deps.jobs.advance(task.jobId, task.attempt, 'SUBMITTED', { taskUUID: task.taskUUID });
  const outcome = await notifyIfDone(record, deps);
  return { taskUUID: task.taskUUID, found: outcome.state === 'pending' ? 'processing' : 'finished' };
}
