import { join } from 'node:path';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointsOf, writeEndpointsFile } from '../../cli/endpoints-file.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { DynamoSlotStore } from '../../lambdas/core/store/slots.js';
import { Table } from '../../lambdas/core/store/table.js';
import type { RunwareSimulator } from '../../local/runware-simulator.js';
import type { LocalStack } from '../../local/stack.js';
import { type CliRun, parseJson, runCli } from '../support/cli.js';
import { E2E_CONTEXT, readOutput, startLocal, storesOf } from '../support/local.js';

/**
 * `cancel` and `retry` against local mode, with one Runware slot (`maxConcurrentTasks` 1) and a slow render, so
 * that jobs wait for the slot: a job cancelled while it waits ends CANCELLED and gives its place back (the job
 * behind it is delivered), then `retry` delivers it; and the commands' refusals exit non-zero.
 */

let stack: LocalStack;
let sim: RunwareSimulator;
let dir: string;
let endpoints: string;

beforeAll(async () => {
  ({ stack, dir } = await startLocal({
    ...E2E_CONTEXT,
    // Room for three jobs taking turns on one slot on a slow machine.
    waitTimeoutSeconds: '30',
    hardDeadlineSeconds: '180',
    maxConcurrentTasks: '1',
  }));
  if (!stack.simulator) throw new Error('These tests need the Runware simulator.');
  sim = stack.simulator;
  endpoints = join(dir, 'endpoints.json');
  writeEndpointsFile(endpoints, endpointsOf(stack));
}, 300_000);
afterAll(async () => stack?.stop());

const cli = (...args: string[]): Promise<CliRun> => runCli(dir, [...args, '--endpoints', endpoints], 240_000);

const submit = (stem: string, ...more: string[]) =>
  cli(
    'submit',
    '--image',
    join(dir, 'portrait.png'),
    '--audio',
    join(dir, 'voice3.wav'),
    '--stem',
    stem,
    ...more,
  );

