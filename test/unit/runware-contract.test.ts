/**
 * The contract between the pipeline's Runware client and the Runware simulator. The simulator's rules come from
 * Runware's docs (local/runware/spec.ts), the client's from its own schemas (lambdas/core/runware/schemas.ts):
 * written apart, they are held to the same fixtures here, so a wrong bound or field name on either side fails a
 * test instead of being accepted by both. The last block proves it by planting wrong bounds on each side.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { RunwareRejectedError, TransientError } from '../../lambdas/core/errors.js';
import { HttpRunwareClient } from '../../lambdas/core/runware/client.js';
import { parseTaskReports } from '../../lambdas/core/runware/reports.js';
import {
  ResponseEnvelopeSchema,
  VideoInferenceTaskSchema,
  VideoResultItemSchema,
} from '../../lambdas/core/runware/schemas.js';
import { submitJob } from '../../lambdas/submit/submit.js';
import {
  KLING_AVATAR_RULES,
  PollResponseShape,
  ResultItemShape,
  SubmitResponseShape,
  WebhookBodyShape,
} from '../../local/runware/spec.js';
import { checkVideoInference, createVideoInferenceValidator } from '../../local/runware/validation.js';
import { loadRunwarePair, loadRunwarePairs, RUNWARE_PAIR_SLUGS } from '../fixtures/runware/pairs.js';
import { loadRunwareShapes, type RunwareShape } from '../fixtures/runware/shapes.js';
import { useStores } from '../support/harness.js';
import { FakeRunware, RecordingNotifier, seedValidatedJob, submitDeps } from '../support/jobs.js';

type Json = Record<string, unknown>;

/** A real request from the model page, as a plain object to vary. */
function realRequest(slug = RUNWARE_PAIR_SLUGS[0] ?? ''): Json {
  const { request } = loadRunwarePair(slug);
  return z.record(z.string(), z.unknown()).parse(request);
}
const IMAGE = 'https://bucket.s3.eu-west-1.amazonaws.com/in/face.jpg?X-Amz-Signature=abc';
const AUDIO = 'https://bucket.s3.eu-west-1.amazonaws.com/in/voice.mp3?X-Amz-Signature=def';
/** A real request with every option the model page lists, each at a documented value. */
function fullRequest(overrides: Json = {}): Json {
  return {
    ...realRequest(),
    outputType: 'URL',
    outputFormat: 'WEBM',
    outputQuality: 95,
    deliveryMethod: 'async',
    webhookURL: 'https://abc.execute-api.eu-west-1.amazonaws.com/webhook/x?token=t',
    ttl: 3600,
    includeCost: true,
    numberResults: 1,
    safety: { checkContent: true, mode: 'fast' },
    ...overrides,
  };
}
const without = (key: string): Json => {
  const { [key]: _dropped, ...rest } = fullRequest();
  return rest;
};

interface RequestCase {
  name: string;
  body: unknown;
}

/** Requests both sides must accept: the model page's four, and each documented bound at its edge. */
const VALID_REQUESTS: readonly RequestCase[] = [
  ...RUNWARE_PAIR_SLUGS.map((slug) => ({ name: `real request ${slug}`, body: realRequest(slug) })),
  { name: 'every option', body: fullRequest() },
  { name: 'outputQuality 20 (min)', body: fullRequest({ outputQuality: 20 }) },
  { name: 'outputQuality 99 (max)', body: fullRequest({ outputQuality: 99 }) },
  { name: 'numberResults 1 (min)', body: fullRequest({ numberResults: 1 }) },
  { name: 'numberResults 4 (max)', body: fullRequest({ numberResults: 4 }) },
  { name: 'ttl 60 (min)', body: fullRequest({ ttl: 60 }) },
  { name: 'a 1-character prompt (min)', body: fullRequest({ positivePrompt: 'a' }) },
  { name: 'a 2500-character prompt (max)', body: fullRequest({ positivePrompt: 'p'.repeat(2500) }) },
  { name: 'no prompt (optional)', body: without('positivePrompt') },
  { name: 'outputFormat MP4', body: fullRequest({ outputFormat: 'MP4' }) },
  { name: 'outputFormat MOV', body: fullRequest({ outputFormat: 'MOV' }) },
  { name: 'the standard model', body: fullRequest({ model: 'klingai:avatar@2.0-standard' }) },
  { name: 'safety mode none', body: fullRequest({ safety: { checkContent: false, mode: 'none' } }) },
  { name: 'safety mode full', body: fullRequest({ safety: { mode: 'full' } }) },
  { name: 'presigned S3 inputs', body: fullRequest({ inputs: { image: IMAGE, audio: AUDIO } }) },
  {
    name: 'uploaded media UUIDs as inputs (D-media)',
    body: fullRequest({
      inputs: {
        image: '9d0a1c2e-3f4b-4c5d-8e6f-7a8b9c0d1e2f',
        audio: '1b2c3d4e-5f60-4718-a9b0-c1d2e3f4a5b6',
      },
    }),
  },
];

