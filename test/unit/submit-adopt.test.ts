import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { newAttempt } from '../../lambdas/core/attempt.js';
import { RunwareRejectedError, SupersededAttemptError } from '../../lambdas/core/errors.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import type { TaskPoll } from '../../lambdas/core/runware/client.js';
import { webhookToken } from '../../lambdas/core/webhook-token.js';
import { pollJob } from '../../lambdas/poll/poll.js';
import { type SubmitDeps, submitJob } from '../../lambdas/submit/submit.js';
import { handleWebhook } from '../../lambdas/webhook/webhook.js';
import { useStores } from '../support/harness.js';
import { FakeRunware, RecordingNotifier, result, seedValidatedJob, submitDeps } from '../support/jobs.js';

/**
 * The submit step of an attempt that took over the previous attempt's Runware task (`adoptedTask`): it asks
 * Runware first, and sends at most the same task UUID again, never a new one.
 */

const db = useStores();
let runware: FakeRunware;
let notifier: RecordingNotifier;
let deps: SubmitDeps;
const now = () => new Date('2026-11-24T10:01:00Z');

beforeEach(() => {
  runware = new FakeRunware();
  notifier = new RecordingNotifier();
  deps = submitDeps(db, runware, notifier, {
    now,
    newUUID: () => {
      throw new Error('an adopting attempt must never make a new task UUID');
    },
  });
});

/** Attempt 2 of a job whose attempt 1 gave out `taskUUID` (and stored its lookup, unless `stored` is false). */
async function adopting(options: { stored?: boolean } = {}): Promise<{ job: JobRecord; taskUUID: string }> {
  const taskUUID = randomUUID();
  const job = await seedValidatedJob(db.jobs, {
    attempt: 2,
    adoptedTask: { taskUUID, fromAttempt: 1 },
    history: [{ attempt: 1, status: 'FAILED', taskUUID, stages: { SUBMITTED: '2026-11-24T09:00:00.000Z' } }],
  });
  if (options.stored !== false) {
    await db.tasks.save({
      taskUUID,
      jobId: job.jobId,
      attempt: 1,
      numberResults: 1,
      taskToken: 'token-of-attempt-1',
      createdAt: '2026-11-24T09:00:00.000Z',
    });
  }
  return { job, taskUUID };
}

const finished = (taskUUID: string): TaskPoll => {
  const r = result(1);
  return {
    results: [
      { taskType: 'videoInference', taskUUID, videoUUID: r.videoUUID, videoURL: r.videoURL, cost: 2.5 },
    ],
    pending: 0,
    errors: [],
  };
};

const unknown: TaskPoll = {
  results: [],
  pending: 0,
  errors: [{ code: 'taskNotFound', message: 'No task with this taskUUID was found.' }],
  unknownTask: true,
};

