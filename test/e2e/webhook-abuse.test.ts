import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord, TaskRecord } from '../../lambdas/core/job.js';
import { webhookToken } from '../../lambdas/core/webhook-token.js';
import type { LocalStack } from '../../local/stack.js';
import {
  drop,
  finishedJob,
  outputKeys,
  readOutput,
  type Samples,
  startLocal,
  storesOf,
  tableSnapshot,
} from '../support/local.js';

/**
 * Abuse of the public webhook, sent over real HTTP to the local stand-in of the HTTP API, the way Runware or an
 * attacker would. Every attack must be refused (4xx) or be a harmless 2xx no-op, and change nothing: no table
 * item, no output, no Runware submission, no event, no execution.
 *
 * The waits are stretched (`waitTimeoutSeconds`) so that a slow Runware task keeps its job waiting in Submit
 * (SUBMITTED) for the whole attack, and then completes normally through its genuine webhook.
 */
const CONTEXT = { settleSeconds: '1', waitTimeoutSeconds: '30', hardDeadlineSeconds: '60' };
/** How long the in-flight task stays unfinished in the simulator: the attack window. */
const SLOW_MS = 15_000;
const RUNWARE_API_KEY = 'local-simulator-key';

let stack: LocalStack;
let samples: Samples;
let dir: string;
let signingSecret: string;
/** Every response body the webhook endpoint sent back during the attacks. */
const responseBodies: string[] = [];
/** Every token this file presented, forged ones included (none may be logged). */
const presentedTokens = new Set<string>();

beforeAll(async () => {
  ({ stack, samples, dir } = await startLocal(CONTEXT));
  const env = stack.clientEnvironment();
  const secrets = new SecretsManagerClient({
    region: env.AWS_REGION,
    endpoint: stack.endpoints.aws,
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
    },
  });
  const { SecretString } = await secrets.send(
    new GetSecretValueCommand({ SecretId: stack.names.webhookSecretArn }),
  );
  secrets.destroy();
  signingSecret = SecretString ?? '';
}, 120_000);
afterAll(async () => stack?.stop());

// ------------------------------------------------------------------------------------------------ helpers

interface Task {
  stem: string;
  jobId: string;
  taskUUID: string;
  /** The genuine token, as handed to Runware in the task's webhookURL (tests can see it; attackers cannot). */
  token: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const jobItem = (jobId: string): Promise<JobRecord | undefined> => storesOf(stack).jobs.get(jobId);
const taskItem = (taskUUID: string): Promise<TaskRecord | undefined> => storesOf(stack).tasks.get(taskUUID);

/** Everything an attack could change: the whole table, the outputs, Runware, events and executions. */
async function world() {
  return {
    items: await tableSnapshot(stack),
    outputs: await outputKeys(stack, ''),
    submissions: stack.simulator?.submissions.length,
    events: stack.events.map((e) => `${e.detailType}:${String(e.detail.jobId)}`),
    executions: stack.sfn
      .listExecutions()
      .map((e) => `${e.name} ${e.status} ${e.states.join('>')}`)
      .sort(),
    deadLetters: stack.deadLetters.length,
  };
}

function executionOf(stem: string) {
  return stack.sfn.listExecutions().find((e) => (JSON.parse(e.input) as { stem: string }).stem === stem);
}

/** Waits until the job of `stem` has been submitted to Runware and is waiting for its webhook. */
async function submittedTask(stem: string): Promise<Task> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const execution = executionOf(stem);
    if (execution) {
      const { jobId } = JSON.parse(execution.input) as { jobId: string };
      const job = (await jobItem(jobId)) as JobRecord | undefined;
      if (job?.status === 'SUBMITTED' && job.taskUUID) return { stem, jobId, ...genuineOf(job.taskUUID) };
      if (job?.status === 'FAILED') throw new Error(`${stem} failed before it was submitted`);
    }
    if (Date.now() > deadline) throw new Error(`${stem} was not submitted in time`);
    await sleep(100);
  }
}

