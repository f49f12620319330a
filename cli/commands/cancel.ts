import { executionArnOf, SfnExecutionStopper } from '../../lambdas/core/aws/executions.js';
import { requestCancel } from '../../lambdas/core/cancel.js';
import { errorOutputKey } from '../../lambdas/core/contract/keys.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { CliError, EXIT } from '../errors.js';
import { statusWords } from '../format.js';
import type { Target } from '../target.js';
import { findJob, isTerminal, type Outcome, operator } from './common.js';

export interface CancelOptions {
  /** How long to wait for the job to end CANCELLED once its execution is stopped. @default 60 */
  timeoutSeconds?: number;
  by?: string;
}

/**
 * Stops a running job: marks the cancel, stops its execution (which gives back its Runware slot), and waits for
 * the job to end CANCELLED. Refused (exit 6) for a job that has ended or whose video is already made.
 */
export async function cancel(target: Target, ref: string, o: CancelOptions = {}): Promise<Outcome> {
  const job = await findJob(target, ref);
  const outcome = await requestCancel(job, o.by ?? operator(), {
    jobs: target.jobs,
    executions: new SfnExecutionStopper(target.sfn),
    executionArnOf: (name) => executionArnOf(target.names.stateMachineArn, name),
    now: () => new Date(),
  });
  if (outcome.kind === 'refused')
    throw new CliError(
      `Cannot cancel ${job.stem} (job ${job.jobId}, ${statusWords(outcome.job)}): ${outcome.reason}`,
      EXIT.wrongState,
      'NOT_CANCELLABLE',
    );
  // The fail function finishes the cancel when the stopped execution's end reaches it: seconds.
  const deadline = Date.now() + (o.timeoutSeconds ?? 60) * 1000;
  let current: JobRecord = outcome.job;
  for (;;) {
    current = (await target.jobs.get(job.jobId)) ?? current;
    if (current.attempt !== job.attempt || isTerminal(current) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const cancelled = current.attempt === job.attempt && current.status === 'CANCELLED';
  const taskAccepted = current.taskAccepted ?? outcome.taskAccepted;
  const during = outcome.job.cancel?.during ?? job.status;
  const lines = cancelled
    ? [
        `Cancelled ${job.stem} (job ${job.jobId}, attempt ${job.attempt}) at ${during}${during === 'QUEUED' ? ' (it was waiting for a Runware slot)' : ''}.`,
        taskAccepted
          ? `Runware had already accepted task ${current.taskUUID}: it cannot be recalled, and its charge may still come. ` +
            `If it does, it is recorded on the job (see: avatar-pipeline status ${job.stem}); the video is not delivered.`
          : current.taskUUID
            ? `Runware may have received task ${current.taskUUID} just before the cancel: if so, its charge may still ` +
              `come and is recorded on the job (see: avatar-pipeline status ${job.stem}).`
            : 'Runware never got the task: nothing was charged.',
        'Its Runware slot was given back.',
        `Report: s3://${target.names.outputBucket}/${errorOutputKey(job.stem)}`,
        `Start it again with the same inputs: avatar-pipeline retry ${job.stem}`,
      ]
    : [
        `Asked to cancel ${job.stem} (job ${job.jobId}); its execution was ${outcome.execution}. It is ${statusWords(current)} now.`,
        current.status === 'FAILED' || current.status === 'DELIVERED'
          ? 'It ended before the cancel could stop it.'
          : `It ends CANCELLED as soon as its execution stops. Follow it with: avatar-pipeline status ${job.stem}`,
      ];
  return {
    json: { job: current, cancelled, taskAccepted, execution: outcome.execution },
    text: lines.join('\n'),
  };
}
