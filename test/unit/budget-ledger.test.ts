import { describe, expect, it } from 'vitest';
import {
  type BudgetPeriod,
  closing,
  explainRefusal,
  lateCorrection,
  ledgerMonths,
  leftOfLimits,
  periodOf,
  reserveRooms,
  toMicros,
} from '../../lambdas/core/rules/budget-ledger.js';

/** The budget ledger's rules, run without a table. */
const AT = new Date('2026-11-24T10:00:00Z');
const period = (over: Partial<BudgetPeriod> = {}): BudgetPeriod => ({
  month: '2026-11',
  spentUsd: 0,
  reservedUsd: 0,
  days: {},
  reservations: {},
  ...over,
});

describe('budget ledger rules', () => {
  it('counts in integer micro-USD, so that many small additions never drift', () => {
    let micros = 0;
    for (let i = 0; i < 1000; i += 1) micros += toMicros(0.1);
    expect(micros).toBe(100_000_000);
    expect(toMicros(1.0875)).toBe(1_087_500);
  });

  it('looks for a reservation in this month and, in its first days, in the month before', () => {
    expect(ledgerMonths(new Date('2026-11-24T00:00:00Z'))).toEqual(['2026-11']);
    expect(ledgerMonths(new Date('2026-12-03T00:00:00Z'))).toEqual(['2026-12', '2026-11']);
  });

  it('gives each limited period the most it may have committed before the estimate, and none for no limit', () => {
    expect(reserveRooms(toMicros(1), { dailyUsd: 10, monthlyUsd: 0 })).toEqual({
      daily: 9_000_000,
      monthly: undefined,
    });
    // An estimate larger than a whole limit never fits: no write is tried.
    expect(reserveRooms(toMicros(11), { dailyUsd: 10, monthlyUsd: 100 })).toBeUndefined();
    expect(reserveRooms(toMicros(11), { dailyUsd: 0, monthlyUsd: 0 })).toEqual({
      daily: undefined,
      monthly: undefined,
    });
  });

  it('reads the totals of the month and of each day from the attributes of its item', () => {
    const p = periodOf('2026-11', {
      spent: 2_500_000,
      reserved: 1_000_000,
      reservations: {},
      'spent@2026-11-24': 2_000_000,
      'reserved@2026-11-24': 1_000_000,
      'committed@2026-11-24': 3_000_000,
      'spent@2026-11-23': 500_000,
      'late@x#1': { day: '2026-11-23', micros: 1, actual: true },
    });
    expect(p).toEqual({
      month: '2026-11',
      spentUsd: 2.5,
      reservedUsd: 1,
      reservations: {},
      days: {
        '2026-11-24': { spentUsd: 2, reservedUsd: 1 },
        '2026-11-23': { spentUsd: 0.5, reservedUsd: 0 },
      },
    });
  });

  it('explains a refusal by the limit too short for the estimate, the daily one when both are', () => {
    const limits = { dailyUsd: 5, monthlyUsd: 20 };
    const tight = period({ spentUsd: 19, days: { '2026-11-24': { spentUsd: 4.5, reservedUsd: 0 } } });
    const both = explainRefusal(leftOfLimits(AT, limits, tight), 1);
    expect(both).toEqual({
      final: true,
      refusal: { reserved: false, limit: 'daily', limitUsd: 5, leftUsd: 0.5, period: '2026-11-24' },
    });
    const monthOnly = explainRefusal(leftOfLimits(AT, limits, period({ spentUsd: 19.5 })), 1);
    expect(monthOnly).toEqual({
      final: true,
      refusal: { reserved: false, limit: 'monthly', limitUsd: 20, leftUsd: 0.5, period: '2026-11' },
    });
  });

  it('tries again when the read after a refusal shows room (a reservation closed in between)', () => {
    const out = explainRefusal(leftOfLimits(AT, { dailyUsd: 5, monthlyUsd: 0 }, period()), 1);
    expect(out).toMatchObject({ final: false, refusal: { limit: 'daily', leftUsd: 5 } });
  });

  it('never reports less than nothing left, and infinity for no limit', () => {
    const left = leftOfLimits(AT, { dailyUsd: 0, monthlyUsd: 1 }, period({ spentUsd: 3 }));
    expect(left.monthly.leftUsd).toBe(0);
    expect(left.daily.leftUsd).toBe(Number.POSITIVE_INFINITY);
  });

  it('moves a closed reservation to spent: what was charged, the estimate unreserved', () => {
    expect(closing(1_088_000, 1_206_340)).toEqual({
      spent: 1_206_340,
      reserved: -1_088_000,
      committed: 118_340,
    });
    // Released: nothing charged.
    expect(closing(1_088_000, 0)).toEqual({ spent: 0, reserved: -1_088_000, committed: -1_088_000 });
  });

  it('corrects the estimate kept for a cancelled attempt by the late charge, and a repeated report by nothing', () => {
    const estimate = { day: '2026-11-24', micros: 900_000, actual: false };
    const first = lateCorrection(estimate, 261_000, 0.261);
    expect(first).toEqual({
      unchanged: false,
      entry: { day: '2026-11-24', micros: 261_000, actual: true },
      delta: -639_000,
      charge: { previousUsd: 0.9, spentUsd: 0.261, newUsd: 0.261, day: '2026-11-24' },
    });
    if (first.unchanged) throw new Error('expected a change');
    expect(lateCorrection(first.entry, 261_000, 0.261)).toEqual({
      unchanged: true,
      charge: { previousUsd: 0.261, spentUsd: 0.261, newUsd: 0, day: '2026-11-24' },
    });
    // Another result of the same task: the metric gets only the growth.
    expect(lateCorrection(first.entry, 500_000, 0.5)).toMatchObject({
      delta: 239_000,
      charge: { newUsd: 0.239 },
    });
  });
});