/** Deliberately wrong variants both sides must refuse: each breaks one documented rule or name. */
const INVALID_REQUESTS: readonly RequestCase[] = [
  { name: 'outputQuality 19', body: fullRequest({ outputQuality: 19 }) },
  { name: 'outputQuality 100', body: fullRequest({ outputQuality: 100 }) },
  { name: 'outputQuality 95.5', body: fullRequest({ outputQuality: 95.5 }) },
  { name: 'outputQuality as a string', body: fullRequest({ outputQuality: '95' }) },
  { name: 'numberResults 0', body: fullRequest({ numberResults: 0 }) },
  { name: 'numberResults 5', body: fullRequest({ numberResults: 5 }) },
  { name: 'ttl 59', body: fullRequest({ ttl: 59 }) },
  { name: 'ttl 120.5', body: fullRequest({ ttl: 120.5 }) },
  { name: 'an empty prompt', body: fullRequest({ positivePrompt: '' }) },
  { name: 'a 2501-character prompt', body: fullRequest({ positivePrompt: 'p'.repeat(2501) }) },
  { name: 'another model', body: fullRequest({ model: 'klingai:avatar@2.0' }) },
  { name: 'outputFormat in lower case', body: fullRequest({ outputFormat: 'mp4' }) },
  { name: 'outputFormat GIF', body: fullRequest({ outputFormat: 'GIF' }) },
  { name: 'outputType base64Data', body: fullRequest({ outputType: 'base64Data' }) },
  { name: 'deliveryMethod sync', body: fullRequest({ deliveryMethod: 'sync' }) },
  { name: 'includeCost as a string', body: fullRequest({ includeCost: 'true' }) },
  {
    name: 'a webhookURL that is not http(s)',
    body: fullRequest({ webhookURL: 'ftp://hooks.example.com/x' }),
  },
  { name: 'safety mode strict', body: fullRequest({ safety: { mode: 'strict' } }) },
  { name: 'an unknown safety field', body: fullRequest({ safety: { mode: 'fast', level: 2 } }) },
  { name: 'no inputs', body: without('inputs') },
  { name: 'no model', body: without('model') },
  { name: 'no taskUUID', body: without('taskUUID') },
  { name: 'no audio input', body: fullRequest({ inputs: { image: IMAGE } }) },
  {
    name: 'inputs not nested (image and audio at the top)',
    body: { ...without('inputs'), image: IMAGE, audio: AUDIO },
  },
  {
    name: 'an input that is a file name',
    body: fullRequest({ inputs: { image: 'face.png', audio: AUDIO } }),
  },
  { name: 'an unknown input', body: fullRequest({ inputs: { image: IMAGE, audio: AUDIO, video: IMAGE } }) },
  { name: 'a misspelt option (outputformat)', body: { ...without('outputFormat'), outputformat: 'MP4' } },
  { name: 'an option the model lacks (seed)', body: fullRequest({ seed: 42 }) },
  { name: 'a taskUUID that is not a UUID', body: fullRequest({ taskUUID: 'job-1' }) },
  {
    name: 'a taskUUID that is a v1 UUID',
    body: fullRequest({ taskUUID: 'c232ab00-9414-11ec-b3c8-9f6bdeced846' }),
  },
  { name: 'taskType imageInference', body: fullRequest({ taskType: 'imageInference' }) },
];

/** Both sides' verdicts on a request: does it reach Runware (client), is it accepted (simulator)? */
interface RequestSide {
  name: string;
  accepts: (body: unknown) => boolean;
}
const CLIENT_REQUESTS: RequestSide = {
  name: 'client (VideoInferenceTaskSchema)',
  accepts: (body) => VideoInferenceTaskSchema.safeParse(body).success,
};
const SIMULATOR_REQUESTS: RequestSide = {
  name: 'simulator (spec.ts rules)',
  accepts: (body) => checkVideoInference(body).ok,
};

