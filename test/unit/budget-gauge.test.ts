import { describe, expect, it } from 'vitest';
import { DynamoBudgetStore } from '../../lambdas/core/store/budget.js';
import { budgetGauge } from '../../lambdas/sweep/budget-gauge.js';
import { useStores } from '../support/harness.js';

const db = useStores();

describe('the budget gauge (sweep)', () => {
  it('reports nothing committed for a month with no spend', async () => {
    await expect(budgetGauge(db.budget, new Date('2041-03-10T12:00:00Z'))).resolves.toEqual({
      monthUsd: 0,
      dayUsd: 0,
    });
  });

  it("reports the month's and the day's spent plus reserved, in USD to the cent", async () => {
    let clock = new Date('2042-05-30T22:00:00Z');
    const budget = new DynamoBudgetStore(db.table, { now: () => clock });
    const none = { dailyUsd: 0, monthlyUsd: 0 };
    await budget.reserve('a', 1, 1.2345, none);
    await budget.settle('a', 1, 1.0);
    clock = new Date('2042-05-31T08:00:00Z');
    await budget.reserve('b', 1, 0.5, none); // in flight: reserved
    await budget.reserve('c', 1, 0.25, none);
    await budget.release('c', 1); // nothing charged
    await expect(budgetGauge(budget, clock)).resolves.toEqual({ monthUsd: 1.5, dayUsd: 0.5 });
    // The first hour of a new month starts from nothing.
    await expect(budgetGauge(budget, new Date('2042-06-01T00:05:00Z'))).resolves.toEqual({
      monthUsd: 0,
      dayUsd: 0,
    });
  });
});
