import { Logger } from '@aws-lambda-powertools/logger';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DYNAMODB_ITEM_MAX_BYTES,
  dynamoItemSize,
  EVENTBRIDGE_ENTRY_MAX_BYTES,
  eventEntrySize,
  taskFailureCause,
} from '../../lambdas/core/contract/bounds.js';
import { OutputWriter } from '../../lambdas/core/outputs/writer.js';
import { type FailDeps, failJob, failureLogAttributes } from '../../lambdas/fail/fail.js';
import { useOutputBucket, useStores } from '../support/harness.js';
import { RecordingEvents, seedValidatedJob } from '../support/jobs.js';
import { MemoryOutputNameStore } from '../support/output-names.js';

const db = useStores();
const { s3: s3Mock, outputs } = useOutputBucket();
let deps: FailDeps;

beforeEach(() => {
  deps = {
    jobs: db.jobs,
    slots: db.slots,
    maxConcurrentTasks: 1000,
    tasks: db.tasks,
    budget: db.budget,
    outputs: outputs('out'),
    events: new RecordingEvents(),
    now: () => new Date('2026-11-24T10:09:00Z'),
  };
});

const lambdaCause = (errorType: string, errorMessage: string) =>
  JSON.stringify({ errorType, errorMessage, trace: ['at secret/internal/path.js'] });

function written(): Record<string, unknown> {
  const call = s3Mock.commandCalls(PutObjectCommand)[0];
  return JSON.parse(String(call?.args[0].input.Body));
}

