import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { webhookToken } from '../../lambdas/core/webhook-token.js';
import { handleWebhook, type WebhookDeps, type WebhookRequest } from '../../lambdas/webhook/webhook.js';
import { useStores } from '../support/harness.js';
import { RecordingNotifier, seedValidatedJob } from '../support/jobs.js';

const SECRET = 'webhook-signing-secret';
const db = useStores();
let notifier: RecordingNotifier;
let deps: WebhookDeps;

beforeEach(() => {
  notifier = new RecordingNotifier();
  deps = {
    tasks: db.tasks,
    jobs: db.jobs,
    budget: db.budget,
    notifier,
    secret: async () => SECRET,
    now: () => new Date('2026-11-24T10:05:00Z'),
    maxBodyBytes: 256 * 1024,
  };
});

async function waitingTask(numberResults = 1) {
  const job = await seedValidatedJob(db.jobs);
  const taskUUID = randomUUID();
  await db.tasks.save({
    taskUUID,
    jobId: job.jobId,
    attempt: 1,
    numberResults,
    taskToken: `token-${taskUUID}`,
    createdAt: 'now',
  });
  return { job, taskUUID };
}

function item(taskUUID: string, n = 1) {
  return {
    taskType: 'videoInference',
    taskUUID,
    videoUUID: `267a2bde-25e5-48bc-9c2d-${n.toString().padStart(12, '0')}`,
    videoURL: `https://vm.runware.ai/video/os/a15d18/ws/5/vi/${n}.mp4`,
    cost: 1.20634,
    seed: 42 + n,
  };
}

function post(taskUUID: string, body: unknown, overrides: Partial<WebhookRequest> = {}): WebhookRequest {
  return {
    method: 'POST',
    taskUUID,
    token: webhookToken(SECRET, taskUUID),
    contentType: 'application/json',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...overrides,
  };
}