/** The latest job of `stem` once `reached` holds (checked twice a second, for at most two minutes). */
async function jobWhen(stem: string, reached: (job: JobRecord) => boolean): Promise<JobRecord> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const job = (await storesOf(stack).jobs.list()).items.find((j) => j.stem === stem);
    if (job && reached(job)) return job;
    if (Date.now() > deadline) throw new Error(`${stem}: ${job?.status ?? 'no job'} after two minutes`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const errorOf = (run: CliRun) => parseJson<{ error: { code: string; message: string } }>(run.stdout).error;

describe('cancel and retry with the CLI against local mode', () => {
  it('cancels a job waiting for a slot, gives its place to the next job, then retries it to delivery', {
    timeout: 600_000,
  }, async () => {
    // 3 s of audio renders in about 12 s: the first job holds the one slot while the others wait.
    sim.setRenderSpeed(4);
    expect((await submit('queue/first')).code).toBe(0);
    await jobWhen('queue/first', (j) => j.status === 'SUBMITTED');
    expect((await submit('queue/second')).code).toBe(0);
    await jobWhen('queue/second', (j) => j.status === 'QUEUED');
    // The third is followed to its end: its progress shows the wait for the slot.
    const third = submit('queue/third', '--wait', '--json');
    await jobWhen('queue/third', (j) => j.status === 'QUEUED');

    const running = await cli('retry', 'queue/first', '--json');
    expect(running.code).toBe(6);
    expect(errorOf(running).code).toBe('NOT_RETRYABLE');
    expect(running.stderr).toContain('still running (SUBMITTED)');

    const cancelled = await cli('cancel', 'queue/second', '--json');
    expect(cancelled.stderr).toBe('');
    expect(cancelled.code).toBe(0);
    const outcome = parseJson<{ job: JobRecord; cancelled: boolean; taskAccepted: boolean }>(
      cancelled.stdout,
    );
    expect(outcome).toMatchObject({ cancelled: true, taskAccepted: false });
    expect(outcome.job).toMatchObject({
      status: 'CANCELLED',
      error: { stage: 'QUEUED', code: 'CANCELLED' },
      cancel: { during: 'QUEUED' },
    });
    expect(outcome.job.stages.CANCELLED).toBeDefined();
    expect(outcome.job.taskUUID).toBeUndefined();
    const report = JSON.parse((await readOutput(stack, 'queue/second.error.json')).toString('utf8'));
    expect(report).toMatchObject({ code: 'CANCELLED', stage: 'QUEUED', jobId: outcome.job.jobId });
    expect(report.howToRetry).toContain('avatar-pipeline retry');
    expect(stack.events.filter((e) => e.detailType === 'JobCancelled').map((e) => e.detail)).toEqual([
      {
        version: '1',
        jobId: outcome.job.jobId,
        attempt: 1,
        stem: 'queue/second',
        taskAccepted: false,
        at: outcome.job.cancelledAt,
      },
    ]);
    expect(stack.events.filter((e) => e.detailType === 'JobFailed')).toEqual([]);

    const words = await cli('status', 'queue/second');
    expect(words.stdout).toContain('CANCELLED');
    expect(words.stdout).toContain('avatar-pipeline retry queue/second');
    expect((await cli('jobs', '--state', 'cancelled')).stdout).toMatch(/queue\/second\s+CANCELLED/);

    const again = await cli('cancel', 'queue/second');
    expect(again.code).toBe(6);
    expect(again.stderr).toContain('cancelled already');

    // Its place went to the job behind it, which is delivered after the first.
    const followed = await third;
    expect(followed.code).toBe(0);
    expect(followed.stderr).toContain('QUEUED: waiting for a Runware slot');
    expect(parseJson<{ job: JobRecord }>(followed.stdout).job.status).toBe('DELIVERED');
    expect((await jobWhen('queue/first', (j) => j.status === 'DELIVERED')).status).toBe('DELIVERED');
    const slots = new DynamoSlotStore(new Table(stack.dynamo, stack.names.tableName));
    await stack.idle();
    expect(await slots.holders()).toEqual([]);
    expect(await slots.waiters(100)).toEqual([]);

    sim.setRenderSpeed(0);
    const retried = await cli('retry', 'queue/second', '--wait', '--json');
    expect(retried.code).toBe(0);
    const delivered = parseJson<{ job: JobRecord; videos: string[] }>(retried.stdout);
    expect(delivered.job).toMatchObject({ status: 'DELIVERED', attempt: 2, jobId: outcome.job.jobId });
    expect(delivered.job.history).toMatchObject([{ attempt: 1, status: 'CANCELLED' }]);
    expect(delivered.videos).toEqual([`s3://${stack.names.outputBucket}/queue/second.mp4`]);
    expect(retried.stderr).toContain('DELIVERED');
  });

  it('cancels a job Runware is rendering: its late charge is recorded and replaces the estimate in the budget, once', {
    timeout: 300_000,
  }, async () => {
    sim.setRenderSpeed(3);
    expect((await submit('late/erin')).code).toBe(0);
    await jobWhen('late/erin', (j) => j.status === 'SUBMITTED');
    const cancelled = await cli('cancel', 'late/erin', '--json');
    expect(cancelled.code).toBe(0);
    expect(parseJson<{ taskAccepted: boolean }>(cancelled.stdout).taskAccepted).toBe(true);
    // The render goes on at Runware; its webhook comes after the cancel.
    const charged = await jobWhen('late/erin', (j) => j.lateCostUsd !== undefined);
    sim.setRenderSpeed(0);
    expect(charged).toMatchObject({ status: 'CANCELLED', costUsd: charged.lateCostUsd });
    expect(charged.outputs).toBeUndefined();
    await stack.idle();
    const month = new Date().toISOString().slice(0, 7);
    const doc = DynamoDBDocumentClient.from(stack.dynamo);
    const item = (
      await doc.send(
        new GetCommand({ TableName: stack.names.tableName, Key: { pk: `BUDGET#${month}`, sk: 'BUDGET' } }),
      )
    ).Item;
    expect(item?.[`late@${charged.jobId}#1`]).toMatchObject({
      micros: Math.round((charged.lateCostUsd ?? 0) * 1_000_000),
      actual: true,
    });
    expect(item?.reservations).toEqual({});
    expect(stack.events.filter((e) => e.detailType === 'JobFailed')).toEqual([]);
  });

  it('refuses to cancel a delivered job or retry it, and exits 3 for an unknown job', {
    timeout: 120_000,
  }, async () => {
    const cancel = await cli('cancel', 'queue/first', '--json');
    expect(cancel.code).toBe(6);
    expect(errorOf(cancel)).toMatchObject({ code: 'NOT_CANCELLABLE' });
    expect(cancel.stderr).toContain('delivered already');
    const retry = await cli('retry', 'queue/second');
    expect(retry.code).toBe(6);
    expect(retry.stderr).toContain('there is nothing to retry');
    for (const command of ['cancel', 'retry']) {
      const unknown = await cli(command, 'nobody/here', '--json');
      expect(unknown.code).toBe(3);
      expect(errorOf(unknown).code).toBe('UNKNOWN_JOB');
    }
    const usage = await cli('cancel');
    expect(usage.code).toBe(2);
  });
});
