import { type AttemptRef, exitAttempt, type Holdings } from '../core/holdings.js';
import type { JobRecord } from '../core/job.js';
import { endingOf } from '../core/rules/attempt-ending.js';
import { holderOf, ledgerMonths } from '../core/rules/budget-ledger.js';
import type { JobStore } from '../core/store/jobs.js';

export interface ReclaimDeps extends Holdings {
  jobs: JobStore;
  now: () => Date;
}

export interface ReclaimOutput {
  /** Holders (`<jobId>#<attempt>`) whose slot was given back on this run. */
  released: string[];
  /** Waiters taken out of the queue on this run. */
  dequeued: string[];
  /** Attempts (`<jobId>#<attempt>`) whose budget reservation was closed on this run. */
  settled: string[];
}

/**
 * Past its hard deadline a job has failed (DEADLINE_EXCEEDED) or the state machine's own timeout is about to
 * close it (the execution-ended rule then runs the fail step): a slot still held an hour later has leaked.
 */
const LEAK_GRACE_MS = 3_600_000;

/** How many waiters are checked per run; the rest on later runs. */
const WAITERS_PER_RUN = 200;

/**
 * The reaper: closes what job attempts that have ended still hold, through the attempts' one exit: their slots,
 * their places in the queue, and their budget reservations (which would otherwise stay counted as reserved until
 * the month ends, and could refuse later submits). They leak when record or fail never ran: a crash between
 * steps, an execution-ended event that went to the dead-letter queue, a fail step that kept failing. An attempt
 * has ended when its job is gone, a newer attempt replaced it, it reached GENERATED / DELIVERED / FAILED /
 * CANCELLED (or is being cancelled), or it is an hour past its hard deadline. Each reservation is closed as the
 * fail step would have closed it (see `endingOf`): given back unless Runware may have charged the task.
 */
export async function reclaimSlots(deps: ReclaimDeps): Promise<ReclaimOutput> {
  const now = deps.now();
  const out: ReclaimOutput = { released: [], dequeued: [], settled: [] };
  /** Exits the attempt if it has ended; whether it had. */
  const reap = async (who: AttemptRef): Promise<{ slotReleased: boolean } | undefined> => {
    const job = await deps.jobs.get(who.jobId);
    if (!ended(job, who.attempt, now.getTime())) return undefined;
    const exit = await exitAttempt(deps, who, endingOf(job, who.attempt));
    if (exit.settlement) out.settled.push(holderOf(who.jobId, who.attempt));
    return exit;
  };
  for (const holder of await deps.slots.holders()) {
    if ((await reap(holder))?.slotReleased) out.released.push(holder.holder);
  }
  for (const waiter of await deps.slots.waiters(WAITERS_PER_RUN)) {
    if (await reap(waiter)) out.dequeued.push(holderOf(waiter.jobId, waiter.attempt));
  }
  // Reservations of ended attempts that held no slot any more (the slot was given back, the budget not).
  for (const month of ledgerMonths(now)) {
    for (const reservation of Object.values((await deps.budget.month(month)).reservations)) {
      await reap(reservation);
    }
  }
  return out;
}

function ended(job: JobRecord | undefined, attempt: number, now: number): boolean {
  if (!job || job.attempt !== attempt) return true;
  if (job.status === 'GENERATED' || job.status === 'DELIVERED' || job.status === 'FAILED') return true;
  // A cancelled attempt, or one being cancelled: no step of it can use a slot any more.
  if (job.status === 'CANCELLED' || job.cancel !== undefined) return true;
  return job.deadline !== undefined && now > Date.parse(job.deadline) + LEAK_GRACE_MS;
}
