import { jobsTable, totalCost, totalEstimate } from '../format.js';
import type { Target } from '../target.js';
import type { Outcome } from './common.js';
import { jobsSince, parseSince, partial } from './since.js';

export async function jobs(target: Target, options: { state?: string; since?: string }): Promise<Outcome> {
  const since = parseSince(options.since);
  const state = options.state?.toUpperCase();
  const listed = await jobsSince(target, since);
  const selected = listed.jobs.filter((j) => !state || j.status === state);
  return {
    json: {
      jobs: selected,
      count: selected.length,
      totalUsd: totalCost(selected),
      estimatedUsd: totalEstimate(selected),
      complete: listed.complete,
    },
    text: `${jobsTable(selected)}${partial(listed.complete)}`,
  };
}
