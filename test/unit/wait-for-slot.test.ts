import { beforeEach, describe, expect, it } from 'vitest';
import { WaitDeadlineError } from '../../lambdas/core/errors.js';
import type { SlotWaker } from '../../lambdas/core/store/slots.js';
import { type WaitForSlotDeps, waitForSlot } from '../../lambdas/submit/queue.js';
import { useStores } from '../support/harness.js';
import { seedValidatedJob } from '../support/jobs.js';

const db = useStores();
let woken: string[];
let deps: WaitForSlotDeps;
const waker: SlotWaker = {
  wake: async (token) => {
    woken.push(token);
    return 'delivered';
  },
};

/** A cap that the slots already held by earlier tests fill. */
const full = async () => (await db.slots.holders()).length;

beforeEach(() => {
  woken = [];
  deps = {
    jobs: db.jobs,
    slots: db.slots,
    maxConcurrentTasks: 1000,
    waker,
    now: () => new Date('2026-11-24T10:01:00Z'),
  };
});

describe('the WaitForSlot step', () => {
  it('takes a free slot and completes its own token at once, so the job goes on to Submit', async () => {
    const job = await seedValidatedJob(db.jobs);
    const out = await waitForSlot({ jobId: job.jobId, attempt: 1, taskToken: 'own' }, deps);
    expect(out).toEqual({ slot: 'taken' });
    expect(woken).toEqual(['own']);
    expect((await db.slots.holders()).map((h) => h.jobId)).toContain(job.jobId);
    expect(await db.jobs.get(job.jobId)).toMatchObject({ status: 'VALIDATED' });
    await db.slots.release(job.jobId, 1);
  });

  it('without a slot, leaves its token in the queue, marks the job QUEUED and returns without completing it', async () => {
    const job = await seedValidatedJob(db.jobs);
    const out = await waitForSlot(
      { jobId: job.jobId, attempt: 1, taskToken: 'wake-me' },
      { ...deps, maxConcurrentTasks: await full() },
    );
    expect(out).toEqual({ slot: 'waiting' });
    expect(woken).toEqual([]);
    expect(await db.jobs.get(job.jobId)).toMatchObject({
      status: 'QUEUED',
      stages: { QUEUED: expect.any(String) },
    });
    expect((await db.slots.waiters(1000)).find((w) => w.jobId === job.jobId)).toMatchObject({
      taskToken: 'wake-me',
    });
    await db.slots.release(job.jobId, 1);
  });

  it('ends the wait with DEADLINE_EXCEEDED at the hard deadline, saying it waited for a slot', async () => {
    const job = await seedValidatedJob(db.jobs, { deadline: '2026-11-24T10:00:30.000Z' });
    const input = { jobId: job.jobId, attempt: 1, taskToken: 't' };
    await expect(waitForSlot(input, { ...deps, maxConcurrentTasks: await full() })).rejects.toSatisfy(
      (e) =>
        e instanceof WaitDeadlineError && e.code === 'DEADLINE_EXCEEDED' && /Runware slot/.test(e.message),
    );
    expect(woken).toEqual([]);
    await db.slots.release(job.jobId, 1);
  });
});
