import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S3ObjectReader, S3ObjectWriter } from '../../lambdas/core/aws/input-objects.js';
import { DEFAULT_SETTINGS } from '../../lambdas/core/contract/defaults.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { DEFAULT_MEDIA_LIMITS } from '../../lambdas/core/media/inspect.js';
import { failJob } from '../../lambdas/fail/fail.js';
import { type ValidateDeps, validateJob, validateOrRefuse } from '../../lambdas/validate/validate.js';
import { photoJpeg, png, text, wav } from '../fixtures/media/generate.js';
import { useStores } from '../support/harness.js';
import { RecordingEvents, seedValidatedJob } from '../support/jobs.js';

const s3Mock = mockClient(S3Client);
const db = useStores();
let deps: ValidateDeps;
let objects: Map<string, Uint8Array>;

beforeEach(() => {
  objects = new Map();
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string; IfMatch?: string }) => {
    const body = objects.get(input.Key);
    if (!body)
      throw Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    if (input.IfMatch === '"changed"')
      throw Object.assign(new Error('PreconditionFailed'), {
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      });
    // The reader only asks the SDK's stream for its bytes.
    return { ContentLength: body.length, Body: { transformToByteArray: async () => body } } as never;
  });
  s3Mock.on(PutObjectCommand).resolves({});
  deps = {
    jobs: db.jobs,
    files: db.files,
    outputNames: db.outputNames,
    objects: new S3ObjectReader(new S3Client({ region: 'us-east-1' }), 'in'),
    normalized: new S3ObjectWriter(new S3Client({ region: 'us-east-1' }), 'in'),
    limits: DEFAULT_MEDIA_LIMITS,
    // The deployment's ttl and its floor with the default hard deadline (lib/delivery-window.ts).
    defaults: { model: 'klingai:avatar@2.0-pro', prompt: 'Default prompt', ttl: 14_400, minTtl: 12_135 },
    hardDeadlineSeconds: 7200,
    prices: DEFAULT_SETTINGS.modelPricesUsdPerSecond,
    now: () => new Date('2026-11-24T10:00:10Z'),
  };
});
afterEach(() => s3Mock.reset());

/** A RECEIVED job whose files hold the given bytes. */
async function received(
  image: Uint8Array,
  audio: Uint8Array,
  sidecar?: string,
  overrides: Partial<JobRecord> = {},
) {
  const job = await seedValidatedJob(db.jobs, {
    status: 'RECEIVED',
    media: undefined,
    settings: undefined,
    deadline: undefined,
    ...overrides,
  });
  const withSizes = {
    ...job.inputs,
    image: { ...job.inputs.image, size: image.length },
    audio: { ...job.inputs.audio, size: audio.length, key: job.inputs.audio.key.replace('.mp3', '.wav') },
  };
  // A sidecar there at ingest is part of the job (its identity), as ingest records it.
  const sidecarRef =
    sidecar === undefined
      ? {}
      : {
          sidecar: {
            key: `inbox/${job.stem}.json`,
            etag: 's',
            size: sidecar.length,
            sequencer: '3'.padStart(32, '0'),
          },
        };
  await db.jobs.update(job.jobId, 1, { inputs: { ...withSizes, ...sidecarRef } });
  objects.set(withSizes.image.key, image);
  objects.set(withSizes.audio.key, audio);
  if (sidecar !== undefined) {
    const key = `inbox/${job.stem}.json`;
    objects.set(key, new TextEncoder().encode(sidecar));
    await db.files.put({
      stem: job.stem,
      role: 'sidecar',
      key,
      etag: 's',
      size: sidecar.length,
      sequencer: '3'.padStart(32, '0'),
      seenAt: 'now',
    });
  }
  return job;
}

