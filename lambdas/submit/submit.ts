import { randomUUID } from 'node:crypto';
import { loadAttempt } from '../core/attempt.js';
import { notifyIfDone, type TaskNotifier } from '../core/completion.js';
import { JobStateError } from '../core/errors.js';
import type { JobRecord, StepInput } from '../core/job.js';
import type { InputPresigner } from '../core/presign.js';
import type { RunwareClient } from '../core/runware/client.js';
import type { VideoInferenceTask } from '../core/runware/schemas.js';
import type { JobStore } from '../core/store/jobs.js';
import type { TaskStore } from '../core/store/tasks.js';
import { webhookUrl } from '../core/webhook-token.js';

export interface SubmitDeps {
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
}

/**
 * Sends the job to Runware once. The task UUID is created once per attempt and stored, with the step's task
 * token, *before* the call: a retried step reuses it (Runware answers `conflictTaskUUID`, which counts as
 * accepted), so a crash, a timeout or a transient error never pays for a second video; and a webhook that
 * arrives before this function returns finds the token it needs.
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
  const taskUUID = await deps.jobs.assignTaskUUID(job.jobId, job.attempt, (deps.newUUID ?? randomUUID)());
  const task = await deps.tasks.save({
    taskUUID,
    jobId: job.jobId,
    attempt: job.attempt,
    numberResults: settings.numberResults,
    taskToken: input.taskToken,
    createdAt: deps.now().toISOString(),
  });

  // This step ran before (it crashed or timed out) and Runware already answered in between.
  const outcome = await notifyIfDone(task, deps);
  if (outcome.state !== 'pending') return { taskUUID, status: 'already-finished' };

  const request = await buildTask(job, taskUUID, deps);
  const answer = await deps.runware.submit(request);
  await deps.jobs.advance(job.jobId, job.attempt, 'SUBMITTED', { taskUUID });
  return { taskUUID, status: answer.status };
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
  };
}
