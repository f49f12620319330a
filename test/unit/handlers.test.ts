import { randomUUID } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS } from '../../lambdas/core/contract/defaults.js';
import { webhookToken } from '../../lambdas/core/webhook-token.js';
import { executionStatusChange, s3ObjectCreated, webhookRequest } from '../../local/events.js';

const SECRET = 'the-webhook-signing-secret-value';
const secrets = mockClient(SecretsManagerClient);
const dynamo = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);

beforeAll(() => {
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    TABLE_NAME: 'jobs',
    WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-AbCdEf',
    STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:pipeline',
    OUTPUT_BUCKET: 'out',
    // The stack always sets it; the handler has no fallback.
    ORPHAN_AFTER_SECONDS: String(DEFAULT_SETTINGS.orphanAfterSeconds),
    JOB_RECORD_RETENTION_DAYS: String(DEFAULT_SETTINGS.jobRecordRetentionDays),
    // Whoever gives a slot back wakes the next waiter: the stack sets these for fail, record, submit and sweep.
    MAX_CONCURRENT_TASKS: String(DEFAULT_SETTINGS.maxConcurrentTasks),
    WAITER_LAPSE_SECONDS: '300',
  });
});
afterEach(() => {
  secrets.reset();
  dynamo.reset();
  sfn.reset();
  s3.reset();
  vi.restoreAllMocks();
});

/** A webhook call as API Gateway delivers it; the header name in capitals, as clients may send it. */
function apiEvent(taskUUID: string, token: string, body: string, base64 = false): APIGatewayProxyEventV2 {
  return webhookRequest({
    taskUUID,
    token,
    body,
    isBase64Encoded: base64,
    headers: { 'Content-Type': 'application/json' },
  });
}

/** A job item as the table holds it (keys included). */
function storedJob(jobId: string, status: string) {
  const file = (key: string) => ({ key, etag: 'e', size: 1, sequencer: '1'.padStart(32, '0') });
  return {
    pk: `JOB#${jobId}`,
    sk: 'JOB',
    jobId,
    attempt: 1,
    status,
    stem: 's',
    inputs: { image: file('inbox/s.jpg'), audio: file('inbox/s.mp3') },
    stages: {},
    executionName: `${jobId}-1`,
    claimedBy: 'evt-0',
    createdAt: '2026-11-24T10:00:00Z',
    updatedAt: '2026-11-24T10:00:00Z',
  };
}

describe('webhook handler', () => {
  it('maps an API Gateway v2 event (base64 body) to the core, and never logs the token or the secret', async () => {
    const taskUUID = randomUUID();
    const token = webhookToken(SECRET, taskUUID);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    const task = {
      pk: `TASK#${taskUUID}`,
      sk: 'TASK',
      taskUUID,
      jobId: 'j',
      attempt: 1,
      numberResults: 1,
      taskToken: 'sfn-token',
      results: {},
      errors: {},
      createdAt: 'x',
    };
    dynamo.on(GetCommand).resolves({ Item: task });
    const stored = { videoUUID: randomUUID(), videoURL: 'https://vm.runware.ai/v.mp4', receivedAt: 'now' };
    dynamo.on(UpdateCommand).resolves({ Attributes: { ...task, results: { [stored.videoUUID]: stored } } });
    sfn.on(SendTaskSuccessCommand).resolves({});
    const logs: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      logs.push(String(chunk));
      return true;
    });
    vi.spyOn(console, 'info').mockImplementation((...args) => logs.push(args.join(' ')));
    vi.spyOn(console, 'log').mockImplementation((...args) => logs.push(args.join(' ')));

    const { handler } = await import('../../lambdas/webhook/handler.js');
    const body = JSON.stringify({
      data: [
        {
          taskType: 'videoInference',
          taskUUID,
          videoUUID: stored.videoUUID,
          videoURL: stored.videoURL,
          cost: 1,
        },
      ],
    });
    const response = await handler(apiEvent(taskUUID, token, body, true));

    expect(response).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/json' } });
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'sfn-token' });
    expect(logs.join('\n')).toContain(taskUUID);
    expect(logs.join('\n')).not.toContain(token);
    expect(logs.join('\n')).not.toContain(SECRET);
  });

  it('answers 500 with no detail when the store fails, so Runware delivers again', async () => {
    const taskUUID = randomUUID();
    secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    dynamo.on(GetCommand).rejects(new Error('internal table detail'));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { handler } = await import('../../lambdas/webhook/handler.js');
    // A valid result, so the request gets as far as the store.
    const body = JSON.stringify({
      data: [
        {
          taskType: 'videoInference',
          taskUUID,
          videoUUID: randomUUID(),
          videoURL: 'https://vm.runware.ai/v.mp4',
        },
      ],
    });
    const response = await handler(apiEvent(taskUUID, webhookToken(SECRET, taskUUID), body));
    expect(response).toEqual({
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: '{"message":"Internal error."}',
    });
  });
});

