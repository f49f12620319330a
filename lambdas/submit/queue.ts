import { loadAttempt } from '../core/attempt.js';
import { NoSlotError } from '../core/errors.js';
import { takeSlot } from '../core/holdings.js';
import type { StepInput } from '../core/job.js';
import type { SlotWaker } from '../core/store/slots.js';
import { type SubmitDeps, waiting } from './submit.js';

export interface WaitForSlotDeps extends Pick<SubmitDeps, 'jobs' | 'slots' | 'maxConcurrentTasks' | 'now'> {
  /** Completes the step's own token when the slot is taken at once, and those of older waiters owed a free slot. */
  waker: SlotWaker;
}

export interface WaitForSlotOutput {
  /** `taken`: the step's token is completed, the job goes on; `waiting`: it waits to be woken. */
  slot: 'taken' | 'waiting';
}

/**
 * The `WaitForSlot` step (`.waitForTaskToken`, before Submit): takes a Runware slot for the attempt, or leaves the
 * step's task token on the attempt's place in the queue and returns, so the execution waits without costing
 * anything until whoever frees a slot completes the token (`exitAttempt` / `takeSlot` in core/holdings.ts). With
 * the slot taken, it completes its own token at once. The step times out now and then (lib/slot-wait.ts) and runs
 * again, which refreshes the waiter's heartbeat and token; past the job's hard deadline it throws
 * WaitDeadlineError instead.
 */
export async function waitForSlot(
  input: StepInput & { taskToken: string },
  deps: WaitForSlotDeps,
): Promise<WaitForSlotOutput> {
  const job = await loadAttempt(deps.jobs, input);
  if (await takeSlot(deps, job, input.taskToken)) {
    await deps.waker.wake(input.taskToken);
    return { slot: 'taken' };
  }
  // Past the deadline this throws; otherwise the job is QUEUED and waits for its token to be completed.
  const reason = await waiting(
    job,
    deps,
    new NoSlotError(`All ${deps.maxConcurrentTasks} Runware slots are taken.`),
  );
  if (!(reason instanceof NoSlotError)) throw reason;
  return { slot: 'waiting' };
}
