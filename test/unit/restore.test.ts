import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { archiveKeyOf, stemOutputCandidates } from '../../lambdas/core/contract/output-names.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { restoreDelivered } from '../../lambdas/core/outputs/restore.js';
import { type IngestDeps, ingestObject } from '../../lambdas/ingest/ingest.js';
import { InboxEvents, ingestDeps, type RecordingStarter, useStores } from '../support/harness.js';

/**
 * The stem's inputs becoming those of a delivered job again bring that job's outputs back from its archive, with
 * no new execution (so no Runware task and no charge), and take away what the other job of the stem left.
 */

const s3 = mockClient(S3Client);
const db = useStores();
let deps: IngestDeps & { executions: RecordingStarter };
const NOW = new Date('2026-11-26T10:00:00Z');
const events = new InboxEvents(0x500);
const drop = (key: string, etag: string) => events.created(key, etag);

beforeEach(() => {
  s3.on(PutObjectCommand).resolves({});
  s3.on(CopyObjectCommand).resolves({});
  s3.on(DeleteObjectCommand).resolves({});
  deps = ingestDeps(db, { bucket: 'out', now: NOW });
});
afterEach(() => s3.reset());

/** What validate, record and deliver do to a started job, as far as restoring is concerned. */
async function deliverAs(jobId: string, stem: string, format: 'MP4' | 'WEBM', numberResults = 1) {
  const extension = format === 'MP4' ? 'mp4' : 'webm';
  const keys = Array.from({ length: numberResults }, (_, i) =>
    numberResults > 1 ? `${stem}-${i + 1}.${extension}` : `${stem}.${extension}`,
  );
  await db.outputNames.claim(stem, [`${stem}.error.json`, `${stem}.json`, ...keys], NOW.toISOString());
  await db.jobs.update(jobId, 1, {
    settings: { model: 'klingai:avatar@2.0-pro', outputFormat: format, outputQuality: 95, numberResults },
  });
  const delivered = await db.jobs.advance(jobId, 1, 'DELIVERED', {
    taskUUID: `task-${jobId}`,
    outputs: keys.map((key, i) => ({ key, bytes: 100 + i, videoUUID: `video-${jobId}-${i}` })),
  });
  await db.shown.put({ stem, jobId, keys: [...keys, `${stem}.json`], at: NOW.toISOString() });
  return delivered;
}

/** Job A (MP4) delivered, then job B (a changed image, WEBM) delivered: the stem shows B. */
async function aThenB(stem: string): Promise<{ a: JobRecord; b: JobRecord }> {
  await ingestObject(drop(`inbox/${stem}.mp3`, 'voice'), deps);
  await ingestObject(drop(`inbox/${stem}.jpg`, 'image-a'), deps);
  const aId = deps.executions.calls[0]?.input.jobId ?? '';
  const a = await deliverAs(aId, stem, 'MP4');
  await ingestObject(drop(`inbox/${stem}.jpg`, 'image-b'), deps);
  const bId = deps.executions.calls[1]?.input.jobId ?? '';
  const b = await deliverAs(bId, stem, 'WEBM');
  s3.resetHistory();
  return { a, b };
}

/** The inputs of the S3 calls of one kind, in order. */
function calls(command: 'copy' | 'put' | 'delete'): { Key?: string; CopySource?: string; Body?: unknown }[] {
  const inputs =
    command === 'copy'
      ? s3.commandCalls(CopyObjectCommand).map((c) => c.args[0].input)
      : command === 'put'
        ? s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input)
        : s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input);
  return inputs;
}

