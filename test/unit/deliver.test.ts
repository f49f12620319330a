import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  type PutObjectCommandOutput,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord, StoredFile } from '../../lambdas/core/job.js';
import { reserveOutputNames } from '../../lambdas/core/outputs/reserve.js';
import { OutputWriter } from '../../lambdas/core/outputs/writer.js';
import { jobIdOf } from '../../lambdas/core/stem-files.js';
import { type DeliverDeps, deliverJob } from '../../lambdas/deliver/deliver.js';
import { HttpVideoSource } from '../../lambdas/deliver/video-source.js';
import { useStores } from '../support/harness.js';
import { result, seedValidatedJob } from '../support/jobs.js';
import { box, type Mp4Shape, mp4File, mp4Header } from '../support/mp4.js';

const s3Mock = mockClient(S3Client);
const db = useStores();
let requests: string[];
let deps: DeliverDeps;
/** Keys a PutObject stored: like S3, a streamed body that fails (or is cut off) stores nothing. */
let stored: string[];

/** What S3 does with a PutObject: reads the whole body, and stores the object only if it arrived whole. */
async function storePut(input: PutObjectCommandInput): Promise<PutObjectCommandOutput> {
  if (input.Body instanceof Readable) {
    let bytes = 0;
    for await (const chunk of input.Body) bytes += (chunk as Buffer).length;
    if (input.ContentLength !== undefined && bytes !== input.ContentLength) {
      throw Object.assign(new Error('IncompleteBody'), { name: 'IncompleteBody' });
    }
  }
  stored.push(String(input.Key));
  return { $metadata: {} };
}

/** The audio's length in the seeded job (see seedValidatedJob). */
const AUDIO_SECONDS = 12.5;
const picture = { seconds: AUDIO_SECONDS, width: 720, height: 1280 };

/** An MP4 of `bytes` bytes with a picture and sound as long as the job's audio (see test/support/mp4.ts). */
function mp4(
  bytes: number,
  shape: Mp4Shape = { video: picture, audio: { seconds: AUDIO_SECONDS } },
): Uint8Array {
  return mp4File(bytes, shape);
}

function serve(routes: Record<string, () => Response>): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = String(input instanceof Request ? input.url : input);
    requests.push(url);
    const route = routes[url];
    if (!route) throw new TypeError('fetch failed');
    return route();
  }) as typeof fetch;
}

const ok = (body: Uint8Array, headers: Record<string, string> = {}) =>
  new Response(body, {
    status: 200,
    headers: { 'content-type': 'video/mp4', 'content-length': String(body.length), ...headers },
  });

/** A download announced as 5,000 bytes whose connection breaks after the first 1,000. */
function breaksOff(): Response {
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(mp4(1000));
      } else controller.error(new Error('socket hang up'));
    },
  });
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'video/mp4', 'content-length': '5000' },
  });
}

beforeEach(() => {
  requests = [];
  stored = [];
  s3Mock.on(PutObjectCommand).callsFake(storePut);
  s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u1' });
  s3Mock.on(UploadPartCommand).resolves({ ETag: '"p"' });
  s3Mock.on(CompleteMultipartUploadCommand).resolves({});
  s3Mock.on(CopyObjectCommand).resolves({});
  const s3 = new S3Client({ region: 'us-east-1' });
  deps = {
    jobs: db.jobs,
    tasks: db.tasks,
    s3,
    outputs: new OutputWriter(s3, 'out', db.outputNames),
    videos: new HttpVideoSource(['vm.runware.ai'], serve({})),
    shown: db.shown,
    files: db.files,
    now: () => new Date('2026-11-24T10:05:00Z'),
  };
});
afterEach(() => s3Mock.reset());

