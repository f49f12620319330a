/**
 * How a job waits for a Runware slot, or for Runware to take work again, until the job's hard deadline (the
 * submit function then throws WaitDeadlineError).
 *
 * - For a slot: the `WaitForSlot` step (`.waitForTaskToken`) leaves its task token on the job's place in the
 *   queue; whoever frees a slot completes the tokens of the oldest waiters (lambdas/core/holdings.ts), so a
 *   freed slot is taken within a second and a waiting job costs no state transition. The step times out after
 *   `wakeTimeoutSeconds` and runs again (a Retry of States.Timeout): that refreshes the waiter's heartbeat (so it
 *   is not skipped as lapsed) and its token, and takes a slot whose wake was lost.
 * - While Runware is busy (429 / 503 / 504): a Retry of the Submit step with backoff and full jitter.
 *
 * A Standard workflow's history holds at most 25,000 events. Each round of WaitForSlot adds about five; each
 * retry of Submit about five too. Both intervals grow with the deadline: `hardDeadlineSeconds / 1000` (at least
 * 60 s) keeps even a 7-day deadline to about 1,000 rounds of WaitForSlot (5,000 events) or, with full jitter
 * (maxDelay / 2 on average), about 2,000 retries of Submit (10,000 events). `maxAttempts` are only backstops,
 * never reached before the deadline on average.
 */
export interface SlotWait {
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  readonly maxDelaySeconds: number;
  readonly maxAttempts: number;
  /** How long WaitForSlot waits to be woken before it asks again. */
  readonly wakeTimeoutSeconds: number;
  /** Backstop on WaitForSlot's rounds: twice as many as fit before the deadline. */
  readonly wakeMaxAttempts: number;
}

export function slotWait(hardDeadlineSeconds: number): SlotWait {
  const ceiling = Math.max(60, Math.ceil(hardDeadlineSeconds / 1000));
  return {
    intervalSeconds: 2,
    backoffRate: 1.5,
    maxDelaySeconds: ceiling,
    maxAttempts: 3000,
    wakeTimeoutSeconds: ceiling,
    wakeMaxAttempts: 2 * Math.ceil(hardDeadlineSeconds / ceiling) + 10,
  };
}

/**
 * A waiting job not heard from for this long is skipped in the queue: it missed three of its longest waits
 * (WaitForSlot rounds or Submit retries).
 */
export function waiterLapseSeconds(wait: SlotWait, submitTimeoutSeconds: number): number {
  return 3 * Math.max(wait.maxDelaySeconds, wait.wakeTimeoutSeconds) + submitTimeoutSeconds;
}
