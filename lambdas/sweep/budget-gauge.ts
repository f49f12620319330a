import type { BudgetGauge } from '../core/aws/metrics.js';
import { type BudgetStore, utcDay, utcMonth } from '../core/store/budget.js';

const cents = (usd: number) => Math.round(usd * 100) / 100;

/**
 * What the budget has committed now (spent plus reserved by jobs in flight), for the current UTC month and day.
 * Read by the sweep on each scheduled run: CloudWatch cannot sum a calendar month of cost, so the month's total is
 * published as a gauge, which the `MonthlyBudgetNearlySpent` alarm and the dashboard compare with the limit.
 * Spend is tracked with or without limits, so the gauge is there even when none is set.
 */
export async function budgetGauge(budget: Pick<BudgetStore, 'month'>, now: Date): Promise<BudgetGauge> {
  const month = await budget.month(utcMonth(now));
  const day = month.days[utcDay(now)] ?? { spentUsd: 0, reservedUsd: 0 };
  return {
    monthUsd: cents(month.spentUsd + month.reservedUsd),
    dayUsd: cents(day.spentUsd + day.reservedUsd),
  };
}
