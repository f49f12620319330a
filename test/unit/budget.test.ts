import { describe, expect, it } from 'vitest';
import { DynamoBudgetStore } from '../../lambdas/core/store/budget.js';
import { useStores } from '../support/harness.js';

const db = useStores();

/** Each test works in its own months (the table is shared by the file), on a clock it moves. */
let year = 2030;
function budget(start: string) {
  year += 1;
  let clock = Date.parse(start.replace(/^\d{4}/, String(year)));
  const store = new DynamoBudgetStore(db.table, { now: () => new Date(clock) });
  return {
    store,
    at: (time: string) => {
      clock = Date.parse(time.replace(/^\d{4}/, String(year)));
    },
    month: (m: string) => store.month(`${year}-${m}`),
    day: (d: string) => `${year}-${d}`,
  };
}

describe('budget store (against dynalite)', () => {
  it('reserves an estimate on the day and the month when both have room', async () => {
    const b = budget('2000-11-26T10:00:00Z');
    expect(await b.store.reserve('a', 1, 1.5, { dailyUsd: 2, monthlyUsd: 10 })).toEqual({
      reserved: true,
      already: false,
    });
    const month = await b.month('11');
    expect(month).toMatchObject({ spentUsd: 0, reservedUsd: 1.5 });
    expect(month.days[b.day('11-26')]).toEqual({ spentUsd: 0, reservedUsd: 1.5 });
    expect(month.reservations['a#1']).toMatchObject({ jobId: 'a', attempt: 1, micros: 1_500_000 });
  });

  it('gives the last of the budget to exactly one of two takers at once', async () => {
    const b = budget('2000-11-26T10:00:00Z');
    const limits = { dailyUsd: 1, monthlyUsd: 0 };
    expect((await b.store.reserve('first', 1, 0.4, limits)).reserved).toBe(true);
    const both = await Promise.all([
      b.store.reserve('b', 1, 0.5, limits),
      b.store.reserve('c', 1, 0.5, limits),
    ]);
    expect(both.filter((o) => o.reserved)).toHaveLength(1);
    expect(both.find((o) => !o.reserved)).toEqual({
      reserved: false,
      limit: 'daily',
      limitUsd: 1,
      leftUsd: 0.1,
      period: b.day('11-26'),
    });
    expect(await b.month('11')).toMatchObject({ reservedUsd: 0.9 });
  });

  it('reserves once per job attempt, however often the step asks', async () => {
    const b = budget('2000-11-26T10:00:00Z');
    const limits = { dailyUsd: 1, monthlyUsd: 1 };
    await b.store.reserve('a', 1, 0.8, limits);
    // A retried submit, even when the budget is now full.
    expect(await b.store.reserve('a', 1, 0.8, limits)).toEqual({ reserved: true, already: true });
    expect(await b.month('11')).toMatchObject({ reservedUsd: 0.8 });
    // The next attempt of the same job is another reservation.
    expect((await b.store.reserve('a', 2, 0.8, limits)).reserved).toBe(false);
  });

  it('refuses an estimate larger than a whole limit, naming the limit that has no room', async () => {
    const b = budget('2000-11-26T10:00:00Z');
    await b.store.reserve('a', 1, 3, { dailyUsd: 0, monthlyUsd: 0 });
    expect(await b.store.reserve('b', 1, 8, { dailyUsd: 100, monthlyUsd: 10 })).toEqual({
      reserved: false,
      limit: 'monthly',
      limitUsd: 10,
      leftUsd: 7,
      period: `${year}-11`,
    });
    expect(await b.store.reserve('c', 1, 0.5, { dailyUsd: 0.25, monthlyUsd: 0 })).toMatchObject({
      reserved: false,
      limit: 'daily',
      leftUsd: 0,
    });
  });

  it('tracks spend without limits (0 means none)', async () => {
    const b = budget('2000-11-26T10:00:00Z');
    for (const job of ['a', 'b', 'c']) {
      expect((await b.store.reserve(job, 1, 100, { dailyUsd: 0, monthlyUsd: 0 })).reserved).toBe(true);
    }
    expect(await b.month('11')).toMatchObject({ reservedUsd: 300 });
  });

  it('replaces the reservation by the actual cost, once', async () => {
    const b = budget('2000-11-26T10:00:00Z');
    await b.store.reserve('a', 1, 0.87, { dailyUsd: 1, monthlyUsd: 0 });
    expect(await b.store.settle('a', 1, 0.8613)).toEqual({
      estimateUsd: 0.87,
      spentUsd: 0.8613,
      day: b.day('11-26'),
    });
    expect(await b.store.settle('a', 1, 0.8613)).toBeUndefined();
    const month = await b.month('11');
    expect(month).toMatchObject({ spentUsd: 0.8613, reservedUsd: 0, reservations: {} });
    expect(month.days[b.day('11-26')]).toEqual({ spentUsd: 0.8613, reservedUsd: 0 });
    // What the actual cost left over is free again.
    expect(await b.store.reserve('b', 1, 0.13, { dailyUsd: 1, monthlyUsd: 0 })).toMatchObject({
      reserved: true,
    });
  });

  it('keeps the estimate as spent when the actual cost is unknown', async () => {
    const b = budget('2000-11-26T10:00:00Z');
    await b.store.reserve('a', 1, 0.5, { dailyUsd: 0, monthlyUsd: 0 });
    expect(await b.store.settle('a', 1, undefined)).toMatchObject({ estimateUsd: 0.5, spentUsd: 0.5 });
    expect(await b.month('11')).toMatchObject({ spentUsd: 0.5, reservedUsd: 0 });
  });

  it('gives a released reservation back to the next job', async () => {
    const b = budget('2000-11-26T10:00:00Z');
    const limits = { dailyUsd: 1, monthlyUsd: 1 };
    await b.store.reserve('a', 1, 1, limits);
    expect((await b.store.reserve('b', 1, 1, limits)).reserved).toBe(false);
    expect(await b.store.release('a', 1)).toMatchObject({ estimateUsd: 1, spentUsd: 0 });
    expect(await b.store.release('a', 1)).toBeUndefined();
    expect((await b.store.reserve('b', 1, 1, limits)).reserved).toBe(true);
    expect(await b.month('11')).toMatchObject({ spentUsd: 0, reservedUsd: 1 });
  });

  it('starts a new day at midnight UTC, within the same month', async () => {
    const b = budget('2000-11-26T23:59:59Z');
    const limits = { dailyUsd: 1, monthlyUsd: 1.5 };
    await b.store.reserve('a', 1, 1, limits);
    b.at('2000-11-27T00:00:01Z');
    // The day has room again; the month does not.
    expect(await b.store.reserve('b', 1, 1, limits)).toMatchObject({
      reserved: false,
      limit: 'monthly',
      leftUsd: 0.5,
    });
    expect((await b.store.reserve('c', 1, 0.5, limits)).reserved).toBe(true);
    const month = await b.month('11');
    expect(month.days[b.day('11-26')]).toEqual({ spentUsd: 0, reservedUsd: 1 });
    expect(month.days[b.day('11-27')]).toEqual({ spentUsd: 0, reservedUsd: 0.5 });
  });

  it('starts a new month at midnight UTC, and settles a reservation in the month it was made in', async () => {
    const b = budget('2000-11-30T23:59:00Z');
    const limits = { dailyUsd: 0, monthlyUsd: 1 };
    await b.store.reserve('a', 1, 1, limits);
    b.at('2000-12-01T00:01:00Z');
    expect((await b.store.reserve('b', 1, 1, limits)).reserved).toBe(true);
    // The retried step of the first job still finds its reservation across the boundary.
    expect(await b.store.reserve('a', 1, 1, limits)).toEqual({ reserved: true, already: true });
    expect(await b.store.settle('a', 1, 0.75)).toMatchObject({ spentUsd: 0.75, day: b.day('11-30') });
    expect(await b.month('11')).toMatchObject({ spentUsd: 0.75, reservedUsd: 0 });
    expect(await b.month('12')).toMatchObject({ spentUsd: 0, reservedUsd: 1 });
  });

  describe('a charge reported after a cancel', () => {
    it('replaces the estimate kept as spent by the charge, once however often it is reported', async () => {
      const b = budget('2000-11-26T10:00:00Z');
      await b.store.reserve('a', 1, 0.5, { dailyUsd: 0, monthlyUsd: 0 });
      await b.store.settle('a', 1, undefined, { lateChargeMayCome: true });
      expect(await b.month('11')).toMatchObject({ spentUsd: 0.5, reservedUsd: 0 });
      b.at('2000-11-27T09:00:00Z');
      expect(await b.store.chargeLate('a', 1, 0.3)).toEqual({
        previousUsd: 0.5,
        spentUsd: 0.3,
        newUsd: 0.3,
        day: b.day('11-26'),
      });
      expect(await b.store.chargeLate('a', 1, 0.3)).toMatchObject({ spentUsd: 0.3, newUsd: 0 });
      const month = await b.month('11');
      expect(month).toMatchObject({ spentUsd: 0.3, reservedUsd: 0 });
      // Counted on the day the estimate was, not the day the charge came.
      expect(month.days[b.day('11-26')]).toEqual({ spentUsd: 0.3, reservedUsd: 0 });
      expect(month.days[b.day('11-27')]).toBeUndefined();
      // What was given back is room for the next job.
      expect((await b.store.reserve('b', 1, 0.7, { dailyUsd: 1, monthlyUsd: 1 })).reserved).toBe(true);
    });

    it('follows a charge that grows as more results of the task arrive', async () => {
      const b = budget('2000-11-26T10:00:00Z');
      await b.store.reserve('a', 1, 1, { dailyUsd: 0, monthlyUsd: 0 });
      await b.store.settle('a', 1, undefined, { lateChargeMayCome: true });
      expect(await b.store.chargeLate('a', 1, 0.4)).toMatchObject({ previousUsd: 1, newUsd: 0.4 });
      expect(await b.store.chargeLate('a', 1, 0.8)).toMatchObject({ previousUsd: 0.4, newUsd: 0.4 });
      expect(await b.month('11')).toMatchObject({ spentUsd: 0.8 });
    });

    it('closes a reservation still open with the charge, and counts a charge that was never reserved', async () => {
      const b = budget('2000-11-26T10:00:00Z');
      await b.store.reserve('a', 1, 1, { dailyUsd: 0, monthlyUsd: 0 });
      expect(await b.store.chargeLate('a', 1, 0.25)).toMatchObject({ previousUsd: 1, newUsd: 0.25 });
      // The fail step's settle that comes after finds nothing left to close.
      expect(await b.store.settle('a', 1, undefined, { lateChargeMayCome: true })).toBeUndefined();
      expect(await b.store.chargeLate('z', 1, 0.1)).toMatchObject({ previousUsd: 0, newUsd: 0.1 });
      expect(await b.store.chargeLate('z', 1, 0.1)).toMatchObject({ newUsd: 0 });
      expect(await b.month('11')).toMatchObject({ spentUsd: 0.35, reservedUsd: 0 });
    });
  });
});
