import { describeJob } from '../format.js';
import type { Target } from '../target.js';
import { findJob, type Outcome } from './common.js';

export async function status(target: Target, ref: string): Promise<Outcome> {
  const job = await findJob(target, ref);
  return { json: job, text: describeJob(job, target.names.outputBucket) };
}
