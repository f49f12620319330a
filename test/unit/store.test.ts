import { describe, expect, it } from 'vitest';
import { SupersededAttemptError } from '../../lambdas/core/errors.js';
import { useStores } from '../support/harness.js';
import { result, seedValidatedJob } from '../support/jobs.js';

const db = useStores({ now: () => new Date('2026-11-24T10:10:00Z') });

describe('job store', () => {
  it('moves a job forward and stamps each stage', async () => {
    const job = await seedValidatedJob(db.jobs);
    const out = await db.jobs.advance(job.jobId, 1, 'SUBMITTED', { taskUUID: 't-1' });
    expect(out).toMatchObject({
      status: 'SUBMITTED',
      taskUUID: 't-1',
      stages: { SUBMITTED: '2026-11-24T10:10:00.000Z' },
    });
  });

  it('never moves a job back when a step reports late, but records when that stage happened', async () => {
    const job = await seedValidatedJob(db.jobs, { status: 'GENERATED' });
    const out = await db.jobs.advance(job.jobId, 1, 'SUBMITTED', { taskUUID: 'late' });
    expect(out.status).toBe('GENERATED');
    // ...but the stage it reports is still stamped (a webhook can beat the submit function's return).
    expect(out.stages.SUBMITTED).toBe('2026-11-24T10:10:00.000Z');
  });

  it('refuses to touch a failed or replaced attempt', async () => {
    const job = await seedValidatedJob(db.jobs);
    await db.jobs.fail(job.jobId, 1, { stage: 'SUBMITTED', code: 'X', message: 'x', at: 'then' });
    await expect(db.jobs.advance(job.jobId, 1, 'SUBMITTED')).rejects.toBeInstanceOf(SupersededAttemptError);
    await expect(db.jobs.advance(job.jobId, 2, 'SUBMITTED')).rejects.toBeInstanceOf(SupersededAttemptError);
  });

  it('keeps the first failure', async () => {
    const job = await seedValidatedJob(db.jobs);
    await db.jobs.fail(job.jobId, 1, { stage: 'SUBMITTED', code: 'FIRST', message: 'a', at: 'then' });
    expect(
      await db.jobs.fail(job.jobId, 1, { stage: 'DELIVERED', code: 'SECOND', message: 'b', at: 'later' }),
    ).toBeUndefined();
    expect((await db.jobs.get(job.jobId))?.error?.code).toBe('FIRST');
  });

  it('assigns one task UUID per attempt, whoever asks first', async () => {
    const job = await seedValidatedJob(db.jobs);
    const [a, b] = await Promise.all([
      db.jobs.assignTaskUUID(job.jobId, 1, 'uuid-a'),
      db.jobs.assignTaskUUID(job.jobId, 1, 'uuid-b'),
    ]);
    expect(a).toBe(b);
  });

  it('keeps no more results than the task asked for, whatever arrives at once', async () => {
    await db.tasks.save({
      taskUUID: 'task-cap',
      jobId: 'j',
      attempt: 1,
      numberResults: 1,
      taskToken: 't',
      createdAt: 'c',
    });
    const added = await Promise.all([1, 2, 3].map((i) => db.tasks.addResult('task-cap', result(i))));
    expect(added.filter((a) => a.added)).toHaveLength(1);
    expect(Object.keys((await db.tasks.get('task-cap'))?.results ?? {})).toHaveLength(1);
  });

  it('counts a result once however often it is delivered, and keeps the token fresh', async () => {
    await db.tasks.save({
      taskUUID: 'task-1',
      jobId: 'j',
      attempt: 1,
      numberResults: 2,
      taskToken: 'old',
      createdAt: 'c',
    });
    expect((await db.tasks.addResult('task-1', result(1))).added).toBe(true);
    expect((await db.tasks.addResult('task-1', result(1))).added).toBe(false);
    const rotated = await db.tasks.save({
      taskUUID: 'task-1',
      jobId: 'j',
      attempt: 1,
      numberResults: 2,
      taskToken: 'new',
      createdAt: 'later',
    });
    expect(rotated).toMatchObject({ taskToken: 'new', createdAt: 'c' });
    expect(Object.keys(rotated.results)).toHaveLength(1);
    expect(await db.tasks.markCompleted('task-1', 'now')).toBe(true);
    expect(await db.tasks.markCompleted('task-1', 'again')).toBe(false);
  });
});