async function generated(
  results = [result(1)],
  format: 'MP4' | 'WEBM' | 'MOV' = 'MP4',
  options: { reserve?: boolean } = {},
) {
  const job = await seedValidatedJob(db.jobs, {
    status: 'GENERATED',
    taskUUID: '5e1f0000-0000-4000-8000-000000000001',
    results,
    costUsd: 1.20634,
  });
  await db.jobs.update(job.jobId, 1, {
    settings: {
      ...(job.settings ?? {
        model: 'klingai:avatar@2.0-pro',
        outputQuality: 95,
        numberResults: 1,
        outputFormat: 'MP4',
      }),
      outputFormat: format,
      numberResults: results.length,
    },
  });
  // Validation reserved the job's output names.
  if (options.reserve !== false) {
    await reserveOutputNames(
      job.stem,
      { outputFormat: format, numberResults: results.length },
      db.outputNames,
      new Date(),
    );
  }
  return job;
}

/** Every key written in the output bucket, the archived copies included. */
function writtenKeys(): string[] {
  return [
    ...stored,
    ...s3Mock.commandCalls(CompleteMultipartUploadCommand).map((c) => String(c.args[0].input.Key)),
    ...s3Mock.commandCalls(CopyObjectCommand).map((c) => String(c.args[0].input.Key)),
  ];
}

/** The keys people see: everything written outside the per-job archive. */
function uploadedKeys(): string[] {
  return writtenKeys().filter((key) => !key.startsWith('archive/'));
}