describe('webhook', () => {
  it('completes the waiting step with the result of the task', async () => {
    const { taskUUID } = await waitingTask();
    const response = await handleWebhook(post(taskUUID, { data: [item(taskUUID)] }), deps);
    expect(response.statusCode).toBe(200);
    expect(notifier.successes).toEqual([
      { taskToken: `token-${taskUUID}`, output: { taskUUID, results: 1 } },
    ]);
    const task = await db.tasks.get(taskUUID);
    expect(Object.values(task?.results ?? {})).toEqual([
      expect.objectContaining({
        videoURL: item(taskUUID).videoURL,
        cost: 1.20634,
        seed: 43,
        receivedAt: '2026-11-24T10:05:00.000Z',
      }),
    ]);
    expect(task?.completedAt).toBe('2026-11-24T10:05:00.000Z');
  });

  it('accepts a bare result item as well as the envelope', async () => {
    const { taskUUID } = await waitingTask();
    expect((await handleWebhook(post(taskUUID, item(taskUUID)), deps)).statusCode).toBe(200);
    expect(notifier.successes).toHaveLength(1);
  });

  it('answers 2xx to a duplicate delivery and changes nothing', async () => {
    const { taskUUID } = await waitingTask();
    await handleWebhook(post(taskUUID, { data: [item(taskUUID)] }), deps);
    const before = await db.tasks.get(taskUUID);
    const again = await handleWebhook(post(taskUUID, { data: [item(taskUUID)] }), {
      ...deps,
      now: () => new Date('2026-11-24T11:00:00Z'),
    });
    expect(again).toEqual({ statusCode: 200, body: { message: 'Already complete.' } });
    expect(notifier.successes).toHaveLength(1);
    expect(await db.tasks.get(taskUUID)).toEqual(before);
  });

  it('waits for every result when several were asked for, in any order', async () => {
    const { taskUUID } = await waitingTask(2);
    const first = await handleWebhook(post(taskUUID, { data: [item(taskUUID, 2)] }), deps);
    expect(first.body.message).toContain('waiting');
    await handleWebhook(post(taskUUID, { data: [item(taskUUID, 2)] }), deps); // duplicate of the first
    expect(notifier.successes).toHaveLength(0);
    await handleWebhook(post(taskUUID, { data: [item(taskUUID, 1)] }), deps);
    expect(notifier.successes).toEqual([
      { taskToken: `token-${taskUUID}`, output: { taskUUID, results: 2 } },
    ]);
  });

  it('fails the waiting step with the provider message on an error webhook', async () => {
    const { taskUUID } = await waitingTask();
    const body = { errors: [{ code: 'timeoutProvider', message: 'The provider timed out', taskUUID }] };
    expect((await handleWebhook(post(taskUUID, body), deps)).statusCode).toBe(200);
    expect(notifier.failures).toHaveLength(1);
    expect(notifier.failures[0]?.error).toBe('RunwareTaskError');
    expect(notifier.failures[0]?.cause).toContain('[RUNWARE_TASK_FAILED]');
    expect(notifier.failures[0]?.cause).toContain('The provider timed out');
  });

  it.each([
    ['a missing token', { token: undefined }, 401],
    ['a wrong token', { token: 'x'.repeat(43) }, 401],
    ['the wrong method', { method: 'GET' }, 405],
    ['a non-JSON body sent as text/plain', { contentType: 'text/plain', body: 'data=1' }, 400],
    ['malformed JSON', { body: '{"data": [' }, 400],
    ['a body that is not a task response', { body: '{"hello": "world"}' }, 400],
    ['an oversized body', { body: JSON.stringify({ data: [], pad: 'x'.repeat(300 * 1024) }) }, 413],
  ])('refuses %s and changes nothing', async (_name, overrides, status) => {
    const { taskUUID } = await waitingTask();
    const before = await db.tasks.get(taskUUID);
    const response = await handleWebhook(
      post(taskUUID, { data: [item(taskUUID)] }, overrides as Partial<WebhookRequest>),
      deps,
    );
    expect(response.statusCode).toBe(status);
    expect(notifier.successes).toHaveLength(0);
    expect(await db.tasks.get(taskUUID)).toEqual(before);
  });

  it.each([
    ['no Content-Type', undefined],
    ['text/plain', 'text/plain'],
    ['application/json; charset=utf-8', 'application/json; charset=utf-8'],
    ['application/octet-stream', 'application/octet-stream'],
  ])('accepts an authenticated JSON body with %s', async (_name, contentType) => {
    const { taskUUID } = await waitingTask();
    const response = await handleWebhook(post(taskUUID, { data: [item(taskUUID)] }, { contentType }), deps);
    expect(response.statusCode).toBe(200);
    expect(notifier.successes).toHaveLength(1);
  });

  it.each([
    [
      '{errors:[...]}',
      (t: string) => ({ errors: [{ code: 'providerError', message: 'Kling said no', taskUUID: t }] }),
    ],
    [
      'a data item with status "error" and an error object',
      (t: string) => ({
        data: [
          {
            taskType: 'videoInference',
            taskUUID: t,
            status: 'error',
            error: { code: 'providerError', message: 'Kling said no' },
          },
        ],
      }),
    ],
    [
      '{error:{code,message}, taskUUID}',
      (t: string) => ({ error: { code: 'providerError', message: 'Kling said no' }, taskUUID: t }),
    ],
    ['a bare error item', (t: string) => ({ code: 'providerError', message: 'Kling said no', taskUUID: t })],
    [
      '{errors:[...]} without a taskUUID',
      () => ({ errors: [{ code: 'providerError', message: 'Kling said no' }] }),
    ],
  ])('fails the waiting step at once on a failure sent as %s', async (_name, body) => {
    const { taskUUID } = await waitingTask();
    expect((await handleWebhook(post(taskUUID, body(taskUUID)), deps)).statusCode).toBe(200);
    expect(notifier.failures).toHaveLength(1);
    expect(notifier.failures[0]?.cause).toContain('Kling said no');
    expect(notifier.failures[0]?.cause).toContain('[RUNWARE_TASK_FAILED]');
  });

  it('ignores results beyond numberResults: recorded, delivered and billed once, and logged', async () => {
    const { taskUUID } = await waitingTask(1);
    const told: string[] = [];
    const response = await handleWebhook(
      post(taskUUID, { data: [item(taskUUID, 1), item(taskUUID, 2), item(taskUUID, 3)] }),
      { ...deps, onExtraResults: (_t, extra) => told.push(...extra.map((r) => r.videoUUID)) },
    );
    expect(response.statusCode).toBe(200);
    const task = await db.tasks.get(taskUUID);
    expect(Object.keys(task?.results ?? {})).toEqual([item(taskUUID, 1).videoUUID]);
    expect(told).toEqual([item(taskUUID, 2).videoUUID, item(taskUUID, 3).videoUUID]);
    expect(notifier.successes).toEqual([
      { taskToken: `token-${taskUUID}`, output: { taskUUID, results: 1 } },
    ]);
  });

  it('ignores a later extra result once the task has all its results recorded', async () => {
    const { taskUUID } = await waitingTask(2);
    notifier.gone = true; // the step moved on to polling: the task stays open
    await handleWebhook(post(taskUUID, item(taskUUID, 1)), deps);
    await handleWebhook(post(taskUUID, item(taskUUID, 2)), deps);
    await handleWebhook(post(taskUUID, item(taskUUID, 3)), deps);
    expect(Object.keys((await db.tasks.get(taskUUID))?.results ?? {}).sort()).toEqual(
      [item(taskUUID, 1).videoUUID, item(taskUUID, 2).videoUUID].sort(),
    );
  });

  it.each([
    ['a huge cost', { cost: 1e300 }],
    ['a negative cost', { cost: -1 }],
    ['a denormal cost', { cost: 5e-324 }],
    ['an infinite-looking cost', { cost: '1e999' }],
    ['an empty videoUUID', { videoUUID: '' }],
  ])('answers 400 (not 500) with the reason for %s, and records nothing', async (_name, change) => {
    const { taskUUID } = await waitingTask();
    const response = await handleWebhook(post(taskUUID, { data: [{ ...item(taskUUID), ...change }] }), deps);
    expect(response.statusCode).toBe(400);
    expect(response.body.message).toMatch(/^Body is not a Runware task response\. data\.0/);
    expect(Object.keys((await db.tasks.get(taskUUID))?.results ?? {})).toHaveLength(0);
  });

  it('refuses a token of another task', async () => {
    const { taskUUID } = await waitingTask();
    const other = await waitingTask();
    const response = await handleWebhook(
      post(taskUUID, { data: [item(taskUUID)] }, { token: webhookToken(SECRET, other.taskUUID) }),
      deps,
    );
    expect(response.statusCode).toBe(401);
    expect(notifier.successes).toHaveLength(0);
  });

  it('refuses a body about another task', async () => {
    const { taskUUID } = await waitingTask();
    const response = await handleWebhook(post(taskUUID, { data: [item(randomUUID())] }), deps);
    expect(response.statusCode).toBe(400);
    expect(Object.keys((await db.tasks.get(taskUUID))?.results ?? {})).toHaveLength(0);
  });

  it('answers 404 for a task it never sent, even with a valid token', async () => {
    const taskUUID = randomUUID();
    expect((await handleWebhook(post(taskUUID, { data: [item(taskUUID)] }), deps)).statusCode).toBe(404);
  });

  it('keeps the result when the waiting step has already moved on to polling', async () => {
    const { taskUUID } = await waitingTask();
    notifier.gone = true;
    expect((await handleWebhook(post(taskUUID, { data: [item(taskUUID)] }), deps)).statusCode).toBe(200);
    const task = await db.tasks.get(taskUUID);
    expect(Object.keys(task?.results ?? {})).toHaveLength(1);
    // Not marked told: a retried submit step (with a fresh token) must still be told.
    expect(task?.completedAt).toBeUndefined();
  });
});