function genuineOf(taskUUID: string): { taskUUID: string; token: string } {
  const submission = stack.simulator?.submissions.find((s) => s.taskUUID === taskUUID);
  const token = new URL(submission?.task.webhookURL ?? 'http://x/').searchParams.get('token');
  if (!token) throw new Error(`no webhook token was handed to Runware for ${taskUUID}`);
  return { taskUUID, token };
}

async function taskOf(stem: string): Promise<Task> {
  const job = await finishedJob(stack, stem);
  return { stem, jobId: job.jobId, ...genuineOf(job.taskUUID ?? '') };
}

const deliveriesTo = (taskUUID: string) =>
  (stack.simulator?.webhookDeliveries ?? []).filter((d) => d.taskUUID === taskUUID);

interface Request {
  method?: string;
  /** Path after the webhook origin, e.g. `/runware/<uuid>`. */
  path: string;
  token?: string;
  contentType?: string | null;
  headers?: Record<string, string>;
  body?: string;
}

/** Sends one request to the webhook endpoint over HTTP; keeps the answer for the secret scan. */
async function send(request: Request): Promise<{ status: number; body: string }> {
  const url = new URL(`${stack.endpoints.webhook}${request.path}`);
  if (request.token !== undefined) {
    url.searchParams.set('token', request.token);
    presentedTokens.add(request.token);
  }
  const method = request.method ?? 'POST';
  const headers: Record<string, string> = { 'User-Agent': 'attacker', ...request.headers };
  if (request.contentType !== null) headers['Content-Type'] = request.contentType ?? 'application/json';
  const response = await fetch(url, {
    method,
    headers,
    ...(request.body !== undefined && method !== 'GET' ? { body: request.body } : {}),
    redirect: 'manual',
  });
  const body = await response.text();
  responseBodies.push(body);
  return { status: response.status, body };
}

const path = (taskUUID: string) => `/runware/${taskUUID}`;

/** A success report as Runware would send it, pointing at a video the attacker controls. */
function forgedResult(taskUUID: string): string {
  return JSON.stringify({
    data: [
      {
        taskType: 'videoInference',
        taskUUID,
        videoUUID: randomUUID(),
        videoURL: 'https://attacker.example/video.mp4',
        cost: 0,
        seed: 1,
      },
    ],
  });
}

function forgedError(taskUUID: string): string {
  return JSON.stringify({
    errors: [{ code: 'providerError', message: 'forged failure', taskType: 'videoInference', taskUUID }],
  });
}

/**
 * Sends one request about `target`'s task and checks that it changed nothing: the target's job (still `status`)
 * and task items, everything {@link world} sees, and that the in-flight task's genuine webhook is still to come
 * (else the attack ran outside its window: raise SLOW_MS). `expectAnswer` checks the answer as soon as it comes.
 */
async function expectChangesNothing(
  target: Task,
  status: 'SUBMITTED' | 'DELIVERED',
  request: () => Request,
  expectAnswer: (answer: { status: number; body: string }) => void,
): Promise<void> {
  const before = await world();
  const job = await jobItem(target.jobId);
  const task = await taskItem(target.taskUUID);
  expect(job?.status).toBe(status);

  expectAnswer(await send(request()));

  expect(await jobItem(target.jobId)).toEqual(job);
  expect(await taskItem(target.taskUUID)).toEqual(task);
  expect(await world()).toEqual(before);
  expect(deliveriesTo(inFlight.taskUUID), 'attack window too short').toEqual([]);
}

/** A base64url string of a token's length (43) that is not the token. */
const randomToken = () => randomBytes(32).toString('base64url');

// ------------------------------------------------------------------------------------------------- tests

/** A job that completed normally, its webhook delivered twice by Runware. */
let done: Task;
/** A job waiting for Runware (SUBMITTED) while it is attacked. */
let inFlight: Task;