/** The cases a side gets wrong: valid ones it refuses, invalid ones it accepts. */
function requestDisagreements(side: RequestSide): string[] {
  return [
    ...VALID_REQUESTS.filter((c) => !side.accepts(c.body)).map((c) => `refuses valid: ${c.name}`),
    ...INVALID_REQUESTS.filter((c) => side.accepts(c.body)).map((c) => `accepts invalid: ${c.name}`),
  ];
}

interface ShapeCase {
  name: string;
  shape: RunwareShape;
}

/** Breaks one documented field of a shape's result item (or the body itself), for the refusal table. */
function breakShape(shape: RunwareShape, name: string, change: (item: Json) => Json): ShapeCase {
  const body = structuredClone(shape.body);
  const parsedEnvelope = z
    .object({ data: z.array(z.record(z.string(), z.unknown())).min(1) })
    .safeParse(body);
  const first = parsedEnvelope.success ? parsedEnvelope.data.data[0] : undefined;
  const broken = first
    ? { ...z.record(z.string(), z.unknown()).parse(body), data: [change(first)] }
    : change(z.record(z.string(), z.unknown()).parse(body));
  return { name: `${shape.name}: ${name}`, shape: { ...shape, body: broken } };
}

const SHAPES = loadRunwareShapes();
const shapeNamed = (name: string): RunwareShape => {
  const shape = SHAPES.find((s) => s.name === name);
  if (!shape) throw new Error(`no shape fixture ${name}`);
  return shape;
};
const REAL_RESPONSE_SHAPES: ShapeCase[] = loadRunwarePairs().flatMap((pair) => {
  const item = z.object({ taskUUID: z.string() }).parse(pair.response);
  const base = { source: 'D-model real response', status: 200, taskUUID: item.taskUUID };
  return [
    {
      name: `${pair.slug} as {data:[item]}`,
      shape: { ...base, name: pair.slug, exchange: 'webhook', body: { data: [pair.response] } },
    },
    {
      name: `${pair.slug} bare`,
      shape: { ...base, name: pair.slug, exchange: 'webhook', body: pair.response },
    },
  ];
});
/** Bodies both sides must take: every documented shape, and the four real responses. */
const VALID_SHAPES: readonly ShapeCase[] = [
  ...SHAPES.map((shape) => ({ name: shape.name, shape })),
  ...REAL_RESPONSE_SHAPES,
];

/** Wrong variants of the result shapes: both sides must refuse each. */
const INVALID_SHAPES: readonly ShapeCase[] = [
  'webhook-data-envelope',
  'webhook-bare-item',
  'getresponse-success',
].flatMap((name) => {
  const shape = shapeNamed(name);
  return [
    breakShape(shape, 'no videoURL', ({ videoURL: _v, ...rest }) => rest),
    breakShape(shape, 'videoUrl (wrong case) instead of videoURL', ({ videoURL, ...rest }) => ({
      ...rest,
      videoUrl: videoURL,
    })),
    breakShape(shape, 'a videoURL that is not a URL', (item) => ({
      ...item,
      videoURL: 'vm.runware.ai/video/x.mp4',
    })),
    breakShape(shape, 'no videoUUID', ({ videoUUID: _v, ...rest }) => rest),
    breakShape(shape, 'a negative cost', (item) => ({ ...item, cost: -1.2 })),
    breakShape(shape, 'a cost as a string', (item) => ({ ...item, cost: '1.20634' })),
  ];
});
const INVALID_ENVELOPES: readonly ShapeCase[] = [
  { name: 'an empty object', shape: { ...shapeNamed('webhook-data-envelope'), body: {} } },
  {
    name: 'data that is not an array',
    shape: { ...shapeNamed('webhook-data-envelope'), body: { data: 'done' } },
  },
  {
    name: 'an unknown envelope (result)',
    shape: { ...shapeNamed('webhook-data-envelope'), body: { result: {} } },
  },
  {
    name: 'errors that is not an array',
    shape: { ...shapeNamed('getresponse-errors-200'), body: { errors: 'x' } },
  },
];

interface ShapeSide {
  name: string;
  takes: (shape: RunwareShape) => Promise<boolean>;
}

