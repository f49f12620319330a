import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import { claimNextAttempt, loadAttempt } from '../../lambdas/core/attempt.js';
import type {
  ExecutionInput,
  ExecutionStarter,
  ExecutionStopper,
} from '../../lambdas/core/aws/executions.js';
import { finishCancel, recordLateCharge, requestCancel } from '../../lambdas/core/cancel.js';
import { JobCancelledDetailSchema } from '../../lambdas/core/contract/job-events.js';
import { SupersededAttemptError } from '../../lambdas/core/errors.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { retryJob } from '../../lambdas/core/retry.js';
import { failJob } from '../../lambdas/fail/fail.js';
import { useOutputBucket, useStores } from '../support/harness.js';
import { RecordingEvents, result, seedValidatedJob } from '../support/jobs.js';

const db = useStores();
const { s3, outputs } = useOutputBucket();
const NOW = new Date('2026-11-26T10:05:00.000Z');
const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:jobs';

class FakeExecutions implements ExecutionStopper, ExecutionStarter {
  readonly stopped: { arn: string; error: string; cause: string }[] = [];
  readonly started: { name: string; input: ExecutionInput }[] = [];
  async stop(arn: string, error: string, cause: string) {
    this.stopped.push({ arn, error, cause });
    return 'stopped' as const;
  }
  async start(name: string, input: ExecutionInput) {
    this.started.push({ name, input });
    return {
      executionArn: `${STATE_MACHINE.replace(':stateMachine:', ':execution:')}:${name}`,
      alreadyExisted: false,
    };
  }
}

let executions: FakeExecutions;
let events: RecordingEvents;
beforeEach(() => {
  executions = new FakeExecutions();
  events = new RecordingEvents();
});

const requestDeps = () => ({
  jobs: db.jobs,
  executions,
  executionArnOf: (name: string) => `${STATE_MACHINE}:${name}`,
  now: () => NOW,
});
const finishDeps = () => ({
  jobs: db.jobs,
  slots: db.slots,
  maxConcurrentTasks: 1000,
  tasks: db.tasks,
  budget: db.budget,
  outputs: outputs('out'),
  events,
  now: () => NOW,
});
const aborted = (job: JobRecord) => ({
  jobId: job.jobId,
  attempt: job.attempt,
  stem: job.stem,
  error: {
    Error: 'Execution.ABORTED',
    Cause: JSON.stringify({ errorMessage: '[EXECUTION_ABORTED] stopped' }),
  },
});
const errorJson = (): Record<string, unknown> =>
  JSON.parse(String(s3.commandCalls(PutObjectCommand).at(-1)?.args[0].input.Body));

/** A job waiting for a Runware slot, listed in the queue. */
async function queuedJob(): Promise<JobRecord> {
  const job = await seedValidatedJob(db.jobs, {
    status: 'QUEUED',
    stages: { RECEIVED: '2026-11-26T10:00:00.000Z', VALIDATED: 'b', QUEUED: '2026-11-26T10:01:00.000Z' },
  });
  expect((await db.slots.acquire(job.jobId, 1, 0)).taken).toBe(false);
  return job;
}

/** A job Runware accepted: SUBMITTED, its slot taken, its task saved. */
async function submittedJob(taskUUID: string): Promise<JobRecord> {
  const job = await seedValidatedJob(db.jobs, {
    status: 'SUBMITTED',
    stages: { RECEIVED: 'a', VALIDATED: 'b', SUBMITTED: '2026-11-26T10:02:00.000Z' },
    taskUUID,
  });
  expect((await db.slots.acquire(job.jobId, 1, 1000)).taken).toBe(true);
  await db.tasks.save({
    taskUUID,
    jobId: job.jobId,
    attempt: 1,
    numberResults: 1,
    taskToken: 'token',
    createdAt: 'a',
  });
  return job;
}

