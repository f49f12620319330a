import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OutputFormat } from '../../lambdas/core/contract/job-settings.js';
import { RunwareBusyError, RunwareRejectedError, TransientError } from '../../lambdas/core/errors.js';
import { HttpRunwareClient, type HttpRunwareClientOptions } from '../../lambdas/core/runware/client.js';
import { parseTaskReports } from '../../lambdas/core/runware/reports.js';
import { parseWebhookBody, type VideoInferenceTask } from '../../lambdas/core/runware/schemas.js';
import { makeSamplePortrait, makeSampleVoice, probe } from '../../local/ffmpeg.js';
import { PollResponseShape, WebhookBodyShape } from '../../local/runware/spec.js';
import { RunwareSimulator } from '../../local/runware-simulator.js';

const API_KEY = 'sim-test-key-0123456789abcdefghijklmnop';
/** Stands in for presigned-URL signatures and webhook tokens: must never reach a log line. */
const SECRET = 'secret-signature-5f1c0e2b';
const VOICE_SECONDS = 3;

interface Received {
  path: string;
  search: string;
  body: unknown;
  /** `performance.now()` when the POST was received, to order it against the client's answers. */
  at: number;
}

/** A tiny webhook endpoint: records every POST, answers queued statuses first, then 200. */
const hook = { received: [] as Received[], statuses: [] as number[], url: '' };
/** Serves the inputs, as the local S3 emulator would through presigned URLs. */
const files = { url: '', byPath: new Map<string, Buffer>() };

let workDir: string;
let simulator: RunwareSimulator;
let apiUrl: string;
let voiceDuration: number;
const logLines: string[] = [];
const servers: Server[] = [];

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'runware-sim-'));
  await makeSamplePortrait(join(workDir, 'portrait.png'));
  await makeSampleVoice(join(workDir, 'voice.wav'), VOICE_SECONDS);
  voiceDuration = (await probe(join(workDir, 'voice.wav'))).durationSeconds;
  files.byPath.set('/inbox/portrait.png', await readFile(join(workDir, 'portrait.png')));
  files.byPath.set('/inbox/voice.wav', await readFile(join(workDir, 'voice.wav')));

  files.url = await listen(
    createServer((req, res) => {
      const body = files.byPath.get(new URL(req.url ?? '/', 'http://x').pathname);
      if (!body) res.writeHead(404).end();
      else res.writeHead(200, { 'Content-Length': body.length }).end(body);
    }),
  );
  hook.url = await listen(
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        hook.received.push({
          path: url.pathname,
          search: url.search,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          at: performance.now(),
        });
        res.writeHead(hook.statuses.shift() ?? 200).end();
      });
    }),
  );

  simulator = new RunwareSimulator({
    apiKey: API_KEY,
    workDir: join(workDir, 'simulator'),
    log: (line) => logLines.push(line),
  });
  ({ url: apiUrl } = await simulator.start());
});

afterEach(async () => {
  await simulator.waitForIdle();
  simulator.faults = {};
  hook.statuses = [];
});

