/**
 * The queue policy for Runware slots, without I/O: who may take a free slot (fairness: the oldest live waiters
 * first), who counts as still waiting (heard from lately), how far past the free slots the queue is read, and how
 * long a waiter's item is kept. `store/slots.ts` applies them to the items; tests run them without a table.
 */

/** The key of a holder (and of a waiter): one per job attempt. */
export const holderOf = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;

/** A waiter not heard from for this long is skipped (its execution is gone or stuck). */
export const DEFAULT_LAPSE_AFTER_MS = 300_000;

/** Longer than any job may wait (the largest hard deadline is 7 days). */
export const WAITER_TTL_SECONDS = 8 * 86_400;

/** How many waiters past the free slots are read to find the live ones among them. */
export const WAITER_LOOKAHEAD = 100;

/** What the policy needs of a waiter: its place in the queue and when it last asked. */
export interface QueuedWaiter {
  /** The due-index sort key: when it started waiting, then its holder key. */
  dueSk: string;
  heartbeatAt: string;
}

/** How many of the `max` slots are free when `taken` are held (never below 0). */
export const freeSlots = (max: number, taken: number): number => Math.max(0, max - taken);

/** How many waiters to read from the queue to find who `free` slots are owed to. */
export const queueReadLimit = (free: number): number => free + WAITER_LOOKAHEAD;

/** Whether the waiter asked for a slot within `lapseAfterMs` of `now` (a waiter that stopped asking is skipped). */
export const isLive = (
  waiter: Pick<QueuedWaiter, 'heartbeatAt'>,
  now: string,
  lapseAfterMs: number,
): boolean => Date.parse(waiter.heartbeatAt) >= Date.parse(now) - lapseAfterMs;

/**
 * Fairness: whether `me` may take one of `free` slots, i.e. fewer than `free` live waiters are ahead of it in
 * `listed` (the queue as read, oldest first; it may not show `me` yet).
 */
export function isOwedSlot(
  me: Pick<QueuedWaiter, 'dueSk'>,
  listed: readonly QueuedWaiter[],
  free: number,
  now: string,
  lapseAfterMs: number,
): boolean {
  const ahead = listed.filter((w) => w.dueSk < me.dueSk && isLive(w, now, lapseAfterMs));
  return ahead.length < free;
}

/** The waiters to wake for free slots, in queue order: the live ones (each is then checked and woken in turn). */
export const wakeCandidates = <W extends QueuedWaiter>(
  listed: readonly W[],
  now: string,
  lapseAfterMs: number,
): W[] => listed.filter((w) => isLive(w, now, lapseAfterMs));

/** How long a waiter that took its slot at `now` had waited since `queuedAt`, in whole seconds (0: never). */
export const waitedSeconds = (queuedAt: string, now: string): number =>
  Math.max(0, Math.round((Date.parse(now) - Date.parse(queuedAt)) / 1000));