describe('deliver', () => {
  it('streams the video into the output bucket and writes the job record beside it', async () => {
    const job = await generated();
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({ [result(1).videoURL]: () => ok(mp4(2048)) }),
    );
    const out = await deliverJob({ jobId: job.jobId, attempt: 1 }, deps);

    expect(out).toEqual({
      outputs: [`${job.stem}.mp4`],
      recordKey: `${job.stem}.json`,
      shown: true,
      outputCheck: { passed: true, problems: [] },
    });
    // Uploaded (and checked) into the job's archive, then copied into place server side.
    const archived = `archive/${job.jobId}/video-1.mp4.archived`;
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'out',
      Key: archived,
      ContentType: 'video/mp4',
    });
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
      Bucket: 'out',
      Key: `${job.stem}.mp4`,
      CopySource: `out/${archived}`,
    });
    const recordCall = s3Mock
      .commandCalls(PutObjectCommand)
      .find((c) => c.args[0].input.Key === `${job.stem}.json`);
    const record = JSON.parse(String(recordCall?.args[0].input.Body));
    expect(record).toMatchObject({
      jobId: job.jobId,
      status: 'DELIVERED',
      model: 'klingai:avatar@2.0-pro',
      prompt: 'A calm presenter',
      taskUUID: '5e1f0000-0000-4000-8000-000000000001',
      costUsd: 1.20634,
      inputs: {
        image: { key: job.inputs.image.key, sha256: 'a'.repeat(64), width: 720 },
        audio: { durationSeconds: 12.5 },
      },
      results: [{ videoUUID: result(1).videoUUID, seed: 1001, output: `${job.stem}.mp4` }],
      outputs: [{ key: `${job.stem}.mp4`, bytes: 2048 }],
    });
    expect(Object.keys(record.stages)).toEqual(
      expect.arrayContaining(['RECEIVED', 'VALIDATED', 'DELIVERED']),
    );
    expect((await db.jobs.get(job.jobId))?.status).toBe('DELIVERED');
    // A stale error file of an earlier attempt must not contradict the video.
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectCommand, {
      Bucket: 'out',
      Key: `${job.stem}.error.json`,
    });
  });

  it('never deletes an error file of the same name that another stem holds', async () => {
    const job = await generated([result(1)], 'MP4', { reserve: false });
    // `<stem>.error.json` is the record of a job named `<stem>.error`, which reserved it first.
    await db.outputNames.claim(`${job.stem}.error`, [`${job.stem}.error.json`], new Date().toISOString());
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({ [result(1).videoURL]: () => ok(mp4(2048)) }),
    );
    await deliverJob({ jobId: job.jobId, attempt: 1 }, deps);

    expect(uploadedKeys()).toEqual(expect.arrayContaining([`${job.stem}.mp4`, `${job.stem}.json`]));
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectCommand);
  });

  it("leaves only this job's outputs under the stem: an earlier job's video of another format goes, another stem's stays", async () => {
    const job = await generated([result(1)], 'WEBM');
    // An earlier job of the stem delivered an MP4 and two results; `<stem>-2.webm` is the video of stem `<stem>-2`.
    const at = new Date().toISOString();
    await db.outputNames.claim(job.stem, [`${job.stem}.mp4`, `${job.stem}-1.mp4`, `${job.stem}-2.mp4`], at);
    await db.outputNames.claim(`${job.stem}-2`, [`${job.stem}-2.webm`], at);
    const webm = mp4(100);
    webm.set([0x1a, 0x45, 0xdf, 0xa3]);
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({ [result(1).videoURL]: () => ok(webm, { 'content-type': 'video/webm' }) }),
    );
    await deliverJob({ jobId: job.jobId, attempt: 1 }, deps);

    const deleted = s3Mock.commandCalls(DeleteObjectCommand).map((c) => String(c.args[0].input.Key));
    expect(deleted.sort()).toEqual(
      [`${job.stem}-1.mp4`, `${job.stem}-2.mp4`, `${job.stem}.error.json`, `${job.stem}.mp4`].sort(),
    );
    expect(deleted).not.toContain(`${job.stem}.webm`);
    expect(deleted).not.toContain(`${job.stem}-2.webm`);
    expect(deleted).not.toContain(`${job.stem}.json`);
    expect(await db.shown.get(job.stem)).toMatchObject({
      jobId: job.jobId,
      keys: [`${job.stem}.webm`, `${job.stem}.json`],
    });
  });

  it('writes no video whose key another stem holds, and says which stem', async () => {
    const job = await generated([result(1), result(2)], 'MP4', { reserve: false });
    await db.outputNames.claim(`${job.stem}-2`, [`${job.stem}-2.mp4`], new Date().toISOString());
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({ [result(1).videoURL]: () => ok(mp4(2048)), [result(2).videoURL]: () => ok(mp4(2048)) }),
    );
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      code: 'OUTPUT_NAME_TAKEN',
      message: expect.stringContaining(`"${job.stem}-2"`),
    });
    expect(uploadedKeys()).toEqual([]);
    expect((await db.jobs.get(job.jobId))?.status).toBe('GENERATED');
  });

  it('names several results <stem>-1, <stem>-2 in the order they arrived', async () => {
    const job = await generated([result(1), result(2)], 'WEBM');
    const webm = mp4(100);
    webm.set([0x1a, 0x45, 0xdf, 0xa3]);
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({
        [result(1).videoURL]: () => ok(webm, { 'content-type': 'video/webm' }),
        [result(2).videoURL]: () => ok(webm, { 'content-type': 'video/webm' }),
      }),
    );
    const out = await deliverJob({ jobId: job.jobId, attempt: 1 }, deps);
    expect(out.outputs).toEqual([`${job.stem}-1.webm`, `${job.stem}-2.webm`]);
  });

  it('refuses a host that is not on the allow list without making any request', async () => {
    const job = await generated([result(1, { videoURL: 'https://evil.example.com/v.mp4' })]);
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({ 'https://evil.example.com/v.mp4': () => ok(mp4(100)) }),
    );
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      name: 'DeliveryError',
      code: 'VIDEO_HOST_NOT_ALLOWED',
    });
    expect(requests).toEqual([]);
    expect(uploadedKeys()).toEqual([]);
  });

  it('refuses a redirect to a host that is not allowed', async () => {
    const job = await generated();
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({
        [result(1).videoURL]: () =>
          new Response(null, { status: 302, headers: { location: 'http://169.254.169.254/latest' } }),
      }),
    );
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      code: 'VIDEO_HOST_NOT_ALLOWED',
    });
    expect(requests).toEqual([result(1).videoURL]);
  });

  it.each([
    ['a 404', () => new Response('gone', { status: 404 }), 'DeliveryError', 'VIDEO_NOT_FOUND'],
    ['a 503', () => new Response('busy', { status: 503 }), 'TransientError', 'VIDEO_DOWNLOAD_FAILED'],
    [
      'the wrong content type',
      () => ok(mp4(100), { 'content-type': 'text/html' }),
      'DeliveryError',
      'VIDEO_WRONG_CONTENT_TYPE',
    ],
    [
      'a body that is not a video',
      () => ok(new TextEncoder().encode('<html>this is not a video at all</html>')),
      'DeliveryError',
      'VIDEO_WRONG_CONTENT',
    ],
    [
      'a truncated body',
      () => ok(mp4(100), { 'content-length': '5000' }),
      'TransientError',
      'VIDEO_TRUNCATED',
    ],
  ])('fails on %s and leaves no video behind', async (_name, respond, name, code) => {
    const job = await generated();
    deps.videos = new HttpVideoSource(['vm.runware.ai'], serve({ [result(1).videoURL]: respond }));
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({ name, code });
    expect(writtenKeys()).toEqual([]);
    expect((await db.jobs.get(job.jobId))?.status).toBe('GENERATED');
  });

  it('fails cleanly (transient, no video left) when the download breaks off mid-stream', async () => {
    const job = await generated();
    deps.videos = new HttpVideoSource(['vm.runware.ai'], serve({ [result(1).videoURL]: breaksOff }));
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      name: 'TransientError',
      code: 'VIDEO_TRUNCATED',
      message: expect.stringContaining('socket hang up'),
    });
    expect(writtenKeys()).toEqual([]);
  });

  it('reports an unreachable video host as transient', async () => {
    const job = await generated();
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      name: 'TransientError',
      code: 'VIDEO_DOWNLOAD_FAILED',
    });
  });

  it('retries cleanly after the output bucket failed once: one output, same key', async () => {
    const job = await generated();
    deps.videos = new HttpVideoSource(['vm.runware.ai'], serve({ [result(1).videoURL]: () => ok(mp4(300)) }));
    s3Mock
      .on(PutObjectCommand)
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'SlowDown' }))
      .callsFake(storePut);
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      name: 'TransientError',
      code: 'OUTPUT_WRITE_FAILED',
    });
    await deliverJob({ jobId: job.jobId, attempt: 1 }, deps);
    expect(new Set(uploadedKeys())).toEqual(new Set([`${job.stem}.mp4`, `${job.stem}.json`]));
  });
});

