import { BudgetExceededError } from '../core/errors.js';
import { exitAttempt, type Holdings, reserveEstimate } from '../core/holdings.js';
import type { JobRecord } from '../core/job.js';
import type { BudgetLimits, ReserveOutcome } from '../core/store/budget.js';

export interface BudgetDeps extends Holdings {
  /** `dailyBudgetUsd` / `monthlyBudgetUsd`; 0 is no limit. */
  budgetLimits: BudgetLimits;
}

/**
 * Reserves the job's estimated charge (recorded by validation) against the daily and monthly budgets, once per
 * attempt: a retried step finds its reservation. Spend is tracked even without limits, so the actual cost always
 * replaces an estimate (record) or the reservation is given back (fail).
 *
 * When the estimate does not fit in what is left, the job is not submitted: its slot goes back at once and
 * {@link BudgetExceededError} ends it, saying which limit, how much of it is left and how to raise it.
 */
export async function reserveBudget(job: JobRecord, deps: BudgetDeps): Promise<void> {
  // A job validated before estimates were recorded reserves nothing, but its actual cost is still counted.
  const estimateUsd = job.estimatedCostUsd ?? 0;
  const outcome = await reserveEstimate(deps, job, estimateUsd, deps.budgetLimits);
  if (outcome.reserved) return;
  await exitAttempt(deps, job, { kind: 'refused' });
  throw new BudgetExceededError(budgetMessage(job, estimateUsd, outcome));
}

const usd = (n: number) => `$${n.toFixed(n < 1 ? 3 : 2)}`;

/** What a person reads in `<stem>.error.json`: the limit, what is left of it, and how to go on. */
export function budgetMessage(
  job: JobRecord,
  estimateUsd: number,
  refusal: Extract<ReserveOutcome, { reserved: false }>,
): string {
  const setting = refusal.limit === 'daily' ? 'dailyBudgetUsd' : 'monthlyBudgetUsd';
  const when = refusal.limit === 'daily' ? 'day' : 'month';
  const basis =
    job.media && job.priceUsdPerSecond !== undefined && job.settings
      ? ` (${job.media.audio.durationSeconds.toFixed(1)} s x ${usd(job.priceUsdPerSecond)}/s x ${job.settings.numberResults} result${job.settings.numberResults === 1 ? '' : 's'})`
      : '';
  // The smallest limit that would have let this job through, rounded up to the cent.
  const needed = Math.ceil((refusal.limitUsd - refusal.leftUsd + estimateUsd) * 100) / 100;
  return (
    `The job's estimated charge of ${usd(estimateUsd)}${basis} does not fit in the ${refusal.limit} budget: ` +
    `${usd(refusal.leftUsd)} of ${usd(refusal.limitUsd)} is left for ${refusal.period} (UTC). It was not ` +
    `submitted and nothing was charged. Wait for the next ${when} (UTC) or raise the limit ` +
    `(cdk deploy -c ${setting}=${needed.toFixed(2)} or more), then upload one of its files again to retry.`
  );
}
