import type { JobRecord } from '../job.js';

/**
 * How an attempt's hold on a Runware slot and on a budget reservation ends, without I/O. Every ending gives the
 * slot back (and the attempt's place in the queue for one); what happens to the reservation depends on how the
 * attempt ended. `holdings.ts` applies it.
 */
export type AttemptEnding =
  /** Record: Runware reported the results and what they cost (undefined: no cost for some result). */
  | { kind: 'recorded'; costUsd: number | undefined }
  /**
   * Fail, a cancel, an execution that timed out or was aborted (by a stop, or cut off by a restart), the reaper:
   * `accepted` when Runware may have the task (and charge it), `cancelled` when an operator cancelled it (its
   * charge may then be reported later and correct the count).
   */
  | { kind: 'ended'; accepted: boolean; cancelled: boolean }
  /** Runware is at capacity (429, 503): the slot goes to another job while this one waits; it keeps its reservation. */
  | { kind: 'busy' }
  /** The budget refused the estimate: nothing was reserved. */
  | { kind: 'refused' };

/** What becomes of the attempt's reservation. */
export type ReservationFate =
  | { kind: 'keep' }
  /** Nothing was charged: the estimate is given back. */
  | { kind: 'release' }
  /** Counted as spent: Runware's charge, or the estimate when it is unknown (`actualUsd` undefined). */
  | { kind: 'settle'; actualUsd: number | undefined; lateChargeMayCome: boolean };

/**
 * Runware charges only for a task it accepted: before that the reservation is given back; after it (the cost never
 * reported, or the job cancelled) the estimate stays counted as spent, and for a cancelled task the budget keeps the
 * count that a late charge corrects. Recorded results replace the estimate by their cost.
 */
export function reservationFate(ending: AttemptEnding): ReservationFate {
  switch (ending.kind) {
    case 'recorded':
      return { kind: 'settle', actualUsd: ending.costUsd, lateChargeMayCome: false };
    case 'ended':
      return ending.accepted
        ? { kind: 'settle', actualUsd: undefined, lateChargeMayCome: ending.cancelled }
        : { kind: 'release' };
    case 'busy':
    case 'refused':
      return { kind: 'keep' };
  }
}

/**
 * How attempt `attempt` of `job` (as read now; undefined when the job is gone) ended, for the fail step and for the
 * reaper, which closes what an attempt still holds when record or fail never ran for it. An attempt that reached
 * GENERATED has its cost recorded (record wrote it with the status); one that reached SUBMITTED may have been
 * charged; any other (never submitted, replaced by a newer attempt, or its job gone) was not.
 */
export function endingOf(job: JobRecord | undefined, attempt: number): AttemptEnding {
  if (!job || job.attempt !== attempt) return { kind: 'ended', accepted: false, cancelled: false };
  if (job.stages.GENERATED !== undefined) return { kind: 'recorded', costUsd: job.costUsd };
  return { kind: 'ended', accepted: job.stages.SUBMITTED !== undefined, cancelled: job.cancel !== undefined };
}
