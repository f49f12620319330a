import type { JobRecord } from '../core/job.js';
import type { JobStore } from '../core/store/jobs.js';
import type { SlotStore } from '../core/store/slots.js';

export interface ReclaimDeps {
  jobs: JobStore;
  slots: SlotStore;
  now: () => Date;
}

export interface ReclaimOutput {
  /** Holders (`<jobId>#<attempt>`) whose slot was given back on this run. */
  released: string[];
  /** Waiters taken out of the queue on this run. */
  dequeued: string[];
}

/**
 * Past its hard deadline a job has failed (DEADLINE_EXCEEDED) or the state machine's own timeout is about to
 * close it (the execution-ended rule then runs the fail step): a slot still held an hour later has leaked.
 */
const LEAK_GRACE_MS = 3_600_000;

/** How many waiters are checked per run; the rest on later runs. */
const WAITERS_PER_RUN = 200;

/**
 * The reaper: gives back the slots (and queue places) of job attempts that have ended without giving theirs
 * back (a crash between steps, a fail step that never ran). An attempt has ended when its job is gone, a newer
 * attempt replaced it, it reached GENERATED / DELIVERED / FAILED / CANCELLED (or is being cancelled), or it is an hour past its hard deadline.
 * Normally record and fail give slots back themselves; this makes sure none is held for ever.
 */
export async function reclaimSlots(deps: ReclaimDeps): Promise<ReclaimOutput> {
  const now = deps.now().getTime();
  const released: string[] = [];
  const dequeued: string[] = [];
  for (const holder of await deps.slots.holders()) {
    if (!ended(await deps.jobs.get(holder.jobId), holder.attempt, now)) continue;
    if (await deps.slots.release(holder.jobId, holder.attempt)) released.push(holder.holder);
  }
  for (const waiter of await deps.slots.waiters(WAITERS_PER_RUN)) {
    if (!ended(await deps.jobs.get(waiter.jobId), waiter.attempt, now)) continue;
    await deps.slots.release(waiter.jobId, waiter.attempt);
    dequeued.push(`${waiter.jobId}#${waiter.attempt}`);
  }
  return { released, dequeued };
}

function ended(job: JobRecord | undefined, attempt: number, now: number): boolean {
  if (!job || job.attempt !== attempt) return true;
  if (job.status === 'GENERATED' || job.status === 'DELIVERED' || job.status === 'FAILED') return true;
  // A cancelled attempt, or one being cancelled: no step of it can use a slot any more.
  if (job.status === 'CANCELLED' || job.cancel !== undefined) return true;
  return job.deadline !== undefined && now > Date.parse(job.deadline) + LEAK_GRACE_MS;
}