/** A body served without a Content-Length (chunked): its length is unknown until it ends. */
const unsized = (body: Uint8Array) =>
  new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(body);
        controller.close();
      },
    }),
    { status: 200, headers: { 'content-type': 'video/mp4' } },
  );

describe('deliver: how the video is uploaded', () => {
  const MiB = 1024 * 1024;
  const archived = (jobId: string) => `archive/${jobId}/video-1.mp4.archived`;

  it('streams a video of known length within the threshold as one PutObject of that length', async () => {
    const job = await generated();
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({ [result(1).videoURL]: () => ok(mp4(12 * MiB)) }),
    );
    await deliverJob({ jobId: job.jobId, attempt: 1 }, { ...deps, partSize: 5 * MiB });
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Key: archived(job.jobId),
      ContentLength: 12 * MiB,
      ContentType: 'video/mp4',
    });
    expect(s3Mock).not.toHaveReceivedCommand(CreateMultipartUploadCommand);
    expect(stored).toContain(archived(job.jobId));
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, { Key: `${job.stem}.mp4` });
  });

  it.each([
    ['a known length above the threshold', () => ok(mp4(12 * MiB)), { singlePutMaxBytes: 10 * MiB }],
    ['an unknown length', () => unsized(mp4(12 * MiB)), {}],
  ])('uses a multipart upload, in parts of the configured size, for %s', async (_name, respond, options) => {
    const job = await generated();
    deps.videos = new HttpVideoSource(['vm.runware.ai'], serve({ [result(1).videoURL]: respond }));
    const out = await deliverJob(
      { jobId: job.jobId, attempt: 1 },
      { ...deps, partSize: 5 * MiB, ...options },
    );
    expect(s3Mock.commandCalls(UploadPartCommand)).toHaveLength(3);
    expect(s3Mock).toHaveReceivedCommandWith(CompleteMultipartUploadCommand, { Key: archived(job.jobId) });
    expect(stored).not.toContain(archived(job.jobId));
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, { Key: `${job.stem}.mp4` });
    expect(out.outputs).toEqual([`${job.stem}.mp4`]);
  });

  it.each([
    ['one PutObject', 'a short body', () => ok(mp4(100), { 'content-length': '5000' }), {}],
    ['one PutObject', 'a download that breaks off', breaksOff, {}],
    [
      'multipart',
      'a short body',
      () => ok(mp4(100), { 'content-length': '5000' }),
      { singlePutMaxBytes: 10 },
    ],
    ['multipart', 'a download that breaks off', breaksOff, { singlePutMaxBytes: 10 }],
  ])('%s: %s ends VIDEO_TRUNCATED and stores nothing', async (_method, _name, respond, options) => {
    const job = await generated();
    deps.videos = new HttpVideoSource(['vm.runware.ai'], serve({ [result(1).videoURL]: respond }));
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, { ...deps, ...options })).rejects.toMatchObject(
      {
        name: 'TransientError',
        code: 'VIDEO_TRUNCATED',
      },
    );
    expect(writtenKeys()).toEqual([]);
    expect((await db.jobs.get(job.jobId))?.status).toBe('GENERATED');
  });

  it('does not trust a store that answered before the whole body had streamed', async () => {
    const job = await generated();
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({ [result(1).videoURL]: () => ok(mp4(4096)) }),
    );
    s3Mock.on(PutObjectCommand).resolves({});
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).rejects.toMatchObject({
      name: 'TransientError',
      code: 'OUTPUT_WRITE_FAILED',
    });
    expect(s3Mock).not.toHaveReceivedCommand(CopyObjectCommand);
  });
});