describe('cancel', () => {
  it('marks a job waiting for a slot, stops its execution, and no step of the attempt can change it after', async () => {
    const job = await queuedJob();
    const outcome = await requestCancel(job, 'ops@laptop', requestDeps());
    expect(outcome).toMatchObject({ kind: 'requested', execution: 'stopped', taskAccepted: false });
    expect(executions.stopped).toEqual([
      {
        arn: `${STATE_MACHINE}:${job.executionName}`,
        error: 'JobCancelled',
        cause: 'Cancelled by ops@laptop with avatar-pipeline cancel.',
      },
    ]);
    const marked = await db.jobs.get(job.jobId);
    expect(marked).toMatchObject({ status: 'QUEUED', cancel: { by: 'ops@laptop', during: 'QUEUED' } });
    // A submit that was half-way when the cancel was written can neither take the task nor move the job on.
    await expect(loadAttempt(db.jobs, { jobId: job.jobId, attempt: 1 })).rejects.toThrow(
      SupersededAttemptError,
    );
    await expect(db.jobs.assignTaskUUID(job.jobId, 1, 'uuid')).rejects.toThrow(SupersededAttemptError);
    await expect(db.jobs.advance(job.jobId, 1, 'SUBMITTED')).rejects.toThrow(SupersededAttemptError);
    // Asking again stops the execution again and changes nothing else.
    expect(await requestCancel(marked as JobRecord, 'someone@else', requestDeps())).toMatchObject({
      kind: 'requested',
    });
    expect((await db.jobs.get(job.jobId))?.cancel?.by).toBe('ops@laptop');
  });

  it.each([
    ['DELIVERED', /delivered already/],
    ['FAILED', /failed already/],
    ['CANCELLED', /cancelled already/],
    ['GENERATED', /made and paid for/],
  ] as const)('refuses to cancel a %s job and changes nothing', async (status, reason) => {
    const job = await seedValidatedJob(db.jobs, { status });
    const outcome = await requestCancel(job, 'ops@laptop', requestDeps());
    expect(outcome).toMatchObject({ kind: 'refused', reason: expect.stringMatching(reason) });
    expect(executions.stopped).toEqual([]);
    expect(await db.jobs.get(job.jobId)).toEqual(job);
  });

  it('ends the aborted attempt CANCELLED (not FAILED): slot given back, <stem>.error.json, one JobCancelled', async () => {
    const job = await queuedJob();
    await requestCancel(job, 'ops@laptop', requestDeps());
    const out = await failJob(aborted(job), finishDeps());
    expect(out).toMatchObject({ code: 'CANCELLED', stage: 'QUEUED', cancelled: true });
    const record = await db.jobs.get(job.jobId);
    expect(record).toMatchObject({
      status: 'CANCELLED',
      cancelledAt: NOW.toISOString(),
      taskAccepted: false,
      stages: { QUEUED: '2026-11-26T10:01:00.000Z', CANCELLED: NOW.toISOString() },
      error: { stage: 'QUEUED', code: 'CANCELLED' },
      cancel: { by: 'ops@laptop', announcedAt: NOW.toISOString() },
    });
    expect(record?.error?.message).toContain('nothing was charged');
    expect(record?.costUsd).toBeUndefined();
    expect((await db.slots.waiters(100)).map((w) => w.jobId)).not.toContain(job.jobId);
    expect(errorJson()).toMatchObject({
      stem: job.stem,
      code: 'CANCELLED',
      stage: 'QUEUED',
      cancelledBy: 'ops@laptop',
      taskAccepted: false,
      howToRetry: expect.stringContaining('avatar-pipeline retry'),
    });
    expect(events.cancelled).toEqual([
      {
        version: '1',
        jobId: job.jobId,
        attempt: 1,
        stem: job.stem,
        taskAccepted: false,
        at: NOW.toISOString(),
      },
    ]);
    // What is put is what docs/events.md documents.
    expect(JobCancelledDetailSchema.safeParse(events.cancelled[0]).success).toBe(true);
    // The state machine's catch of a superseded step, or a retried invocation, finishes it again: no second event.
    expect(await failJob(aborted(job), finishDeps())).toMatchObject({ code: 'CANCELLED', repeated: true });
    expect(out.repeated).toBeUndefined();
    expect(events.cancelled).toHaveLength(1);
    expect((await db.jobs.get(job.jobId))?.status).toBe('CANCELLED');
  });

  it('leaves an abort nobody asked for as FAILED EXECUTION_ABORTED', async () => {
    const job = await queuedJob();
    const out = await failJob(aborted(job), finishDeps());
    expect(out).toMatchObject({ code: 'EXECUTION_ABORTED' });
    expect(out.cancelled).toBeUndefined();
    expect(await db.jobs.get(job.jobId)).toMatchObject({ status: 'FAILED' });
    expect(events.cancelled).toEqual([]);
  });

  it('says a task Runware accepted cannot be recalled, and records its charge when the result comes late', async () => {
    const taskUUID = '11111111-2222-4333-8444-555555555555';
    const job = await submittedJob(taskUUID);
    expect(await requestCancel(job, 'ops@laptop', requestDeps())).toMatchObject({ taskAccepted: true });
    const out = await finishCancel(job, finishDeps());
    expect(out).toMatchObject({ taskAccepted: true, stage: 'SUBMITTED' });
    expect(out?.message).toContain('cannot be recalled');
    expect(out?.message).toContain('may still come');
    expect((await db.slots.holders()).map((h) => h.jobId)).not.toContain(job.jobId);
    expect(events.cancelled[0]).toMatchObject({ taskAccepted: true });

    // The webhook's result, after the cancel: recorded as what it cost, never delivered, no error.
    const { task } = await db.tasks.addResult(taskUUID, result(1, { cost: 0.261 }));
    expect(await recordLateCharge(task, { jobs: db.jobs, budget: db.budget })).toBe(0.261);
    expect(await db.jobs.get(job.jobId)).toMatchObject({
      status: 'CANCELLED',
      lateCostUsd: 0.261,
      costUsd: 0.261,
      error: { code: 'CANCELLED' },
    });
    expect((await db.jobs.get(job.jobId))?.outputs).toBeUndefined();
  });

  it('makes the budget count the late charge instead of the estimate, and the cost metric get it once', async () => {
    const taskUUID = '51111111-2222-4333-8444-555555555555';
    const job = await submittedJob(taskUUID);
    await db.budget.reserve(job.jobId, 1, 0.9, { dailyUsd: 0, monthlyUsd: 0 });
    await requestCancel(job, 'ops@laptop', requestDeps());
    const charged: number[] = [];
    const onLateCharge = (usd: number) => charged.push(usd);
    await failJob(aborted(job), { ...finishDeps(), onLateCharge });
    const month = async () => (await db.budget.month(new Date().toISOString().slice(0, 7))).reservations;
    expect(await month()).not.toHaveProperty(`${job.jobId}#1`);
    expect(charged).toEqual([]);

    const { task } = await db.tasks.addResult(taskUUID, result(1, { cost: 0.261 }));
    const late = { jobs: db.jobs, budget: db.budget, onLateCharge };
    expect(await recordLateCharge(task, late)).toBe(0.261);
    // Runware repeats its webhook: nothing is counted twice.
    expect(await recordLateCharge(task, late)).toBe(0.261);
    expect(charged).toEqual([0.261]);
    expect(await db.budget.chargeLate(job.jobId, 1, 0.261)).toMatchObject({ previousUsd: 0.261, newUsd: 0 });
  });

  it('records the charge of a result that came between the cancel and its finish', async () => {
    const taskUUID = '21111111-2222-4333-8444-555555555555';
    const job = await submittedJob(taskUUID);
    await requestCancel(job, 'ops@laptop', requestDeps());
    await db.tasks.addResult(taskUUID, result(1, { cost: 0.5 }));
    const charged: number[] = [];
    const out = await finishCancel(job, { ...finishDeps(), onLateCharge: (usd) => charged.push(usd) });
    expect(out).toMatchObject({ taskAccepted: true, lateCostUsd: 0.5 });
    expect(await db.jobs.get(job.jobId)).toMatchObject({ lateCostUsd: 0.5, costUsd: 0.5 });
    // Its charge is counted by the budget and the cost metric, once: the finish may run again.
    await finishCancel(job, { ...finishDeps(), onLateCharge: (usd) => charged.push(usd) });
    expect(charged).toEqual([0.5]);
  });

  it('says Runware may have the task when a submit was under way but not acknowledged', async () => {
    const job = await queuedJob();
    await db.jobs.assignTaskUUID(job.jobId, 1, '41111111-2222-4333-8444-555555555555');
    await requestCancel((await db.jobs.get(job.jobId)) as JobRecord, 'ops@laptop', requestDeps());
    const out = await finishCancel(job, finishDeps());
    expect(out).toMatchObject({ taskAccepted: false });
    expect(out?.message).toContain('Runware may have received task 41111111-2222-4333-8444-555555555555');
  });

  it('records no late charge for a job that was not cancelled', async () => {
    const taskUUID = '31111111-2222-4333-8444-555555555555';
    const job = await submittedJob(taskUUID);
    const { task } = await db.tasks.addResult(taskUUID, result(1));
    expect(await recordLateCharge(task, { jobs: db.jobs, budget: db.budget })).toBeUndefined();
    expect((await db.jobs.get(job.jobId))?.costUsd).toBeUndefined();
  });
});