/** The client's real code for each exchange: HttpRunwareClient.submit for the submit answer, parseTaskReports else. */
async function clientTakes(shape: RunwareShape): Promise<boolean> {
  if (shape.exchange === 'submit') {
    const client = new HttpRunwareClient({
      url: 'https://api.runware.test/v1',
      apiKey: async () => 'key-0123456789abcdef',
      maxAttempts: 1,
      fetch: async () =>
        new Response(JSON.stringify(shape.body), {
          status: shape.status,
          headers: { 'content-type': 'application/json' },
        }),
    });
    const task = VideoInferenceTaskSchema.parse({ ...realRequest(), taskUUID: shape.taskUUID });
    try {
      await client.submit(task);
      return true;
    } catch (error) {
      // A refusal the client understood is a taken body; an answer it cannot read is not.
      if (error instanceof RunwareRejectedError) return true;
      if (error instanceof TransientError) return error.code !== 'RUNWARE_BAD_RESPONSE';
      throw error;
    }
  }
  if (shape.exchange === 'getResponse' && !ResponseEnvelopeSchema.safeParse(shape.body).success) return false;
  return parseTaskReports(shape.body, shape.taskUUID, { source: shape.exchange }).ok;
}

const CLIENT_SHAPES: ShapeSide = { name: 'client (HttpRunwareClient, parseTaskReports)', takes: clientTakes };
const SIMULATOR_SHAPES: ShapeSide = {
  name: 'simulator (spec.ts shapes)',
  takes: async (shape) => {
    const spec = { webhook: WebhookBodyShape, submit: SubmitResponseShape, getResponse: PollResponseShape };
    return spec[shape.exchange].safeParse(shape.body).success;
  },
};

async function shapeDisagreements(side: ShapeSide): Promise<string[]> {
  const out: string[] = [];
  for (const c of VALID_SHAPES) if (!(await side.takes(c.shape))) out.push(`refuses valid: ${c.name}`);
  for (const c of [...INVALID_SHAPES, ...INVALID_ENVELOPES]) {
    if (await side.takes(c.shape)) out.push(`takes invalid: ${c.name}`);
  }
  return out;
}

describe('requests: the client and the simulator agree on every fixture', () => {
  it('has the four real pairs and a wrong variant of each documented rule', () => {
    expect(RUNWARE_PAIR_SLUGS).toHaveLength(4);
    expect(INVALID_REQUESTS.length).toBeGreaterThan(25);
  });

  it.each([CLIENT_REQUESTS, SIMULATOR_REQUESTS])(
    '$name accepts every valid request and refuses every wrong one',
    (side) => {
      expect(requestDisagreements(side)).toEqual([]);
    },
  );

  it('names the broken parameter in the simulator refusal of each wrong variant', () => {
    for (const c of INVALID_REQUESTS) {
      const verdict = checkVideoInference(c.body);
      expect(verdict.ok, c.name).toBe(false);
      if (!verdict.ok) expect(verdict.error.parameter, c.name).toBeTruthy();
    }
  });
});

describe('responses: both sides take every documented shape and refuse the broken ones', () => {
  it('has a fixture for each documented success and failure shape, each with its source', () => {
    expect(SHAPES.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'submit-ack',
        'error-invalid-api-key',
        'webhook-data-envelope',
        'webhook-bare-item',
        'webhook-errors-envelope',
        'webhook-failed-data-item',
        'webhook-error-object',
        'webhook-bare-error',
        'getresponse-processing',
        'getresponse-success',
        'getresponse-errors-200',
      ]),
    );
    for (const shape of SHAPES) expect(shape.source, shape.name).toMatch(/D-|TS |PY |SKILLS/);
  });

  it.each([CLIENT_SHAPES, SIMULATOR_SHAPES])(
    '$name takes every valid body and refuses every broken one',
    async (side) => {
      expect(await shapeDisagreements(side)).toEqual([]);
    },
  );

  it('reads each failure webhook as a failure of the task, never as a result', () => {
    const failures = SHAPES.filter((s) => s.exchange === 'webhook' && /error|failed/.test(s.name));
    expect(failures.length).toBeGreaterThanOrEqual(4);
    for (const shape of failures) {
      const parsed = parseTaskReports(shape.body, shape.taskUUID);
      expect(parsed.ok, shape.name).toBe(true);
      if (parsed.ok) {
        expect(parsed.reports.results, shape.name).toEqual([]);
        expect(parsed.reports.failures.length, shape.name).toBeGreaterThan(0);
      }
    }
  });
});

