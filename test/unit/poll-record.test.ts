import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../lambdas/core/job.js';
import { recordDocument } from '../../lambdas/core/outputs/record-document.js';
import { pollJob } from '../../lambdas/poll/poll.js';
import { recordResults } from '../../lambdas/record/record.js';
import { useStores } from '../support/harness.js';
import { FakeRunware, result, seedValidatedJob } from '../support/jobs.js';

const db = useStores();

async function submitted(numberResults = 1) {
  const taskUUID = randomUUID();
  const job = await seedValidatedJob(db.jobs, {
    status: 'SUBMITTED',
    taskUUID,
    stages: {
      RECEIVED: '2026-11-24T10:00:00.000Z',
      VALIDATED: '2026-11-24T10:00:12.000Z',
      SUBMITTED: '2026-11-24T10:00:13.000Z',
    },
  });
  if (numberResults !== 1 && job.settings) {
    await db.jobs.update(job.jobId, 1, { settings: { ...job.settings, numberResults } });
  }
  await db.tasks.save({
    taskUUID,
    jobId: job.jobId,
    attempt: 1,
    numberResults,
    taskToken: 'tok',
    createdAt: '2026-11-24T10:00:13.000Z',
  });
  return { job, taskUUID };
}

const at = (iso: string) => () => new Date(iso);

/** Runs the poll step for attempt 1 of `job` at `when`, against `runware` (and a log, when the test reads it). */
const poll = (
  job: { jobId: string },
  runware: FakeRunware,
  when: string,
  log?: (message: string, detail: Record<string, unknown>) => void,
) =>
  pollJob(
    { jobId: job.jobId, attempt: 1 },
    { jobs: db.jobs, tasks: db.tasks, runware, now: at(when), ...(log ? { log } : {}) },
  );

describe('poll', () => {
  it('reports done when getResponse has the result, and stores it like a webhook would', async () => {
    const { job, taskUUID } = await submitted();
    const runware = new FakeRunware();
    const r = result(1);
    runware.pollAnswer = {
      results: [
        {
          taskType: 'videoInference',
          taskUUID,
          videoUUID: r.videoUUID,
          videoURL: r.videoURL,
          cost: 2.5,
          seed: 7,
        },
      ],
      pending: 0,
      errors: [],
    };
    const out = await poll(job, runware, '2026-11-24T10:31:00Z');
    expect(out).toEqual({ done: true, waitSeconds: 0 });
    expect(runware.polled).toEqual([taskUUID]);
    const task = await db.tasks.get(taskUUID);
    expect(Object.values(task?.results ?? {})).toEqual([
      expect.objectContaining({ videoUUID: r.videoUUID, cost: 2.5, seed: 7 }),
    ]);
    expect(task?.completedAt).toBeDefined();
  });

  it('does not call Runware when a webhook already brought the result', async () => {
    const { job, taskUUID } = await submitted();
    await db.tasks.addResult(taskUUID, result(1));
    const runware = new FakeRunware();
    expect(await poll(job, runware, '2026-11-24T10:31:00Z')).toMatchObject({ done: true });
    expect(runware.polled).toEqual([]);
  });

  it('backs off while the task is processing, growing with its age and capped', async () => {
    const { job } = await submitted();
    const runware = new FakeRunware();
    const early = await poll(job, runware, '2026-11-24T10:00:23Z');
    const later = await poll(job, runware, '2026-11-24T10:05:13Z');
    const late = await poll(job, runware, '2026-11-24T11:00:13Z');
    expect(early).toEqual({ done: false, waitSeconds: 5 });
    expect(later).toEqual({ done: false, waitSeconds: 30 });
    expect(late).toEqual({ done: false, waitSeconds: 60 });
  });

  it('never waits past the deadline, and fails with DEADLINE_EXCEEDED once it is reached', async () => {
    const { job } = await submitted();
    const runware = new FakeRunware();
    const near = await poll(job, runware, '2026-11-24T12:00:00Z');
    expect(near.waitSeconds).toBe(12);
    await expect(poll(job, runware, '2026-11-24T12:00:12Z')).rejects.toMatchObject({
      name: 'DeadlineExceededError',
      code: 'DEADLINE_EXCEEDED',
    });
  });

  it('fails with the provider message when getResponse reports an error', async () => {
    const { job } = await submitted();
    const runware = new FakeRunware();
    runware.pollAnswer = {
      results: [],
      pending: 0,
      errors: [{ code: 'invalidAudio', message: 'Audio could not be decoded' }],
    };
    await expect(poll(job, runware, '2026-11-24T10:31:00Z')).rejects.toMatchObject({
      name: 'RunwareTaskError',
      message: expect.stringContaining('Audio could not be decoded'),
    });
  });

  it('keeps only numberResults videos when getResponse reports more, and logs the rest', async () => {
    const { job, taskUUID } = await submitted();
    const runware = new FakeRunware();
    const video = (n: number) => ({
      taskType: 'videoInference',
      taskUUID,
      videoUUID: result(n).videoUUID,
      videoURL: result(n).videoURL,
      cost: 1,
    });
    runware.pollAnswer = { results: [video(1), video(2), video(3)], pending: 0, errors: [] };
    const logged: [string, Record<string, unknown>][] = [];
    const out = await poll(job, runware, '2026-11-24T10:31:00Z', (message, detail) =>
      logged.push([message, detail]),
    );
    expect(out).toEqual({ done: true, waitSeconds: 0 });
    expect(Object.keys((await db.tasks.get(taskUUID))?.results ?? {})).toEqual([result(1).videoUUID]);
    expect(logged).toEqual([
      ['poll.extraResults', { taskUUID, ignored: [result(2).videoUUID, result(3).videoUUID] }],
    ]);
  });

  it('keeps waiting, and logs, when getResponse reports a transient error inside a 200', async () => {
    const { job } = await submitted();
    const runware = new FakeRunware();
    const transient = [{ code: 'serviceUnavailable', message: 'Try again' }];
    runware.pollAnswer = { results: [], pending: 1, errors: [], transient };
    const logged: string[] = [];
    const out = await poll(job, runware, '2026-11-24T10:31:00Z', (message) => logged.push(message));
    expect(out.done).toBe(false);
    expect(logged).toEqual(['poll.transient']);
  });
});

