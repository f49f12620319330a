import { beforeEach, describe, expect, it } from 'vitest';
import { adoptableTask } from '../../lambdas/core/attempt.js';
import {
  BudgetExceededError,
  NoSlotError,
  RunwareBusyError,
  RunwareRejectedError,
  TransientError,
  WaitDeadlineError,
} from '../../lambdas/core/errors.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { DynamoBudgetStore } from '../../lambdas/core/store/budget.js';
import { verifyWebhookToken } from '../../lambdas/core/webhook-token.js';
import { type SubmitDeps, submitJob } from '../../lambdas/submit/submit.js';
import { useStores } from '../support/harness.js';
import { FakeRunware, RecordingNotifier, result, seedValidatedJob, submitDeps } from '../support/jobs.js';

let runware: FakeRunware;
const db = useStores();
let notifier: RecordingNotifier;
let deps: SubmitDeps;
let n = 0;
const SECRET = 'webhook-signing-secret';

beforeEach(() => {
  runware = new FakeRunware();
  notifier = new RecordingNotifier();
  deps = submitDeps(db, runware, notifier, {
    webhook: { baseUrl: 'https://hooks.example.com/runware', secret: async () => SECRET },
    now: () => new Date('2026-11-24T10:01:00Z'),
    newUUID: () => `11111111-1111-4111-8111-${(++n).toString().padStart(12, '0')}`,
  });
});

