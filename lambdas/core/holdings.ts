import { type AttemptEnding, type ReservationFate, reservationFate } from './rules/attempt-ending.js';
import type { BudgetLimits, LateCharge, ReserveOutcome, Settlement } from './rules/budget-ledger.js';
import type { BudgetStore } from './store/budget.js';
import type { SlotStore } from './store/slots.js';

/**
 * What a job attempt holds while it runs: a Runware slot (or its place in the queue for one) and a budget
 * reservation of its estimated charge. This module is the one place they are taken and given back: every ending of
 * an attempt (record, fail, a cancel, a 429, a budget refusal, the reaper, an execution aborted by a stop or cut
 * off by a restart) goes through {@link exitAttempt}, so none can forget one of them.
 */
export interface Holdings {
  slots: SlotStore;
  budget: BudgetStore;
}

/** The attempt that holds. */
export interface AttemptRef {
  jobId: string;
  attempt: number;
}

/** What {@link exitAttempt} gave back on this call (nothing when an earlier call had: it is idempotent). */
export interface AttemptExit {
  /** The attempt held a slot and gave it back now. */
  slotReleased: boolean;
  /** The reservation closed now, and how (released: nothing counted as spent). */
  settlement: Settlement | undefined;
}

/**
 * Takes a Runware slot for the attempt (one of `max`) if one is free and no older live waiter is owed it; true
 * when it holds one. Otherwise it waits in the queue, with `taskToken` to be woken by.
 */
export function takeSlot(
  deps: Pick<Holdings, 'slots'>,
  who: AttemptRef,
  max: number,
  taskToken?: string,
): Promise<boolean> {
  return deps.slots.acquire(who.jobId, who.attempt, max, taskToken);
}

/** Reserves the attempt's estimated charge if the day and the month both have room; idempotent per attempt. */
export function reserveEstimate(
  deps: Pick<Holdings, 'budget'>,
  who: AttemptRef,
  estimateUsd: number,
  limits: BudgetLimits,
): Promise<ReserveOutcome> {
  return deps.budget.reserve(who.jobId, who.attempt, estimateUsd, limits);
}

/**
 * The one exit: closes the attempt's reservation as its ending says ({@link reservationFate}), then gives its slot
 * back (which wakes the waiters the freed slot is owed to). The budget goes first, so that a woken job finds the
 * money freed. Idempotent: each part is a conditional write that changes nothing the second time, so any ending may
 * run again (a retried step, the fail step and the reaper both closing the same attempt).
 */
export async function exitAttempt(
  deps: Holdings,
  who: AttemptRef,
  ending: AttemptEnding,
): Promise<AttemptExit> {
  const settlement = await closeReservation(deps.budget, who, reservationFate(ending));
  const slotReleased = await deps.slots.release(who.jobId, who.attempt);
  return { slotReleased, settlement };
}

function closeReservation(
  budget: BudgetStore,
  who: AttemptRef,
  fate: ReservationFate,
): Promise<Settlement | undefined> {
  switch (fate.kind) {
    case 'keep':
      return Promise.resolve(undefined);
    case 'release':
      return budget.release(who.jobId, who.attempt);
    case 'settle':
      return budget.settle(who.jobId, who.attempt, fate.actualUsd, {
        lateChargeMayCome: fate.lateChargeMayCome,
      });
  }
}

/**
 * A cancelled attempt's charge, reported after its exit: the budget counts it instead of what it counted (the
 * estimate, or a reservation not closed yet). Idempotent: the same charge again adds nothing (`newUsd` 0).
 */
export function chargeLate(
  deps: Pick<Holdings, 'budget'>,
  who: AttemptRef,
  usd: number,
): Promise<LateCharge | undefined> {
  return deps.budget.chargeLate(who.jobId, who.attempt, usd);
}
