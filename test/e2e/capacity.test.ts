import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../lambdas/core/job.js';
import { DynamoSlotStore } from '../../lambdas/core/store/slots.js';
import { Table } from '../../lambdas/core/store/table.js';
import type { RunwareSimulator } from '../../local/runware-simulator.js';
import type { LocalStack } from '../../local/stack.js';
import { drop, E2E_CONTEXT, finishedJob, type Samples, startLocal } from '../support/local.js';

/**
 * Volume in local mode: a cap of 2 Runware tasks in flight (`maxConcurrentTasks` via CDK context), measured from
 * the simulator's own in-flight counter; a burst of 429 that makes jobs wait instead of failing; and slots given
 * back by a job that fails while holding one. The hard deadline (120 s) and the webhook wait (30 s, also the time
 * limit of each try of the submit step) are longer than the other e2e files', so that six jobs can take turns.
 */

const SLOW = 180_000;

let stack: LocalStack;
let samples: Samples;
let sim: RunwareSimulator;
let slots: DynamoSlotStore;

beforeAll(async () => {
  ({ stack, samples } = await startLocal({
    ...E2E_CONTEXT,
    // Each try of the submit step has the webhook wait as its time limit: room for a slow machine.
    waitTimeoutSeconds: '30',
    hardDeadlineSeconds: '120',
    maxConcurrentTasks: '2',
  }));
  if (!stack.simulator) throw new Error('These tests need the Runware simulator.');
  sim = stack.simulator;
  slots = new DynamoSlotStore(new Table(stack.dynamo, stack.names.tableName));
}, 300_000);
afterAll(async () => stack?.stop());

beforeEach(async () => {
  await stack.idle();
  sim.faults = {};
  sim.setCapacity(undefined);
  sim.setRenderSpeed(0);
  sim.resetPeakInFlight();
});

/** Drops `count` pairs under `folder/` at once and returns their finished jobs. */
async function batch(folder: string, count: number): Promise<JobRecord[]> {
  const stems = Array.from({ length: count }, (_, i) => `${folder}/job-${i + 1}`);
  await Promise.all(
    stems.flatMap((stem) => [
      drop(stack, `${stem}.png`, samples.portrait),
      drop(stack, `${stem}.wav`, samples.voice3s),
    ]),
  );
  const jobs: JobRecord[] = [];
  for (const stem of stems) jobs.push(await finishedJob(stack, stem));
  return jobs;
}

/** After a batch: no slot is held and nobody waits for one. */
async function expectAllSlotsFree(): Promise<void> {
  expect(await slots.holders()).toEqual([]);
  expect(await slots.waiters(100)).toEqual([]);
}

