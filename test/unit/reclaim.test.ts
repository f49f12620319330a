import { describe, expect, it } from 'vitest';
import { reclaimSlots } from '../../lambdas/sweep/reclaim.js';
import { useStores } from '../support/harness.js';
import { seedValidatedJob } from '../support/jobs.js';

const db = useStores();
const NOW = new Date('2026-11-24T12:00:00Z');
const reclaim = () => reclaimSlots({ jobs: db.jobs, slots: db.slots, now: () => NOW });
const holding = async () => (await db.slots.holders()).map((h) => h.jobId);

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
    expect(await db.slots.acquire(waiting.jobId, 1, cap)).toBe(false);
    expect(await db.slots.acquire(gone.jobId, 1, cap)).toBe(false);

    const out = await reclaim();
    expect(out.dequeued).toEqual([`${gone.jobId}#1`]);
    expect((await db.slots.waiters(100)).map((w) => w.jobId)).toEqual([waiting.jobId]);
    await db.slots.release(waiting.jobId, 1);
  });
});