describe("submit of an attempt that adopted the previous attempt's task", () => {
  it('goes straight to the result when Runware has it: no new request, the new token is told', async () => {
    const { job, taskUUID } = await adopting();
    runware.pollAnswer = finished(taskUUID);
    const out = await submitJob({ jobId: job.jobId, attempt: 2, taskToken: 'token-2' }, deps);

    expect(out).toEqual({ taskUUID, status: 'already-finished', adopted: 'finished' });
    expect(runware.polled).toEqual([taskUUID]);
    expect(runware.submitted).toEqual([]);
    expect(notifier.successes).toEqual([{ taskToken: 'token-2', output: { taskUUID, results: 1 } }]);
    expect(await db.tasks.get(taskUUID)).toMatchObject({
      attempt: 2,
      taskToken: 'token-2',
      completedAt: expect.any(String),
      results: { [result(1).videoUUID]: expect.objectContaining({ cost: 2.5 }) },
    });
    expect(await db.jobs.get(job.jobId)).toMatchObject({ status: 'SUBMITTED', taskUUID });
    await db.slots.release(job.jobId, 2);
  });

  it('sends nothing while Runware is still processing it; the poller then finishes it under the new attempt', async () => {
    const { job, taskUUID } = await adopting();
    const out = await submitJob({ jobId: job.jobId, attempt: 2, taskToken: 'token-2' }, deps);

    expect(out).toEqual({ taskUUID, status: 'already-accepted', adopted: 'processing' });
    expect(runware.submitted).toEqual([]);
    expect(notifier.successes).toEqual([]);
    const task = await db.tasks.get(taskUUID);
    expect(task).toMatchObject({ attempt: 2, taskToken: 'token-2' });
    expect(task?.completedAt).toBeUndefined();
    expect(await db.jobs.get(job.jobId)).toMatchObject({ status: 'SUBMITTED', taskUUID });

    // The step retried (crash, timeout): still no request, the token rotates.
    await submitJob({ jobId: job.jobId, attempt: 2, taskToken: 'token-2b' }, deps);
    expect(runware.submitted).toEqual([]);
    expect(await db.tasks.get(taskUUID)).toMatchObject({ attempt: 2, taskToken: 'token-2b' });

    // The poller accepts the result for the new attempt, and refuses the old one.
    runware.pollAnswer = finished(taskUUID);
    const pollDeps = { jobs: db.jobs, tasks: db.tasks, runware, now };
    await expect(pollJob({ jobId: job.jobId, attempt: 1 }, pollDeps)).rejects.toBeInstanceOf(
      SupersededAttemptError,
    );
    await expect(pollJob({ jobId: job.jobId, attempt: 2 }, pollDeps)).resolves.toEqual({
      done: true,
      waitSeconds: 0,
    });
    await db.slots.release(job.jobId, 2);
  });

  it("completes the new attempt's step when the adopted task's webhook comes in", async () => {
    const { job, taskUUID } = await adopting();
    await submitJob({ jobId: job.jobId, attempt: 2, taskToken: 'token-2' }, deps);
    const r = result(1);
    const body = {
      data: [{ taskType: 'videoInference', taskUUID, videoUUID: r.videoUUID, videoURL: r.videoURL }],
    };
    const answer = await handleWebhook(
      {
        method: 'POST',
        taskUUID,
        token: webhookToken('secret', taskUUID),
        contentType: 'application/json',
        body: JSON.stringify(body),
      },
      {
        tasks: db.tasks,
        jobs: db.jobs,
        budget: db.budget,
        notifier,
        secret: async () => 'secret',
        now,
        maxBodyBytes: 256 * 1024,
      },
    );
    expect(answer.statusCode).toBe(200);
    expect(notifier.successes).toEqual([{ taskToken: 'token-2', output: { taskUUID, results: 1 } }]);
    await db.slots.release(job.jobId, 2);
  });

  it('sends the task under the same UUID when Runware does not know it (never accepted)', async () => {
    const { job, taskUUID } = await adopting();
    runware.pollAnswer = unknown;
    const out = await submitJob({ jobId: job.jobId, attempt: 2, taskToken: 'token-2' }, deps);

    expect(out).toEqual({ taskUUID, status: 'accepted', adopted: 'unknown' });
    expect(runware.submitted.map((t) => t.taskUUID)).toEqual([taskUUID]);
    expect(await db.tasks.get(taskUUID)).toMatchObject({ attempt: 2, taskToken: 'token-2' });
    expect(await db.jobs.get(job.jobId)).toMatchObject({ status: 'SUBMITTED', taskUUID });
    await db.slots.release(job.jobId, 2);
  });

  it('stores the lookup when the previous attempt gave out the UUID but never stored it', async () => {
    const { job, taskUUID } = await adopting({ stored: false });
    runware.pollAnswer = unknown;
    await submitJob({ jobId: job.jobId, attempt: 2, taskToken: 'token-2' }, deps);
    expect(runware.submitted.map((t) => t.taskUUID)).toEqual([taskUUID]);
    expect(await db.tasks.get(taskUUID)).toMatchObject({
      jobId: job.jobId,
      attempt: 2,
      taskToken: 'token-2',
    });
    await db.slots.release(job.jobId, 2);
  });

  it('tells the new token a result the previous attempt already recorded, without asking Runware', async () => {
    const { job, taskUUID } = await adopting();
    await db.tasks.addResult(taskUUID, result(1));
    await db.tasks.markCompleted(taskUUID, '2026-11-24T09:30:00.000Z');

    const out = await submitJob({ jobId: job.jobId, attempt: 2, taskToken: 'token-2' }, deps);
    expect(out).toMatchObject({ status: 'already-finished', adopted: 'finished' });
    expect(runware.polled).toEqual([]);
    expect(runware.submitted).toEqual([]);
    expect(notifier.successes.map((s) => s.taskToken)).toEqual(['token-2']);
    await db.slots.release(job.jobId, 2);
  });

  it('keeps a superseded attempt from taking the task back', async () => {
    const { job, taskUUID } = await adopting();
    await submitJob({ jobId: job.jobId, attempt: 2, taskToken: 'token-2' }, deps);
    const superseded = {
      taskUUID,
      jobId: job.jobId,
      attempt: 1,
      numberResults: 1,
      taskToken: 'token-of-attempt-1-again',
      createdAt: '2026-11-24T09:00:00.000Z',
    };
    await expect(db.tasks.save(superseded)).rejects.toBeInstanceOf(SupersededAttemptError);
    await expect(db.tasks.adopt(superseded)).rejects.toBeInstanceOf(SupersededAttemptError);
    await expect(db.tasks.adopt({ ...superseded, attempt: 3, jobId: 'another-job' })).rejects.toBeInstanceOf(
      SupersededAttemptError,
    );
    expect(await db.tasks.get(taskUUID)).toMatchObject({ attempt: 2, taskToken: 'token-2' });
    await db.slots.release(job.jobId, 2);
  });

  it.each([
    [401, 'RUNWARE_UNAUTHORIZED', 'API key'],
    [402, 'RUNWARE_INSUFFICIENT_BALANCE', 'Top up'],
  ] as const)(
    'a refused lookup (%i) fails the attempt with what to fix, and the next attempt adopts the same task',
    async (status, code, fix) => {
      const { job, taskUUID } = await adopting();
      runware.getResponse = async (uuid) => {
        runware.polled.push(uuid);
        const advice = status === 401 ? 'Check the API key.' : 'Top up your Runware balance.';
        throw new RunwareRejectedError(code, `Runware rejected the status request. ${advice}`, status);
      };
      const error = await submitJob({ jobId: job.jobId, attempt: 2, taskToken: 'token-2' }, deps).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RunwareRejectedError);
      const refused = error as RunwareRejectedError;
      expect(refused.code).toBe(code);
      expect(refused.httpStatus).toBe(status);
      expect(refused.detail).toContain(fix);
      expect(refused.detail).toContain(`the retry continues that same task`);
      expect(refused.detail).toContain(taskUUID);
      expect(runware.submitted).toEqual([]);

      // The fail step records the refusal; the next attempt (a new upload, or `retry`) keeps the task UUID.
      const at = '2026-11-24T10:02:00.000Z';
      const failed = await db.jobs.fail(job.jobId, 2, {
        stage: 'SUBMITTED',
        code,
        message: refused.detail,
        at,
      });
      if (!failed) throw new Error('attempt 2 should have failed');
      const next = newAttempt(
        { jobId: job.jobId, stem: job.stem, inputs: job.inputs, claimedBy: 'retry:test', now: at },
        failed,
      );
      expect(next.adoptedTask).toEqual({ taskUUID, fromAttempt: 2 });
      await db.slots.release(job.jobId, 2);
    },
  );

  it('a refused poll of a task the attempt sent says the retry continues it', async () => {
    const { job, taskUUID } = await adopting();
    await submitJob({ jobId: job.jobId, attempt: 2, taskToken: 'token-2' }, deps);
    runware.getResponse = async () => {
      throw new RunwareRejectedError('RUNWARE_UNAUTHORIZED', 'Runware rejected the status request.', 401);
    };
    const pollDeps = { jobs: db.jobs, tasks: db.tasks, runware, now };
    const error = await pollJob({ jobId: job.jobId, attempt: 2 }, pollDeps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunwareRejectedError);
    expect((error as RunwareRejectedError).detail).toContain(`task ${taskUUID} may be in its hands`);
    await db.slots.release(job.jobId, 2);
  });
});