describe('submit', () => {
  it('stores the task UUID and token, then sends one task with presigned inputs and a tokened webhook', async () => {
    const job = await seedValidatedJob(db.jobs);
    const out = await submitJob({ jobId: job.jobId, attempt: 1, taskToken: 'token-1' }, deps);

    expect(out).toEqual({
      taskUUID: expect.stringMatching(/^11111111-1111-4111-8111-\d{12}$/),
      status: 'accepted',
    });
    expect(runware.submitted).toHaveLength(1);
    const task = runware.submitted[0];
    expect(task).toMatchObject({
      taskType: 'videoInference',
      taskUUID: out.taskUUID,
      model: 'klingai:avatar@2.0-pro',
      positivePrompt: 'A calm presenter',
      inputs: {
        image: `https://input.s3.amazonaws.com/${job.inputs.image.key}?X-Amz-Signature=sig`,
        audio: `https://input.s3.amazonaws.com/${job.inputs.audio.key}?X-Amz-Signature=sig`,
      },
      outputFormat: 'MP4',
      outputQuality: 95,
      deliveryMethod: 'async',
      includeCost: true,
      numberResults: 1,
    });
    const hook = new URL(task?.webhookURL ?? '');
    expect(hook.origin + hook.pathname).toBe(`https://hooks.example.com/runware/${out.taskUUID}`);
    expect(verifyWebhookToken(SECRET, out.taskUUID, hook.searchParams.get('token') ?? '')).toBe(true);

    expect(await db.tasks.get(out.taskUUID)).toMatchObject({
      jobId: job.jobId,
      taskToken: 'token-1',
      numberResults: 1,
    });
    expect(await db.jobs.get(job.jobId)).toMatchObject({ status: 'SUBMITTED', taskUUID: out.taskUUID });
  });

  it("sends Runware the normalized copy of the image validation stored, never the user's file", async () => {
    const seeded = await seedValidatedJob(db.jobs);
    const media = seeded.media;
    if (!media) throw new Error('seeded job has media');
    const key = `normalized/${seeded.jobId}/1/image.jpg`;
    await db.jobs.update(seeded.jobId, 1, {
      media: {
        ...media,
        image: {
          ...media.image,
          normalized: { key, format: 'jpeg', width: 720, height: 960, bytes: 1000, sha256: 'b'.repeat(64) },
        },
      },
    });
    await submitJob({ jobId: seeded.jobId, attempt: 1, taskToken: 'token-1' }, deps);
    expect(runware.submitted[0]?.inputs.image).toBe(
      `https://input.s3.amazonaws.com/${key}?X-Amz-Signature=sig`,
    );
  });

  it('reuses the task UUID when the step is retried, so Runware is never asked twice for a new video', async () => {
    const job = await seedValidatedJob(db.jobs);
    runware.submitAnswers = [
      async () => Promise.reject(new TransientError('RUNWARE_TIMEOUT', 'timed out')),
      async () => ({ status: 'already-accepted' }),
    ];
    await expect(submitJob({ jobId: job.jobId, attempt: 1, taskToken: 'token-1' }, deps)).rejects.toThrow(
      TransientError,
    );
    const out = await submitJob({ jobId: job.jobId, attempt: 1, taskToken: 'token-2' }, deps);

    expect(out.status).toBe('already-accepted');
    expect(new Set(runware.submitted.map((t) => t.taskUUID)).size).toBe(1);
    expect((await db.tasks.get(out.taskUUID))?.taskToken).toBe('token-2');
  });

  it('completes at once, without calling Runware, when the results came in while the step was being retried', async () => {
    const job = await seedValidatedJob(db.jobs);
    const first = await submitJob({ jobId: job.jobId, attempt: 1, taskToken: 'token-1' }, deps);
    await db.tasks.addResult(first.taskUUID, result(1));

    const again = await submitJob({ jobId: job.jobId, attempt: 1, taskToken: 'token-2' }, deps);
    expect(again).toEqual({ taskUUID: first.taskUUID, status: 'already-finished' });
    expect(runware.submitted).toHaveLength(1);
    expect(notifier.successes).toEqual([
      { taskToken: 'token-2', output: { taskUUID: first.taskUUID, results: 1 } },
    ]);
  });

  it.each([
    ['an earlier try of the same request got no answer', false],
    ['an earlier run of the step may have sent it', true],
  ])(
    'marks a refusal after a send that got no answer (%s), so the next attempt continues the task',
    async (_, stepRetried) => {
      const job = await seedValidatedJob(db.jobs);
      const refusal = new RunwareRejectedError(
        'RUNWARE_INSUFFICIENT_BALANCE',
        'Runware rejected the task. Top up.',
      );
      refusal.afterUncertainTry = !stepRetried;
      runware.submitAnswers = [
        ...(stepRetried
          ? [async () => Promise.reject(new TransientError('RUNWARE_TIMEOUT', 'timed out'))]
          : []),
        async () => Promise.reject(refusal),
      ];
      if (stepRetried) {
        await expect(submitJob({ jobId: job.jobId, attempt: 1, taskToken: 't0' }, deps)).rejects.toThrow(
          TransientError,
        );
      }
      const error = await submitJob({ jobId: job.jobId, attempt: 1, taskToken: 't' }, deps).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'RunwareRejectedError', code: 'RUNWARE_INSUFFICIENT_BALANCE' });
      const taskUUID = runware.submitted[0]?.taskUUID ?? '';
      expect((error as Error).message).toContain(`An earlier send of task ${taskUUID} got no answer`);
      const ended = await db.jobs.get(job.jobId);
      expect(ended).toMatchObject({ status: 'VALIDATED', sendUnanswered: true });
      // The rule for the next attempt: the same task, asked about before anything is sent.
      expect(
        adoptableTask({
          ...(ended as JobRecord),
          status: 'FAILED',
          error: { code: 'RUNWARE_INSUFFICIENT_BALANCE' },
        }),
      ).toEqual({ taskUUID, fromAttempt: 1 });
    },
  );

  it("leaves a refusal of the first send unmarked: it is Runware's word that it did not take the task", async () => {
    const job = await seedValidatedJob(db.jobs);
    runware.submitAnswers = [
      async () => Promise.reject(new RunwareRejectedError('RUNWARE_UNAUTHORIZED', 'bad key')),
    ];
    await expect(submitJob({ jobId: job.jobId, attempt: 1, taskToken: 't' }, deps)).rejects.toMatchObject({
      message: expect.not.stringContaining('no answer'),
    });
    expect((await db.jobs.get(job.jobId))?.sendUnanswered).toBeUndefined();
  });

  it('lets a final rejection through for the fail step, leaving the job VALIDATED', async () => {
    const job = await seedValidatedJob(db.jobs);
    runware.submitAnswers = [
      async () => Promise.reject(new RunwareRejectedError('RUNWARE_INSUFFICIENT_BALANCE', 'top up')),
    ];
    await expect(submitJob({ jobId: job.jobId, attempt: 1, taskToken: 't' }, deps)).rejects.toMatchObject({
      name: 'RunwareRejectedError',
      code: 'RUNWARE_INSUFFICIENT_BALANCE',
    });
    expect((await db.jobs.get(job.jobId))?.status).toBe('VALIDATED');
  });

  it('sends the sidecar settings: format, quality, several results, safety, and no prompt when none is set', async () => {
    const job = await seedValidatedJob(db.jobs, {
      settings: {
        model: 'klingai:avatar@2.0-standard',
        outputFormat: 'WEBM',
        outputQuality: 60,
        numberResults: 3,
        safety: { checkContent: true, mode: 'fast' },
      },
    });
    await submitJob({ jobId: job.jobId, attempt: 1, taskToken: 't' }, deps);
    const task = runware.submitted[0];
    expect(task).toMatchObject({
      model: 'klingai:avatar@2.0-standard',
      outputFormat: 'WEBM',
      outputQuality: 60,
      numberResults: 3,
      safety: { checkContent: true, mode: 'fast' },
    });
    expect(task).not.toHaveProperty('positivePrompt');
  });

  it('refuses to run for an attempt that is over', async () => {
    const job = await seedValidatedJob(db.jobs, { attempt: 2 });
    await expect(submitJob({ jobId: job.jobId, attempt: 1, taskToken: 't' }, deps)).rejects.toMatchObject({
      code: 'STALE_ATTEMPT',
    });
    expect(runware.submitted).toHaveLength(0);
  });

  describe('against the budget', () => {
    /** A budget of its own month for each test, so spend of other tests does not count. */
    let month = 0;
    const budgetAt = () => {
      month += 1;
      const now = () => new Date(Date.UTC(2040, month, 15, 10));
      return { budget: new DynamoBudgetStore(db.table, { now }), now };
    };

    it("reserves the job's estimate before Runware is asked, once however often the step runs", async () => {
      const { budget, now } = budgetAt();
      const job = await seedValidatedJob(db.jobs);
      const input = { jobId: job.jobId, attempt: 1, taskToken: 'token-1' };
      const limited = { ...deps, budget, budgetLimits: { dailyUsd: 2, monthlyUsd: 0 } };
      await submitJob(input, limited);
      await submitJob({ ...input, taskToken: 'token-2' }, limited);
      const spend = await budget.month(now().toISOString().slice(0, 7));
      expect(spend).toMatchObject({ spentUsd: 0, reservedUsd: 1.088 });
      expect(spend.reservations[`${job.jobId}#1`]).toMatchObject({ micros: 1_088_000 });
    });

    it('does not submit a job whose estimate does not fit: BUDGET_EXCEEDED, slot given back, how to raise it', async () => {
      const { budget, now } = budgetAt();
      const limits = { dailyUsd: 2, monthlyUsd: 0 };
      const first = await seedValidatedJob(db.jobs);
      await submitJob(
        { jobId: first.jobId, attempt: 1, taskToken: 't' },
        { ...deps, budget, budgetLimits: limits },
      );
      const job = await seedValidatedJob(db.jobs);
      const error = await submitJob(
        { jobId: job.jobId, attempt: 1, taskToken: 't' },
        { ...deps, budget, budgetLimits: limits },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BudgetExceededError);
      const day = now().toISOString().slice(0, 10);
      expect((error as BudgetExceededError).code).toBe('BUDGET_EXCEEDED');
      expect((error as BudgetExceededError).detail).toBe(
        "The job's estimated charge of $1.09 (12.5 s x $0.087/s x 1 result) does not fit in the daily budget: " +
          `$0.912 of $2.00 is left for ${day} (UTC). It was not submitted and nothing was charged. Wait for the ` +
          'next day (UTC) or raise the limit (cdk deploy -c dailyBudgetUsd=2.18 or more), then upload one of its ' +
          'files again to retry.',
      );
      expect(runware.submitted).toHaveLength(1);
      expect((await db.slots.holders()).map((h) => h.jobId)).not.toContain(job.jobId);
      expect(await db.jobs.get(job.jobId)).toMatchObject({ status: 'VALIDATED' });
    });
  });

  describe('with every Runware slot taken', () => {
    /** A cap that the slots already held by earlier tests fill. */
    const full = async () => (await db.slots.holders()).length;

    it('marks the job QUEUED once, sends nothing and throws NoSlotError for the state machine to retry', async () => {
      const job = await seedValidatedJob(db.jobs);
      const input = { jobId: job.jobId, attempt: 1, taskToken: 'token-q' };
      const max = await full();
      await expect(submitJob(input, { ...deps, maxConcurrentTasks: max })).rejects.toBeInstanceOf(
        NoSlotError,
      );
      const queued = await db.jobs.get(job.jobId);
      expect(queued).toMatchObject({ status: 'QUEUED', stages: { QUEUED: expect.any(String) } });
      expect(queued?.taskUUID).toBeUndefined();
      const queuedAt = queued?.stages.QUEUED;

      // Asked again later: still no slot, and the time it was first queued is kept.
      const later = { ...deps, maxConcurrentTasks: max, now: () => new Date('2026-11-24T10:05:00Z') };
      await expect(submitJob(input, later)).rejects.toBeInstanceOf(NoSlotError);
      expect((await db.jobs.get(job.jobId))?.stages.QUEUED).toBe(queuedAt);
      expect(runware.submitted).toHaveLength(0);

      // A slot frees up: the job is submitted.
      const out = await submitJob(input, { ...later, maxConcurrentTasks: max + 1 });
      expect(out.status).toBe('accepted');
      expect(await db.jobs.get(job.jobId)).toMatchObject({
        status: 'SUBMITTED',
        stages: { QUEUED: queuedAt, SUBMITTED: expect.any(String) },
      });
      expect((await db.slots.holders()).map((h) => h.jobId)).toContain(job.jobId);
      await db.slots.release(job.jobId, 1);
    });

    it('ends the wait with DEADLINE_EXCEEDED at the hard deadline, saying it waited for a slot', async () => {
      const job = await seedValidatedJob(db.jobs, { deadline: '2026-11-24T10:00:30.000Z' });
      const error = await submitJob(
        { jobId: job.jobId, attempt: 1, taskToken: 't' },
        { ...deps, maxConcurrentTasks: await full() },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WaitDeadlineError);
      expect(error).toMatchObject({
        code: 'DEADLINE_EXCEEDED',
        message: expect.stringContaining('Runware slot'),
      });
      expect(runware.submitted).toHaveLength(0);
    });
  });

  describe('when Runware is at capacity', () => {
    const busy = () =>
      Promise.reject(new RunwareBusyError('RUNWARE_BUSY', 'Runware was at capacity (HTTP 429).'));

    it('gives the slot back, keeps the task UUID, waits (QUEUED), and submits the same task later', async () => {
      const job = await seedValidatedJob(db.jobs);
      const input = { jobId: job.jobId, attempt: 1, taskToken: 'token-b' };
      runware.submitAnswers = [busy];
      await expect(submitJob(input, deps)).rejects.toBeInstanceOf(RunwareBusyError);
      expect(await db.jobs.get(job.jobId)).toMatchObject({ status: 'QUEUED' });
      expect((await db.slots.holders()).map((h) => h.jobId)).not.toContain(job.jobId);

      const out = await submitJob({ ...input, taskToken: 'token-b2' }, deps);
      expect(out.status).toBe('accepted');
      expect(runware.submitted.map((t) => t.taskUUID)).toEqual([out.taskUUID, out.taskUUID]);
      expect((await db.slots.holders()).map((h) => h.jobId)).toContain(job.jobId);
      await db.slots.release(job.jobId, 1);
    });

    it('ends the wait with DEADLINE_EXCEEDED past the deadline, saying Runware was busy', async () => {
      const job = await seedValidatedJob(db.jobs, { deadline: '2026-11-24T10:00:30.000Z' });
      runware.submitAnswers = [busy];
      const error = await submitJob({ jobId: job.jobId, attempt: 1, taskToken: 't' }, deps).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WaitDeadlineError);
      expect(error).toMatchObject({ message: expect.stringContaining('Runware was busy') });
      expect((await db.slots.holders()).map((h) => h.jobId)).not.toContain(job.jobId);
    });
  });
});
