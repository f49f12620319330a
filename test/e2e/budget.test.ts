import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBudgetStore, utcMonth } from '../../lambdas/core/store/budget.js';
import { Table } from '../../lambdas/core/store/table.js';
import type { LocalStack } from '../../local/stack.js';
import { drop, E2E_CONTEXT, finishedJob, readOutput, type Samples, startLocal } from '../support/local.js';

/**
 * The budget in local mode: a daily budget with room for one 3-second job ($0.261 at $0.087/s), two such jobs
 * dropped at once. Exactly one is submitted to the simulator; the other ends BUDGET_EXCEEDED with its error file;
 * the delivered job's actual cost replaces its reservation in the budget item.
 */

let stack: LocalStack;
let samples: Samples;

beforeAll(async () => {
  ({ stack, samples } = await startLocal({ ...E2E_CONTEXT, dailyBudgetUsd: '0.4' }));
}, 300_000);
afterAll(async () => stack?.stop());

describe('a daily budget', () => {
  it('lets exactly one of two racing jobs through and corrects its reservation by the actual cost', async () => {
    const stems = ['budget/race-1', 'budget/race-2'];
    await Promise.all(
      stems.flatMap((stem) => [
        drop(stack, `${stem}.png`, samples.portrait),
        drop(stack, `${stem}.wav`, samples.voice3s),
      ]),
    );
    const jobs = [];
    for (const stem of stems) jobs.push(await finishedJob(stack, stem));

    expect(stack.simulator?.acceptedTasks()).toBe(1);
    const delivered = jobs.filter((j) => j.status === 'DELIVERED');
    const refused = jobs.filter((j) => j.status === 'FAILED');
    expect(delivered).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ estimatedCostUsd: 0.261, priceUsdPerSecond: 0.087 });
    expect(delivered[0]?.costUsd).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({
      estimatedCostUsd: 0.261,
      error: { stage: 'SUBMITTED', code: 'BUDGET_EXCEEDED' },
    });
    expect(refused[0]?.taskUUID).toBeUndefined();

    const errorFile = JSON.parse(
      (await readOutput(stack, `${refused[0]?.stem}.error.json`)).toString('utf8'),
    );
    expect(errorFile).toMatchObject({ code: 'BUDGET_EXCEEDED', stage: 'SUBMITTED' });
    expect(errorFile.message).toMatch(/does not fit in the daily budget: \$0\.\d{3} of \$0\.400 is left/);
    expect(errorFile.message).toContain('cdk deploy -c dailyBudgetUsd=');

    const budget = new DynamoBudgetStore(new Table(stack.dynamo, stack.names.tableName));
    const month = await budget.month(utcMonth(new Date()));
    expect(month.reservations).toEqual({});
    expect(month.reservedUsd).toBe(0);
    expect(month.spentUsd).toBeCloseTo(delivered[0]?.costUsd ?? -1, 6);
  }, 180_000);
});