describe('HttpVideoSource errors', () => {
  it('never quotes a user and password from the URL, even when fetch does', async () => {
    const withCredentials = 'https://alice:s3cr3t-pass@vm.runware.ai/video/v.mp4?token=t0ps3cr3tvalue';
    const failing = (async () => {
      throw new TypeError(`fetch failed for ${withCredentials} (redirected from a proxy)`);
    }) as typeof fetch;
    const source = new HttpVideoSource(['*.runware.ai'], failing);
    const messages: string[] = [];
    for (const url of ['https://vm.runware.ai/video/v.mp4', withCredentials]) {
      const caught = await source.open(url).catch((e: unknown) => e);
      expect(caught).toBeInstanceOf(Error);
      messages.push((caught as Error).message);
    }
    expect(messages[0]).toMatch(/^\[VIDEO_DOWNLOAD_FAILED\] Could not reach https:\/\/vm\.runware\.ai/);
    for (const message of messages) {
      expect(message).not.toContain('s3cr3t-pass');
      expect(message).not.toContain('t0ps3cr3tvalue');
    }
  });
});

describe('output keys', () => {
  it('fit S3 1,024-byte limit for a stem at the input limit, keeping the suffix', async () => {
    const { errorOutputKey, recordOutputKey, videoOutputKey } = await import(
      '../../lambdas/core/contract/keys.js'
    );
    const stem = `a/${'é'.repeat(505)}`; // 1,012 bytes: a valid input key with `inbox/` and `.mp3`
    for (const key of [errorOutputKey(stem), recordOutputKey(stem), videoOutputKey(stem, 'mp4', 1, 2)]) {
      expect(Buffer.byteLength(key, 'utf8')).toBeLessThanOrEqual(1024);
    }
    expect(errorOutputKey(stem)).toMatch(/\.error\.json$/);
    expect(videoOutputKey(stem, 'mp4', 1, 2)).toMatch(/-2\.mp4$/);
    expect(errorOutputKey('promo/anna')).toBe('promo/anna.error.json');
    expect(videoOutputKey('promo/anna', 'mp4', 0, 1)).toBe('promo/anna.mp4');
  });
});

/** The inbox as ingest recorded it: `job`'s files, with `changes` (role -> another ETag) applied. */
async function inboxHolds(job: JobRecord, changes: Partial<Record<'image' | 'audio', string>> = {}) {
  for (const role of ['image', 'audio'] as const) {
    const ref = job.inputs[role];
    const file: StoredFile = {
      ...ref,
      etag: changes[role] ?? ref.etag,
      sequencer: changes[role] ? '9'.padStart(32, '0') : ref.sequencer,
      stem: job.stem,
      role,
      seenAt: '2026-11-24T10:00:00.000Z',
    };
    await db.files.put(file);
  }
}

