import { SfnExecutionStarter } from '../../lambdas/core/aws/executions.js';
import { retryJob } from '../../lambdas/core/retry.js';
import { CliError, EXIT } from '../errors.js';
import { statusWords } from '../format.js';
import type { Target } from '../target.js';
import { ending, type FollowOptions, findJob, follow, isTerminal, type Outcome, operator } from './common.js';

export interface RetryOptions extends FollowOptions {
  wait: boolean;
  by?: string;
}

/**
 * Starts the next attempt of a FAILED or CANCELLED job with the same inputs, without uploading them again.
 * Refused (exit 6) for a running or delivered job, or one whose inputs changed in the inbox since.
 */
export async function retry(target: Target, ref: string, o: RetryOptions): Promise<Outcome> {
  const job = await findJob(target, ref);
  const started = new Date();
  const outcome = await retryJob(job, o.by ?? operator(), {
    jobs: target.jobs,
    files: target.files,
    executions: new SfnExecutionStarter(target.sfn, target.names.stateMachineArn),
    now: () => started,
  });
  if (outcome.kind === 'refused')
    throw new CliError(
      `Cannot retry ${job.stem} (job ${job.jobId}, ${statusWords(outcome.job)}): ${outcome.reason}`,
      EXIT.wrongState,
      outcome.code,
    );
  const next = outcome.job;
  if (!o.wait)
    return {
      json: { job: next, executionArn: outcome.executionArn },
      text:
        `Started attempt ${next.attempt} of ${next.stem} (job ${next.jobId}) with the same inputs.\n` +
        `Follow it with: avatar-pipeline status ${next.stem}`,
    };
  const final = await follow(
    () => target.jobs.get(next.jobId),
    (j) => j.attempt !== next.attempt || isTerminal(j),
    started,
    next.stem,
    o,
  );
  return ending(target, final);
}
