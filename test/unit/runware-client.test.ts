import { describe, expect, it, vi } from 'vitest';
import { RunwareBusyError, RunwareRejectedError, TransientError } from '../../lambdas/core/errors.js';
import { HttpRunwareClient, type HttpRunwareClientOptions } from '../../lambdas/core/runware/client.js';
import { type VideoInferenceTask, VideoInferenceTaskSchema } from '../../lambdas/core/runware/schemas.js';
import { loadRunwarePair } from '../fixtures/runware/pairs.js';

const API_KEY = 'rw-test-key-0123456789abcdefghijklmnopqrstuvwxyz';
const URL_ = 'https://api.runware.ai/v1';
const TASK_UUID = '3b241101-e2bb-4255-8caf-4136c566a962';
const SIGNED_IMAGE =
  'https://in-bucket.s3.eu-west-1.amazonaws.com/jobs/face.jpg?X-Amz-Signature=deadbeefcafe';

type FetchArgs = Parameters<typeof fetch>;

/** A reply the stub fetch gives: an HTTP answer, or a rejection (network error, timeout). */
type Step = { status: number; body?: unknown; headers?: Record<string, string> } | { reject: unknown };

/** A fetch stub that plays `steps` in order and records every call; no network. */
function stubFetch(...steps: Step[]) {
  const calls: FetchArgs[] = [];
  const impl = vi.fn(async (...args: FetchArgs): Promise<Response> => {
    calls.push(args);
    const step = steps[calls.length - 1];
    if (step === undefined) throw new Error(`unexpected fetch call #${calls.length}`);
    if ('reject' in step) throw step.reject;
    const text = typeof step.body === 'string' ? step.body : JSON.stringify(step.body ?? {});
    return new Response(text, { status: step.status, headers: step.headers ?? {} });
  });
  return { fetch: impl as unknown as typeof fetch, calls };
}

function makeClient(steps: Step[], options: Partial<HttpRunwareClientOptions> = {}) {
  const { fetch, calls } = stubFetch(...steps);
  const delays: number[] = [];
  const client = new HttpRunwareClient({
    url: URL_,
    apiKey: async () => API_KEY,
    fetch,
    sleep: async (ms) => {
      delays.push(ms);
    },
    // Deterministic jitter: the full ceiling minus a hair, so delays show the exponential growth.
    random: () => 0.999,
    ...options,
  });
  return { client, calls, delays };
}

function task(overrides: Partial<VideoInferenceTask> = {}): VideoInferenceTask {
  const { request } = loadRunwarePair('midnight-broadcast-chess-commentator');
  return { ...VideoInferenceTaskSchema.parse(request), taskUUID: TASK_UUID, ...overrides };
}

const ack = { status: 200, body: { data: [{ taskType: 'videoInference', taskUUID: TASK_UUID }] } };

/** Runs `fn`, which must reject, and returns what it rejected with. */
async function failure(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected a rejection, got a result');
}

function bodyOf(call: FetchArgs | undefined): unknown {
  const body = call?.[1]?.body;
  if (typeof body !== 'string') throw new Error('expected a string body');
  return JSON.parse(body);
}

