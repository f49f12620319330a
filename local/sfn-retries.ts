/**
 * Shortened retries for tests (`LocalStepFunctions.retryIntervalMs`): the bounded retriers of a definition wait a
 * fixed, short interval instead of `IntervalSeconds × BackoffRate^n`; open-ended ones keep their timing.
 */

/** Retriers with at most this many attempts are the ones `retryIntervalMs` shortens. */
export const BOUNDED_RETRIES = 10;

/**
 * aws-local-stepfunctions' `retryIntervalOverrides` for `LocalStepFunctions.retryIntervalMs`: per
 * state with a `Retry`, per retrier, the interval in ms, or -1 (the library's "no override") for open-ended ones.
 */
export function shortenedRetries(definition: Record<string, unknown>, ms: number): Record<string, number[]> {
  const overrides: Record<string, number[]> = {};
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      const retry = state.Retry as { MaxAttempts?: number }[] | undefined;
      if (retry) overrides[name] = retry.map((r) => ((r.MaxAttempts ?? 3) <= BOUNDED_RETRIES ? ms : -1));
      for (const branch of (state.Branches as { States: typeof states }[] | undefined) ?? [])
        visit(branch.States);
      const iterator = (state.ItemProcessor ?? state.Iterator) as { States: typeof states } | undefined;
      if (iterator) visit(iterator.States);
    }
  };
  visit(definition.States as Record<string, Record<string, unknown>>);
  return overrides;
}
