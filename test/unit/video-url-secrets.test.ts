import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordableVideoUrl, recordTaskReports, withoutCredentials } from '../../lambdas/core/completion.js';
import { reserveOutputNames } from '../../lambdas/core/outputs/reserve.js';
import { OutputWriter } from '../../lambdas/core/outputs/writer.js';
import { deliverJob } from '../../lambdas/deliver/deliver.js';
import { HttpVideoSource } from '../../lambdas/deliver/video-source.js';
import { recordResults } from '../../lambdas/record/record.js';
import { useStores } from '../support/harness.js';
import { seedValidatedJob } from '../support/jobs.js';
import { mp4File } from '../support/mp4.js';

/**
 * A video URL Runware reports may carry secrets: a user and password, or a presigned query (signature, credential,
 * session token) in any spelling. The job record, `<stem>.json`, the error file and what the steps return (events
 * are built from it) must hold none of them; the task item keeps the full URL (deliver downloads from it) and
 * expires.
 */

const SIG = 'f00dfeedcafe1234';
const BASE = 'https://vm.runware.ai/video/ws/5/vi/1.mp4';

describe('recordableVideoUrl', () => {
  it.each([
    [
      'a presigned query',
      `${BASE}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA${SIG}&X-Amz-Signature=${SIG}`,
    ],
    ['a session token', `${BASE}?X-Amz-Security-Token=${SIG}`],
    ['parameter names in another case', `${BASE}?x-amz-signature=${SIG}`],
    ['percent-encoded separators', `${BASE}?X-Amz-Signature%3D${SIG}%26X-Amz-Credential%3D${SIG}`],
    ['percent-encoded names', `${BASE}?%58-%41mz-Signature=${SIG}`],
    ['twice-encoded separators', `${BASE}?X-Amz-Signature%253D${SIG}`],
    ['a CDN signature', `${BASE}?Expires=1&Signature=${SIG}&Key-Pair-Id=K${SIG}&Policy=${SIG}`],
    ['a parameter of any name', `${BASE}?sig=${SIG}`],
    ['a token in the fragment', `${BASE}#token=${SIG}`],
    ['a user and password', `https://alice:${SIG}@vm.runware.ai/video/ws/5/vi/1.mp4`],
    [
      'credentials and a signature',
      `https://alice:pw@vm.runware.ai/video/ws/5/vi/1.mp4?X-Amz-Signature=${SIG}`,
    ],
  ])('keeps no secret from a URL with %s', (_, url) => {
    const kept = recordableVideoUrl(url);
    expect(kept.toLowerCase()).not.toContain(SIG);
    expect(kept).toMatch(/^https:\/\/(\[redacted\]@)?vm\.runware\.ai\/video\/ws\/5\/vi\/1\.mp4$/);
  });

  it.each([
    ['an encoded query in the path', `${BASE}%3FX-Amz-Signature%3D${SIG}`],
    ['a path parameter', `${BASE};token=${SIG}`],
    ['not a URL', `vm.runware.ai/1.mp4?X-Amz-Signature=${SIG}`],
    ['not a URL, encoded', `vm.runware.ai/1.mp4%3FX-Amz-Signature%3D${SIG}`],
  ])('keeps no secret spelled into %s', (_, url) => {
    expect(recordableVideoUrl(url).toLowerCase()).not.toContain(SIG);
  });

  it('keeps a plain URL as it is', () => {
    expect(recordableVideoUrl(BASE)).toBe(BASE);
  });
});

const db = useStores();
const s3Mock = mockClient(S3Client);
/** Every body the steps wrote to the output bucket. */
let written: string[];

beforeEach(() => {
  written = [];
  s3Mock.on(PutObjectCommand).callsFake(async (input) => {
    const body = input.Body;
    if (typeof body === 'string') written.push(body);
    else if (body && typeof (body as AsyncIterable<Buffer>)[Symbol.asyncIterator] === 'function') {
      for await (const _ of body as AsyncIterable<Buffer>) {
        // drain the video
      }
    }
    return {};
  });
  s3Mock.on(CopyObjectCommand).resolves({});
  s3Mock.on(DeleteObjectCommand).resolves({});
});
afterEach(() => s3Mock.reset());