describe('validate', () => {
  it('records media facts, settings and the hard deadline: VALIDATED', async () => {
    const job = await received(png(720, 960), wav(3));
    const out = await validateJob({ jobId: job.jobId, attempt: 1 }, deps);
    expect(out).toEqual({ deadline: '2026-11-24T12:00:10.000Z', numberResults: 1 });
    expect(await db.jobs.get(job.jobId)).toMatchObject({
      status: 'VALIDATED',
      media: {
        image: { format: 'png', width: 720, height: 960 },
        audio: { format: 'wav', durationSeconds: 3 },
      },
      settings: {
        model: 'klingai:avatar@2.0-pro',
        prompt: 'Default prompt',
        outputFormat: 'MP4',
        outputQuality: 95,
        numberResults: 1,
      },
      deadline: '2026-11-24T12:00:10.000Z',
    });
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, {
      Bucket: 'in',
      Key: job.inputs.image.key,
      IfMatch: '"img"',
    });
  });

  it('records the estimated charge and the price it used: seconds x price x results', async () => {
    const job = await received(
      png(720, 960),
      wav(3),
      JSON.stringify({ model: 'klingai:avatar@2.0-standard', numberResults: 2 }),
    );
    await validateJob(
      { jobId: job.jobId, attempt: 1 },
      { ...deps, prices: { ...deps.prices, 'klingai:avatar@2.0-standard': 0.05 } },
    );
    expect(await db.jobs.get(job.jobId)).toMatchObject({ estimatedCostUsd: 0.3, priceUsdPerSecond: 0.05 });
  });

  it('applies the sidecar over the defaults', async () => {
    const job = await received(
      png(720, 960),
      wav(3),
      JSON.stringify({
        prompt: 'Smile',
        outputFormat: 'mov',
        outputQuality: 80,
        numberResults: 2,
        ttl: 12_135,
      }),
    );
    await validateJob({ jobId: job.jobId, attempt: 1 }, deps);
    const stored = await db.jobs.get(job.jobId);
    expect(stored?.settings).toEqual({
      model: 'klingai:avatar@2.0-pro',
      prompt: 'Smile',
      outputFormat: 'MOV',
      outputQuality: 80,
      numberResults: 2,
      ttl: 12_135,
    });
    expect(stored?.inputs.sidecar?.key).toBe(`inbox/${job.stem}.json`);
  });

  it.each([
    ['text renamed .jpg', () => [text(), wav(3)], 'NOT_AN_IMAGE'],
    ['an image too small for the model', () => [png(200, 180), wav(3)], 'IMAGE_TOO_SMALL'],
    ['audio under 2 s', () => [png(720, 960), wav(1)], 'AUDIO_TOO_SHORT'],
    ['a PNG as the audio', () => [png(720, 960), png(400, 400)], 'NOT_AN_AUDIO_FILE'],
    ['a zero-byte image', () => [new Uint8Array(), wav(3)], 'EMPTY_FILE'],
  ])('refuses %s before anything is submitted', async (_name, files, code) => {
    const [image, audio] = files() as [Uint8Array, Uint8Array];
    const job = await received(image, audio);
    await expect(validateJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      name: 'ValidationError',
      code,
    });
    expect((await db.jobs.get(job.jobId))?.status).toBe('RECEIVED');
  });

  it.each([
    ['invalid JSON', '{"prompt": ', 'INVALID_SIDECAR_JSON', 'not valid JSON'],
    ['an unknown field', '{"promt": "hi"}', 'INVALID_SIDECAR', 'unknown field(s) "promt"'],
    [
      'a prompt over 2500 characters',
      JSON.stringify({ prompt: 'x'.repeat(2501) }),
      'INVALID_SIDECAR',
      '"prompt"',
    ],
    ['an out-of-range quality', '{"outputQuality": 100}', 'INVALID_SIDECAR', '"outputQuality"'],
    [
      'an unknown field inside safety',
      '{"safety": {"checkContent": true, "mod": "fast"}}',
      'INVALID_SIDECAR',
      'unknown field(s) "safety.mod"',
    ],
    ['a wrong mode inside safety', '{"safety": {"mode": "strict"}}', 'INVALID_SIDECAR', '"safety.mode"'],
    ['a model that is not an avatar model', '{"model": "runware:100@1"}', 'INVALID_SIDECAR', '"model"'],
    ["a ttl under Runware's 60 s", '{"ttl": 59}', 'INVALID_SIDECAR', '"ttl"'],
    ['a ttl that is not whole seconds', '{"ttl": 12200.5}', 'INVALID_SIDECAR', '"ttl"'],
    ['a ttl as a string', '{"ttl": "4h"}', 'INVALID_SIDECAR', '"ttl"'],
    [
      'a ttl too short for delivery and its retries',
      '{"ttl": 3600}',
      'INVALID_SIDECAR',
      '"ttl": 3600 s is too short for this deployment: Runware must keep the video at its URL until delivery and ' +
        'its retries are over, which can take up to 12135 s',
    ],
    ['a ttl one second short', '{"ttl": 12134}', 'INVALID_SIDECAR', 'Set "ttl" to 12135 or more'],
  ])('refuses a sidecar with %s, saying what is wrong', async (_name, sidecar, code, says) => {
    const job = await received(png(720, 960), wav(3), sidecar);
    await expect(validateJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      code,
      message: expect.stringContaining(says),
    });
  });

  it("sends the deployment's ttl when the sidecar names none", async () => {
    const job = await received(png(720, 960), wav(3), JSON.stringify({ prompt: 'Smile' }));
    await validateJob({ jobId: job.jobId, attempt: 1 }, deps);
    expect((await db.jobs.get(job.jobId))?.settings?.ttl).toBe(14_400);
  });

  it('refuses an input that was replaced since the job started', async () => {
    const job = await received(png(720, 960), wav(3));
    const changed = { ...job.inputs, image: { ...job.inputs.image, etag: 'changed', size: 10 } };
    await db.jobs.update(job.jobId, 1, {
      inputs: {
        ...changed,
        audio: {
          ...job.inputs.audio,
          key: job.inputs.audio.key.replace('.mp3', '.wav'),
          size: wav(3).length,
        },
      },
    });
    await expect(validateJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      code: 'INPUT_CHANGED',
    });
  });

  it('stops a job whose sidecar came after ingest started it: the upload started the job with its settings', async () => {
    const job = await received(png(720, 960), wav(3));
    await db.files.put({
      stem: job.stem,
      role: 'sidecar',
      key: `inbox/${job.stem}.json`,
      etag: 'late',
      size: 2,
      sequencer: '4'.padStart(32, '0'),
      seenAt: 'now',
    });
    await expect(validateJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      code: 'INPUT_CHANGED',
    });
    expect((await db.jobs.get(job.jobId))?.status).toBe('RECEIVED');
  });

  it('refuses a file over the size limit without downloading it', async () => {
    const job = await received(png(720, 960), wav(3));
    await expect(
      validateJob(
        { jobId: job.jobId, attempt: 1 },
        { ...deps, limits: { ...deps.limits, maxImageBytes: 100 } },
      ),
    ).rejects.toMatchObject({
      code: 'FILE_TOO_LARGE',
    });
    // The image is not downloaded; the audio still is, so its problems are reported in the same round.
    const keys = s3Mock.commandCalls(GetObjectCommand).map((call) => call.args[0].input.Key);
    expect(keys).not.toContain(job.inputs.image.key);
  });

  it('stores the normalized image beside the inputs, never over them, and records both checksums', async () => {
    const job = await received(png(720, 960), wav(3));
    await validateJob({ jobId: job.jobId, attempt: 1 }, deps);
    const puts = s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({
      Bucket: 'in',
      Key: `normalized/${job.jobId}/1/image.jpg`,
      ContentType: 'image/jpeg',
    });
    const image = (await db.jobs.get(job.jobId))?.media?.image;
    expect(image).toMatchObject({
      format: 'png',
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      normalized: {
        key: `normalized/${job.jobId}/1/image.jpg`,
        format: 'jpeg',
        width: 720,
        height: 960,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    });
    expect(image?.normalized?.sha256).not.toBe(image?.sha256);
    expect(image?.normalized?.bytes).toBe((puts[0]?.Body as Uint8Array | undefined)?.length);
  });

  it('normalizes an EXIF-rotated portrait to the orientation a viewer sees', async () => {
    const job = await received(await photoJpeg(960, 720, 6), wav(3));
    await validateJob({ jobId: job.jobId, attempt: 1 }, deps);
    const image = (await db.jobs.get(job.jobId))?.media?.image;
    expect(image).toMatchObject({ width: 720, height: 960, normalized: { width: 720, height: 960 } });
  });

  it('reports every problem of the image, the audio and the sidecar at once, and keeps the list', async () => {
    const job = await received(png(200, 180), wav(1), '{"promt": "hi"}');
    const error = await validateJob({ jobId: job.jobId, attempt: 1 }, deps).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ValidationError', code: 'IMAGE_TOO_SMALL' });
    expect((error as Error).message).toContain('3 problems to fix');
    const stored = await db.jobs.get(job.jobId);
    expect(stored?.problems?.map((p) => p.code)).toEqual([
      'IMAGE_TOO_SMALL',
      'AUDIO_TOO_SHORT',
      'INVALID_SIDECAR',
    ]);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});

describe('validateOrRefuse (the validate function)', () => {
  it('returns what validateJob returns for good input', async () => {
    const job = await received(png(720, 960), wav(3));
    await expect(validateOrRefuse({ jobId: job.jobId, attempt: 1 }, deps)).resolves.toEqual({
      deadline: '2026-11-24T12:00:10.000Z',
      numberResults: 1,
    });
  });

  it('returns a refusal, not an error, for bad input: the function reports no error for it', async () => {
    const job = await received(png(200, 180), wav(3));
    const out = await validateOrRefuse({ jobId: job.jobId, attempt: 1 }, deps);
    expect(out).toEqual({
      refused: { Error: 'ValidationError', Cause: expect.stringContaining('[IMAGE_TOO_SMALL]') },
    });
    expect(JSON.parse((out as { refused: { Cause: string } }).refused.Cause)).toEqual({
      errorType: 'ValidationError',
      errorMessage: expect.stringMatching(/^\[IMAGE_TOO_SMALL\] /),
    });
  });

  it('still throws what is not the fault of the input', async () => {
    const job = await received(png(720, 960), wav(3));
    await expect(validateOrRefuse({ jobId: job.jobId, attempt: 2 }, deps)).rejects.toMatchObject({
      name: 'JobStateError',
    });
  });

  it('gives the fail step the same code, stage and message as the thrown error did', async () => {
    const job = await received(png(200, 180), wav(1), '{"promt": "hi"}');
    const thrown = (await validateJob({ jobId: job.jobId, attempt: 1 }, deps).catch(
      (e: unknown) => e,
    )) as Error;
    const out = await validateOrRefuse({ jobId: job.jobId, attempt: 1 }, deps);
    if (!('refused' in out)) throw new Error('expected a refusal');
    const caught = {
      Error: thrown.name,
      Cause: JSON.stringify({ errorType: thrown.name, errorMessage: thrown.message, trace: [] }),
    };
    const puts: unknown[] = [];
    const outputs = {
      putError: async (body: unknown) => {
        puts.push(body);
        return { written: true as const, key: 'x.error.json' };
      },
    };
    const failDeps = {
      jobs: db.jobs,
      slots: db.slots,
      maxConcurrentTasks: 1000,
      tasks: db.tasks,
      budget: db.budget,
      outputs: outputs as never,
      events: new RecordingEvents(),
      now: deps.now,
    };
    const fromCatch = await failJob(
      { jobId: job.jobId, attempt: 1, stem: job.stem, error: caught },
      failDeps,
    );
    const fromRefusal = await failJob(
      { jobId: job.jobId, attempt: 1, stem: job.stem, error: out.refused },
      failDeps,
    );
    // The second report of the same end is marked as such (not counted again); the rest is the same.
    const { repeated, ...sameEnd } = fromRefusal;
    expect(repeated).toBe(true);
    expect(sameEnd).toEqual(fromCatch);
    expect(fromRefusal).toMatchObject({ code: 'IMAGE_TOO_SMALL', stage: 'VALIDATED' });
    expect(puts[1]).toEqual(puts[0]);
  });
});
