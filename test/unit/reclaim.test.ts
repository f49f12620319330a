import { describe, expect, it } from 'vitest';
import { DynamoBudgetStore } from '../../lambdas/core/store/budget.js';
import { reclaimSlots } from '../../lambdas/sweep/reclaim.js';
import { useStores } from '../support/harness.js';
import { seedValidatedJob } from '../support/jobs.js';

const db = useStores();
const NOW = new Date('2026-11-24T12:00:00Z');
const budget = () => new DynamoBudgetStore(db.table, { now: () => NOW });
const reclaim = () =>
  reclaimSlots({
    jobs: db.jobs,
    slots: db.slots,
    maxConcurrentTasks: 1000,
    budget: budget(),
    now: () => NOW,
  });
const holding = async () => (await db.slots.holders()).map((h) => h.jobId);
const NO_LIMIT = { dailyUsd: 0, monthlyUsd: 0 };

describe('slot reaper (sweep)', () => {
  it('gives back slots whose attempt has ended, and keeps those of live attempts', async () => {
    const live = await seedValidatedJob(db.jobs, { status: 'SUBMITTED', deadline: '2026-11-24T13:00:00Z' });
    const done = await seedValidatedJob(db.jobs, { status: 'DELIVERED' });
    const failed = await seedValidatedJob(db.jobs, { status: 'FAILED' });
    const replaced = await seedValidatedJob(db.jobs, { attempt: 2, status: 'SUBMITTED' });
    const overdue = await seedValidatedJob(db.jobs, {
      status: 'SUBMITTED',
      deadline: '2026-11-24T10:00:00Z',
    });
    for (const job of [live, done, failed, overdue]) await db.slots.acquire(job.jobId, 1, 1000);
    await db.slots.acquire(replaced.jobId, 1, 1000); // the slot of attempt 1, leaked
    await db.slots.acquire('no-such-job', 1, 1000);

    const out = await reclaim();
    expect(out.released.sort()).toEqual(
      [done, failed, replaced, overdue]
        .map((j) => `${j.jobId}#1`)
        .concat('no-such-job#1')
        .sort(),
    );
    expect(await holding()).toEqual([live.jobId]);
    expect((await reclaim()).released).toEqual([]);
    await db.slots.release(live.jobId, 1);
  });

  it('takes ended attempts out of the queue, so they are not waited for', async () => {
    const waiting = await seedValidatedJob(db.jobs, { status: 'QUEUED', deadline: '2026-11-24T13:00:00Z' });
    const gone = await seedValidatedJob(db.jobs, { status: 'FAILED' });
    await db.slots.acquire('blocker', 1, 1000);
    const cap = (await db.slots.holders()).length;
    expect((await db.slots.acquire(waiting.jobId, 1, cap)).taken).toBe(false);
    expect((await db.slots.acquire(gone.jobId, 1, cap)).taken).toBe(false);

    const out = await reclaim();
    expect(out.dequeued).toEqual([`${gone.jobId}#1`]);
    expect((await db.slots.waiters(100)).map((w) => w.jobId)).toEqual([waiting.jobId]);
    await db.slots.release(waiting.jobId, 1);
  });

  it('closes the budget reservation an ended attempt leaked, so that it no longer blocks later submits', async () => {
    // A job past its deadline whose fail step never ran (its execution-ended event went to the DLQ): Runware never
    // accepted its task, its slot was given back, but its estimate stays reserved.
    const leaked = await seedValidatedJob(db.jobs, { status: 'QUEUED', deadline: '2026-11-24T10:00:00Z' });
    const live = await seedValidatedJob(db.jobs, { status: 'SUBMITTED', deadline: '2026-11-24T13:00:00Z' });
    const next = await seedValidatedJob(db.jobs, { status: 'VALIDATED', deadline: '2026-11-24T13:00:00Z' });
    const limits = { dailyUsd: 2, monthlyUsd: 0 };
    expect(await budget().reserve(leaked.jobId, 1, 1.5, limits)).toMatchObject({ reserved: true });
    expect(await budget().reserve(live.jobId, 1, 0.2, limits)).toMatchObject({ reserved: true });
    // While it is reserved, a job of $1 does not fit in what is left of the day.
    expect(await budget().reserve(next.jobId, 1, 1, limits)).toMatchObject({
      reserved: false,
      limit: 'daily',
    });

    const out = await reclaim();
    expect(out.settled).toEqual([`${leaked.jobId}#1`]);
    const month = await budget().month('2026-11');
    expect(Object.keys(month.reservations)).toEqual([`${live.jobId}#1`]);
    expect(month.days['2026-11-24']).toEqual({ spentUsd: 0, reservedUsd: 0.2 });
    expect(await budget().reserve(next.jobId, 1, 1, limits)).toMatchObject({ reserved: true });
    // Run again: nothing more is closed.
    expect((await reclaim()).settled).toEqual([]);
    await budget().release(next.jobId, 1);
    await budget().release(live.jobId, 1);
  });

  it('keeps as spent the estimate of a leaked attempt Runware had accepted, and counts a recorded cost instead', async () => {
    const accepted = await seedValidatedJob(db.jobs, {
      status: 'FAILED',
      stages: { VALIDATED: '2026-11-24T10:00:12.000Z', SUBMITTED: '2026-11-24T10:01:00.000Z' },
    });
    const generated = await seedValidatedJob(db.jobs, {
      status: 'GENERATED',
      stages: { SUBMITTED: '2026-11-24T10:01:00.000Z', GENERATED: '2026-11-24T10:05:00.000Z' },
      costUsd: 1.2,
    });
    await budget().reserve(accepted.jobId, 1, 1.088, NO_LIMIT);
    await budget().reserve(generated.jobId, 1, 1.088, NO_LIMIT);
    const before = await budget().month('2026-11');

    expect((await reclaim()).settled.sort()).toEqual([`${accepted.jobId}#1`, `${generated.jobId}#1`].sort());
    const after = await budget().month('2026-11');
    expect(after.reservedUsd - before.reservedUsd).toBeCloseTo(-2.176, 6);
    expect(after.spentUsd - before.spentUsd).toBeCloseTo(1.088 + 1.2, 6);
  });
});
