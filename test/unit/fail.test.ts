import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OutputWriter } from '../../lambdas/core/outputs.js';
import { DynamoJobStore } from '../../lambdas/core/store.js';
import { type FailDeps, failJob } from '../../lambdas/fail/fail.js';
import { startDynamo } from '../support/dynamo.js';
import { seedValidatedJob } from '../support/jobs.js';

const s3Mock = mockClient(S3Client);
let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let store: DynamoJobStore;
let deps: FailDeps;

beforeAll(async () => {
  dynamo = await startDynamo();
  store = new DynamoJobStore(dynamo.client, dynamo.tableName);
});
afterAll(async () => dynamo.stop());
beforeEach(() => {
  s3Mock.on(PutObjectCommand).resolves({});
  deps = {
    store,
    outputs: new OutputWriter(new S3Client({ region: 'us-east-1' }), 'out'),
    now: () => new Date('2026-11-24T10:09:00Z'),
  };
});
afterEach(() => s3Mock.reset());

const lambdaCause = (errorType: string, errorMessage: string) =>
  JSON.stringify({ errorType, errorMessage, trace: ['at secret/internal/path.js'] });

function written(): Record<string, unknown> {
  const call = s3Mock.commandCalls(PutObjectCommand)[0];
  return JSON.parse(String(call?.args[0].input.Body));
}

describe('fail', () => {
  it('marks the job FAILED with stage, code and message, and writes <stem>.error.json', async () => {
    const job = await seedValidatedJob(store, { status: 'RECEIVED' });
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
    expect(await store.getJob(job.jobId)).toMatchObject({
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

  it('names a service error (a step timeout) by the stage the job was in', async () => {
    const job = await seedValidatedJob(store, { status: 'GENERATED' });
    const out = await failJob(
      { jobId: job.jobId, attempt: 1, stem: job.stem, error: { Error: 'States.Timeout' } },
      deps,
    );
    expect(out).toMatchObject({ code: 'STEP_TIMEOUT', stage: 'DELIVERED' });
  });

  it('keeps the first failure when it runs twice', async () => {
    const job = await seedValidatedJob(store);
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
    const again = await failJob(
      { jobId: job.jobId, attempt: 1, stem: job.stem, error: { Error: 'Execution.TIMED_OUT' } },
      deps,
    );
    expect(again).toMatchObject({ code: 'RUNWARE_INSUFFICIENT_BALANCE', stage: 'SUBMITTED' });
    expect((await store.getJob(job.jobId))?.error?.code).toBe('RUNWARE_INSUFFICIENT_BALANCE');
  });

  it('leaves a newer attempt and its outputs alone', async () => {
    const job = await seedValidatedJob(store, { attempt: 2 });
    const out = await failJob(
      { jobId: job.jobId, attempt: 1, stem: job.stem, error: { Error: 'States.Timeout' } },
      deps,
    );
    expect(out.errorKey).toBeNull();
    expect((await store.getJob(job.jobId))?.status).toBe('VALIDATED');
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});
