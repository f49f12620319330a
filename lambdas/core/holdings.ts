import { type AttemptEnding, type ReservationFate, reservationFate } from './rules/attempt-ending.js';
import type { BudgetLimits, LateCharge, ReserveOutcome, Settlement } from './rules/budget-ledger.js';
import { freeSlots } from './rules/slot-queue.js';
import type { BudgetStore } from './store/budget.js';
import type { SlotStore, SlotWaker, WakeCandidate } from './store/slots.js';

/**
 * What a job attempt holds while it runs: a Runware slot (or its place in the queue for one) and a budget
 * reservation of its estimated charge. This module is the one place they are taken and given back: every ending of
 * an attempt (record, fail, a cancel, a 429, a budget refusal, the reaper, an execution aborted by a stop or cut
 * off by a restart) goes through {@link exitAttempt}, so none can forget one of them. Here too, a slot given back
 * (or seen free and owed to others) wakes the waiters it is owed to: the store only reads and writes the items.
 */
export interface Holdings extends SlotDeps {
  budget: BudgetStore;
}

/** The Runware slots as a function takes and gives them back (made from the environment by `slot-wake.ts`). */
export interface SlotDeps {
  slots: SlotStore;
  /** The cap: at most this many slots are held at once. It says what a take may fill and what a release left free. */
  maxConcurrentTasks: number;
  /**
   * Completes the tokens of the waiting steps that free slots are owed to. Without one (tests), nobody is woken: a
   * waiter finds its slot at its next timed ask.
   */
  waker?: SlotWaker;
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
 * Takes a Runware slot for the attempt (one of `maxConcurrentTasks`) if one is free and no older live waiter is owed
 * it; true when it holds one. Otherwise it waits in the queue, with `taskToken` to be woken by. A free slot it may
 * not take, being owed to older waiters, means a wake was lost (a releaser that crashed): they are woken.
 */
export async function takeSlot(deps: SlotDeps, who: AttemptRef, taskToken?: string): Promise<boolean> {
  const ask = await deps.slots.acquire(who.jobId, who.attempt, deps.maxConcurrentTasks, taskToken);
  if (ask.owed > 0) await wakeFree(deps, ask.owed);
  return ask.taken;
}

/** Gives the attempt's slot back, then wakes the waiters the free slots are owed to; false when it held none. */
async function giveSlotBack(deps: SlotDeps, who: AttemptRef): Promise<boolean> {
  const left = await deps.slots.release(who.jobId, who.attempt);
  if (!left) return false;
  await wakeFree(deps, freeSlots(deps.maxConcurrentTasks, left.held));
  return true;
}

/**
 * Wakes the oldest live waiters with a token, as many as `slotsFree`; how many were woken. A waiter without a token
 * counts as woken (it is on its way to take its slot), and so does one another releaser claimed first. A token no
 * step waits on any more means the waiter's step timed out or its execution ended: it is not owed a slot any more,
 * the next waiter is.
 */
async function wakeFree(deps: SlotDeps, slotsFree: number): Promise<number> {
  const { slots, waker } = deps;
  let free = slotsFree;
  if (!waker || free <= 0) return 0;
  let woken = 0;
  for await (const waiter of slots.wakeCandidates(free)) {
    const outcome = waiter.taskToken ? await wakeOne(slots, waker, waiter, waiter.taskToken) : 'pending';
    if (outcome === 'gone') continue;
    free -= 1;
    if (outcome === 'woken') woken += 1;
    if (free <= 0) break; // before the next candidate is read
  }
  return woken;
}

/** Claims the waiter's token (two releasers never both use it), then completes it. */
async function wakeOne(
  slots: SlotStore,
  waker: SlotWaker,
  waiter: WakeCandidate,
  token: string,
): Promise<'woken' | 'gone' | 'pending'> {
  // Not claimed: another releaser woke it, or it asked again with a new token.
  if (!(await slots.claimToken(waiter, token))) return 'pending';
  if ((await waker.wake(token)) === 'delivered') return 'woken';
  await slots.dropUnwaited(waiter);
  return 'gone';
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
  const slotReleased = await giveSlotBack(deps, who);
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