describe("the client's request builder (submit) makes tasks the simulator accepts", () => {
  const db = useStores();
  let n = 0;

  it.each([
    { name: 'the defaults', settings: {} },
    {
      name: 'every option at its lower bound',
      settings: { prompt: 'a', outputFormat: 'WEBM', outputQuality: 20, numberResults: 1, ttl: 60 },
    },
    {
      name: 'every option at its upper bound',
      settings: {
        prompt: 'p'.repeat(2500),
        outputFormat: 'MOV',
        outputQuality: 99,
        numberResults: 4,
        ttl: 31_536_000,
        safety: { checkContent: true, mode: 'full' },
        model: 'klingai:avatar@2.0-standard',
      },
    },
  ] as const)('with $name', async ({ settings }) => {
    const runware = new FakeRunware();
    const deps = submitDeps(db, runware, new RecordingNotifier(), {
      now: () => new Date('2026-11-24T10:01:00Z'),
      newUUID: randomUUID,
    });
    n += 1;
    const seeded = await seedValidatedJob(db.jobs);
    const base = seeded.settings ?? {
      model: 'klingai:avatar@2.0-pro',
      outputFormat: 'MP4',
      outputQuality: 95,
      numberResults: 1,
    };
    await db.jobs.update(seeded.jobId, 1, { settings: { ...base, ...settings } });
    await submitJob({ jobId: seeded.jobId, attempt: 1, taskToken: `token-${n}` }, deps);

    const sent = runware.submitted[0];
    expect(sent).toBeDefined();
    const verdict = checkVideoInference(sent);
    expect(verdict.ok ? 'accepted' : verdict.error).toBe('accepted');
    if ('ttl' in settings) expect(sent?.ttl).toBe(settings.ttl);
  });
});

describe('a wrong bound or field on either side fails the contract', () => {
  const wrongRules = (change: Partial<typeof KLING_AVATAR_RULES>): RequestSide => ({
    name: 'simulator with a planted error',
    accepts: (body) => createVideoInferenceValidator({ ...KLING_AVATAR_RULES, ...change })(body).ok,
  });
  const wrongClient = (schema: z.ZodType): RequestSide => ({
    name: 'client with a planted error',
    accepts: (body) => schema.safeParse(body).success,
  });

  it.each([
    {
      planted: 'client: outputQuality up to 100',
      side: wrongClient(
        VideoInferenceTaskSchema.extend({ outputQuality: z.int().min(20).max(100).optional() }),
      ),
      caught: 'accepts invalid: outputQuality 100',
    },
    {
      planted: 'client: ttl from 1 s',
      side: wrongClient(VideoInferenceTaskSchema.extend({ ttl: z.int().min(1).optional() })),
      caught: 'accepts invalid: ttl 59',
    },
    {
      planted: 'client: prompt up to 2000 characters',
      side: wrongClient(
        VideoInferenceTaskSchema.extend({ positivePrompt: z.string().min(1).max(2000).optional() }),
      ),
      caught: 'refuses valid: a 2500-character prompt (max)',
    },
    {
      planted: 'client: the field named outputformat',
      side: wrongClient(
        VideoInferenceTaskSchema.omit({ outputFormat: true }).extend({ outputformat: z.string().optional() }),
      ),
      caught: 'refuses valid: every option',
    },
    {
      planted: 'simulator: numberResults up to 5',
      side: wrongRules({ numberResults: { min: 1, max: 5 } }),
      caught: 'accepts invalid: numberResults 5',
    },
    {
      planted: 'simulator: outputQuality from 30',
      side: wrongRules({ outputQuality: { min: 30, max: 99 } }),
      caught: 'refuses valid: outputQuality 20 (min)',
    },
    {
      planted: 'simulator: ttl from 0 s',
      side: wrongRules({ ttlMin: 0 }),
      caught: 'accepts invalid: ttl 59',
    },
    {
      planted: 'simulator: another model name',
      side: wrongRules({ models: ['klingai:avatar@2.0'] }),
      caught: 'refuses valid: real request brass-clockmaker-portrait-study',
    },
  ])('catches $planted', ({ side, caught }) => {
    expect(requestDisagreements(side)).toContain(caught);
  });

  it.each([
    {
      planted: 'simulator: videoURL any string',
      side: {
        name: 'simulator with a planted error',
        takes: async (shape: RunwareShape) =>
          z
            .union([
              z.object({ data: z.array(ResultItemShape.extend({ videoURL: z.string() })) }),
              WebhookBodyShape,
            ])
            .safeParse(shape.body).success,
      },
      caught: 'takes invalid: webhook-data-envelope: a videoURL that is not a URL',
    },
    {
      planted: 'client: cost of any type',
      side: {
        name: 'client with a planted error',
        takes: async (shape: RunwareShape) =>
          z
            .object({ data: z.array(VideoResultItemSchema.extend({ cost: z.unknown() })) })
            .safeParse(shape.body).success || (await clientTakes(shape)),
      },
      caught: 'takes invalid: webhook-data-envelope: a cost as a string',
    },
  ])('catches $planted', async ({ side, caught }) => {
    expect(await shapeDisagreements(side)).toContain(caught);
  });
});
