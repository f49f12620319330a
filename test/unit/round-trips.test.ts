import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../lambdas/core/job.js';
import { DynamoBudgetStore } from '../../lambdas/core/store/budget.js';
import { DynamoJobStore } from '../../lambdas/core/store/jobs.js';
import { DynamoSlotStore } from '../../lambdas/core/store/slots.js';
import { Table } from '../../lambdas/core/store/table.js';
import { DynamoTaskStore } from '../../lambdas/core/store/tasks.js';
import { failJob } from '../../lambdas/fail/fail.js';
import { recordResults } from '../../lambdas/record/record.js';
import { waitForSlot } from '../../lambdas/submit/queue.js';
import { type SubmitDeps, submitJob } from '../../lambdas/submit/submit.js';
import { startDynamo } from '../support/dynamo.js';
import { useOutputBucket } from '../support/harness.js';
import {
  FakeRunware,
  RecordingEvents,
  RecordingNotifier,
  result,
  seedValidatedJob,
  submitDeps,
} from '../support/jobs.js';

/**
 * DynamoDB requests per function on the ordinary paths, counted at the client, once the table is in use (the slots'
 * and the month's budget items exist). Every write is a single-item conditional write (dynalite, the local table,
 * has no transactions), so a request saved is a read that another one already made.
 */
let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let calls: string[] = [];
let stores: {
  jobs: DynamoJobStore;
  tasks: DynamoTaskStore;
  slots: DynamoSlotStore;
  budget: DynamoBudgetStore;
};
const { outputs } = useOutputBucket();
const NOW = new Date('2026-11-24T10:01:00Z');
const woken = { wake: async () => 'delivered' as const };

beforeAll(async () => {
  dynamo = await startDynamo();
  dynamo.client.middlewareStack.add(
    (next, context) => (args) => {
      calls.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const table = new Table(dynamo.client, dynamo.tableName);
  stores = {
    jobs: new DynamoJobStore(table, () => NOW),
    tasks: new DynamoTaskStore(table),
    slots: new DynamoSlotStore(table, { now: () => NOW }),
    budget: new DynamoBudgetStore(table, { now: () => NOW }),
  };
});
afterAll(async () => dynamo.stop());

/** As the functions have them: the cap, and a waker, so a release wakes the waiters owed the freed slot. */
const holdings = () => ({ ...stores, maxConcurrentTasks: 10, waker: woken });

async function counted(run: () => Promise<unknown>): Promise<string[]> {
  calls = [];
  await run();
  const made = calls;
  calls = [];
  return made;
}

const deps = (): SubmitDeps =>
  submitDeps(stores, new FakeRunware(), new RecordingNotifier(), {
    now: () => NOW,
    maxConcurrentTasks: 10,
    waker: woken,
    budgetLimits: { dailyUsd: 100, monthlyUsd: 1000 },
  });

/** WaitForSlot then Submit for a new job; the requests each made. */
async function submitted(): Promise<{ job: JobRecord; wait: string[]; submit: string[] }> {
  const job = await seedValidatedJob(stores.jobs);
  const input = { jobId: job.jobId, attempt: 1, taskToken: `token-${job.jobId}` };
  const wait = await counted(() => waitForSlot(input, { ...deps(), waker: woken }));
  const submit = await counted(() => submitJob(input, deps()));
  return { job, wait, submit };
}

describe('DynamoDB requests per job', () => {
  it('takes a slot, reserves, submits, records and fails in as few requests as the single-item writes allow', async () => {
    await submitted(); // the first job ever makes the slots' and the month's items
    const { job, wait, submit } = await submitted();
    const taskUUID = (await stores.jobs.get(job.jobId))?.taskUUID ?? '';
    await stores.tasks.addResult(taskUUID, result(1));
    const record = await counted(() => recordResults({ jobId: job.jobId, attempt: 1 }, holdings()));

    const failing = await submitted();
    const fail = await counted(() =>
      failJob(
        {
          jobId: failing.job.jobId,
          attempt: 1,
          stem: failing.job.stem,
          error: { Error: 'States.Timeout' },
        },
        { ...holdings(), outputs: outputs('out'), events: new RecordingEvents(), now: () => NOW },
      ),
    );
    const counts = { wait, submit, record, fail };
    console.log(
      JSON.stringify(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, `${v.length}: ${v}`]))),
    );
    expect(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v.length]))).toEqual({
      wait: 7,
      submit: 7,
      record: 8,
      fail: 7,
    });
    // Each step still reads the job first and writes its own result.
    expect(submit[0]).toBe('GetItem');
    expect(record.slice(0, 2)).toEqual(['GetItem', 'GetItem']);
  });
});
