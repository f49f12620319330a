import { randomUUID } from 'node:crypto';
import { loadAttempt, unansweredSendNote } from '../core/attempt.js';
import type { InputPresigner } from '../core/aws/presign.js';
import { notifyIfDone, type TaskNotifier } from '../core/completion.js';
import {
  JobStateError,
  NoSlotError,
  RunwareBusyError,
  RunwareRejectedError,
  WaitDeadlineError,
} from '../core/errors.js';
import { exitAttempt, takeSlot } from '../core/holdings.js';
import type { JobRecord, StepInput } from '../core/job.js';
import type { RunwareClient } from '../core/runware/client.js';
import type { VideoInferenceTask } from '../core/runware/schemas.js';
import type { JobStore } from '../core/store/jobs.js';
import type { TaskStore } from '../core/store/tasks.js';
import { webhookUrl } from '../core/webhook-token.js';
import { type AdoptionOutcome, continueAdoptedTask } from './adopt.js';
import { type BudgetDeps, reserveBudget } from './reserve-budget.js';

export interface SubmitDeps extends BudgetDeps {
  jobs: JobStore;
  tasks: TaskStore;
  runware: RunwareClient;
  presigner: InputPresigner;
  notifier: TaskNotifier;
  webhook: { baseUrl: string; secret: () => Promise<string> };
  now: () => Date;
  newUUID?: () => string;
}

export interface SubmitOutput {
  taskUUID: string;
  /** What happened to the task on this run of the step. */
  status: 'accepted' | 'already-accepted' | 'already-finished';
  /** Set when the attempt continues the previous attempt's task: what Runware said about it. */
  adopted?: AdoptionOutcome['found'];
}

/**
 * Sends the job to Runware once. The task UUID is created once per attempt and stored, with the step's task
 * token, *before* the call: a retried step reuses it (Runware answers `conflictTaskUUID`, which counts as
 * accepted), so a crash, a timeout or a transient error never pays for a second video; and a webhook that
 * arrives before this function returns finds the token it needs.
 *
 * It first takes a Runware slot (`maxConcurrentTasks`), normally taken already by the `WaitForSlot` step before it
 * (see `waitForSlot`). Without one, the job is QUEUED and the step throws {@link NoSlotError}, which sends the job
 * back to WaitForSlot; when Runware answers that it is at capacity (the slot then given back) it throws
 * {@link RunwareBusyError}, which the state machine retries with backoff. Past the job's hard deadline either
 * throws {@link WaitDeadlineError} instead. With a slot, the job's estimated charge is reserved against the budget
 * (`reserveBudget`); a job it does not fit is not submitted. The slot is given back when the generation has ended
 * (record, fail, sweep).
 *
 * An attempt that took over the previous attempt's task (`job.adoptedTask`, see `adoptableTask`) keeps its task
 * UUID and asks Runware about it before sending anything (see {@link continueAdoptedTask}). Its estimate is
 * reserved too: the adopted task's charge, if any, is what the record step settles.
 */
export async function submitJob(
  input: StepInput & { taskToken: string },
  deps: SubmitDeps,
): Promise<SubmitOutput> {
  const job = await loadAttempt(deps.jobs, input);
  const { settings, media } = job;
  if (!settings || !media) {
    throw new JobStateError('NOT_VALIDATED', `Job ${job.jobId} reached submit without being validated.`);
  }
  if (!(await takeSlot(deps, job))) {
    throw await waiting(
      job,
      deps,
      new NoSlotError(`All ${deps.maxConcurrentTasks} Runware slots are taken.`),
    );
  }
  // Before anything can be charged: the estimate must fit in the budget (else BUDGET_EXCEEDED, slot given back).
  await reserveBudget(job, deps);
  const adopted = job.adoptedTask;
  const taskUUID = await deps.jobs.assignTaskUUID(
    job.jobId,
    job.attempt,
    adopted?.taskUUID ?? (deps.newUUID ?? randomUUID)(),
  );
  const newTask = {
    taskUUID,
    jobId: job.jobId,
    attempt: job.attempt,
    numberResults: settings.numberResults,
    taskToken: input.taskToken,
    createdAt: deps.now().toISOString(),
  };
  if (adopted?.taskUUID === taskUUID) {
    // The previous attempt's task may be in Runware's hands: ask about it, send it only if Runware lacks it.
    let sent: SubmitOutput | undefined;
    const found = await continueAdoptedTask(newTask, deps, async () => {
      sent = await send(job, taskUUID, deps, false);
    });
    if (sent) return { ...sent, adopted: found.found };
    const status = found.found === 'finished' ? 'already-finished' : 'already-accepted';
    return { taskUUID, status, adopted: found.found };
  }
  const task = await deps.tasks.save(newTask);

  // This step ran before (it crashed or timed out) and Runware already answered in between.
  const outcome = await notifyIfDone(task, deps);
  if (outcome.state !== 'pending') return { taskUUID, status: 'already-finished' };
  // The UUID was given out by an earlier run of this step, which may have sent it before it crashed or timed out.
  return send(job, taskUUID, deps, job.taskUUID === taskUUID);
}