describe('HttpRunwareClient.submit', () => {
  it('POSTs the task as a one-element JSON array with the bearer key', async () => {
    const { client, calls } = makeClient([ack]);
    await expect(client.submit(task())).resolves.toEqual({ status: 'accepted' });

    expect(calls).toHaveLength(1);
    const [url, init] = calls[0] ?? [];
    expect(url).toBe(URL_);
    expect(init?.method).toBe('POST');
    expect(init?.headers).toEqual({ 'Content-Type': 'application/json', Authorization: `Bearer ${API_KEY}` });
    expect(init?.signal).toBeInstanceOf(AbortSignal);
    expect(bodyOf(calls[0])).toEqual([task()]);
  });

  it('sends each of the real model-page requests unchanged', async () => {
    for (const slug of ['eccentric-clockmaker-studio-portrait', 'brass-clockmaker-portrait-study']) {
      const { request } = loadRunwarePair(slug);
      const { client, calls } = makeClient([{ status: 200, body: { data: [] } }]);
      await client.submit(VideoInferenceTaskSchema.parse(request));
      expect(bodyOf(calls[0])).toEqual([request]);
    }
  });

  it('accepts a synchronous reply that already carries the video', async () => {
    const { response } = loadRunwarePair('midnight-broadcast-chess-commentator');
    const { client } = makeClient([{ status: 200, body: { data: [response] } }]);
    await expect(client.submit(task())).resolves.toEqual({ status: 'accepted' });
  });

  it('refuses to send a task that fails the schema, and says it is a bug', async () => {
    const { client, calls } = makeClient([ack]);
    const bad = { ...task(), outputQuality: 100 };
    await expect(client.submit(bad)).rejects.toThrow(TypeError);
    await expect(client.submit({ ...task(), inputs: { image: 'nope', audio: 'nope' } })).rejects.toThrow(
      /inputs\.image/,
    );
    expect(calls).toHaveLength(0);
  });

  it('retries a 429 and succeeds on the next attempt', async () => {
    const { client, calls, delays } = makeClient([
      {
        status: 429,
        body: { errors: [{ code: 'queueCapacityExceeded', message: 'Queue capacity exceeded' }] },
      },
      ack,
    ]);
    await expect(client.submit(task())).resolves.toEqual({ status: 'accepted' });
    expect(calls).toHaveLength(2);
    expect(delays).toHaveLength(1);
    expect(bodyOf(calls[1])).toEqual(bodyOf(calls[0]));
  });

  it('backs off exponentially with full jitter, capped at maxDelayMs, and never sleeps after the last attempt', async () => {
    const { client, delays } = makeClient(
      Array.from({ length: 6 }, () => ({ status: 503 })),
      { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 3000, random: () => 0.5 },
    );
    await expect(client.submit(task())).rejects.toThrow(RunwareBusyError);
    expect(delays).toEqual([250, 500, 1000, 1500, 1500]);
  });

  it.each([
    // Runware at capacity: the submission waits in the state machine (RunwareBusyError), not a failure.
    [503, 'RUNWARE_UNAVAILABLE', RunwareBusyError],
    [500, 'RUNWARE_UNAVAILABLE', TransientError],
    [502, 'RUNWARE_UNAVAILABLE', TransientError],
    [599, 'RUNWARE_UNAVAILABLE', TransientError],
    [504, 'RUNWARE_TIMEOUT', RunwareBusyError],
    // Both official SDKs retry 408 (docs/runware-api.md section 2).
    [408, 'RUNWARE_TIMEOUT', RunwareBusyError],
    [429, 'RUNWARE_BUSY', RunwareBusyError],
  ])('gives up on HTTP %i after maxAttempts with %s (%o)', async (status, code, kind) => {
    const { client, calls, delays } = makeClient([{ status }, { status }, { status }, { status }]);
    const error = await failure(() => client.submit(task()));
    expect(error).toBeInstanceOf(kind);
    expect(error).toMatchObject({ name: kind.name, code });
    expect(error.message).toContain(`HTTP ${status}`);
    expect(calls).toHaveLength(4);
    expect(delays).toHaveLength(3);
  });

  it('retries network errors and then throws RUNWARE_NETWORK', async () => {
    const networkError = new TypeError('fetch failed', {
      cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
    });
    const { client, calls } = makeClient(
      [{ reject: networkError }, { reject: networkError }, { reject: networkError }],
      { maxAttempts: 3 },
    );
    const error = await failure(() => client.submit(task()));
    expect(error).toMatchObject({ name: 'TransientError', code: 'RUNWARE_NETWORK' });
    expect(error.message).toContain('ECONNRESET');
    expect(calls).toHaveLength(3);
  });

  it('retries a 408 and succeeds on the next attempt', async () => {
    const { client, calls } = makeClient([{ status: 408 }, ack]);
    await expect(client.submit(task())).resolves.toEqual({ status: 'accepted' });
    expect(calls).toHaveLength(2);
  });

  it('recovers when a network error is followed by a success', async () => {
    const { client, calls } = makeClient([{ reject: new TypeError('fetch failed') }, ack]);
    await expect(client.submit(task())).resolves.toEqual({ status: 'accepted' });
    expect(calls).toHaveLength(2);
  });

  it('treats a timed-out attempt as transient and reports RUNWARE_TIMEOUT', async () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const { client, calls } = makeClient([{ reject: timeout }, { reject: timeout }], {
      maxAttempts: 2,
      timeoutMs: 1234,
    });
    const error = await failure(() => client.submit(task()));
    expect(error).toMatchObject({ name: 'TransientError', code: 'RUNWARE_TIMEOUT' });
    expect(error.message).toContain('1234 ms');
    expect(calls).toHaveLength(2);
  });

  it('aborts an attempt that outlives timeoutMs', async () => {
    // A fetch that only ends when its signal fires, as a real hung connection would.
    const hanging = vi.fn(
      (_url: FetchArgs[0], init?: FetchArgs[1]) =>
        new Promise<Response>((_, reject) => {
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
    );
    const client = new HttpRunwareClient({
      url: URL_,
      apiKey: async () => API_KEY,
      fetch: hanging as unknown as typeof fetch,
      sleep: async () => {},
      maxAttempts: 1,
      timeoutMs: 20,
    });
    await expect(client.submit(task())).rejects.toMatchObject({ code: 'RUNWARE_TIMEOUT' });
  });

  it('waits as long as Retry-After says', async () => {
    const { client, delays } = makeClient([{ status: 429, headers: { 'Retry-After': '3' } }, ack]);
    await client.submit(task());
    expect(delays).toEqual([3000]);
  });

  it('caps a long Retry-After at maxDelayMs', async () => {
    const { client, delays } = makeClient([{ status: 503, headers: { 'Retry-After': '120' } }, ack]);
    await client.submit(task());
    expect(delays).toEqual([8000]);
  });

  it('falls back to backoff when Retry-After is not a number of seconds', async () => {
    const { client, delays } = makeClient([
      { status: 503, headers: { 'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT' } },
      ack,
    ]);
    await client.submit(task());
    expect(delays).toEqual([499]);
  });

  it('throws RUNWARE_INVALID_REQUEST on a 400 at once, keeping the provider code, parameter and message', async () => {
    const { client, calls } = makeClient([
      {
        status: 400,
        body: {
          errors: [
            {
              code: 'invalidPositivePrompt',
              message:
                'Invalid value for positivePrompt parameter. It must be between 1 and 2500 characters.',
              parameter: 'positivePrompt',
              taskType: 'videoInference',
              taskUUID: TASK_UUID,
            },
          ],
        },
      },
    ]);
    const error = await failure(() => client.submit(task()));
    expect(error).toBeInstanceOf(RunwareRejectedError);
    expect(error).toMatchObject({ code: 'RUNWARE_INVALID_REQUEST', httpStatus: 400, stage: 'SUBMITTED' });
    expect(error.message).toBe(
      '[RUNWARE_INVALID_REQUEST] Runware rejected the task (invalidPositivePrompt, parameter positivePrompt): ' +
        'Invalid value for positivePrompt parameter. It must be between 1 and 2500 characters.',
    );
    expect(calls).toHaveLength(1);
  });

  it('throws RUNWARE_INVALID_REQUEST on a 422', async () => {
    const { client } = makeClient([
      { status: 422, body: { errors: [{ code: 'unsupported', message: 'No.' }] } },
    ]);
    await expect(client.submit(task())).rejects.toMatchObject({ code: 'RUNWARE_INVALID_REQUEST' });
  });

  it.each([401, 403])(
    'throws RUNWARE_UNAUTHORIZED on a %i and points at the API key secret',
    async (status) => {
      const { client, calls } = makeClient([
        { status, body: { errors: [{ code: 'invalidApiKey', message: 'Invalid API key.' }] } },
      ]);
      const error = await failure(() => client.submit(task()));
      expect(error).toMatchObject({
        name: 'RunwareRejectedError',
        code: 'RUNWARE_UNAUTHORIZED',
        httpStatus: status,
      });
      expect(error.message).toContain('(invalidApiKey): Invalid API key.');
      expect(error.message).toMatch(/API key secret/);
      expect(calls).toHaveLength(1);
    },
  );

  // A refusal after a try that got no answer (or a server error) is not Runware's word about that try: the task
  // may be in its hands. Submit reads the flag (adoptableTask); a try refused for capacity (429) was not taken.
  const unauthorized = {
    status: 401,
    body: { errors: [{ code: 'invalidApiKey', message: 'Invalid API key.' }] },
  };
  const timedOut = { reject: new DOMException('The operation was aborted due to timeout', 'TimeoutError') };
  it.each([
    ['at the first try', [unauthorized], false],
    ['after a 429 (refused for capacity, not taken)', [{ status: 429, body: {} }, unauthorized], false],
    ['after a try that timed out', [timedOut, unauthorized], true],
    ['after a network error', [{ reject: new TypeError('fetch failed') }, unauthorized], true],
    ['after a 500', [{ status: 500, body: {} }, unauthorized], true],
  ])('marks a refusal %s as after an uncertain try: %s', async (_, replies, uncertain) => {
    const { client, calls } = makeClient(replies as Parameters<typeof makeClient>[0], { maxAttempts: 3 });
    const error = await failure(() => client.submit(task()));
    expect(error).toMatchObject({ name: 'RunwareRejectedError', code: 'RUNWARE_UNAUTHORIZED' });
    expect((error as RunwareRejectedError).afterUncertainTry).toBe(uncertain);
    expect(calls).toHaveLength(replies.length);
  });

  it('throws RUNWARE_INSUFFICIENT_BALANCE on a 402 and says to top up', async () => {
    const { client, calls } = makeClient([
      { status: 402, body: { errors: [{ code: 'insufficientCredits', message: 'Insufficient credits.' }] } },
    ]);
    const error = await failure(() => client.submit(task()));
    expect(error).toMatchObject({ code: 'RUNWARE_INSUFFICIENT_BALANCE', httpStatus: 402 });
    expect(error.message).toContain('(insufficientCredits): Insufficient credits.');
    expect(error.message).toMatch(/top up your Runware balance/i);
    expect(calls).toHaveLength(1);
  });

  it.each([
    [404, 'RUNWARE_NOT_FOUND'],
    [405, 'RUNWARE_REJECTED'],
    [409, 'RUNWARE_REJECTED'],
    [413, 'RUNWARE_REJECTED'],
  ])('throws on a %i with code %s and no retry', async (status, code) => {
    const { client, calls } = makeClient([{ status, body: 'not json at all' }]);
    const error = await failure(() => client.submit(task()));
    expect(error).toMatchObject({ name: 'RunwareRejectedError', code, httpStatus: status });
    expect(error.message).toContain(`HTTP ${status}`);
    expect(calls).toHaveLength(1);
  });

  it('throws RUNWARE_REJECTED on a 200 that carries errors', async () => {
    const { client } = makeClient([
      {
        status: 200,
        body: { errors: [{ code: 'invalidModel', message: 'Unknown model.', parameter: 'model' }] },
      },
    ]);
    const error = await failure(() => client.submit(task()));
    expect(error).toMatchObject({ name: 'RunwareRejectedError', code: 'RUNWARE_REJECTED', httpStatus: 200 });
    expect(error.message).toContain('(invalidModel, parameter model): Unknown model.');
  });

  it.each([
    [400, 'with HTTP 400'],
    [200, 'with HTTP 200'],
    [409, 'with HTTP 409'],
  ])('reports conflictTaskUUID %s as already accepted', async (status) => {
    const { client, calls } = makeClient([
      {
        status,
        body: {
          errors: [{ code: 'conflictTaskUUID', message: 'Task UUID already used.', taskUUID: TASK_UUID }],
        },
      },
    ]);
    await expect(client.submit(task())).resolves.toEqual({ status: 'already-accepted' });
    expect(calls).toHaveLength(1);
  });

  it('reports a retry that lands after a lost success as already accepted', async () => {
    const { client } = makeClient([
      { status: 504 },
      { status: 400, body: { errors: [{ code: 'conflictTaskUUID', message: 'Task UUID already used.' }] } },
    ]);
    await expect(client.submit(task())).resolves.toEqual({ status: 'already-accepted' });
  });

  it.each([
    ['a body that is not JSON', '<html>oops</html>'],
    ['JSON that is not an envelope', { hello: 'world' }],
    ['data items that are not acknowledgements', { data: [42] }],
  ])('throws RUNWARE_BAD_RESPONSE on a 200 with %s, without retrying', async (_, body) => {
    const { client, calls } = makeClient([{ status: 200, body }]);
    const error = await failure(() => client.submit(task()));
    expect(error).toMatchObject({ name: 'TransientError', code: 'RUNWARE_BAD_RESPONSE' });
    expect(calls).toHaveLength(1);
  });

  describe('keeps secrets out of error messages', () => {
    const leakyErrors = {
      errors: [
        {
          code: 'failedToFetchImage',
          message: `Could not download ${SIGNED_IMAGE}. Request had Authorization: Bearer ${API_KEY} key=${API_KEY}`,
          parameter: 'inputs.image',
        },
      ],
    };

    it.each([
      ['a final rejection', [{ status: 400, body: leakyErrors }]],
      ['a 401', [{ status: 401, body: leakyErrors }]],
      ['a 200 with errors', [{ status: 200, body: leakyErrors }]],
      ['exhausted retries', Array.from({ length: 4 }, () => ({ status: 503, body: leakyErrors }))],
      [
        'a network error',
        Array.from({ length: 4 }, () => ({ reject: new TypeError(`fetch failed ${SIGNED_IMAGE}`) })),
      ],
    ] satisfies [string, Step[]][])('on %s', async (_, steps) => {
      const { client } = makeClient(steps);
      const error = await failure(() =>
        client.submit(task({ inputs: { image: SIGNED_IMAGE, audio: SIGNED_IMAGE } })),
      );
      expect(error.message).not.toContain(API_KEY);
      expect(error.message).not.toContain('X-Amz-Signature');
      expect(error.message).not.toContain('deadbeefcafe');
      expect(error.message).not.toMatch(/Bearer (?!\[redacted\])/);
    });

    it('while keeping the URL path so the operator knows which file', async () => {
      const { client } = makeClient([{ status: 400, body: leakyErrors }]);
      const error = await failure(() => client.submit(task()));
      expect(error.message).toContain('https://in-bucket.s3.eu-west-1.amazonaws.com/jobs/face.jpg.');
      expect(error.message).toContain('(failedToFetchImage, parameter inputs.image)');
    });

    it('when the task itself is invalid', async () => {
      const { client } = makeClient([ack]);
      const error = await failure(() =>
        client.submit(task({ inputs: { image: SIGNED_IMAGE, audio: `ftp://x/y?sig=${API_KEY}` } })),
      );
      expect(error.message).not.toContain(API_KEY);
      expect(error.message).not.toContain('deadbeefcafe');
    });
  });

  it('asks for the API key on every call, so a rotated key is used', async () => {
    const apiKey = vi.fn(async () => API_KEY);
    const { client } = makeClient([ack, ack], { apiKey });
    await client.submit(task());
    await client.submit(task());
    expect(apiKey).toHaveBeenCalledTimes(2);
  });
});

describe('HttpRunwareClient.getResponse', () => {
  const { response } = loadRunwarePair('midnight-broadcast-chess-commentator');
  const success = { ...(response as Record<string, unknown>), taskUUID: TASK_UUID, status: 'success' };

  it('sends a getResponse task for the UUID', async () => {
    const { client, calls } = makeClient([{ status: 200, body: { data: [] } }]);
    await client.getResponse(TASK_UUID);
    expect(bodyOf(calls[0])).toEqual([{ taskType: 'getResponse', taskUUID: TASK_UUID }]);
    expect(calls[0]?.[1]?.headers).toMatchObject({ Authorization: `Bearer ${API_KEY}` });
  });

  it.each([200, 400, 404])(
    'says the task is unknown when Runware answers %i taskNotFound (and keeps the report as an error)',
    async (status) => {
      const notFound = {
        code: 'taskNotFound',
        message: `No task with taskUUID ${TASK_UUID} was found.`,
        taskType: 'getResponse',
        taskUUID: TASK_UUID,
      };
      const { client } = makeClient([{ status, body: { errors: [notFound] } }]);
      await expect(client.getResponse(TASK_UUID)).resolves.toMatchObject({
        results: [],
        pending: 0,
        errors: [{ code: 'taskNotFound' }],
        unknownTask: true,
      });
    },
  );

  it('counts processing and pending items as pending', async () => {
    const { client } = makeClient([
      {
        status: 200,
        body: {
          data: [
            { taskType: 'videoInference', taskUUID: TASK_UUID, status: 'processing', progress: 40 },
            { taskType: 'videoInference', taskUUID: TASK_UUID, status: 'pending' },
          ],
        },
      },
    ]);
    await expect(client.getResponse(TASK_UUID)).resolves.toEqual({ results: [], pending: 2, errors: [] });
  });

  it('returns a success item as a result', async () => {
    const { client } = makeClient([{ status: 200, body: { data: [success] } }]);
    await expect(client.getResponse(TASK_UUID)).resolves.toEqual({
      results: [
        {
          taskType: 'videoInference',
          taskUUID: TASK_UUID,
          videoUUID: '267a2bde-25e5-48bc-9c2d-2823a2abe887',
          videoURL: 'https://vm.runware.ai/video/os/a15d18/ws/5/vi/267a2bde-25e5-48bc-9c2d-2823a2abe887.mp4',
          cost: 1.20634,
          status: 'success',
        },
      ],
      pending: 0,
      errors: [],
    });
  });

  it('summarizes a mix of finished, running and failed results', async () => {
    const { client } = makeClient([
      {
        status: 200,
        body: {
          data: [
            success,
            { taskUUID: TASK_UUID, status: 'processing' },
            {
              taskUUID: TASK_UUID,
              status: 'error',
              error: { code: 'providerError', message: `No face found in ${SIGNED_IMAGE}` },
            },
          ],
        },
      },
    ]);
    const poll = await client.getResponse(TASK_UUID);
    expect(poll.results).toHaveLength(1);
    expect(poll.pending).toBe(1);
    expect(poll.errors).toEqual([
      {
        code: 'providerError',
        message: 'No face found in https://in-bucket.s3.eu-west-1.amazonaws.com/jobs/face.jpg',
      },
    ]);
  });

  it('reports an error item without details as a failure with a readable message', async () => {
    const { client } = makeClient([
      { status: 200, body: { data: [{ taskUUID: TASK_UUID, status: 'error' }] } },
    ]);
    const poll = await client.getResponse(TASK_UUID);
    expect(poll.errors).toEqual([{ code: 'taskFailed', message: expect.stringMatching(/failed/) }]);
  });

  it('keeps waiting on a status it does not know', async () => {
    const { client } = makeClient([
      { status: 200, body: { data: [{ taskUUID: TASK_UUID, status: 'warming-up' }] } },
    ]);
    await expect(client.getResponse(TASK_UUID)).resolves.toEqual({ results: [], pending: 1, errors: [] });
  });

  it('ignores items of other tasks', async () => {
    const other = { ...success, taskUUID: '00000000-0000-4000-8000-000000000000' };
    const { client } = makeClient([{ status: 200, body: { data: [other] } }]);
    await expect(client.getResponse(TASK_UUID)).resolves.toEqual({ results: [], pending: 0, errors: [] });
  });

  it.each([200, 400])(
    'returns errors that belong to the task (HTTP %i) as a task failure',
    async (status) => {
      const { client } = makeClient([
        {
          status,
          body: {
            errors: [
              {
                code: 'providerContentModeration',
                message: 'Content flagged.',
                parameter: 'inputs.image',
                taskUUID: TASK_UUID,
              },
            ],
          },
        },
      ]);
      await expect(client.getResponse(TASK_UUID)).resolves.toEqual({
        results: [],
        pending: 0,
        errors: [
          { code: 'providerContentModeration', message: 'Content flagged.', parameter: 'inputs.image' },
        ],
      });
    },
  );

  it.each([
    [401, 'RUNWARE_UNAUTHORIZED'],
    [402, 'RUNWARE_INSUFFICIENT_BALANCE'],
    [404, 'RUNWARE_NOT_FOUND'],
  ])('still throws on HTTP %i even when the error names the task', async (status, code) => {
    const { client, calls } = makeClient([
      { status, body: { errors: [{ code: 'x', message: 'y', taskUUID: TASK_UUID }] } },
    ]);
    const error = await failure(() => client.getResponse(TASK_UUID));
    expect(error).toMatchObject({ name: 'RunwareRejectedError', code, httpStatus: status });
    expect(error.message).toContain(`status request for task ${TASK_UUID}`);
    expect(calls).toHaveLength(1);
  });

  it('throws on errors that are about another task', async () => {
    const { client } = makeClient([
      {
        status: 200,
        body: {
          errors: [
            { code: 'invalidTaskType', message: 'No.', taskUUID: '00000000-0000-4000-8000-000000000000' },
          ],
        },
      },
    ]);
    await expect(client.getResponse(TASK_UUID)).rejects.toBeInstanceOf(RunwareRejectedError);
  });

  it.each([200, 400])(
    'treats an error without a taskUUID (HTTP %i) as a failure of the polled task',
    async (status) => {
      const { client } = makeClient([
        { status, body: { errors: [{ code: 'providerError', message: 'No face found.' }] } },
      ]);
      await expect(client.getResponse(TASK_UUID)).resolves.toEqual({
        results: [],
        pending: 0,
        errors: [{ code: 'providerError', message: 'No face found.' }],
      });
    },
  );

  it('still throws on an error without a taskUUID that comes with HTTP 401', async () => {
    const { client } = makeClient([
      { status: 401, body: { errors: [{ code: 'invalidApiKey', message: 'Invalid API key.' }] } },
    ]);
    await expect(client.getResponse(TASK_UUID)).rejects.toMatchObject({ code: 'RUNWARE_UNAUTHORIZED' });
  });

  it('fails the task on the documented timeoutProvider error inside a 200 (the SDK test shape)', async () => {
    const { client } = makeClient([
      {
        status: 200,
        body: {
          data: [],
          errors: [{ code: 'timeoutProvider', message: 'Provider timed out', taskUUID: TASK_UUID }],
        },
      },
    ]);
    await expect(client.getResponse(TASK_UUID)).resolves.toEqual({
      results: [],
      pending: 0,
      errors: [{ code: 'timeoutProvider', message: 'Provider timed out' }],
    });
  });

  it.each(['serviceUnavailable', 'internalServerError', 'rateLimitExceeded'])(
    'keeps waiting on a transient %s error inside a 200, and lists it for the log',
    async (code) => {
      const { client } = makeClient([
        { status: 200, body: { data: [], errors: [{ code, message: 'Try again later.' }] } },
      ]);
      await expect(client.getResponse(TASK_UUID)).resolves.toEqual({
        results: [],
        pending: 1,
        errors: [],
        transient: [{ code, message: 'Try again later.' }],
      });
    },
  );

  it('keeps waiting on a transient error carried by a data item', async () => {
    const { client } = makeClient([
      {
        status: 200,
        body: {
          data: [
            { taskUUID: TASK_UUID, status: 'error', error: { code: 'serviceUnavailable', message: 'Busy.' } },
          ],
        },
      },
    ]);
    const poll = await client.getResponse(TASK_UUID);
    expect(poll).toMatchObject({ pending: 1, errors: [] });
  });

  it('reads an error item of the older docs, with its fields on the item itself', async () => {
    const { client } = makeClient([
      {
        status: 200,
        body: {
          data: [],
          errors: [
            {
              code: 'timeoutProvider',
              status: 'error',
              message:
                'The external provider did not respond within the timeout window. The request was automatically terminated.',
              documentation: 'https://runware.ai/docs/en/video-inference/api-reference',
              taskUUID: TASK_UUID,
            },
          ],
        },
      },
    ]);
    const poll = await client.getResponse(TASK_UUID);
    expect(poll.errors).toEqual([{ code: 'timeoutProvider', message: expect.stringMatching(/terminated/) }]);
  });

  it('keeps a parameter given as a list of fields', async () => {
    const { client } = makeClient([
      {
        status: 200,
        body: { errors: [{ code: 'invalidAspect', message: 'm', parameter: ['width', 'height'] }] },
      },
    ]);
    const poll = await client.getResponse(TASK_UUID);
    expect(poll.errors).toEqual([{ code: 'invalidAspect', message: 'm', parameter: 'width, height' }]);
  });

  it.each([
    ['a negative cost', { cost: -1 }],
    ['a huge cost', { cost: 1e300 }],
    ['a denormal cost', { cost: 5e-324 }],
    ['an empty videoUUID', { videoUUID: '' }],
    ['a videoUUID of 10,000 characters', { videoUUID: 'a'.repeat(10_000) }],
    ['a videoURL of 3,000 characters', { videoURL: `https://vm.runware.ai/${'v'.repeat(3000)}.mp4` }],
  ])('throws RUNWARE_BAD_RESPONSE on a result with %s', async (_, change) => {
    const { client } = makeClient([{ status: 200, body: { data: [{ ...success, ...change }] } }]);
    await expect(client.getResponse(TASK_UUID)).rejects.toMatchObject({ code: 'RUNWARE_BAD_RESPONSE' });
  });

  it('retries transient failures like submit does (the fail step counts them against GENERATED)', async () => {
    const { client, calls } = makeClient([
      { status: 502 },
      { status: 502 },
      { status: 502 },
      { status: 502 },
    ]);
    const error = await failure(() => client.getResponse(TASK_UUID));
    expect(error).toMatchObject({ name: 'TransientError', code: 'RUNWARE_UNAVAILABLE' });
    expect(calls).toHaveLength(4);
  });

  it.each([
    ['a body that is not JSON', 'nope'],
    ['items without a taskUUID', { data: [{ status: 'success' }] }],
    ['a success item without a video', { data: [{ taskUUID: TASK_UUID, status: 'success' }] }],
  ])('throws RUNWARE_BAD_RESPONSE on %s', async (_, body) => {
    const { client } = makeClient([{ status: 200, body }]);
    await expect(client.getResponse(TASK_UUID)).rejects.toMatchObject({ code: 'RUNWARE_BAD_RESPONSE' });
  });

  it('refuses a taskUUID that is not a UUID without calling Runware', async () => {
    const { client, calls } = makeClient([]);
    await expect(client.getResponse('job-1')).rejects.toThrow(TypeError);
    expect(calls).toHaveLength(0);
  });
});