describe('retry', () => {
  /** The inbox files of the job, as ingest records them. */
  async function inboxOf(job: JobRecord, etags: { image?: string } = {}) {
    for (const role of ['image', 'audio'] as const) {
      const ref = job.inputs[role];
      await db.files.put({
        ...ref,
        etag: role === 'image' ? (etags.image ?? ref.etag) : ref.etag,
        stem: job.stem,
        role,
        seenAt: 'a',
      });
    }
  }
  const retryDeps = () => ({ jobs: db.jobs, files: db.files, executions, now: () => NOW });

  it('starts the next attempt of a cancelled job with the same inputs, keeping the cancelled one in its history', async () => {
    const job = await queuedJob();
    await inboxOf(job);
    await requestCancel(job, 'ops@laptop', requestDeps());
    await finishCancel(job, finishDeps());
    const cancelled = (await db.jobs.get(job.jobId)) as JobRecord;

    const outcome = await retryJob(cancelled, 'ops@laptop', retryDeps());
    expect(outcome).toMatchObject({ kind: 'started' });
    expect(executions.started).toEqual([
      { name: `${job.jobId}-2`, input: { jobId: job.jobId, attempt: 2, stem: job.stem } },
    ]);
    const next = await db.jobs.get(job.jobId);
    expect(next).toMatchObject({
      attempt: 2,
      status: 'RECEIVED',
      inputs: job.inputs,
      claimedBy: 'retry:ops@laptop',
      executionArn: expect.stringContaining(`${job.jobId}-2`),
      history: [{ attempt: 1, status: 'CANCELLED', taskAccepted: false, error: { code: 'CANCELLED' } }],
    });
    expect(next?.cancel).toBeUndefined();
    expect(next?.error).toBeUndefined();
  });

  it.each([
    ['QUEUED', /still running \(QUEUED\).*avatar-pipeline cancel/],
    ['DELIVERED', /delivered; there is nothing to retry/],
  ] as const)('refuses to retry a %s job and starts nothing', async (status, reason) => {
    const job = await seedValidatedJob(db.jobs, { status });
    const outcome = await retryJob(job, 'ops@laptop', retryDeps());
    expect(outcome).toMatchObject({
      kind: 'refused',
      code: 'NOT_RETRYABLE',
      reason: expect.stringMatching(reason),
    });
    expect(executions.started).toEqual([]);
    expect(await db.jobs.get(job.jobId)).toEqual(job);
  });

  it('refuses to retry a failed job whose image was replaced in the inbox since', async () => {
    const job = await seedValidatedJob(db.jobs, { status: 'FAILED' });
    await inboxOf(job, { image: 'other-bytes' });
    const outcome = await retryJob(job, 'ops@laptop', retryDeps());
    expect(outcome).toMatchObject({ kind: 'refused', code: 'INPUTS_CHANGED' });
    if (outcome.kind === 'refused') expect(outcome.reason).toContain(`${job.inputs.image.key} was replaced`);
    expect(executions.started).toEqual([]);
    expect((await db.jobs.get(job.jobId))?.attempt).toBe(1);
  });

  it('makes one attempt when a retry and a new upload of the same bytes race for it', async () => {
    const job = await seedValidatedJob(db.jobs, { status: 'FAILED' });
    const start = (claimedBy: string) => ({ inputs: job.inputs, claimedBy, now: NOW.toISOString() });
    const claims = await Promise.all([
      claimNextAttempt(db.jobs, job, start('retry:ops@laptop')),
      claimNextAttempt(db.jobs, job, start('s3-event-42')),
    ]);
    expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    expect((await db.jobs.get(job.jobId))?.attempt).toBe(2);
  });
});