describe('deliver checks each video before it counts', () => {
  /** Delivers a video of `shape` (2,048 bytes) for a job whose audio lasts 12.5 s. */
  async function deliverShaped(shape: Mp4Shape) {
    const job = await generated();
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({ [result(1).videoURL]: () => ok(mp4(2048, shape)) }),
    );
    const out = await deliverJob({ jobId: job.jobId, attempt: 1 }, deps);
    const recordCall = s3Mock
      .commandCalls(PutObjectCommand)
      .find((c) => c.args[0].input.Key === `${job.stem}.json`);
    return { job, out, record: JSON.parse(String(recordCall?.args[0].input.Body)) };
  }

  it('records a passed check with what it read: tracks, length and size', async () => {
    const { job, record } = await deliverShaped({ video: picture, audio: { seconds: 12.4 } });
    const check = {
      passed: true,
      expectedSeconds: 12.5,
      toleranceSeconds: 0.5,
      videos: [
        {
          output: `${job.stem}.mp4`,
          hasVideo: true,
          hasAudio: true,
          durationSeconds: 12.5,
          width: 720,
          height: 1280,
        },
      ],
      problems: [],
    };
    expect(record.outputCheck).toEqual(check);
    expect((await db.jobs.get(job.jobId))?.outputCheck).toEqual(check);
  });

  it.each([
    [
      'shorter than the audio',
      { video: { ...picture, seconds: 6 }, audio: { seconds: 6 } },
      'DURATION_MISMATCH',
    ],
    ['silent', { video: picture }, 'NO_AUDIO_TRACK'],
    ['without a picture', { audio: { seconds: AUDIO_SECONDS } }, 'NO_VIDEO_TRACK'],
    [
      'of 0x0 pixels',
      { video: { ...picture, width: 0, height: 0 }, audio: { seconds: 12.5 } },
      'ZERO_DIMENSIONS',
    ],
  ] as const)('delivers a video %s all the same, with the problem on record', async (_, shape, code) => {
    const { job, out, record } = await deliverShaped(shape);
    // Paid for: shown under the stem's name, DELIVERED.
    expect(out).toMatchObject({ outputs: [`${job.stem}.mp4`], shown: true });
    expect(uploadedKeys()).toContain(`${job.stem}.mp4`);
    const problems = [
      { output: `${job.stem}.mp4`, code, message: expect.stringContaining(`${job.stem}.mp4`) },
    ];
    expect(out.outputCheck).toEqual({ passed: false, problems });
    expect(record.outputCheck).toMatchObject({ passed: false, problems });
    expect(await db.jobs.get(job.jobId)).toMatchObject({
      status: 'DELIVERED',
      outputCheck: { passed: false, problems },
    });
  });

  it('says a video whose header never came could not be checked, and still delivers it', async () => {
    const job = await generated();
    // The ftyp, then media data to the end: no moov anywhere.
    const ftyp = mp4Header({}).subarray(0, 24);
    const noHeader = new Uint8Array(Buffer.concat([ftyp, box('mdat', Buffer.alloc(2048 - 24 - 8, 7))]));
    deps.videos = new HttpVideoSource(['vm.runware.ai'], serve({ [result(1).videoURL]: () => ok(noHeader) }));
    const out = await deliverJob({ jobId: job.jobId, attempt: 1 }, deps);
    expect(out.outputCheck.problems.map((p) => p.code)).toEqual(['CONTAINER_UNREADABLE']);
  });
});