describe('recorded video URLs', () => {
  it('never keep a user and password', async () => {
    const { withoutCredentials } = await import('../../lambdas/core/completion.js');
    expect(withoutCredentials('https://alice:pw-secret@vm.runware.ai/v.mp4?x=1')).toBe(
      'https://redacted@vm.runware.ai/v.mp4?x=1',
    );
    expect(withoutCredentials('https://vm.runware.ai/v.mp4')).toBe('https://vm.runware.ai/v.mp4');
    expect(withoutCredentials('not a url')).toBe('not a url');
  });
});

describe('task failure bounds', () => {
  it('keeps the cause of a 40 KiB provider message within 32,768 characters, code and JSON intact', async () => {
    const { taskUUID } = await waitingTask();
    const message = `Kling said: ${'x'.repeat(40 * 1024)}`;
    await handleWebhook(post(taskUUID, { errors: [{ code: 'providerError', message, taskUUID }] }), deps);
    const cause = notifier.failures[0]?.cause ?? '';
    expect(cause.length).toBeLessThanOrEqual(32_768);
    expect(JSON.parse(cause).errorMessage).toMatch(
      /^\[RUNWARE_TASK_FAILED\] Runware could not make the video/,
    );
  });

  it('SfnTaskNotifier sends an error and cause that fit SendTaskFailure', async () => {
    const { SFNClient, SendTaskFailureCommand } = await import('@aws-sdk/client-sfn');
    const { mockClient } = await import('aws-sdk-client-mock');
    const { SfnTaskNotifier } = await import('../../lambdas/core/completion.js');
    const sfn = mockClient(SFNClient);
    sfn.on(SendTaskFailureCommand).resolves({});
    await new SfnTaskNotifier(new SFNClient({})).fail('tok', 'E'.repeat(300), 'c'.repeat(40_000));
    const input = sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input;
    expect(input?.error?.length).toBeLessThanOrEqual(256);
    expect(input?.cause?.length).toBeLessThanOrEqual(32_768);
    sfn.restore();
  });
});