describe('fail', () => {
  it('gives back the budget reservation of a job Runware never accepted, and keeps the estimate of one it did', async () => {
    const month = new Date().toISOString().slice(0, 7);
    const before = await db.budget.month(month);
    const refused = await seedValidatedJob(db.jobs);
    const accepted = await seedValidatedJob(db.jobs, {
      status: 'SUBMITTED',
      stages: { VALIDATED: '2026-11-24T10:00:12.000Z', SUBMITTED: '2026-11-24T10:01:00.000Z' },
    });
    for (const job of [refused, accepted]) {
      await db.budget.reserve(job.jobId, 1, 1.088, { dailyUsd: 0, monthlyUsd: 0 });
    }
    const cause = lambdaCause('RunwareRejectedError', '[RUNWARE_REJECTED] Refused.');
    for (const job of [refused, accepted]) {
      const input = { jobId: job.jobId, attempt: 1, stem: job.stem };
      await failJob({ ...input, error: { Error: 'RunwareRejectedError', Cause: cause } }, deps);
      // Again, as a retried invocation would: nothing more changes.
      await failJob({ ...input, error: { Error: 'RunwareRejectedError', Cause: cause } }, deps);
    }
    const after = await db.budget.month(month);
    expect(after.reservedUsd - before.reservedUsd).toBeCloseTo(0, 6);
    expect(after.spentUsd - before.spentUsd).toBeCloseTo(1.088, 6);
  });

  it("keeps the error in the job record when <stem>.error.json is another stem's, and writes nothing", async () => {
    const job = await seedValidatedJob(db.jobs, { status: 'RECEIVED' });
    const names = new MemoryOutputNameStore();
    // `<stem>.error.json` is the job record of the stem `<stem>.error`, which reserved it first.
    await names.claim(`${job.stem}.error`, [`${job.stem}.error.json`]);
    const out = await failJob(
      {
        jobId: job.jobId,
        attempt: 1,
        stem: job.stem,
        error: {
          Error: 'ValidationError',
          Cause: lambdaCause('ValidationError', '[EMPTY_FILE] The image is empty.'),
        },
      },
      { ...deps, outputs: new OutputWriter(new S3Client({ region: 'us-east-1' }), 'out', names) },
    );
    expect(out).toMatchObject({ code: 'EMPTY_FILE', errorKey: null, errorKeyHeldBy: `${job.stem}.error` });
    expect(await db.jobs.get(job.jobId)).toMatchObject({ status: 'FAILED', error: { code: 'EMPTY_FILE' } });
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('marks the job FAILED with stage, code and message, and writes <stem>.error.json', async () => {
    const job = await seedValidatedJob(db.jobs, { status: 'RECEIVED' });
    const out = await failJob(
      {
        jobId: job.jobId,
        attempt: 1,
        stem: job.stem,
        error: {
          Error: 'ValidationError',
          Cause: lambdaCause(
            'ValidationError',
            '[IMAGE_TOO_SMALL] The image is 200×180 px; use a larger portrait.',
          ),
        },
      },
      deps,
    );
    expect(out).toEqual({
      code: 'IMAGE_TOO_SMALL',
      message: 'The image is 200×180 px; use a larger portrait.',
      stage: 'VALIDATED',
      errorKey: `${job.stem}.error.json`,
    });
    expect(await db.jobs.get(job.jobId)).toMatchObject({
      status: 'FAILED',
      error: { stage: 'VALIDATED', code: 'IMAGE_TOO_SMALL', at: '2026-11-24T10:09:00.000Z' },
      stages: { FAILED: '2026-11-24T10:09:00.000Z' },
    });
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'out',
      Key: `${job.stem}.error.json`,
    });
    const doc = written();
    expect(doc).toMatchObject({
      jobId: job.jobId,
      stage: 'VALIDATED',
      code: 'IMAGE_TOO_SMALL',
      inputs: { image: job.inputs.image.key },
    });
    expect(String(doc.howToRetry)).toContain('upload');
    expect(JSON.stringify(doc)).not.toContain('secret/internal');
  });

  it('writes every problem validation found into <stem>.error.json as `problems`', async () => {
    const job = await seedValidatedJob(db.jobs, { status: 'RECEIVED' });
    const problems = [
      { code: 'IMAGE_TOO_SMALL', message: 'The image is 200×180 px.', file: job.inputs.image.key },
      { code: 'AUDIO_TOO_SHORT', message: 'The audio lasts 1 s.', file: job.inputs.audio.key },
    ];
    await db.jobs.update(job.jobId, 1, { problems });
    await failJob(
      {
        jobId: job.jobId,
        attempt: 1,
        stem: job.stem,
        error: {
          Error: 'ValidationError',
          Cause: lambdaCause('ValidationError', '[IMAGE_TOO_SMALL] 2 problems to fix: (1) ... (2) ...'),
        },
      },
      deps,
    );
    expect(written()).toMatchObject({ code: 'IMAGE_TOO_SMALL', problems });
  });

  it('names a service error (a step timeout) by the stage the job was in', async () => {
    const job = await seedValidatedJob(db.jobs, { status: 'GENERATED' });
    const out = await failJob(
      { jobId: job.jobId, attempt: 1, stem: job.stem, error: { Error: 'States.Timeout' } },
      deps,
    );
    expect(out).toMatchObject({ code: 'STEP_TIMEOUT', stage: 'DELIVERED' });
  });

  // A transient error that outlived its retries belongs to the stage its step was trying to reach.
  it.each([
    ['submit', 'VALIDATED', 'SUBMITTED'],
    ['poll', 'SUBMITTED', 'GENERATED'],
    ['deliver', 'GENERATED', 'DELIVERED'],
  ] as const)(
    'counts a transient error that %s gave up on against the next stage',
    async (_, status, stage) => {
      const job = await seedValidatedJob(db.jobs, { status });
      const out = await failJob(
        {
          jobId: job.jobId,
          attempt: 1,
          stem: job.stem,
          error: {
            Error: 'TransientError',
            Cause: lambdaCause('TransientError', '[RUNWARE_UNAVAILABLE] Try later.'),
          },
        },
        deps,
      );
      expect(out).toMatchObject({ code: 'RUNWARE_UNAVAILABLE', stage });
    },
  );

  it('keeps the first failure when it runs twice', async () => {
    const job = await seedValidatedJob(db.jobs);
    await failJob(
      {
        jobId: job.jobId,
        attempt: 1,
        stem: job.stem,
        error: {
          Error: 'RunwareRejectedError',
          Cause: lambdaCause('x', '[RUNWARE_INSUFFICIENT_BALANCE] Top up.'),
        },
      },
      deps,
    );
    const first = await db.jobs.get(job.jobId);
    const again = await failJob(
      { jobId: job.jobId, attempt: 1, stem: job.stem, error: { Error: 'Execution.TIMED_OUT' } },
      deps,
    );
    // The second run reports the same end, marked so that the handler does not count it again.
    expect(first?.status).toBe('FAILED');
    expect(again).toMatchObject({ code: 'RUNWARE_INSUFFICIENT_BALANCE', stage: 'SUBMITTED', repeated: true });
    expect((await db.jobs.get(job.jobId))?.error?.code).toBe('RUNWARE_INSUFFICIENT_BALANCE');
  });

  it('leaves a newer attempt and its outputs alone', async () => {
    const job = await seedValidatedJob(db.jobs, { attempt: 2 });
    const out = await failJob(
      { jobId: job.jobId, attempt: 1, stem: job.stem, error: { Error: 'States.Timeout' } },
      deps,
    );
    expect(out).toMatchObject({ errorKey: null, repeated: true });
    expect((await db.jobs.get(job.jobId))?.status).toBe('VALIDATED');
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('keeps no secret and a bounded message when the provider quotes a 40 KiB text with a URL in it', async () => {
    const job = await seedValidatedJob(db.jobs, { status: 'SUBMITTED' });
    const secretUrl = 'https://user:hunter2-password@cdn.example.com/v.mp4?X-Amz-Signature=abcdef0123456789';
    const huge = `[RUNWARE_TASK_FAILED] Provider said: ${secretUrl} ${'x'.repeat(40 * 1024)}`;
    const cause = taskFailureCause(huge);
    expect(cause.length).toBeLessThanOrEqual(32_768);
    const out = await failJob(
      { jobId: job.jobId, attempt: 1, stem: job.stem, error: { Error: 'RunwareTaskError', Cause: cause } },
      deps,
    );
    expect(out.code).toBe('RUNWARE_TASK_FAILED');
    expect(out.message).toContain('…[truncated]');
    expect(out.message.length).toBeLessThanOrEqual(4000);
    const record = await db.jobs.get(job.jobId);
    const file = JSON.stringify(written());
    for (const text of [JSON.stringify(record), file, JSON.stringify(out)]) {
      expect(text).not.toContain('hunter2-password');
      expect(text).not.toContain('abcdef0123456789');
    }
    // The JobFailed event (detail = the fail output plus the execution input) and the job item fit their limits.
    const detail = JSON.stringify({ jobId: job.jobId, attempt: 1, stem: job.stem, ...out });
    expect(
      eventEntrySize({
        Source: 'avatar-pipeline',
        DetailType: 'JobFailed',
        Detail: detail,
        Time: new Date(),
      }),
    ).toBeLessThan(EVENTBRIDGE_ENTRY_MAX_BYTES);
    expect(dynamoItemSize(record as Record<string, unknown>)).toBeLessThan(DYNAMODB_ITEM_MAX_BYTES);
  });

  it('logs why the job failed under a key the logger keeps', () => {
    const lines: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    // Powertools writes warnings to stderr through its own Console.
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation(capture),
      vi.spyOn(process.stderr, 'write').mockImplementation(capture),
    ];
    try {
      const logger = new Logger({ serviceName: 'test' });
      logger.warn(
        'job failed',
        failureLogAttributes({ code: 'X', message: 'why it failed', stage: 'VALIDATED', errorKey: null }),
      );
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const line = JSON.parse(lines.join('').trim().split('\n').at(-1) ?? '{}');
    expect(line).toMatchObject({
      message: 'job failed',
      code: 'X',
      reason: 'why it failed',
      stage: 'VALIDATED',
    });
  });

  it('gives back the Runware slot of the failed attempt, and its place in the queue', async () => {
    const holding = await seedValidatedJob(db.jobs, { status: 'SUBMITTED' });
    const waiting = await seedValidatedJob(db.jobs, { status: 'QUEUED' });
    expect((await db.slots.acquire(holding.jobId, 1, 1000)).taken).toBe(true);
    const taken = (await db.slots.holders()).length;
    expect((await db.slots.acquire(waiting.jobId, 1, taken)).taken).toBe(false);
    const error = {
      Error: 'Execution.ABORTED',
      Cause: JSON.stringify({ errorMessage: '[EXECUTION_ABORTED] x' }),
    };
    for (const job of [holding, waiting]) {
      await failJob({ jobId: job.jobId, attempt: 1, stem: job.stem, error }, deps);
    }
    const holders = (await db.slots.holders()).map((h) => h.jobId);
    expect(holders).not.toContain(holding.jobId);
    expect((await db.slots.waiters(100)).map((w) => w.jobId)).not.toContain(waiting.jobId);
  });
});