describe('deliver shows the outputs only while the inbox holds the job', () => {
  beforeEach(() => {
    deps.videos = new HttpVideoSource(
      ['vm.runware.ai'],
      serve({ [result(1).videoURL]: () => ok(mp4(2048)) }),
    );
  });

  it('shows them when the inbox still holds the job, and when one of its files was only deleted', async () => {
    const job = await generated();
    await inboxHolds(job);
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).resolves.toMatchObject({ shown: true });

    const other = await generated();
    await inboxHolds(other);
    await db.files.forget(other.stem, other.inputs.audio.key, 'f'.repeat(32));
    await expect(deliverJob({ jobId: other.jobId, attempt: 1 }, deps)).resolves.toMatchObject({
      shown: true,
    });
    expect((await db.jobs.get(other.jobId))?.notShown).toBeUndefined();
  });

  it('archives but does not show a job whose inbox changed while it rendered; the record says why', async () => {
    const job = await generated();
    await db.shown.put({ stem: job.stem, jobId: 'a'.repeat(32), keys: [`${job.stem}.mp4`], at: 't' });
    await inboxHolds(job, { image: 'image-of-another-job' });
    const out = await deliverJob({ jobId: job.jobId, attempt: 1 }, deps);

    const archiveRecord = `archive/${job.jobId}/record.json.archived`;
    expect(out).toEqual({
      outputs: [`archive/${job.jobId}/video-1.mp4.archived`],
      recordKey: archiveRecord,
      shown: false,
      outputCheck: { passed: true, problems: [] },
    });
    // Nothing under the stem's names was written or deleted: the output folder keeps what the inbox holds.
    expect(uploadedKeys()).toEqual([]);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectCommand);
    expect(await db.shown.get(job.stem)).toMatchObject({ jobId: 'a'.repeat(32) });
    const stored = await db.jobs.get(job.jobId);
    expect(stored).toMatchObject({
      status: 'DELIVERED',
      outputs: [{ key: `${job.stem}.mp4`, bytes: 2048 }],
      notShown: { code: 'INBOX_CHANGED', changed: ['image'], at: '2026-11-24T10:05:00.000Z' },
    });
    expect(stored?.notShown?.message).toContain('upload its image, audio and sidecar again');
    const recordCall = s3Mock
      .commandCalls(PutObjectCommand)
      .find((c) => c.args[0].input.Key === archiveRecord);
    expect(JSON.parse(String(recordCall?.args[0].input.Body))).toMatchObject({
      jobId: job.jobId,
      status: 'DELIVERED',
      notShown: { code: 'INBOX_CHANGED' },
    });
  });

  it('counts a sidecar the job was made without as a change', async () => {
    const job = await generated();
    await inboxHolds(job);
    const sidecar = { key: `inbox/${job.stem}.json`, etag: 's', size: 10, sequencer: '9'.padStart(32, '0') };
    await db.files.put({ ...sidecar, stem: job.stem, role: 'sidecar', seenAt: 't' });
    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).resolves.toMatchObject({ shown: false });
    expect((await db.jobs.get(job.jobId))?.notShown?.changed).toEqual(['sidecar']);
  });

  it("puts a delivered job's outputs back when the inbox became that job's while this one was being shown", async () => {
    const job = await generated();
    await inboxHolds(job);
    // Job A of the same stem was delivered earlier; its image is uploaded again while this job's video is copied
    // into place, and ingest's restore of A ran before (and was overwritten by) this delivery.
    const aImage = { ...job.inputs.image, etag: 'image-a' };
    const inboxA = jobIdOf(job.stem, aImage, job.inputs.audio);
    await seedValidatedJob(db.jobs, {
      jobId: inboxA,
      stem: job.stem,
      status: 'DELIVERED',
      inputs: { ...job.inputs, image: aImage },
      outputs: [{ key: `${job.stem}.mp4`, bytes: 10, videoUUID: 'video-a' }],
    });
    let changed = false;
    s3Mock.on(CopyObjectCommand).callsFake(async (input: { Key?: string }) => {
      if (!changed && input.Key === `${job.stem}.mp4`) {
        changed = true;
        await inboxHolds(job, { image: 'image-a' });
      }
      return {};
    });

    await expect(deliverJob({ jobId: job.jobId, attempt: 1 }, deps)).resolves.toMatchObject({ shown: true });
    const copies = s3Mock.commandCalls(CopyObjectCommand).map((c) => c.args[0].input);
    expect(copies.at(-1)).toMatchObject({
      Key: `${job.stem}.mp4`,
      CopySource: `out/archive/${inboxA}/video-1.mp4.archived`,
    });
    expect(await db.shown.get(job.stem)).toMatchObject({ jobId: inboxA });
    expect((await db.jobs.get(inboxA))?.restoredAt).toEqual(expect.any(String));
  });
});