describe('record', () => {
  /** What the record step is given: the stores of this file. */
  const recordDeps = () => ({
    jobs: db.jobs,
    tasks: db.tasks,
    slots: db.slots,
    maxConcurrentTasks: 1000,
    budget: db.budget,
  });
  /** Runs the record step for attempt 1 of `job`. */
  const record = (job: { jobId: string }) => recordResults({ jobId: job.jobId, attempt: 1 }, recordDeps());

  it('copies results, seeds and the total cost into the job: GENERATED', async () => {
    const { job, taskUUID } = await submitted(2);
    await db.tasks.addResult(taskUUID, result(2, { cost: 1.29917 }));
    await db.tasks.addResult(taskUUID, result(1, { cost: 1.9488 }));
    expect(await record(job)).toEqual({
      results: 2,
      costUsd: 3.24797,
    });
    const stored = await db.jobs.get(job.jobId);
    expect(stored?.status).toBe('GENERATED');
    expect(stored?.stages.GENERATED).toBeDefined();
    expect(stored?.results?.map((r) => r.seed)).toEqual([1001, 1002]);
  });

  it('gives the job its Runware slot back once the generation has ended, also when run again', async () => {
    const { job, taskUUID } = await submitted(1);
    await db.slots.acquire(job.jobId, 1, 1000);
    await db.tasks.addResult(taskUUID, result(1));
    const deps = recordDeps();
    await recordResults({ jobId: job.jobId, attempt: 1 }, deps);
    expect((await db.slots.holders()).map((h) => h.jobId)).not.toContain(job.jobId);
    await expect(recordResults({ jobId: job.jobId, attempt: 1 }, deps)).resolves.toMatchObject({
      results: 1,
    });
  });

  it("replaces the job's budget reservation by the actual cost, once; keeps the estimate when no cost came", async () => {
    const deps = recordDeps();
    const month = new Date().toISOString().slice(0, 7);
    const before = await db.budget.month(month);
    const paid = await submitted(1);
    await db.budget.reserve(paid.job.jobId, 1, 1.088, { dailyUsd: 0, monthlyUsd: 0 });
    await db.tasks.addResult(paid.taskUUID, result(1, { cost: 0.95 }));
    await expect(recordResults({ jobId: paid.job.jobId, attempt: 1 }, deps)).resolves.toMatchObject({
      budgetCharged: 'actual',
    });
    await expect(recordResults({ jobId: paid.job.jobId, attempt: 1 }, deps)).resolves.not.toHaveProperty(
      'budgetCharged',
    );
    const unknown = await submitted(1);
    await db.budget.reserve(unknown.job.jobId, 1, 1.088, { dailyUsd: 0, monthlyUsd: 0 });
    await db.tasks.addResult(unknown.taskUUID, result(1, { cost: undefined }));
    await expect(recordResults({ jobId: unknown.job.jobId, attempt: 1 }, deps)).resolves.toMatchObject({
      budgetCharged: 'estimate',
    });
    const after = await db.budget.month(month);
    expect(after.spentUsd - before.spentUsd).toBeCloseTo(0.95 + 1.088, 6);
    expect(after.reservedUsd - before.reservedUsd).toBeCloseTo(0, 6);
  });

  it('records a cost Runware did not report as unknown, never as 0, also when only some results had one', async () => {
    for (const costs of [[undefined], [0.95, undefined]]) {
      const { job, taskUUID } = await submitted(costs.length);
      for (const [i, cost] of costs.entries()) await db.tasks.addResult(taskUUID, result(i + 1, { cost }));
      expect(await record(job)).toEqual({ results: costs.length, costUnknown: true });
      const stored = await db.jobs.get(job.jobId);
      expect(stored?.costUnknown).toBe(true);
      expect(stored?.costUsd).toBeUndefined();
      expect(recordDocument(stored as JobRecord)).toMatchObject({
        costUsd: null,
        costUnknown: true,
        costNote: expect.stringContaining('the estimate (estimatedCostUsd) was counted'),
      });
    }
  });

  it('keeps the results that were made when one of several failed', async () => {
    const { job, taskUUID } = await submitted(2);
    await db.tasks.addResult(taskUUID, result(1));
    await db.tasks.addError(taskUUID, 'e1', {
      code: 'RUNWARE_TASK_FAILED',
      message: 'one variation failed',
    });
    expect(await record(job)).toEqual({
      results: 1,
      costUsd: 1.20634,
    });
    expect((await db.jobs.get(job.jobId))?.partialFailures).toEqual([
      { code: 'RUNWARE_TASK_FAILED', message: 'one variation failed' },
    ]);
  });
});