describe('restoring a delivered job', () => {
  it("puts A's outputs back from its archive when its image is dropped again, with no new execution", async () => {
    const { a, b } = await aThenB('back/anna');
    // Another stem holds a name among the candidates of this one: it is never touched.
    await db.outputNames.claim('back/anna-2', ['back/anna-2.mp4'], NOW.toISOString());

    const outcome = await ingestObject(drop('inbox/back/anna.jpg', 'image-a'), deps);

    expect(outcome).toMatchObject({
      kind: 'restored',
      jobId: a.jobId,
      outputs: ['back/anna.mp4', 'back/anna.json'],
    });
    expect(deps.executions.calls).toHaveLength(2);
    expect(calls('copy')).toEqual([
      { Bucket: 'out', Key: 'back/anna.mp4', CopySource: `out/${archiveKeyOf(a.jobId, 0, 'mp4')}` },
    ]);
    const record = calls('put').find((c) => c.Key === 'back/anna.json');
    expect(JSON.parse(String(record?.Body))).toMatchObject({
      jobId: a.jobId,
      taskUUID: `task-${a.jobId}`,
      restoredAt: NOW.toISOString(),
      outputs: [{ key: 'back/anna.mp4' }],
    });
    // B's video and any error file go; the other stem's key stays.
    const deleted = calls('delete').map((c) => c.Key);
    expect(deleted.sort()).toEqual(['back/anna.error.json', 'back/anna.webm']);
    expect((outcome as { removed: string[] }).removed.sort()).toEqual(deleted.sort());
    expect(await db.jobs.get(a.jobId)).toMatchObject({ status: 'DELIVERED', restoredAt: NOW.toISOString() });
    expect((await db.jobs.get(b.jobId))?.restoredAt).toBeUndefined();
    expect(await db.shown.get('back/anna')).toMatchObject({
      jobId: a.jobId,
      keys: ['back/anna.mp4', 'back/anna.json'],
    });
  });

  it("ends on B's outputs when B's image comes back while A's are being restored (the newest inbox wins)", async () => {
    const { a, b } = await aThenB('flip/anna');
    // While A's video is copied back, B's image is uploaded again; its ingest found B shown and did nothing.
    let flipped = false;
    s3.on(CopyObjectCommand).callsFake(async (input: { Key?: string }) => {
      if (!flipped && input.Key === 'flip/anna.mp4') {
        flipped = true;
        await db.files.put({
          stem: 'flip/anna',
          role: 'image',
          key: 'inbox/flip/anna.jpg',
          etag: 'image-b',
          size: 1000,
          sequencer: 'F'.repeat(20),
          seenAt: NOW.toISOString(),
        });
      }
      return {};
    });

    await ingestObject(drop('inbox/flip/anna.jpg', 'image-a'), deps);

    expect(calls('copy').map((c) => c.CopySource)).toEqual([
      `out/${archiveKeyOf(a.jobId, 0, 'mp4')}`,
      `out/${archiveKeyOf(b.jobId, 0, 'webm')}`,
    ]);
    expect(await db.shown.get('flip/anna')).toMatchObject({ jobId: b.jobId });
    expect(calls('delete').map((c) => c.Key)).toContain('flip/anna.mp4');
    expect(deps.executions.calls).toHaveLength(2);
  });

  it('changes nothing when the job shown is the one dropped again (duplicated event, same bytes)', async () => {
    const { a } = await aThenB('dup/anna');
    const event = drop('inbox/dup/anna.jpg', 'image-a');
    await ingestObject(event, deps);
    s3.resetHistory();

    expect(await ingestObject({ ...event, eventId: 'delivered-again' }, deps)).toMatchObject({
      kind: 'unchanged',
      jobId: a.jobId,
      status: 'DELIVERED',
    });
    expect(await ingestObject(drop('inbox/dup/anna.mp3', 'voice'), deps)).toMatchObject({
      kind: 'unchanged',
    });
    expect(s3.calls()).toHaveLength(0);
    expect(deps.executions.calls).toHaveLength(2);
  });

  it('leaves the outputs as they are when the job has no archived copy (delivered by an older version)', async () => {
    const { a, b } = await aThenB('old/anna');
    s3.on(CopyObjectCommand).rejects(
      Object.assign(new Error('The specified key does not exist.'), {
        name: 'NoSuchKey',
        $metadata: { httpStatusCode: 404 },
      }),
    );

    const outcome = await ingestObject(drop('inbox/old/anna.jpg', 'image-a'), deps);

    expect(outcome).toEqual({
      kind: 'archive-missing',
      jobId: a.jobId,
      archiveKey: archiveKeyOf(a.jobId, 0, 'mp4'),
    });
    expect(deps.executions.calls).toHaveLength(2);
    expect(calls('put')).toEqual([]);
    expect(calls('delete')).toEqual([]);
    expect((await db.jobs.get(a.jobId))?.restoredAt).toBeUndefined();
    expect((await db.shown.get('old/anna'))?.jobId).toBe(b.jobId);
  });

  it('finishes a restore cut short when the event comes again', async () => {
    const { a } = await aThenB('cut/anna');
    s3.on(DeleteObjectCommand).rejectsOnce(Object.assign(new Error('slow down'), { name: 'SlowDown' }));
    const event = drop('inbox/cut/anna.jpg', 'image-a');
    await expect(ingestObject(event, deps)).rejects.toThrow('slow down');
    // Not marked as shown yet, so the retried event (same id, as Lambda's async retry sends it) does it all again.
    expect((await db.shown.get('cut/anna'))?.jobId).not.toBe(a.jobId);

    expect(await ingestObject(event, deps)).toMatchObject({ kind: 'restored', jobId: a.jobId });
    expect((await db.shown.get('cut/anna'))?.jobId).toBe(a.jobId);
    expect(deps.executions.calls).toHaveLength(2);
  });

  it('restores every result of a job with several, and removes a single video left by another job', async () => {
    await ingestObject(drop('inbox/many/anna.mp3', 'voice'), deps);
    await ingestObject(drop('inbox/many/anna.jpg', 'image-a'), deps);
    const aId = deps.executions.calls[0]?.input.jobId ?? '';
    const a = await deliverAs(aId, 'many/anna', 'MP4', 2);
    await ingestObject(drop('inbox/many/anna.jpg', 'image-b'), deps);
    await deliverAs(deps.executions.calls[1]?.input.jobId ?? '', 'many/anna', 'MP4');
    s3.resetHistory();

    const outcome = await restoreDelivered(a, deps);

    expect(outcome).toMatchObject({ kind: 'restored' });
    expect(calls('copy').map((c) => [c.CopySource, c.Key])).toEqual([
      [`out/${archiveKeyOf(a.jobId, 0, 'mp4')}`, 'many/anna-1.mp4'],
      [`out/${archiveKeyOf(a.jobId, 1, 'mp4')}`, 'many/anna-2.mp4'],
    ]);
    expect(calls('delete').map((c) => c.Key)).toContain('many/anna.mp4');
  });
});

describe('the names restoring works with', () => {
  it('archives under names no output of any stem can have', () => {
    const key = archiveKeyOf('0123456789abcdef0123456789abcdef', 1, 'webm');
    expect(key).toBe('archive/0123456789abcdef0123456789abcdef/video-2.webm.archived');
    // Output keys always end in a video extension or .json; an archived copy never does.
    expect(key).not.toMatch(/\.(mp4|webm|mov|json)$/);
  });

  it("lists every video and error key a job of a stem may have written, and none of another stem's", () => {
    const candidates = stemOutputCandidates('promo/anna');
    expect(candidates).toEqual(
      expect.arrayContaining([
        'promo/anna.error.json',
        'promo/anna.mp4',
        'promo/anna.webm',
        'promo/anna.mov',
        'promo/anna-1.mp4',
        'promo/anna-4.mov',
      ]),
    );
    expect(candidates).toHaveLength(1 + 3 * 5);
    expect(candidates).not.toContain('promo/anna.json');
    expect(candidates).not.toContain('promo/anna-5.mp4');
  });
});