/** A submitted job whose Runware task reported `videoURL`, recorded by the record step: GENERATED. */
async function recorded(videoURL: string) {
  const taskUUID = crypto.randomUUID();
  const job = await seedValidatedJob(db.jobs, { status: 'SUBMITTED', taskUUID });
  const task = await db.tasks.save({
    taskUUID,
    jobId: job.jobId,
    attempt: 1,
    numberResults: 1,
    taskToken: 'token',
    createdAt: '2026-11-24T10:01:00.000Z',
  });
  await recordTaskReports(
    db.tasks,
    task,
    { results: [{ videoUUID: '00000000-0000-4000-8000-000000000001', videoURL, cost: 1.2 }], errors: [] },
    '2026-11-24T10:02:00.000Z',
  );
  const output = await recordResults(
    { jobId: job.jobId, attempt: 1 },
    { jobs: db.jobs, tasks: db.tasks, slots: db.slots, maxConcurrentTasks: 1000, budget: db.budget },
  );
  await reserveOutputNames(job.stem, { outputFormat: 'MP4', numberResults: 1 }, db.outputNames, new Date());
  return { job, taskUUID, output };
}

function deps(serve: Record<string, () => Response>) {
  const s3 = new S3Client({ region: 'us-east-1' });
  const fetchImpl = (async (input: string | URL | Request) => {
    const route = serve[String(input instanceof Request ? input.url : input)];
    if (!route) throw new TypeError('fetch failed');
    return route();
  }) as typeof fetch;
  return {
    jobs: db.jobs,
    tasks: db.tasks,
    s3,
    outputs: new OutputWriter(s3, 'out', db.outputNames),
    videos: new HttpVideoSource(['vm.runware.ai'], fetchImpl),
    shown: db.shown,
    files: db.files,
    now: () => new Date('2026-11-24T10:05:00Z'),
  };
}

const video = () => {
  const body = mp4File(2048, {
    video: { seconds: 12.5, width: 720, height: 1280 },
    audio: { seconds: 12.5 },
  });
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'video/mp4', 'content-length': '2048' },
  });
};

describe('a presigned video URL', () => {
  it('is downloaded whole from the task item, and kept in no record, output or step result', async () => {
    const presigned = `${BASE}?X-Amz-Credential=AKIA${SIG}&X-Amz-Signature=${SIG}&X-Amz-Security-Token=${SIG}`;
    const { job, taskUUID, output } = await recorded(presigned);
    // Only the full URL serves the video: delivering proves deliver read it from the task item.
    const delivered = await deliverJob({ jobId: job.jobId, attempt: 1 }, deps({ [presigned]: video }));
    expect(delivered.shown).toBe(true);

    const record = await db.jobs.get(job.jobId);
    expect(record?.results?.[0]?.videoURL).toBe(BASE);
    const everything = [
      JSON.stringify(record),
      JSON.stringify(output),
      JSON.stringify(delivered),
      ...written,
    ];
    for (const text of everything) expect(text.toLowerCase()).not.toContain(SIG);
    expect(written.some((w) => w.includes('"jobId"'))).toBe(true); // <stem>.json was among them
    // The task item keeps it until it expires: deliver's only source.
    const task = await db.tasks.get(taskUUID);
    expect(Object.values(task?.results ?? {})[0]?.videoURL).toBe(presigned);
    expect(task).toHaveProperty('createdAt');
  });

  it('with a user and password fails delivery with a message that holds neither it nor the signature', async () => {
    const url = `https://alice:${SIG}@vm.runware.ai/video/ws/5/vi/1.mp4?X-Amz-Signature=${SIG}`;
    const { job } = await recorded(url);
    const failure = await deliverJob({ jobId: job.jobId, attempt: 1 }, deps({})).catch(
      (error: Error) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain('VIDEO_HOST_NOT_ALLOWED');
    expect((failure as Error).message.toLowerCase()).not.toContain(SIG);
    expect(JSON.stringify(await db.jobs.get(job.jobId)).toLowerCase()).not.toContain(SIG);
    // The task item never kept the password either.
    expect(withoutCredentials(url)).not.toContain(`alice:${SIG}`);
  });
});
