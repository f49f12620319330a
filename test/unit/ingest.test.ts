import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ExecutionStarter } from '../../lambdas/core/aws/executions.js';
import { pairingExpiresAt } from '../../lambdas/core/contract/retention.js';
import { OutputWriter } from '../../lambdas/core/outputs/writer.js';
import { keys } from '../../lambdas/core/store/table.js';
import { forgetObject, type IngestDeps, ingestObject, jobIdOf } from '../../lambdas/ingest/ingest.js';
import { InboxEvents, ingestDeps, RecordingStarter, useStores } from '../support/harness.js';

const s3 = mockClient(S3Client);
const db = useStores();
let deps: IngestDeps & { executions: RecordingStarter };
const events = new InboxEvents(0x100);
const drop = events.created.bind(events);

beforeEach(() => {
  // Each start takes a moment, as a real API call does: racing uploads interleave around it.
  deps = ingestDeps(db, {
    bucket: 'out-bucket',
    now: new Date('2026-11-24T10:00:00Z'),
    executions: new RecordingStarter(5),
  });
});
afterEach(() => s3.reset());

describe('ingest', () => {
  it('waits for the audio when only the image has landed', async () => {
    const outcome = await ingestObject(drop('inbox/solo/anna.jpg'), deps);
    expect(outcome).toEqual({ kind: 'waiting', stem: 'solo/anna', missing: 'audio' });
    expect(deps.executions.calls).toHaveLength(0);
  });

  it('starts the job when the second file of the pair lands, in either order', async () => {
    await ingestObject(drop('inbox/order/a.mp3'), deps);
    const outcome = await ingestObject(drop('inbox/order/a.PNG'), deps);
    expect(outcome).toMatchObject({ kind: 'started', attempt: 1 });
    expect(deps.executions.calls).toHaveLength(1);
    const call = deps.executions.calls[0];
    expect(call?.input).toMatchObject({ stem: 'order/a', attempt: 1 });
    expect(call?.name).toBe(`${call?.input.jobId}-1`);

    const job = await db.jobs.get(call?.input.jobId ?? '');
    expect(job).toMatchObject({
      status: 'RECEIVED',
      stem: 'order/a',
      inputs: {
        image: { key: 'inbox/order/a.PNG', etag: 'etag-inbox/order/a.PNG' },
        audio: { key: 'inbox/order/a.mp3' },
      },
      executionArn: expect.stringContaining(call?.name ?? 'x'),
    });
  });

  it('starts one execution when both files land at once', async () => {
    const image = drop('inbox/race/bob.jpg');
    const audio = drop('inbox/race/bob.wav');
    const outcomes = await Promise.all([ingestObject(image, deps), ingestObject(audio, deps)]);
    expect(deps.executions.calls).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'started')).toHaveLength(1);
  });

  it('starts nothing for a duplicated event', async () => {
    await ingestObject(drop('inbox/dup/c.jpg'), deps);
    const audio = drop('inbox/dup/c.mp3');
    await ingestObject(audio, deps);
    const again = await ingestObject({ ...audio, eventId: 'another-delivery' }, deps);
    expect(again).toMatchObject({ kind: 'unchanged', status: 'RECEIVED' });
    expect(deps.executions.calls).toHaveLength(1);
  });

  it('ignores an event older than one already recorded for the key', async () => {
    const older = drop('inbox/late/d.jpg', 'old');
    const newer = drop('inbox/late/d.jpg', 'new');
    await ingestObject(newer, deps);
    expect(await ingestObject(older, deps)).toEqual({ kind: 'outdated', key: 'inbox/late/d.jpg' });
  });

  it('treats the same bytes dropped again as the same job and changed bytes as a new one', async () => {
    await ingestObject(drop('inbox/same/e.jpg', 'img1'), deps);
    await ingestObject(drop('inbox/same/e.mp3', 'aud1'), deps);
    const sameBytes = await ingestObject(drop('inbox/same/e.mp3', 'aud1'), deps);
    expect(sameBytes).toMatchObject({ kind: 'unchanged' });
    const changed = await ingestObject(drop('inbox/same/e.mp3', 'aud2'), deps);
    expect(changed).toMatchObject({ kind: 'started', attempt: 1 });
    expect(new Set(deps.executions.calls.map((c) => c.input.jobId)).size).toBe(2);
  });

  it('starts a new attempt when a file of a failed job is uploaded again', async () => {
    await ingestObject(drop('inbox/retry/f.jpg', 'i'), deps);
    await ingestObject(drop('inbox/retry/f.mp3', 'a'), deps);
    const jobId = deps.executions.calls[0]?.input.jobId ?? '';
    await db.jobs.fail(jobId, 1, {
      stage: 'SUBMITTED',
      code: 'RUNWARE_INSUFFICIENT_BALANCE',
      message: 'top up',
      at: 'now',
    });

    // The same bytes uploaded again (a sidecar would be other settings: another job, see below).
    const retried = await ingestObject(drop('inbox/retry/f.jpg', 'i'), deps);
    expect(retried).toMatchObject({ kind: 'started', attempt: 2 });
    expect(deps.executions.calls.map((c) => c.name)).toEqual([`${jobId}-1`, `${jobId}-2`]);
    const job = await db.jobs.get(jobId);
    expect(job).toMatchObject({
      attempt: 2,
      status: 'RECEIVED',
      inputs: { image: { key: 'inbox/retry/f.jpg', etag: 'i' } },
    });
    expect(job?.history).toEqual([
      expect.objectContaining({
        attempt: 1,
        status: 'FAILED',
        error: expect.objectContaining({ code: 'RUNWARE_INSUFFICIENT_BALANCE' }),
      }),
    ]);
    // Runware's definite refusal: the next attempt sends a task of its own.
    expect(job?.adoptedTask).toBeUndefined();
  });

  it("continues the previous attempt's Runware task when that attempt ended without Runware's answer", async () => {
    await ingestObject(drop('inbox/adopt/g.jpg', 'i'), deps);
    await ingestObject(drop('inbox/adopt/g.mp3', 'a'), deps);
    const jobId = deps.executions.calls[0]?.input.jobId ?? '';
    const taskUUID = '0f8f5b9e-2c3a-4d5e-8f90-123456789abc';
    await db.jobs.advance(jobId, 1, 'VALIDATED');
    await db.jobs.assignTaskUUID(jobId, 1, taskUUID);
    await db.jobs.advance(jobId, 1, 'SUBMITTED');
    await db.jobs.fail(jobId, 1, { stage: 'GENERATED', code: 'EXECUTION_ABORTED', message: 'x', at: 'now' });

    await ingestObject(drop('inbox/adopt/g.jpg', 'i'), deps);
    expect(await db.jobs.get(jobId)).toMatchObject({
      attempt: 2,
      adoptedTask: { taskUUID, fromAttempt: 1 },
      history: [{ attempt: 1, taskUUID, error: { code: 'EXECUTION_ABORTED' } }],
    });

    // Attempt 2 ends the same way: attempt 3 keeps the same task, and the history says attempt 2 adopted it.
    await db.jobs.assignTaskUUID(jobId, 2, taskUUID);
    await db.jobs.fail(jobId, 2, { stage: 'GENERATED', code: 'STEP_CRASHED', message: 'x', at: 'now' });
    await ingestObject(drop('inbox/adopt/g.mp3', 'a'), deps);
    const third = await db.jobs.get(jobId);
    expect(third).toMatchObject({ attempt: 3, adoptedTask: { taskUUID, fromAttempt: 2 } });
    expect(third?.history?.[1]).toMatchObject({ attempt: 2, adoptedTask: { taskUUID, fromAttempt: 1 } });
  });

  it('starts a new attempt when a file of a cancelled job is uploaded again, and nothing while it is being cancelled', async () => {
    await ingestObject(drop('inbox/cancelled/c.jpg', 'i'), deps);
    await ingestObject(drop('inbox/cancelled/c.mp3', 'a'), deps);
    const jobId = deps.executions.calls[0]?.input.jobId ?? '';
    await db.jobs.requestCancel(jobId, 1, { requestedAt: 'now', by: 'ops@laptop', during: 'RECEIVED' });
    expect(await ingestObject(drop('inbox/cancelled/c.jpg', 'i'), deps)).toMatchObject({
      kind: 'unchanged',
      attempt: 1,
    });
    const error = { stage: 'RECEIVED' as const, code: 'CANCELLED', message: 'Cancelled.', at: 'now' };
    expect(await db.jobs.cancel(jobId, 1, { error, cancelledAt: 'now', taskAccepted: false })).toMatchObject({
      status: 'CANCELLED',
    });

    expect(await ingestObject(drop('inbox/cancelled/c.mp3', 'a'), deps)).toMatchObject({
      kind: 'started',
      attempt: 2,
    });
    const job = await db.jobs.get(jobId);
    expect(job).toMatchObject({ attempt: 2, status: 'RECEIVED' });
    expect(job?.cancel).toBeUndefined();
    expect(job?.history).toEqual([expect.objectContaining({ attempt: 1, status: 'CANCELLED' })]);
  });

  it('makes the sidecar part of the job: a later sidecar starts the next job with its settings', async () => {
    await ingestObject(drop('inbox/late/h.jpg', 'i'), deps);
    await ingestObject(drop('inbox/late/h.mp3', 'a'), deps);
    const first = deps.executions.calls[0]?.input.jobId ?? '';
    await db.jobs.advance(first, 1, 'VALIDATED');
    const late = await ingestObject(drop('inbox/late/h.json', 's1'), deps);
    expect(late).toMatchObject({ kind: 'started', attempt: 1 });
    const second = deps.executions.calls[1]?.input.jobId ?? '';
    expect(second).not.toBe(first);
    expect(await db.jobs.get(second)).toMatchObject({
      inputs: { sidecar: { key: 'inbox/late/h.json', etag: 's1' } },
    });
    // The first job keeps its record; the same sidecar again is the same (second) job.
    expect(await db.jobs.get(first)).toMatchObject({ status: 'VALIDATED', attempt: 1 });
    expect((await db.jobs.get(first))?.inputs.sidecar).toBeUndefined();
    expect(await ingestObject(drop('inbox/late/h.json', 's1'), deps)).toMatchObject({
      kind: 'unchanged',
      jobId: second,
    });
    // Another sidecar is another job again.
    expect(await ingestObject(drop('inbox/late/h.json', 's2'), deps)).toMatchObject({ kind: 'started' });
    expect(new Set(deps.executions.calls.map((c) => c.input.jobId)).size).toBe(3);
  });

  it('keeps the job id of a pair without a sidecar as it was', () => {
    const ref = (key: string, etag: string) => ({ key, etag, size: 1, sequencer: '1' });
    const image = ref('inbox/x.png', 'i');
    const audio = ref('inbox/x.wav', 'a');
    expect(jobIdOf('x', image, audio)).toMatch(/^[0-9a-f]{32}$/);
    expect(jobIdOf('x', image, audio, ref('inbox/x.json', 's'))).not.toBe(jobIdOf('x', image, audio));
    expect(jobIdOf('x', image, audio, ref('inbox/x.json', 's'))).not.toBe(
      jobIdOf('x', image, audio, ref('inbox/x.json', 't')),
    );
  });

  it('does not retry a failed job on a late copy of an old event', async () => {
    const image = drop('inbox/oldcopy/g.jpg');
    await ingestObject(image, deps);
    await ingestObject(drop('inbox/oldcopy/g.mp3'), deps);
    const jobId = deps.executions.calls[0]?.input.jobId ?? '';
    await db.jobs.fail(jobId, 1, { stage: 'VALIDATED', code: 'X', message: 'x', at: 'now' });
    const outcome = await ingestObject({ ...image, eventId: 'redelivered' }, deps);
    expect(outcome).toMatchObject({ kind: 'unchanged', status: 'FAILED' });
    expect(deps.executions.calls).toHaveLength(1);
  });

  it('finishes starting a job when the same event is retried after a crash', async () => {
    await ingestObject(drop('inbox/crash/h.jpg'), deps);
    const audio = drop('inbox/crash/h.mp3');
    const failing: ExecutionStarter = { start: async () => Promise.reject(new Error('network down')) };
    await expect(ingestObject(audio, { ...deps, executions: failing })).rejects.toThrow('network down');
    const outcome = await ingestObject(audio, deps);
    expect(outcome).toMatchObject({ kind: 'started', attempt: 1 });
    expect(deps.executions.calls).toHaveLength(1);
  });

  it('writes the TTL of pairing records, and of job records only when a retention is set', async () => {
    const raw = z.object({ expiresAt: z.number().optional() });
    const epoch = Date.parse('2026-11-24T10:00:00Z') / 1000;
    await ingestObject(drop('inbox/ttl/kept.png'), deps);
    await ingestObject(drop('inbox/ttl/kept.mp3'), deps);
    const file = await db.table.get(keys.file('ttl/kept', 'inbox/ttl/kept.png'), raw);
    expect(file?.expiresAt).toBe(pairingExpiresAt('2026-11-24T10:00:00.000Z', 3600));
    const kept = deps.executions.calls.at(-1)?.input.jobId ?? '';
    expect((await db.jobs.get(kept))?.expiresAt).toBeUndefined();

    deps.jobRecordRetentionDays = 90;
    await ingestObject(drop('inbox/ttl/expiring.png'), deps);
    await ingestObject(drop('inbox/ttl/expiring.mp3'), deps);
    const expiring = deps.executions.calls.at(-1)?.input.jobId ?? '';
    expect((await db.jobs.get(expiring))?.expiresAt).toBe(epoch + 90 * 86_400);
  });

  it('decodes URL-encoded keys (spaces, plus signs, non-Latin letters, emoji)', async () => {
    const encoded = 'inbox/My+Folder/%D0%90%D0%BD%D0%BD%D0%B0+%2B+%F0%9F%98%80';
    await ingestObject(drop(`${encoded}.JPG`), deps);
    const outcome = await ingestObject(drop(`${encoded}.mp3`), deps);
    expect(outcome).toMatchObject({ kind: 'started' });
    expect(deps.executions.calls[0]?.input.stem).toBe('My Folder/Анна + 😀');
  });

  it('pairs an image and an audio file whose names differ only in Unicode normalization, keeping both keys', async () => {
    const nfd = 'inbox/names/cafe\u0301';
    const nfc = 'inbox/names/caf\u00e9';
    await ingestObject(drop(encodeURIComponent(`${nfd}.jpg`).replace(/%2F/g, '/')), deps);
    const outcome = await ingestObject(drop(`${nfc}.mp3`), deps);
    expect(outcome).toMatchObject({ kind: 'started' });
    expect(deps.executions.calls[0]?.input.stem).toBe('names/caf\u00e9');
    const job = outcome.kind === 'started' ? await db.jobs.get(outcome.jobId) : undefined;
    // S3 keys are bytes: each file is still read under the key it was uploaded with.
    expect(job?.inputs.image.key).toBe(`${nfd}.jpg`);
    expect(job?.inputs.audio.key).toBe(`${nfc}.mp3`);
  });

  it('refuses two sidecars whose extensions differ only in letter case, naming both', async () => {
    s3.on(PutObjectCommand).resolves({});
    await ingestObject(drop('inbox/two-sidecars/s.json'), deps);
    await ingestObject(drop('inbox/two-sidecars/s.JSON'), deps);
    await ingestObject(drop('inbox/two-sidecars/s.jpg'), deps);
    const outcome = await ingestObject(drop('inbox/two-sidecars/s.mp3'), deps);
    expect(outcome).toEqual({
      kind: 'ambiguous',
      stem: 'two-sidecars/s',
      keys: ['inbox/two-sidecars/s.JSON', 'inbox/two-sidecars/s.json'],
    });
    expect(deps.executions.calls).toHaveLength(0);
    const call = s3
      .commandCalls(PutObjectCommand)
      .find((c) => c.args[0].input.Key === 'two-sidecars/s.error.json');
    const body = JSON.parse(String(call?.args[0].input.Body));
    expect(body).toMatchObject({ code: 'AMBIGUOUS_INPUT' });
    expect(body.message).toContain('settings sidecar');
    expect(body.message).toContain('inbox/two-sidecars/s.JSON, inbox/two-sidecars/s.json');
  });

  it('ignores keys that are not job inputs', async () => {
    expect(await ingestObject(drop('inbox/notes.txt'), deps)).toMatchObject({ kind: 'ignored' });
    expect(await ingestObject(drop('elsewhere/a.jpg'), deps)).toMatchObject({ kind: 'ignored' });
  });

  it('refuses two images with one stem and says so in the output folder', async () => {
    s3.on(PutObjectCommand).resolves({});
    deps.outputs = new OutputWriter(new S3Client({ region: 'us-east-1' }), 'out-bucket', db.outputNames);
    await ingestObject(drop('inbox/twice/k.jpg'), deps);
    await ingestObject(drop('inbox/twice/k.mp3'), deps);
    const outcome = await ingestObject(drop('inbox/twice/k.png'), deps);
    expect(outcome).toEqual({
      kind: 'ambiguous',
      stem: 'twice/k',
      keys: ['inbox/twice/k.jpg', 'inbox/twice/k.png'],
    });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'out-bucket',
      Key: 'twice/k.error.json',
    });
    const body = JSON.parse(String(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body));
    expect(body).toMatchObject({ code: 'AMBIGUOUS_INPUT', stage: 'RECEIVED' });
    expect(body.message).toContain('inbox/twice/k.png');
  });

  it('forgets a deleted file, so deleting the extra image of an ambiguous stem lets the next upload run', async () => {
    s3.on(PutObjectCommand).resolves({});
    await ingestObject(drop('inbox/fix/m.jpg'), deps);
    await ingestObject(drop('inbox/fix/m.png'), deps);
    expect(await ingestObject(drop('inbox/fix/m.mp3'), deps)).toMatchObject({ kind: 'ambiguous' });
    const sequencer = events.nextSequencer();
    expect(await forgetObject({ encodedKey: 'inbox/fix/m.png', sequencer }, deps)).toEqual({
      kind: 'forgotten',
      key: 'inbox/fix/m.png',
      stem: 'fix/m',
    });
    expect(await ingestObject(drop('inbox/fix/m.jpg'), deps)).toMatchObject({ kind: 'started' });
  });

  it('ignores a deletion older than the upload it would undo', async () => {
    const upload = drop('inbox/late-delete/n.jpg');
    await ingestObject(upload, deps);
    expect(await forgetObject({ encodedKey: 'inbox/late-delete/n.jpg', sequencer: '1' }, deps)).toMatchObject(
      { kind: 'outdated' },
    );
    expect((await db.files.list('late-delete/n')).map((f) => f.key)).toEqual(['inbox/late-delete/n.jpg']);
  });
});