/**
 * Sends the task to Runware (its UUID already stored with the step's token) and marks the attempt SUBMITTED.
 * `resend`: an earlier run of the step may have sent it already.
 */
async function send(
  job: JobRecord,
  taskUUID: string,
  deps: SubmitDeps,
  resend: boolean,
): Promise<SubmitOutput> {
  const request = await buildTask(job, taskUUID, deps);
  const answer = await deps.runware.submit(request).catch(async (error: unknown) => {
    if (error instanceof RunwareRejectedError && (error.afterUncertainTry || resend)) {
      // A refusal of a resend is no answer about a send that got none: the next attempt continues this task.
      await deps.jobs.update(job.jobId, job.attempt, { sendUnanswered: true });
      throw new RunwareRejectedError(
        error.code,
        `${error.detail} ${unansweredSendNote(taskUUID)}`,
        error.httpStatus,
      );
    }
    if (!(error instanceof RunwareBusyError)) throw error;
    // Nothing was accepted: the slot goes to another job while this one waits (same task UUID next time).
    await exitAttempt(deps, job, { kind: 'busy' });
    throw await waiting(job, deps, error);
  });
  await deps.jobs.advance(job.jobId, job.attempt, 'SUBMITTED', { taskUUID });
  return { taskUUID, status: answer.status };
}

/**
 * The error that makes the job wait: `reason`, with the job marked QUEUED (stamped the first time only); or,
 * past the job's hard deadline, the error that ends it.
 */
export async function waiting(
  job: JobRecord,
  deps: Pick<SubmitDeps, 'jobs' | 'now'>,
  reason: Error,
): Promise<Error> {
  const now = deps.now();
  if (job.deadline && now.getTime() >= Date.parse(job.deadline)) {
    const since = job.stages.QUEUED ?? job.stages.VALIDATED ?? job.createdAt;
    const minutes = Math.round((now.getTime() - Date.parse(since)) / 60_000);
    const why = reason instanceof NoSlotError ? 'for a free Runware slot' : 'while Runware was busy';
    return new WaitDeadlineError(
      `The job waited ${minutes} min ${why} and reached its hard deadline without being submitted; nothing was ` +
        'charged. Upload one of its files again to retry, or raise maxConcurrentTasks / hardDeadlineSeconds.',
    );
  }
  if (!job.stages.QUEUED) await deps.jobs.advance(job.jobId, job.attempt, 'QUEUED');
  return reason;
}

async function buildTask(job: JobRecord, taskUUID: string, deps: SubmitDeps): Promise<VideoInferenceTask> {
  const settings = job.settings;
  if (!settings) throw new JobStateError('NOT_VALIDATED', `Job ${job.jobId} has no settings.`);
  const [image, audio, secret] = await Promise.all([
    // The normalized copy validation stored (rotated as displayed, first frame, JPEG), never the user's file.
    deps.presigner.presign(job.media?.image.normalized?.key ?? job.inputs.image.key),
    deps.presigner.presign(job.inputs.audio.key),
    deps.webhook.secret(),
  ]);
  return {
    taskType: 'videoInference',
    taskUUID,
    model: settings.model,
    ...(settings.prompt ? { positivePrompt: settings.prompt } : {}),
    inputs: { image, audio },
    outputType: 'URL',
    outputFormat: settings.outputFormat,
    outputQuality: settings.outputQuality,
    deliveryMethod: 'async',
    webhookURL: webhookUrl(deps.webhook.baseUrl, secret, taskUUID),
    includeCost: true,
    numberResults: settings.numberResults,
    ...(settings.safety ? { safety: settings.safety } : {}),
    // How long Runware keeps the video at videoURL: validate made sure delivery has time to fetch it.
    ...(settings.ttl === undefined ? {} : { ttl: settings.ttl }),
  };
}