afterAll(async () => {
  await simulator?.stop();
  for (const server of servers) server.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function client(options: Partial<HttpRunwareClientOptions> = {}): HttpRunwareClient {
  return new HttpRunwareClient({
    url: apiUrl,
    apiKey: async () => API_KEY,
    baseDelayMs: 10,
    maxDelayMs: 50,
    timeoutMs: 10_000,
    ...options,
  });
}

/** A client whose fetch notes when each HTTP answer arrived, and how many attempts got none (network errors). */
function watchedClient(options: Partial<HttpRunwareClientOptions> = {}) {
  const seen = { answeredAt: [] as number[], networkErrors: 0 };
  const watched = client({
    fetch: async (input, init) => {
      try {
        const response = await fetch(input, init);
        seen.answeredAt.push(performance.now());
        return response;
      } catch (error) {
        seen.networkErrors += 1;
        throw error;
      }
    },
    ...options,
  });
  return { client: watched, seen };
}

/** Webhook POSTs received for a task, raw, with their arrival times. */
function receivedFor(taskUUID: string): Received[] {
  return hook.received.filter((r) => r.path === `/webhook/${taskUUID}`);
}

/** A valid task with presigned-looking input URLs and a webhook URL carrying a token, as submit builds them. */
function task(overrides: Partial<VideoInferenceTask> = {}): VideoInferenceTask {
  const taskUUID = randomUUID();
  return {
    taskType: 'videoInference',
    taskUUID,
    model: 'klingai:avatar@2.0-pro',
    positivePrompt: 'A presenter speaking calmly to camera.',
    inputs: {
      image: `${files.url}/inbox/portrait.png?X-Amz-Signature=${SECRET}`,
      audio: `${files.url}/inbox/voice.wav?X-Amz-Signature=${SECRET}`,
    },
    deliveryMethod: 'async',
    includeCost: true,
    webhookURL: `${hook.url}/webhook/${taskUUID}?token=${SECRET}`,
    ...overrides,
  };
}

/** Webhook bodies received for a task, normalized by the pipeline's own parser. */
function webhooksFor(taskUUID: string) {
  return hook.received.filter((r) => r.path === `/webhook/${taskUUID}`).map((r) => parseWebhookBody(r.body));
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected a rejection');
}

/** POSTs a raw body, to see exactly what the simulator answers; `apiKey: null` sends no Authorization. */
async function rawPost(body: unknown, apiKey: string | null = API_KEY) {
  const response = await fetch(apiUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(apiKey === null ? {} : { Authorization: `Bearer ${apiKey}` }),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as unknown };
}

describe('submitting tasks', () => {
  it.each([
    ['MP4', 'video/mp4', 'h264', 'aac'],
    ['WEBM', 'video/webm', 'vp9', 'opus'],
    ['MOV', 'video/quicktime', 'h264', 'aac'],
  ] as const)(
    'renders a %s video of the audio length and POSTs the webhook',
    async (format, type, vcodec, acodec) => {
      const sent = task({ outputFormat: format as OutputFormat, outputQuality: 60 });
      await expect(client().submit(sent)).resolves.toEqual({ status: 'accepted' });
      await simulator.waitForIdle();

      const received = hook.received.filter((r) => r.path === `/webhook/${sent.taskUUID}`);
      expect(received).toHaveLength(1);
      // The simulator POSTs the webhook URL whole: the token in its query string is how the pipeline authenticates.
      expect(received[0]?.search).toBe(`?token=${SECRET}`);
      const { results, errors } = parseWebhookBody(received[0]?.body);
      expect(errors).toEqual([]);
      expect(results).toHaveLength(1);
      const result = results[0];
      expect(result).toMatchObject({ taskType: 'videoInference', taskUUID: sent.taskUUID });
      // None of the four real avatar responses carries a seed (docs/runware-api.md section 8).
      expect(result?.seed).toBeUndefined();
      expect(result?.cost).toBeCloseTo(0.087 * voiceDuration, 2);
      expect(result?.videoURL).toMatch(new RegExp(`/video/${result?.videoUUID}\\.${format.toLowerCase()}$`));

      const response = await fetch(result?.videoURL ?? '');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(type);
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
      const file = join(workDir, `download.${format.toLowerCase()}`);
      await writeFile(file, bytes);
      const probed = await probe(file);
      const video = probed.streams.filter((s) => s.codecType === 'video');
      const audio = probed.streams.filter((s) => s.codecType === 'audio');
      expect(video.map((s) => s.codecName)).toEqual([vcodec]);
      expect(audio.map((s) => s.codecName)).toEqual([acodec]);
      expect(Math.abs(probed.durationSeconds - voiceDuration)).toBeLessThan(0.5);
      // The 720x960 portrait fitted into 720 px, aspect kept, even sizes.
      expect(video[0]).toMatchObject({ width: 540, height: 720 });
    },
  );

  it('answers a resubmitted taskUUID with conflictTaskUUID, which the client reports as already accepted', async () => {
    const sent = task();
    await client().submit(sent);
    await expect(client().submit(sent)).resolves.toEqual({ status: 'already-accepted' });
    await simulator.waitForIdle();

    expect(simulator.submissions.filter((s) => s.taskUUID === sent.taskUUID)).toHaveLength(1);
    expect(simulator.tasks.get(sent.taskUUID)?.results).toHaveLength(1);
    expect(webhooksFor(sent.taskUUID)).toHaveLength(1);
  });

  const image = 'https://bucket.example.com/a.png';
  const audio = 'https://bucket.example.com/a.mp3';
  it.each([
    {
      what: 'an empty prompt',
      overrides: { positivePrompt: '' },
      code: 'invalidPositivePrompt',
      parameter: 'positivePrompt',
    },
    {
      what: 'a prompt over 2500 characters',
      overrides: { positivePrompt: 'x'.repeat(2501) },
      code: 'invalidPositivePrompt',
      parameter: 'positivePrompt',
    },
    { what: 'no inputs', overrides: { inputs: undefined }, code: 'missingInputs', parameter: 'inputs' },
    { what: 'no audio', overrides: { inputs: { image } }, code: 'missingInputs', parameter: 'inputs.audio' },
    {
      what: 'an image that is not a URL',
      overrides: { inputs: { image: 'face.png', audio } },
      code: 'invalidImage',
      parameter: 'inputs.image',
    },
    {
      what: 'outputQuality 100',
      overrides: { outputQuality: 100 },
      code: 'invalidOutputQuality',
      parameter: 'outputQuality',
    },
    {
      what: 'outputFormat GIF',
      overrides: { outputFormat: 'GIF' },
      code: 'invalidOutputFormat',
      parameter: 'outputFormat',
    },
    {
      what: 'numberResults 5',
      overrides: { numberResults: 5 },
      code: 'invalidNumberResults',
      parameter: 'numberResults',
    },
    {
      what: 'deliveryMethod sync',
      overrides: { deliveryMethod: 'sync' },
      code: 'invalidDeliveryMethod',
      parameter: 'deliveryMethod',
    },
    {
      what: 'another model',
      overrides: { model: 'runware:100@1' },
      code: 'invalidModel',
      parameter: 'model',
    },
    {
      what: 'a taskUUID that is not a UUID',
      overrides: { taskUUID: 'job-1' },
      code: 'invalidTaskUUID',
      parameter: 'taskUUID',
    },
    { what: 'an unknown field', overrides: { seed: 42 }, code: 'unsupportedParameter', parameter: 'seed' },
    {
      what: 'an unknown input',
      overrides: { inputs: { image, audio, video: image } },
      code: 'unsupportedParameter',
      parameter: 'inputs.video',
    },
  ])('refuses a task with $what: 400 $code', async ({ overrides, code, parameter }) => {
    const sent = { ...task(), ...overrides };
    const before = simulator.submissions.length;
    const { status, json } = await rawPost([sent]);

    expect(status).toBe(400);
    expect(json).toEqual({
      errors: [
        {
          code,
          message: expect.any(String),
          parameter,
          taskType: 'videoInference',
          taskUUID: sent.taskUUID,
        },
      ],
    });
    expect(simulator.submissions).toHaveLength(before);
  });

  it('refuses a task the client lets through (a media UUID it does not hold) with the provider code', async () => {
    const error = await rejection(
      client().submit(task({ inputs: { image: randomUUID(), audio: task().inputs.audio } })),
    );

    expect(error).toBeInstanceOf(RunwareRejectedError);
    expect(error).toMatchObject({ code: 'RUNWARE_INVALID_REQUEST', httpStatus: 400 });
    expect(error.message).toContain('(invalidImage, parameter inputs.image)');
  });

  it('answers 401 invalidApiKey to a wrong or missing key', async () => {
    const error = await rejection(client({ apiKey: async () => 'wrong-key-0123456789' }).submit(task()));
    expect(error).toMatchObject({
      name: 'RunwareRejectedError',
      code: 'RUNWARE_UNAUTHORIZED',
      httpStatus: 401,
    });
    expect(error.message).toContain('invalidApiKey');
    expect(error.message).not.toContain('wrong-key-0123456789');

    const { status, json } = await rawPost([task()], null);
    expect(status).toBe(401);
    expect(json).toEqual({
      errors: [
        expect.objectContaining({ code: 'invalidApiKey', parameter: 'apiKey', taskType: 'authentication' }),
      ],
    });
  });

  it('answers 402 insufficientCredits to every submission while the standing fault is set, creating no task', async () => {
    simulator.faults = { httpStatus: 402 };
    const sent = [task(), task()];
    const errors = await Promise.all(sent.map((t) => rejection(client().submit(t))));

    for (const error of errors) {
      expect(error).toMatchObject({ code: 'RUNWARE_INSUFFICIENT_BALANCE', httpStatus: 402 });
      expect(error.message).toContain('insufficientCredits');
    }
    expect(sent.some((t) => simulator.tasks.has(t.taskUUID))).toBe(false);
  });

  it('answers 429 and 503 without creating the task, so the client retries into success', async () => {
    simulator.queueFault({ submitStatus: [429, 503] });
    const before = simulator.requests.videoInference ?? 0;
    const sent = task();

    await expect(client().submit(sent)).resolves.toEqual({ status: 'accepted' });
    expect((simulator.requests.videoInference ?? 0) - before).toBe(3);
    expect(simulator.submissions.filter((s) => s.taskUUID === sent.taskUUID)).toHaveLength(1);
  });

  it('keeps answering 429 until the client gives up: the job is to wait (RunwareBusyError)', async () => {
    simulator.queueFault({ submitStatus: [429, 429] });
    const error = await rejection(client({ maxAttempts: 2 }).submit(task()));

    expect(error).toBeInstanceOf(RunwareBusyError);
    expect(error).toMatchObject({ code: 'RUNWARE_BUSY' });
    expect(error.message).toContain('queueCapacityExceeded');
  });

  it('accepts a task and still answers 504 (acceptThenFail): the retry hits conflictTaskUUID, one render', async () => {
    simulator.queueFault({ submitStatus: [504], acceptThenFail: true });
    const sent = task();

    await expect(client().submit(sent)).resolves.toEqual({ status: 'already-accepted' });
    await simulator.waitForIdle();
    expect(simulator.submissions.filter((s) => s.taskUUID === sent.taskUUID)).toHaveLength(1);
    expect(webhooksFor(sent.taskUUID)).toHaveLength(1);
  });
});

describe('capacity and render time', () => {
  afterEach(() => {
    simulator.setCapacity(undefined);
    simulator.setRenderSpeed(0);
  });

  it('answers 429 queueCapacityExceeded above its capacity, creating nothing, until a task finishes', async () => {
    await simulator.waitForIdle();
    simulator.setCapacity(1);
    simulator.resetPeakInFlight();
    const first = task();
    const second = task();
    simulator.queueFault({ slowMs: 1500 });
    await expect(client().submit(first)).resolves.toEqual({ status: 'accepted' });
    expect(simulator.inFlight).toBe(1);

    const error = await rejection(client({ maxAttempts: 1 }).submit(second));
    expect(error).toBeInstanceOf(RunwareBusyError);
    expect(error).toMatchObject({ code: 'RUNWARE_BUSY' });
    expect(error.message).toContain('queueCapacityExceeded');
    expect(simulator.tasks.has(second.taskUUID)).toBe(false);
    // The task in flight sent again is no new task: its usual conflictTaskUUID, not 429.
    await expect(client({ maxAttempts: 1 }).submit(first)).resolves.toEqual({ status: 'already-accepted' });

    await simulator.waitForIdle();
    expect(simulator.inFlight).toBe(0);
    await expect(client({ maxAttempts: 1 }).submit(second)).resolves.toEqual({ status: 'accepted' });
    await simulator.waitForIdle();
    expect(simulator.peakInFlight).toBe(1);
  });

  it('takes renderSpeed seconds of render per second of audio', async () => {
    simulator.setRenderSpeed(0.5);
    const sent = task();
    const started = performance.now();
    await client().submit(sent);
    await simulator.waitForIdle();
    expect(performance.now() - started).toBeGreaterThanOrEqual(0.5 * voiceDuration * 1000);
    expect(simulator.tasks.get(sent.taskUUID.toLowerCase())?.status).toBe('success');
  });
});

describe('ttl: how long the video stays at its URL', () => {
  afterEach(() => vi.useRealTimers());

  it('serves the video until ttl seconds after it was made, then answers 404; the bodies match the documented shapes', async () => {
    const sent = task({ ttl: 60, outputFormat: 'MP4' });
    await client().submit(sent);
    await simulator.waitForIdle();
    const body = receivedFor(sent.taskUUID)[0]?.body;
    expect(WebhookBodyShape.safeParse(body).success).toBe(true);
    const poll = await rawPost([{ taskType: 'getResponse', taskUUID: sent.taskUUID }]);
    expect(PollResponseShape.safeParse(poll.json).success).toBe(true);
    const videoURL = webhooksFor(sent.taskUUID)[0]?.results[0]?.videoURL ?? '';
    expect((await fetch(videoURL, { method: 'HEAD' })).status).toBe(200);

    // Only the clock the video server reads is moved; sockets and timers keep real time.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 58_000);
    expect((await fetch(videoURL, { method: 'HEAD' })).status).toBe(200);
    vi.setSystemTime(Date.now() + 3_000);
    expect((await fetch(videoURL)).status).toBe(404);
  });

  it('keeps a video without ttl', async () => {
    const sent = task();
    await client().submit(sent);
    await simulator.waitForIdle();
    const videoURL = webhooksFor(sent.taskUUID)[0]?.results[0]?.videoURL ?? '';
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 30 * 86_400_000);
    expect((await fetch(videoURL, { method: 'HEAD' })).status).toBe(200);
  });

  it('refuses a ttl under 60 s with invalidTtl, as the model page bounds it', async () => {
    const { status, json } = await rawPost([task({ ttl: 59 })]);
    expect(status).toBe(400);
    expect(json).toMatchObject({ errors: [{ code: 'invalidTtl', parameter: 'ttl' }] });
  });
});

describe('getResponse', () => {
  it('reports processing, then success with the same result as the webhook', async () => {
    simulator.queueFault({ slowMs: 1500 });
    const sent = task();
    await client().submit(sent);

    await expect(client().getResponse(sent.taskUUID)).resolves.toEqual({
      results: [],
      pending: 1,
      errors: [],
    });
    await simulator.waitForIdle();
    const poll = await client().getResponse(sent.taskUUID);
    expect(poll.pending).toBe(0);
    expect(poll.errors).toEqual([]);
    expect(poll.results).toEqual([expect.objectContaining({ ...webhooksFor(sent.taskUUID)[0]?.results[0] })]);
  });

  it('answers 400 taskNotFound for a task it never saw', async () => {
    const unknown = randomUUID();
    const { status, json } = await rawPost([{ taskType: 'getResponse', taskUUID: unknown }]);

    expect(status).toBe(400);
    expect(json).toEqual({ errors: [expect.objectContaining({ code: 'taskNotFound', taskUUID: unknown })] });
    // What an adopting submit step reads as "never accepted: send it under this UUID".
    await expect(client().getResponse(unknown)).resolves.toMatchObject({ unknownTask: true, pending: 0 });
  });

  it('can answer getResponse with 503 first (getResponseStatus), which the client retries', async () => {
    const sent = task();
    await client().submit(sent);
    await simulator.waitForIdle();
    simulator.queueFault({ getResponseStatus: [503] });

    await expect(client().getResponse(sent.taskUUID)).resolves.toMatchObject({ pending: 0, results: [{}] });
  });
});

describe('results and faults', () => {
  it('makes numberResults separate videos, each with its own webhook, videoUUID and seed', async () => {
    simulator.queueFault({ sendSeed: true });
    const sent = task({ numberResults: 2 });
    await client().submit(sent);
    await simulator.waitForIdle();

    const results = webhooksFor(sent.taskUUID).flatMap((w) => w.results);
    expect(results).toHaveLength(2);
    expect(new Set(results.map((r) => r.videoUUID)).size).toBe(2);
    expect(new Set(results.map((r) => r.seed)).size).toBe(2);
    const poll = await client().getResponse(sent.taskUUID);
    expect(poll.results.map((r) => r.videoUUID).sort()).toEqual(results.map((r) => r.videoUUID).sort());
  });

  it('loses the webhook (loseWebhook) while getResponse still reports the result', async () => {
    simulator.queueFault({ loseWebhook: true });
    const sent = task();
    await client().submit(sent);
    await simulator.waitForIdle();

    expect(webhooksFor(sent.taskUUID)).toEqual([]);
    expect(simulator.webhookDeliveries.filter((d) => d.taskUUID === sent.taskUUID)).toEqual([]);
    await expect(client().getResponse(sent.taskUUID)).resolves.toMatchObject({ pending: 0, results: [{}] });
  });

  it('POSTs each webhook twice (duplicateWebhook)', async () => {
    simulator.queueFault({ duplicateWebhook: true });
    const sent = task();
    await client().submit(sent);
    await simulator.waitForIdle();

    const bodies = hook.received.filter((r) => r.path === `/webhook/${sent.taskUUID}`).map((r) => r.body);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toEqual(bodies[0]);
  });

  it('ends the task in error (errorWebhook): errors webhook, getResponse error, nothing rendered', async () => {
    simulator.queueFault({ errorWebhook: { code: 'timeoutProvider', message: 'The provider timed out.' } });
    const sent = task();
    await client().submit(sent);
    await simulator.waitForIdle();

    expect(webhooksFor(sent.taskUUID)).toEqual([
      {
        results: [],
        errors: [
          expect.objectContaining({
            code: 'timeoutProvider',
            taskUUID: sent.taskUUID,
            taskType: 'videoInference',
          }),
        ],
      },
    ]);
    const poll = await client().getResponse(sent.taskUUID);
    expect(poll).toMatchObject({ results: [], pending: 0, errors: [{ code: 'timeoutProvider' }] });
    expect(simulator.tasks.get(sent.taskUUID)?.results.every((r) => r.file === undefined)).toBe(true);
  });

  it('sends failure webhooks in each shape the SDKs handle (round-robin), each read as a failure', async () => {
    const sent = [task(), task(), task(), task()];
    for (const t of sent) {
      simulator.queueFault({
        errorWebhook: { code: 'timeoutProvider', message: 'The provider timed out.' },
        failureShape: 'round-robin',
      });
      await client().submit(t);
    }
    await simulator.waitForIdle();
    const bodies = sent.map((t) => hook.received.find((r) => r.path === `/webhook/${t.taskUUID}`)?.body);
    const shapes = bodies.map((b) =>
      Object.keys(b as object)
        .sort()
        .join(','),
    );
    expect(new Set(shapes).size).toBe(4);
    sent.forEach((t, i) => {
      const parsed = parseTaskReports(bodies[i], t.taskUUID);
      expect(parsed).toMatchObject({
        ok: true,
        reports: { results: [], failures: [{ code: 'timeoutProvider', message: 'The provider timed out.' }] },
      });
    });
  });

  it('answers a submission 408 when told; the client retries it like the SDKs', async () => {
    simulator.queueFault({ submitStatus: [408] });
    const sent = task();
    await expect(client().submit(sent)).resolves.toEqual({ status: 'accepted' });
    await simulator.waitForIdle();
    expect(webhooksFor(sent.taskUUID)).toHaveLength(1);
  });

  it('sends extra results (extraResults) and an unstorable webhook cost (webhookCost) when told', async () => {
    simulator.queueFault({ extraResults: 2, webhookCost: 1e300 });
    const sent = task();
    await client().submit(sent);
    await simulator.waitForIdle();
    const body = hook.received.find((r) => r.path === `/webhook/${sent.taskUUID}`)?.body as {
      data: { videoUUID: string; cost: number }[];
    };
    expect(body.data).toHaveLength(3);
    expect(new Set(body.data.map((d) => d.videoUUID)).size).toBe(3);
    expect(body.data.every((d) => d.cost === 1e300)).toBe(true);
    // getResponse keeps the real cost.
    const poll = await client().getResponse(sent.taskUUID);
    expect(poll.results[0]?.cost).toBeLessThan(100);
  });

  it('fails only result k of several (failResult)', async () => {
    simulator.queueFault({ failResult: 2 });
    const sent = task({ numberResults: 2 });
    await client().submit(sent);
    await simulator.waitForIdle();

    const webhooks = webhooksFor(sent.taskUUID);
    expect(webhooks.flatMap((w) => w.results)).toHaveLength(1);
    expect(webhooks.flatMap((w) => w.errors)).toEqual([expect.objectContaining({ code: 'providerError' })]);
    const poll = await client().getResponse(sent.taskUUID);
    expect(poll.results).toHaveLength(1);
    expect(poll.errors).toEqual([expect.objectContaining({ code: 'providerError' })]);
  });

  it('ends the task with invalidImageURL when the image cannot be fetched, without echoing the signature', async () => {
    const sent = task();
    sent.inputs.image = `${files.url}/inbox/missing.png?X-Amz-Signature=${SECRET}`;
    await client().submit(sent);
    await simulator.waitForIdle();

    const errors = webhooksFor(sent.taskUUID).flatMap((w) => w.errors);
    expect(errors).toEqual([expect.objectContaining({ code: 'invalidImageURL' })]);
    expect(errors[0]?.message).toContain('HTTP 404');
    const bodies = hook.received.filter((r) => r.path === `/webhook/${sent.taskUUID}`).map((r) => r.body);
    expect(JSON.stringify(bodies)).not.toContain(SECRET);
  });

  it('retries a webhook the endpoint answers with 5xx', async () => {
    hook.statuses = [500, 503];
    const sent = task();
    await client().submit(sent);
    await simulator.waitForIdle();

    const deliveries = simulator.webhookDeliveries.filter((d) => d.taskUUID === sent.taskUUID);
    expect(deliveries.map((d) => d.status)).toEqual([500, 503, 200]);
    expect(deliveries[0]?.url).toBe(`${hook.url}/webhook/${sent.taskUUID}`);
  });

  it('keeps a neverFinish task processing without blocking waitForIdle', async () => {
    simulator.queueFault({ neverFinish: true });
    const sent = task();
    await client().submit(sent);
    await simulator.waitForIdle();

    await expect(client().getResponse(sent.taskUUID)).resolves.toEqual({
      results: [],
      pending: 1,
      errors: [],
    });
    expect(webhooksFor(sent.taskUUID)).toEqual([]);
  });

  /** Submits a task with a video fault and returns its videoURL. */
  async function videoURLWith(videoFault: 'truncate' | '404' | 'wrong-content-type' | 'unreachable') {
    simulator.queueFault({ videoFault });
    const sent = task();
    await client().submit(sent);
    await simulator.waitForIdle();
    const url = webhooksFor(sent.taskUUID)[0]?.results[0]?.videoURL;
    if (url === undefined) throw new Error('no videoURL in the webhook');
    return url;
  }

  it('answers 404 for the video (videoFault 404)', async () => {
    const response = await fetch(await videoURLWith('404'));
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });

  it('drops the video download halfway (videoFault truncate)', async () => {
    const response = await fetch(await videoURLWith('truncate'));
    const announced = Number(response.headers.get('content-length'));
    const received = await response.arrayBuffer().then(
      (body) => body.byteLength,
      () => -1,
    );
    expect(announced).toBeGreaterThan(0);
    // Either the body read fails (connection closed early) or it is visibly short.
    expect(received).toBeLessThan(announced);
  });

  it('serves an HTML page instead of the video (videoFault wrong-content-type)', async () => {
    const response = await fetch(await videoURLWith('wrong-content-type'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    await response.body?.cancel();
  });

  it('resets the connection for the video (videoFault unreachable)', async () => {
    const url = await videoURLWith('unreachable');
    await expect(fetch(url)).rejects.toThrow();
  });
});

describe('network and timing faults', () => {
  it('destroys the connection of the next N submissions (submitNetworkError): no task, the client retries', async () => {
    simulator.queueFault({ submitNetworkError: 2 });
    const before = simulator.requests.videoInference ?? 0;
    const { client: watched, seen } = watchedClient();
    const sent = task();

    await expect(watched.submit(sent)).resolves.toEqual({ status: 'accepted' });
    expect(seen.networkErrors).toBe(2);
    expect((simulator.requests.videoInference ?? 0) - before).toBe(3);
    expect(simulator.acceptedTasks(sent.taskUUID)).toBe(1);
    await simulator.waitForIdle();
    expect(webhooksFor(sent.taskUUID)).toHaveLength(1);
  });

  it('creates no task when every attempt is dropped: the client gives up with RUNWARE_NETWORK', async () => {
    simulator.faults = { submitNetworkError: 2 };
    const sent = task();
    const error = await rejection(client({ maxAttempts: 2 }).submit(sent));

    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'RUNWARE_NETWORK' });
    expect(simulator.acceptedTasks(sent.taskUUID)).toBe(0);
    expect(simulator.tasks.has(sent.taskUUID)).toBe(false);
    // The queue is used up: the next submission is answered.
    await expect(client().submit(task())).resolves.toEqual({ status: 'accepted' });
  });

  it('accepts the task, then destroys the connection (acceptThenDrop): the retry hits conflictTaskUUID, one render', async () => {
    simulator.queueFault({ submitNetworkError: 1, acceptThenDrop: true });
    const rendersBefore = simulator.renders;
    const { client: watched, seen } = watchedClient();
    const sent = task();

    await expect(watched.submit(sent)).resolves.toEqual({ status: 'already-accepted' });
    expect(seen.networkErrors).toBe(1);
    await simulator.waitForIdle();
    expect(simulator.acceptedTasks(sent.taskUUID)).toBe(1);
    expect(webhooksFor(sent.taskUUID)).toHaveLength(1);
    expect(simulator.renders - rendersBefore).toBe(1);
  });

  it.each([
    { ackDelayMs: 1, numberResults: 2 },
    { ackDelayMs: 600, numberResults: 1 },
  ])(
    'holds the ack until the webhooks went out (ackDelayMs $ackDelayMs, $numberResults results)',
    async ({ ackDelayMs, numberResults }) => {
      simulator.queueFault({ ackDelayMs });
      const { client: watched, seen } = watchedClient();
      const sent = task({ numberResults });
      const started = performance.now();

      await expect(watched.submit(sent)).resolves.toEqual({ status: 'accepted' });
      const ackAt = seen.answeredAt[0] ?? Number.NaN;
      // Even a 1 ms hold outlasts the render: the ack waits for the webhooks, so the order is certain.
      const received = receivedFor(sent.taskUUID);
      expect(received).toHaveLength(numberResults);
      for (const webhook of received) expect(webhook.at).toBeLessThan(ackAt);
      expect(ackAt - started).toBeGreaterThanOrEqual(ackDelayMs - 5);
      expect(webhooksFor(sent.taskUUID).flatMap((w) => w.results)).toHaveLength(numberResults);
    },
  );

  it('holds the ack only ackDelayMs for a task that sends no webhook (neverFinish)', async () => {
    simulator.queueFault({ ackDelayMs: 300, neverFinish: true });
    const sent = task();
    const started = performance.now();

    await expect(client().submit(sent)).resolves.toEqual({ status: 'accepted' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(295);
    expect(receivedFor(sent.taskUUID)).toEqual([]);
  });

  it('holds the ack without processing (submitDelayMs): task known at once, webhook only after the ack', async () => {
    simulator.queueFault({ submitDelayMs: 800 });
    const { client: watched, seen } = watchedClient();
    const sent = task();
    const started = performance.now();
    const submitted = watched.submit(sent);

    // Known as soon as the request arrives (however long that takes on a loaded machine), while the ack is held.
    await expect
      .poll(() => simulator.acceptedTasks(sent.taskUUID), { timeout: 30_000, interval: 10 })
      .toBe(1);
    await expect(client().getResponse(sent.taskUUID)).resolves.toEqual({
      results: [],
      pending: 1,
      errors: [],
    });

    await expect(submitted).resolves.toEqual({ status: 'accepted' });
    const ackAt = seen.answeredAt[0] ?? Number.NaN;
    expect(ackAt - started).toBeGreaterThanOrEqual(795);
    expect(receivedFor(sent.taskUUID)).toEqual([]);
    await simulator.waitForIdle();
    const received = receivedFor(sent.taskUUID);
    expect(received).toHaveLength(1);
    expect(received[0]?.at).toBeGreaterThan(ackAt);
  });

  it('keeps a task whose submitter died mid-call (submitDelayMs): the retry is already-accepted, one render', async () => {
    simulator.queueFault({ submitDelayMs: 800 });
    const rendersBefore = simulator.renders;
    const sent = task();

    // The "Lambda" gives up after 200 ms, while the simulator holds the ack.
    const error = await rejection(client({ timeoutMs: 200, maxAttempts: 1 }).submit(sent));
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'RUNWARE_TIMEOUT' });
    expect(simulator.acceptedTasks(sent.taskUUID)).toBe(1);

    await expect(client().submit(sent)).resolves.toEqual({ status: 'already-accepted' });
    await simulator.waitForIdle();
    expect(simulator.acceptedTasks(sent.taskUUID)).toBe(1);
    expect(webhooksFor(sent.taskUUID)).toHaveLength(1);
    expect(simulator.renders - rendersBefore).toBe(1);
    expect(logLines.some((line) => line.includes('hung up'))).toBe(true);
  });

  it.each([
    ['files.evil.example', 'https://files.evil.example'],
    ['http://10.0.0.1:8080/', 'http://10.0.0.1:8080'],
  ])('points videoURL at another host (videoUrlHost %s), path kept', async (videoUrlHost, origin) => {
    simulator.queueFault({ videoUrlHost });
    const sent = task();
    await client().submit(sent);
    await simulator.waitForIdle();

    const result = webhooksFor(sent.taskUUID)[0]?.results[0];
    expect(result?.videoURL).toBe(`${origin}/video/${result?.videoUUID}.mp4`);
    const poll = await client().getResponse(sent.taskUUID);
    expect(poll.results.map((r) => r.videoURL)).toEqual([result?.videoURL]);
  });
});

describe('double checks', () => {
  it('keeps a neverFinish task processing on every poll, with nothing rendered or sent', async () => {
    simulator.queueFault({ neverFinish: true });
    const rendersBefore = simulator.renders;
    const sent = task();
    await client().submit(sent);

    for (let poll = 0; poll < 4; poll++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const { status, json } = await rawPost([{ taskType: 'getResponse', taskUUID: sent.taskUUID }]);
      expect(status).toBe(200);
      expect(json).toEqual({
        data: [expect.objectContaining({ taskUUID: sent.taskUUID, status: 'processing' })],
      });
      await expect(client().getResponse(sent.taskUUID)).resolves.toEqual({
        results: [],
        pending: 1,
        errors: [],
      });
    }
    expect(simulator.tasks.get(sent.taskUUID)?.status).toBe('processing');
    expect(receivedFor(sent.taskUUID)).toEqual([]);
    expect(simulator.renders).toBe(rendersBefore);
  });

  it.each([1, 2])(
    'failResult %i of 2: one success and one error webhook; getResponse 200 with data and errors',
    async (failResult) => {
      simulator.queueFault({ failResult });
      const sent = task({ numberResults: 2 });
      await client().submit(sent);
      await simulator.waitForIdle();

      const bodies = receivedFor(sent.taskUUID).map((r) => r.body);
      expect(bodies).toHaveLength(2);
      const success = bodies.filter((b) => typeof b === 'object' && b !== null && 'data' in b);
      const failed = bodies.filter((b) => typeof b === 'object' && b !== null && 'errors' in b);
      expect(success).toEqual([
        { data: [expect.objectContaining({ taskUUID: sent.taskUUID, videoURL: expect.any(String) })] },
      ]);
      expect(failed).toEqual([
        {
          errors: [
            expect.objectContaining({
              code: 'providerError',
              taskType: 'videoInference',
              taskUUID: sent.taskUUID,
            }),
          ],
        },
      ]);

      const { status, json } = await rawPost([{ taskType: 'getResponse', taskUUID: sent.taskUUID }]);
      expect(status).toBe(200);
      const item = (success[0] as { data: Record<string, unknown>[] }).data[0];
      expect(json).toEqual({
        data: [{ ...item, status: 'success' }],
        errors: [
          expect.objectContaining({
            code: 'providerError',
            taskType: 'videoInference',
            taskUUID: sent.taskUUID,
          }),
        ],
      });
      const poll = await client().getResponse(sent.taskUUID);
      expect(poll.results.map((r) => r.videoUUID)).toEqual([item?.videoUUID]);
      expect(poll.errors).toEqual([expect.objectContaining({ code: 'providerError' })]);
    },
  );

  it('counts accepted tasks and renders (acceptedTasks, renders), conflicts and refusals excluded', async () => {
    const acceptedBefore = simulator.acceptedTasks();
    const rendersBefore = simulator.renders;
    const sent = task({ numberResults: 2 });

    await client().submit(sent);
    await client().submit(sent);
    await rawPost([{ ...task(), outputQuality: 100 }]);
    await simulator.waitForIdle();

    expect(simulator.acceptedTasks() - acceptedBefore).toBe(1);
    expect(simulator.acceptedTasks(sent.taskUUID)).toBe(1);
    expect(simulator.acceptedTasks(sent.taskUUID.toUpperCase())).toBe(1);
    expect(simulator.acceptedTasks(randomUUID())).toBe(0);
    expect(simulator.renders - rendersBefore).toBe(2);
  });
});

describe('logging', () => {
  it('never logs the API key or any URL query string', () => {
    expect(logLines.length).toBeGreaterThan(10);
    const all = logLines.join('\n');
    expect(all).not.toContain(API_KEY);
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('Bearer');
  });
});
