import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../lambdas/core/job.js';
import { endingOf, reservationFate } from '../../lambdas/core/rules/attempt-ending.js';

/** How each ending closes a reservation, and how an attempt's ending is read from its job: no table. */
const job = (over: Partial<JobRecord>): JobRecord =>
  ({ jobId: 'j', attempt: 1, status: 'SUBMITTED', stages: {}, ...over }) as JobRecord;

describe('attempt endings', () => {
  it('settles with the recorded cost, or the estimate when the cost is unknown', () => {
    expect(reservationFate({ kind: 'recorded', costUsd: 1.2 })).toEqual({
      kind: 'settle',
      actualUsd: 1.2,
      lateChargeMayCome: false,
    });
    expect(reservationFate({ kind: 'recorded', costUsd: undefined })).toMatchObject({ actualUsd: undefined });
  });

  it('gives the estimate back when Runware never had the task, and keeps it when it may have', () => {
    expect(reservationFate({ kind: 'ended', accepted: false, cancelled: true })).toEqual({ kind: 'release' });
    expect(reservationFate({ kind: 'ended', accepted: true, cancelled: false })).toEqual({
      kind: 'settle',
      actualUsd: undefined,
      lateChargeMayCome: false,
    });
    expect(reservationFate({ kind: 'ended', accepted: true, cancelled: true })).toMatchObject({
      lateChargeMayCome: true,
    });
  });

  it('keeps the reservation on a 429 (the job waits and tries again) and has none to close on a refusal', () => {
    expect(reservationFate({ kind: 'busy' })).toEqual({ kind: 'keep' });
    expect(reservationFate({ kind: 'refused' })).toEqual({ kind: 'keep' });
  });

  it('reads how an attempt ended from its job', () => {
    expect(endingOf(undefined, 1)).toEqual({ kind: 'ended', accepted: false, cancelled: false });
    expect(endingOf(job({ attempt: 2, stages: { SUBMITTED: 'a' } }), 1)).toMatchObject({ accepted: false });
    expect(endingOf(job({ stages: { VALIDATED: 'a' }, status: 'FAILED' }), 1)).toMatchObject({
      accepted: false,
    });
    expect(endingOf(job({ stages: { SUBMITTED: 'a' } }), 1)).toEqual({
      kind: 'ended',
      accepted: true,
      cancelled: false,
    });
    const cancel = { requestedAt: 'a', by: 'ops', during: 'SUBMITTED' as const };
    expect(endingOf(job({ stages: { SUBMITTED: 'a' }, cancel }), 1)).toMatchObject({ cancelled: true });
    expect(endingOf(job({ stages: { SUBMITTED: 'a', GENERATED: 'b' }, costUsd: 1.2 }), 1)).toEqual({
      kind: 'recorded',
      costUsd: 1.2,
    });
  });
});
