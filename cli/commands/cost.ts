import { totalCost, totalEstimate, unknownCostCount, usd } from '../format.js';
import type { Target } from '../target.js';
import type { Outcome } from './common.js';
import { jobsSince, parseSince, partial } from './since.js';

export async function cost(target: Target, options: { since?: string }): Promise<Outcome> {
  const since = parseSince(options.since);
  const { jobs: all, complete } = await jobsSince(target, since);
  const paid = all.filter((j) => j.costUsd !== undefined || j.costUnknown);
  const unknown = unknownCostCount(all);
  const total = totalCost(all);
  const estimated = totalEstimate(all);
  const from = since ? ` since ${since.toISOString()}` : '';
  return {
    json: {
      since: since?.toISOString(),
      jobs: all.length,
      paidJobs: paid.length,
      unknownCostJobs: unknown,
      totalUsd: total,
      estimatedUsd: estimated,
      complete,
    },
    text:
      `${usd(total)} recorded for ${paid.length} of ${all.length} job(s)${from}; ` +
      `their estimates total ${usd(estimated)}.` +
      (unknown
        ? ` Runware reported no cost for ${unknown} of them: their estimate is counted in the total instead.`
        : '') +
      partial(complete),
  };
}