describe('webhook under abuse, over HTTP through the local stack', () => {
  it('changes nothing on the second delivery of a genuine webhook: one job, one video, one JobSucceeded', async () => {
    stack.simulator?.queueFault({ duplicateWebhook: true });
    await drop(stack, 'abuse/done.png', samples.portrait);
    await drop(stack, 'abuse/done.wav', samples.voice3s);
    done = await taskOf('abuse/done');

    const job = (await jobItem(done.jobId)) as unknown as JobRecord;
    expect(job.status).toBe('DELIVERED');
    expect(job.outputs).toHaveLength(1);
    expect(await outputKeys(stack, 'abuse/done')).toEqual(['abuse/done.json', 'abuse/done.mp4']);
    const task = await taskItem(done.taskUUID);
    expect(Object.keys(task?.results as object)).toHaveLength(1);
    expect(task?.completedAt).toEqual(expect.any(String));

    // Runware POSTed the same body twice to the same URL, and both were answered 2xx.
    const deliveries = deliveriesTo(done.taskUUID);
    expect(deliveries.map((d) => d.status)).toEqual([200, 200]);
    expect(deliveries[1]?.body).toEqual(deliveries[0]?.body);
    // The webhook function says what each did: the first completed the task, the second changed nothing.
    const outcomes = readFileSync(join(dir, 'logs', 'webhook.log'), 'utf8')
      .split('\n')
      .filter((line) => line.includes(done.taskUUID) && line.includes('"outcome"'))
      .map((line) => (JSON.parse(line) as { outcome: string }).outcome);
    expect(outcomes).toEqual(['Received.', 'Already complete.']);

    expect(stack.simulator?.submissions.filter((s) => s.taskUUID === done.taskUUID)).toHaveLength(1);
    expect(
      stack.events.filter((e) => e.detailType === 'JobSucceeded' && e.detail.jobId === done.jobId),
    ).toHaveLength(1);
    expect(stack.events.filter((e) => e.detail.jobId === done.jobId)).toHaveLength(1);
  });

  it('hands Runware presigned input URLs that expire after an hour, and a webhook URL with its task token', async () => {
    const submission = stack.simulator?.submissions.find((s) => s.taskUUID === done.taskUUID);
    for (const url of [submission?.task.inputs.image, submission?.task.inputs.audio]) {
      const params = new URL(url ?? '').searchParams;
      expect(params.get('X-Amz-Expires')).toBe('3600');
      expect(params.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    }
    const webhook = new URL(submission?.task.webhookURL ?? '');
    expect(webhook.pathname).toBe(`/runware/${done.taskUUID}`);
    expect([...webhook.searchParams.keys()]).toEqual(['token']);
    // The token is the HMAC of the task under the signing secret (so a token made with any other is forged).
    expect(done.token).toBe(webhookToken(signingSecret, done.taskUUID));
  });

  describe('while a task is in flight (job SUBMITTED, waiting for Runware)', () => {
    beforeAll(async () => {
      stack.simulator?.queueFault({ slowMs: SLOW_MS });
      await drop(stack, 'abuse/in-flight.png', samples.portrait);
      await drop(stack, 'abuse/in-flight.wav', samples.voice3s);
      inFlight = await submittedTask('abuse/in-flight');
    }, 30_000);

    type Attack = [name: string, expected: number | readonly number[], request: () => Request];
    const attacks: Attack[] = [
      // --- who is calling: the token
      ['no token', 401, () => ({ path: path(inFlight.taskUUID), body: forgedResult(inFlight.taskUUID) })],
      [
        'an empty token',
        401,
        () => ({ path: path(inFlight.taskUUID), token: '', body: forgedResult(inFlight.taskUUID) }),
      ],
      [
        'a wrong token of the right length',
        401,
        () => ({
          path: path(inFlight.taskUUID),
          token: randomToken(),
          body: forgedResult(inFlight.taskUUID),
        }),
      ],
      [
        'a wrong one-character token',
        401,
        () => ({ path: path(inFlight.taskUUID), token: 'x', body: forgedResult(inFlight.taskUUID) }),
      ],
      [
        'a wrong 4 KiB token',
        401,
        () => ({
          path: path(inFlight.taskUUID),
          token: 'A'.repeat(4096),
          body: forgedResult(inFlight.taskUUID),
        }),
      ],
      [
        'the genuine token truncated by one character',
        401,
        () => ({
          path: path(inFlight.taskUUID),
          token: inFlight.token.slice(0, -1),
          body: forgedResult(inFlight.taskUUID),
        }),
      ],
      [
        'the genuine token in another letter case',
        401,
        () => ({
          path: path(inFlight.taskUUID),
          token:
            inFlight.token.toUpperCase() === inFlight.token
              ? inFlight.token.toLowerCase()
              : inFlight.token.toUpperCase(),
          body: forgedResult(inFlight.taskUUID),
        }),
      ],
      [
        'the token of another task',
        401,
        () => ({ path: path(inFlight.taskUUID), token: done.token, body: forgedResult(inFlight.taskUUID) }),
      ],
      [
        'a token computed with the wrong secret',
        401,
        () => ({
          path: path(inFlight.taskUUID),
          token: webhookToken('not-the-signing-secret', inFlight.taskUUID),
          body: forgedResult(inFlight.taskUUID),
        }),
      ],
      [
        'the genuine token in an Authorization header instead of the URL',
        401,
        () => ({
          path: path(inFlight.taskUUID),
          headers: { Authorization: `Bearer ${inFlight.token}` },
          body: forgedResult(inFlight.taskUUID),
        }),
      ],
      [
        'an error report with the token of another task',
        401,
        () => ({ path: path(inFlight.taskUUID), token: done.token, body: forgedError(inFlight.taskUUID) }),
      ],
      // --- which task: unknown ones
      [
        'an unknown task UUID with a token computed with the wrong secret',
        401,
        () => {
          const unknown = randomUUID();
          return {
            path: path(unknown),
            token: webhookToken('not-the-signing-secret', unknown),
            body: forgedResult(unknown),
          };
        },
      ],
      [
        'an unknown task UUID with a token that is valid for it (the signing secret leaked)',
        404,
        () => {
          const unknown = randomUUID();
          return {
            path: path(unknown),
            token: webhookToken(signingSecret, unknown),
            body: forgedResult(unknown),
          };
        },
      ],
      [
        'a task id that is not a UUID',
        401,
        () => ({
          path: '/runware/..%2F..%2Fadmin',
          token: inFlight.token,
          body: forgedResult(inFlight.taskUUID),
        }),
      ],
      // --- what is sent: the body
      [
        'malformed JSON without a token',
        401,
        () => ({ path: path(inFlight.taskUUID), body: '{"data": [{"taskUUID": ' }),
      ],
      [
        'malformed JSON with the genuine token',
        400,
        () => ({ path: path(inFlight.taskUUID), token: inFlight.token, body: '{"data": [{"taskUUID": ' }),
      ],
      [
        'JSON that is not a Runware task response, with the genuine token',
        400,
        () => ({ path: path(inFlight.taskUUID), token: inFlight.token, body: '{"hello":"world"}' }),
      ],
      [
        'JSON null with the genuine token',
        400,
        () => ({ path: path(inFlight.taskUUID), token: inFlight.token, body: 'null' }),
      ],
      [
        'an oversized body (300 KiB) with the genuine token',
        413,
        () => ({
          path: path(inFlight.taskUUID),
          token: inFlight.token,
          body: JSON.stringify({ data: [], padding: 'x'.repeat(300 * 1024) }),
        }),
      ],
      [
        'an oversized body (300 KiB) without a token',
        401,
        () => ({
          path: path(inFlight.taskUUID),
          body: JSON.stringify({ data: [], padding: 'x'.repeat(300 * 1024) }),
        }),
      ],
      // Runware's Content-Type is undocumented: the header is not looked at, the body must be JSON.
      [
        'a text/plain body that is not JSON, with the genuine token',
        400,
        () => ({
          path: path(inFlight.taskUUID),
          token: inFlight.token,
          contentType: 'text/plain',
          body: `result=${forgedResult(inFlight.taskUUID)}`,
        }),
      ],
      [
        'a form-encoded body with the genuine token',
        400,
        () => ({
          path: path(inFlight.taskUUID),
          token: inFlight.token,
          contentType: 'application/x-www-form-urlencoded',
          body: `data=${encodeURIComponent(forgedResult(inFlight.taskUUID))}`,
        }),
      ],
      [
        'a result about another task, with the genuine token',
        400,
        () => ({ path: path(inFlight.taskUUID), token: inFlight.token, body: forgedResult(done.taskUUID) }),
      ],
      [
        "another task's genuine delivery, replayed here with this task's genuine token",
        400,
        () => ({
          path: path(inFlight.taskUUID),
          token: inFlight.token,
          body: JSON.stringify(deliveriesTo(done.taskUUID)[0]?.body),
        }),
      ],
      [
        'an error report about another task, with the genuine token',
        400,
        () => ({ path: path(inFlight.taskUUID), token: inFlight.token, body: forgedError(done.taskUUID) }),
      ],
      [
        "a body mixing this task's result with another task's, with the genuine token",
        400,
        () => {
          const mine = JSON.parse(forgedResult(inFlight.taskUUID)).data[0];
          const theirs = JSON.parse(forgedResult(done.taskUUID)).data[0];
          return {
            path: path(inFlight.taskUUID),
            token: inFlight.token,
            body: JSON.stringify({ data: [mine, theirs] }),
          };
        },
      ],
      // --- how it is sent: method and route (API Gateway has only POST /runware/{taskUUID})
      ...(['GET', 'PUT', 'DELETE', 'PATCH'] as const).map(
        (method): Attack => [
          `${method} with the genuine token`,
          404,
          () => ({
            method,
            path: path(inFlight.taskUUID),
            token: inFlight.token,
            body: forgedResult(inFlight.taskUUID),
          }),
        ],
      ),
      [
        'an extra path segment',
        404,
        () => ({
          path: `${path(inFlight.taskUUID)}/complete`,
          token: inFlight.token,
          body: forgedResult(inFlight.taskUUID),
        }),
      ],
      [
        'the bare route without a task',
        404,
        () => ({ path: '/runware', body: forgedResult(inFlight.taskUUID) }),
      ],
    ];

    it.each(attacks)('refuses %s (answers %s) and changes nothing', async (_name, expected, request) => {
      await expectChangesNothing(inFlight, 'SUBMITTED', request, (answer) => {
        expect([expected].flat()).toContain(answer.status);
        expect(answer.status).toBeLessThan(500);
        expect(() => JSON.parse(answer.body)).not.toThrow();
      });
    });

    describe('replays against the completed task', () => {
      const replayed = () => JSON.stringify(deliveriesTo(done.taskUUID)[0]?.body);
      const replays: Attack[] = [
        [
          'its genuine delivery without the token (URL as recorded, without query string)',
          401,
          () => ({ path: path(done.taskUUID), body: replayed() }),
        ],
        [
          'its genuine delivery with the token of another task',
          401,
          () => ({ path: path(done.taskUUID), token: inFlight.token, body: replayed() }),
        ],
        [
          'its genuine delivery with a forged token',
          401,
          () => ({ path: path(done.taskUUID), token: randomToken(), body: replayed() }),
        ],
        [
          'its genuine delivery with its genuine token, after completion',
          200,
          () => ({ path: path(done.taskUUID), token: done.token, body: replayed() }),
        ],
        [
          'a new result with its genuine token, after completion',
          200,
          () => ({ path: path(done.taskUUID), token: done.token, body: forgedResult(done.taskUUID) }),
        ],
        [
          'an error report with its genuine token, after completion',
          200,
          () => ({ path: path(done.taskUUID), token: done.token, body: forgedError(done.taskUUID) }),
        ],
      ];

      it.each(replays)('answers %s with %s and changes nothing', async (_name, expected, request) => {
        await expectChangesNothing(done, 'DELIVERED', request, (answer) => {
          expect([expected].flat()).toContain(answer.status);
          if (answer.status === 200)
            expect(JSON.parse(answer.body)).toEqual({ message: 'Already complete.' });
        });
      });
    });

    it('then completes the attacked job exactly once through its genuine webhook: DELIVERED, one video', async () => {
      const job = await finishedJob(stack, inFlight.stem);
      expect(job.status).toBe('DELIVERED');
      expect(job.taskUUID).toBe(inFlight.taskUUID);
      expect(job.outputs).toHaveLength(1);
      expect(await outputKeys(stack, 'abuse/in-flight')).toEqual([
        'abuse/in-flight.json',
        'abuse/in-flight.mp4',
      ]);
      // No attacker's result or error was kept: the only result is Runware's.
      const task = await taskItem(inFlight.taskUUID);
      const results = Object.values(task?.results as Record<string, { videoURL: string }>);
      expect(results).toHaveLength(1);
      expect(results[0]?.videoURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/video\//);
      expect(task?.errors).toEqual({});
      expect(job.results?.[0]?.videoUUID).toBe(
        (deliveriesTo(inFlight.taskUUID)[0]?.body as { data?: { videoUUID: string }[] } | undefined)
          ?.data?.[0]?.videoUUID,
      );
      expect(deliveriesTo(inFlight.taskUUID).map((d) => d.status)).toEqual([200]);
      expect(stack.simulator?.submissions.filter((s) => s.taskUUID === inFlight.taskUUID)).toHaveLength(1);
      expect(stack.events.filter((e) => e.detail.jobId === inFlight.jobId).map((e) => e.detailType)).toEqual([
        'JobSucceeded',
      ]);
      // It was completed by the webhook, not rescued by polling.
      expect(executionOf(inFlight.stem)?.states).not.toContain('Poll');
      expect(stack.deadLetters).toEqual([]);
    }, 45_000);
  });

  it('writes no webhook token, secret, API key or presigned signature in any log line, response or output', async () => {
    await stack.idle();
    const genuineTokens = (stack.simulator?.submissions ?? []).map(
      (s) => new URL(s.task.webhookURL ?? 'http://x/').searchParams.get('token') ?? '',
    );
    const signatures = (stack.simulator?.submissions ?? []).flatMap((s) =>
      [s.task.inputs.image, s.task.inputs.audio].map(
        (url) => new URL(url).searchParams.get('X-Amz-Signature') ?? '',
      ),
    );
    expect(genuineTokens.filter(Boolean)).toHaveLength(2);
    expect(signatures.filter(Boolean)).toHaveLength(4);
    expect(signingSecret.length).toBeGreaterThanOrEqual(32);
    expect(responseBodies.length).toBeGreaterThan(30);
    const secrets: [string, string][] = [
      ['the webhook signing secret', signingSecret],
      ['the Runware API key', RUNWARE_API_KEY],
      ['a presigned URL signature parameter', 'X-Amz-Signature'],
      ['a token parameter', 'token='],
      ...genuineTokens.map((t): [string, string] => ['a genuine webhook token', t]),
      ...signatures.map((t): [string, string] => ['a presigned URL signature', t]),
      // Tokens an attacker presented are not logged either (long enough not to match by chance).
      ...[...presentedTokens]
        .filter((t) => t.length >= 16)
        .map((t): [string, string] => ['a presented token', t]),
    ];

    const logDir = join(dir, 'logs');
    const logs = readdirSync(logDir).filter((f) => f.endsWith('.log'));
    expect(logs).toEqual(expect.arrayContaining(['webhook.log', 'submit.log']));
    const outputs = (await outputKeys(stack, '')).filter((k) => k.endsWith('.json'));
    const places: [string, string][] = [
      ...logs.map((f): [string, string] => [`logs/${f}`, readFileSync(join(logDir, f), 'utf8')]),
      ...responseBodies.map((body, i): [string, string] => [`response ${i}`, body]),
      ...(await Promise.all(
        outputs.map(
          async (k): Promise<[string, string]> => [k, (await readOutput(stack, k)).toString('utf8')],
        ),
      )),
      ['pipeline events', JSON.stringify(stack.events)],
    ];
    for (const [where, content] of places) {
      for (const [what, value] of secrets) {
        expect(content.includes(value), `${what} found in ${where}`).toBe(false);
      }
    }
  });
});
