import { describe, expect, it } from 'vitest';
import { exitAttempt, reserveEstimate, takeSlot } from '../../lambdas/core/holdings.js';
import type { AttemptEnding } from '../../lambdas/core/rules/attempt-ending.js';
import { failJob } from '../../lambdas/fail/fail.js';
import { useOutputBucket, useStores } from '../support/harness.js';
import { RecordingEvents, seedValidatedJob } from '../support/jobs.js';

const db = useStores();
const { outputs } = useOutputBucket();
const NO_LIMIT = { dailyUsd: 0, monthlyUsd: 0 };
/** The stores as the attempt's holdings, with no slot cap in reach and nobody to wake. */
const holdings = () => ({ slots: db.slots, budget: db.budget, maxConcurrentTasks: 1000 });
const thisMonth = () => new Date().toISOString().slice(0, 7);
let n = 0;

/** An attempt holding a slot and a reservation of $1.088. */
async function holding(): Promise<{ jobId: string; attempt: number }> {
  n += 1;
  const who = { jobId: `holder-${n}`, attempt: 1 };
  expect(await takeSlot(holdings(), who)).toBe(true);
  expect(await reserveEstimate(db, who, 1.088, NO_LIMIT)).toEqual({ reserved: true, already: false });
  return who;
}

/** What the attempt still holds, and what the month counts as spent. */
async function held(who: { jobId: string; attempt: number }) {
  const month = await db.budget.month(thisMonth());
  const slot = (await db.slots.holders()).some((h) => h.jobId === who.jobId && h.attempt === who.attempt);
  return { slot, reserved: `${who.jobId}#${who.attempt}` in month.reservations, spentUsd: month.spentUsd };
}

describe('the one exit of an attempt (against dynalite)', () => {
  const endings: [string, AttemptEnding, { reserved: boolean; spentUsd: number }][] = [
    [
      'record: the actual cost replaces the estimate',
      { kind: 'recorded', costUsd: 1.2 },
      { reserved: false, spentUsd: 1.2 },
    ],
    [
      'record without a cost: the estimate stays as spent',
      { kind: 'recorded', costUsd: undefined },
      { reserved: false, spentUsd: 1.088 },
    ],
    [
      'fail before Runware accepted: nothing charged',
      { kind: 'ended', accepted: false, cancelled: false },
      { reserved: false, spentUsd: 0 },
    ],
    [
      'fail after Runware accepted: the estimate stays as spent',
      { kind: 'ended', accepted: true, cancelled: false },
      { reserved: false, spentUsd: 1.088 },
    ],
    [
      'cancel after Runware accepted: the estimate stays as spent',
      { kind: 'ended', accepted: true, cancelled: true },
      { reserved: false, spentUsd: 1.088 },
    ],
    ['a 429: the reservation is kept for the next try', { kind: 'busy' }, { reserved: true, spentUsd: 0 }],
  ];
  for (const [name, ending, expected] of endings) {
    it(`gives the slot back and closes the reservation as the ending says: ${name}`, async () => {
      const who = await holding();
      const before = await held(who);
      const first = await exitAttempt(holdings(), who, ending);
      expect(first.slotReleased).toBe(true);
      expect(first.settlement !== undefined).toBe(!expected.reserved);
      const after = await held(who);
      expect({ slot: after.slot, reserved: after.reserved }).toEqual({
        slot: false,
        reserved: expected.reserved,
      });
      expect(after.spentUsd - before.spentUsd).toBeCloseTo(expected.spentUsd, 6);
      // Idempotent: the same ending again gives back and counts nothing more.
      expect(await exitAttempt(holdings(), who, ending)).toEqual({
        slotReleased: false,
        settlement: undefined,
      });
      expect((await held(who)).spentUsd - before.spentUsd).toBeCloseTo(expected.spentUsd, 6);
      if (expected.reserved) await db.budget.release(who.jobId, who.attempt);
    });
  }

  it('gives the slot back on a budget refusal, with nothing reserved and nothing counted', async () => {
    n += 1;
    const who = { jobId: `refused-${n}`, attempt: 1 };
    expect(await takeSlot(holdings(), who)).toBe(true);
    const before = await db.budget.month(thisMonth());
    expect(await exitAttempt(holdings(), who, { kind: 'refused' })).toEqual({
      slotReleased: true,
      settlement: undefined,
    });
    expect((await held(who)).slot).toBe(false);
    expect((await db.budget.month(thisMonth())).spentUsd).toBe(before.spentUsd);
  });

  it('keeps the count of a cancelled task, which its late charge then corrects', async () => {
    const who = await holding();
    await exitAttempt(holdings(), who, { kind: 'ended', accepted: true, cancelled: true });
    expect(await db.budget.chargeLate(who.jobId, who.attempt, 0.3)).toMatchObject({
      previousUsd: 1.088,
      newUsd: 0.3,
    });
  });

  it('closes what an execution cut off by a restart held: the fail step of its ABORTED end', async () => {
    // The local stack's start closes an execution the last stop left RUNNING as ABORTED; the execution-ended rule
    // runs the fail step with it.
    const job = await seedValidatedJob(db.jobs, {
      status: 'SUBMITTED',
      stages: { VALIDATED: '2026-11-24T10:00:12.000Z', SUBMITTED: '2026-11-24T10:01:00.000Z' },
    });
    const who = { jobId: job.jobId, attempt: 1 };
    expect(await takeSlot(holdings(), who)).toBe(true);
    await reserveEstimate(db, who, 1.088, NO_LIMIT);
    const before = await held(who);
    const out = await failJob(
      {
        ...who,
        stem: job.stem,
        error: {
          Error: 'Execution.ABORTED',
          Cause: JSON.stringify({ errorMessage: '[EXECUTION_ABORTED] closed at start-up' }),
        },
      },
      {
        jobs: db.jobs,
        slots: db.slots,
        maxConcurrentTasks: 1000,
        tasks: db.tasks,
        budget: db.budget,
        outputs: outputs('out'),
        events: new RecordingEvents(),
        now: () => new Date('2026-11-24T10:09:00Z'),
      },
    );
    expect(out).toMatchObject({ code: 'EXECUTION_ABORTED' });
    const after = await held(who);
    expect({ slot: after.slot, reserved: after.reserved }).toEqual({ slot: false, reserved: false });
    // Runware had the task: its estimate stays counted as spent.
    expect(after.spentUsd - before.spentUsd).toBeCloseTo(1.088, 6);
  });
});
