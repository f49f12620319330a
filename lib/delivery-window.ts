/**
 * How long Runware must keep a finished video at its URL (`ttl`) for this deployment to be sure to fetch it: the
 * state machine's own retry settings for the steps that need the video, in one place, so that the state machine
 * (lib/workflow.ts, lib/pipeline-functions.ts) and the `ttl` bounds (lib/settings.ts) cannot drift apart.
 * Plain numbers only: lib/settings.ts reads this file before any construct exists.
 */

/** Retry of every Lambda step on transient errors (lib/workflow.ts `retryTransient`). */
export const TRANSIENT_RETRY = Object.freeze({ intervalSeconds: 2, backoffRate: 2, maxAttempts: 4 });

/** What a step's task timeout adds to its function's timeout (PipelineFunction.taskTimeout). */
export const TASK_TIMEOUT_MARGIN_SECONDS = 30;

/** Function timeouts of the steps between a finished video and its copy in the output bucket. */
export const RECORD_TIMEOUT_SECONDS = 15;
export const DELIVER_TIMEOUT_SECONDS = 900;

/**
 * The longest a step can take with its retries: every attempt (the first and `maxAttempts` retries) may run to its
 * task timeout, and with FULL jitter each pause is at most `intervalSeconds * backoffRate^n`.
 */
export function retryWindowSeconds(functionTimeoutSeconds: number, retry = TRANSIENT_RETRY): number {
  const attempts = retry.maxAttempts + 1;
  let pauses = 0;
  for (let n = 0; n < retry.maxAttempts; n += 1) pauses += retry.intervalSeconds * retry.backoffRate ** n;
  return attempts * (functionTimeoutSeconds + TASK_TIMEOUT_MARGIN_SECONDS) + Math.ceil(pauses);
}

/**
 * The shortest `ttl` that still lets delivery fetch every video: the wait for the result, then Record and Deliver
 * with all their retries. The wait for the result is the job's hard deadline: a video can be made as soon as the
 * task is submitted (after the job starts), and the job may learn of it as late as its last poll, at the hard
 * deadline (a lost webhook, or the other results of a `numberResults > 1` job still being made). Counted this way
 * it holds whether Runware counts `ttl` from the task's acceptance or from the video's generation (undocumented).
 * With the defaults (7200 s deadline): 7200 + 255 (Record) + 4680 (Deliver) = 12,135 s.
 */
export function minResultTtlSeconds(hardDeadlineSeconds: number): number {
  return (
    hardDeadlineSeconds +
    retryWindowSeconds(RECORD_TIMEOUT_SECONDS) +
    retryWindowSeconds(DELIVER_TIMEOUT_SECONDS)
  );
}

/**
 * The `ttl` sent when neither the sidecar nor the deployment names one: the shortest safe value (above), rounded
 * up to a whole hour, a value people can read at a glance: likeness data should not outlive its delivery by much, so
 * the slack stays under an hour. With the defaults: 14,400 s (4 hours).
 */
export function defaultResultTtlSeconds(hardDeadlineSeconds: number): number {
  return Math.ceil(minResultTtlSeconds(hardDeadlineSeconds) / 3600) * 3600;
}