describe('ingest handler', () => {
  it('reads an EventBridge Object Created event and starts the execution of a complete pair', async () => {
    const files = [
      {
        pk: 'STEM#a b',
        sk: 'FILE#inbox/a b.jpg',
        stem: 'a b',
        role: 'image',
        key: 'inbox/a b.jpg',
        etag: 'e1',
        size: 1,
        sequencer: '1'.padStart(32, '0'),
        seenAt: '2026-11-24T10:00:00Z',
      },
      {
        pk: 'STEM#a b',
        sk: 'FILE#inbox/a b.mp3',
        stem: 'a b',
        role: 'audio',
        key: 'inbox/a b.mp3',
        etag: 'e2',
        size: 1,
        sequencer: '2'.padStart(32, '0'),
        seenAt: '2026-11-24T10:00:00Z',
      },
    ];
    dynamo.on(PutCommand).resolves({});
    dynamo.on(QueryCommand).resolves({ Items: files });
    dynamo.on(UpdateCommand).resolves({ Attributes: storedJob('a'.repeat(32), 'RECEIVED') });
    sfn
      .on(StartExecutionCommand)
      .resolves({ executionArn: 'arn:aws:states:us-east-1:123456789012:execution:pipeline:x' });
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(console, 'info').mockImplementation(() => undefined);
    const { handler } = await import('../../lambdas/ingest/handler.js');
    await handler(
      s3ObjectCreated({
        id: 'evt-1',
        bucket: 'in',
        key: 'inbox/a b.mp3',
        size: 1,
        etag: 'e2',
        sequencer: '2',
        account: '123456789012',
      }),
    );
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:pipeline',
      name: expect.stringMatching(/^[0-9a-f]{32}-1$/),
      input: expect.stringContaining('"stem":"a b"'),
    });
  });
});

describe('fail handler', () => {
  it('turns an execution that timed out (EventBridge status change) into a FAILED job with an error file', async () => {
    const jobId = 'f'.repeat(32);
    dynamo.on(GetCommand).resolves({ Item: storedJob(jobId, 'SUBMITTED') });
    dynamo.on(UpdateCommand).resolves({ Attributes: storedJob(jobId, 'FAILED') });
    dynamo.on(QueryCommand).resolves({ Items: [] }); // nobody waiting for the slot it gives back
    s3.on(PutObjectCommand).resolves({});
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { handler } = await import('../../lambdas/fail/handler.js');
    const out = await handler(
      executionStatusChange({
        executionArn: `arn:aws:states:us-east-1:123456789012:execution:pipeline:${jobId}-1`,
        stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:pipeline',
        status: 'TIMED_OUT',
        name: `${jobId}-1`,
        input: JSON.stringify({ jobId, attempt: 1, stem: 's' }),
      }),
    );
    expect(out).toMatchObject({ code: 'EXECUTION_TIMED_OUT', stage: 'GENERATED', errorKey: 's.error.json' });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: 'out', Key: 's.error.json' });
  });
});
