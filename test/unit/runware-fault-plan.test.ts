import { describe, expect, it } from 'vitest';
import { FaultPlan, planFaults } from '../../local/runware/faults.js';

describe('the simulator fault plan', () => {
  it('applies a queued fault to the next N matching requests, in the order queued', () => {
    const plan = new FaultPlan();
    plan.queue({ kind: 'submitStatus', status: 429 }, 2);
    plan.queue({ kind: 'submitStatus', status: 503 });
    const taken = [1, 2, 3, 4].map(() => plan.take('submitStatus')?.status);
    expect(taken).toEqual([429, 429, 503, undefined]);
    expect(plan.faults).toEqual([]);
  });

  it('applies a standing fault to every matching request until cleared, after the queued ones', () => {
    const plan = new FaultPlan();
    plan.stand({ kind: 'submitStatus', status: 402 });
    plan.queue({ kind: 'submitStatus', status: 503 });
    expect([1, 2, 3].map(() => plan.take('submitStatus')?.status)).toEqual([503, 402, 402]);
    plan.clear();
    expect(plan.take('submitStatus')).toBeUndefined();
  });

  it('keeps kinds apart: a poll does not use up a submission fault', () => {
    const plan = new FaultPlan();
    plan.queue({ kind: 'submitStatus', status: 500 });
    expect(plan.take('getResponseStatus')).toBeUndefined();
    expect(plan.take('submitDrop')).toBeUndefined();
    expect(plan.take('submitStatus')).toEqual({ kind: 'submitStatus', status: 500 });
  });

  it('replaces a standing fault of the same kind', () => {
    const plan = new FaultPlan();
    plan.stand({ kind: 'submitStatus', status: 402 });
    plan.stand({ kind: 'submitStatus', status: 403 });
    expect(plan.faults).toHaveLength(1);
    expect(plan.take('submitStatus')?.status).toBe(403);
  });

  it('gives an accepted task the next queued task faults over the standing ones', () => {
    const plan = new FaultPlan();
    plan.stand({ kind: 'task', faults: { slowMs: 100, loseWebhook: true } });
    plan.queue({ kind: 'task', faults: { slowMs: 5 } });
    expect(plan.takeTaskFaults()).toEqual({ slowMs: 5, loseWebhook: true });
    expect(plan.takeTaskFaults()).toEqual({ slowMs: 100, loseWebhook: true });
  });

  it('reads the test knobs: statuses and drops always queued, httpStatus and task faults standing or once', () => {
    const standing = new FaultPlan();
    planFaults(
      standing,
      { submitStatus: [504], acceptThenFail: true, httpStatus: 402, neverFinish: true },
      'standing',
    );
    expect(standing.take('submitStatus')).toEqual({ kind: 'submitStatus', status: 504, afterAccept: true });
    expect(standing.take('submitStatus')).toEqual({ kind: 'submitStatus', status: 402 });
    expect(standing.take('submitStatus')).toEqual({ kind: 'submitStatus', status: 402 });
    expect(standing.takeTaskFaults()).toEqual({ neverFinish: true });
    expect(standing.takeTaskFaults()).toEqual({ neverFinish: true });

    const once = new FaultPlan();
    planFaults(
      once,
      { submitNetworkError: 2, acceptThenDrop: true, httpStatus: 401, getResponseStatus: [503] },
      'once',
    );
    expect([1, 2, 3].map(() => once.take('submitDrop'))).toEqual([
      { kind: 'submitDrop', afterAccept: true },
      { kind: 'submitDrop', afterAccept: true },
      undefined,
    ]);
    expect([1, 2].map(() => once.take('submitStatus')?.status)).toEqual([401, undefined]);
    expect([1, 2].map(() => once.take('getResponseStatus')?.status)).toEqual([503, undefined]);
    expect(once.takeTaskFaults()).toEqual({});
  });
});
