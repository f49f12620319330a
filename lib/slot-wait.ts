/**
 * How the submit step waits for a Runware slot, or for Runware to take work again: a Retry of the step with
 * backoff and full jitter, ended by the job's hard deadline (the submit function then throws WaitDeadlineError).
 *
 * A Standard workflow's history holds at most 25,000 events, and each retry of the Lambda task adds about five.
 * With full jitter a retry waits maxDelay / 2 on average once the backoff has reached its ceiling, so the ceiling
 * grows with the deadline: `hardDeadlineSeconds / 1000` (at least 60 s) keeps even a 7-day deadline to about 2,000
 * retries, 10,000 events. `maxAttempts` is only a backstop (about 15,000 events), never reached before the
 * deadline on average.
 */
export interface SlotWait {
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  readonly maxDelaySeconds: number;
  readonly maxAttempts: number;
}

export function slotWait(hardDeadlineSeconds: number): SlotWait {
  return {
    intervalSeconds: 2,
    backoffRate: 1.5,
    maxDelaySeconds: Math.max(60, Math.ceil(hardDeadlineSeconds / 1000)),
    maxAttempts: 3000,
  };
}

/** A waiting job not heard from for this long is skipped in the queue: it missed three of its longest waits. */
export function staleWaiterSeconds(wait: SlotWait, submitTimeoutSeconds: number): number {
  return 3 * wait.maxDelaySeconds + submitTimeoutSeconds;
}