describe('a cap on Runware tasks in flight', () => {
  it(
    'never has more than 2 tasks in flight for 6 jobs, delivers all 6, and shows the waiting ones as QUEUED',
    async () => {
      // Renders that take a while, so that the jobs really overlap.
      sim.setRenderSpeed(0.5);
      const jobs = await batch('cap', 6);

      expect(jobs.map((j) => [j.status, j.error?.code, j.error?.message])).toEqual(
        Array(6).fill(['DELIVERED', undefined, undefined]),
      );
      expect(sim.peakInFlight).toBeGreaterThanOrEqual(1);
      expect(sim.peakInFlight).toBeLessThanOrEqual(2);
      for (const job of jobs) expect(sim.acceptedTasks(job.taskUUID)).toBe(1);
      const queued = jobs.filter((j) => j.stages.QUEUED !== undefined);
      expect(queued.length).toBeGreaterThan(0);
      for (const job of queued) {
        expect(Date.parse(job.stages.QUEUED ?? '')).toBeLessThanOrEqual(
          Date.parse(job.stages.SUBMITTED ?? ''),
        );
      }
      await expectAllSlotsFree();
    },
    SLOW,
  );

  it(
    'gives a freed slot to a waiting job within seconds: the release wakes it, no timed retry is waited out',
    async () => {
      sim.setRenderSpeed(1);
      const jobs = await batch('prompt', 5);
      expect(jobs.map((j) => j.status)).toEqual(Array(5).fill('DELIVERED'));
      const at = (job: JobRecord, stage: 'GENERATED' | 'SUBMITTED' | 'QUEUED') =>
        Date.parse(job.stages[stage] ?? '');
      const queued = jobs.filter((j) => j.stages.QUEUED !== undefined);
      expect(queued.length).toBeGreaterThanOrEqual(2);
      let wokenByRelease = 0;
      for (const job of queued) {
        // The slot it took was given back when another job's generation was recorded (GENERATED) before it; a job
        // queued only while an older waiter was owed a free slot (no release before it) waited from QUEUED.
        const released = Math.max(
          ...jobs
            .filter((o) => o !== job && at(o, 'GENERATED') <= at(job, 'SUBMITTED'))
            .map((o) => at(o, 'GENERATED')),
        );
        if (released > at(job, 'QUEUED')) wokenByRelease += 1;
        const waitedFrom = Math.max(released, at(job, 'QUEUED'));
        // Woken, not retried: the timed re-ask comes only after WaitForSlot's 60 s timeout (half of it is the
        // bound, room for a loaded machine).
        expect(at(job, 'SUBMITTED') - waitedFrom, job.stem).toBeLessThan(30_000);
      }
      // With 5 jobs through 2 slots, jobs did wait for a release (the case the timed retry made slow).
      expect(wokenByRelease).toBeGreaterThanOrEqual(1);
      expect(sim.peakInFlight).toBeLessThanOrEqual(2);
      await expectAllSlotsFree();
    },
    SLOW,
  );

  it(
    'keeps jobs waiting through a burst of 429 and then delivers each with one accepted task',
    async () => {
      // The submit function's client tries 3 times per run: 12 refusals make several runs wait.
      sim.queueFault({ submitStatus: Array(12).fill(429) });
      const jobs = await batch('busy', 3);

      expect(jobs.map((j) => j.status)).toEqual(['DELIVERED', 'DELIVERED', 'DELIVERED']);
      for (const job of jobs) expect(sim.acceptedTasks(job.taskUUID)).toBe(1);
      expect(jobs.some((j) => j.stages.QUEUED !== undefined)).toBe(true);
      expect(sim.requests.videoInference ?? 0).toBeGreaterThanOrEqual(12 + 3);
      await expectAllSlotsFree();
    },
    SLOW,
  );

  it(
    'gives back the slot of a job that fails while holding it, so the next jobs still run',
    async () => {
      sim.queueFault({ errorWebhook: { code: 'providerError', message: 'The provider failed the task.' } });
      const [failed] = await batch('failing', 1);
      expect(failed?.status).toBe('FAILED');
      expect(failed?.error?.stage).toBe('GENERATED');
      await expectAllSlotsFree();

      // Both slots are free again: two jobs at once run side by side.
      sim.setRenderSpeed(0.5);
      sim.resetPeakInFlight();
      const next = await batch('after-failure', 2);
      expect(next.map((j) => j.status)).toEqual(['DELIVERED', 'DELIVERED']);
      await expectAllSlotsFree();
    },
    SLOW,
  );

  it(
    'wakes a job waiting for a slot when a job holding one fails (the fail function completes its token)',
    async () => {
      // Two slots taken by slow renders and a task Runware fails at once: the third job waits, and the fail
      // function, which gives the failed attempt's slot back, wakes it (states:SendTaskSuccess as its role).
      sim.setRenderSpeed(2);
      sim.queueFault({ errorWebhook: { code: 'providerError', message: 'The provider failed the task.' } });
      const wakesByFail = () =>
        [...stack.iam.usage]
          .filter(([id]) => id.startsWith('WorkflowFailFunctionTaskCallbacks'))
          .reduce((sum, [, n]) => sum + n, 0);
      const before = wakesByFail();
      const jobs = await batch('fail-wakes', 3);

      expect(jobs.map((j) => j.status).sort()).toEqual(['DELIVERED', 'DELIVERED', 'FAILED']);
      expect(jobs.some((j) => j.stages.QUEUED !== undefined)).toBe(true);
      expect(wakesByFail()).toBeGreaterThan(before);
      expect(stack.iam.refusals).toEqual([]);
      await expectAllSlotsFree();
    },
    SLOW,
  );
});
