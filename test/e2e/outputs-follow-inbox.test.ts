import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobSucceededDetailSchema } from '../../lambdas/core/contract/job-events.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { makeSamplePortrait } from '../../local/ffmpeg.js';
import type { LocalStack } from '../../local/stack.js';
import { drop, outputKeys, readOutput, type Samples, startLocal, storesOf } from '../support/local.js';

/**
 * The output folder always shows the current inbox (issue 11): a stem's inputs changed back to those of a job
 * already delivered bring that job's outputs back from its archive, with no new Runware task; and after any
 * delivery or restore, the stem's outputs are exactly that job's (no video of another job's format beside them).
 */

const SLOW = 240_000;

let stack: LocalStack;
let samples: Samples;
let otherPortrait: Buffer;

beforeAll(async () => {
  const local = await startLocal();
  stack = local.stack;
  samples = local.samples;
  // Another image: other pixels (and size), so its video differs from the first one's.
  const file = join(local.dir, 'other-portrait.png');
  await makeSamplePortrait(file, { width: 600, height: 800 });
  otherPortrait = readFileSync(file);
}, SLOW);

afterAll(async () => {
  await stack?.stop();
});

/** The delivered job of `stem` that is none of `known` (waits for it). */
async function nextDelivered(stem: string, known: JobRecord[]): Promise<JobRecord> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    for (const execution of stack.sfn.listExecutions()) {
      const input = JSON.parse(execution.input) as { stem: string; jobId: string };
      if (input.stem !== stem || known.some((k) => k.jobId === input.jobId)) continue;
      const job = await storesOf(stack).jobs.get(input.jobId);
      if (job?.status === 'DELIVERED') {
        await stack.idle();
        return job;
      }
    }
    if (Date.now() > deadline) throw new Error(`No new delivered job for ${stem}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The job id in `<stem>.json`, once it is `jobId` (waits for it). */
async function recordShows(stem: string, jobId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const record = JSON.parse((await readOutput(stack, `${stem}.json`)).toString('utf8')) as Record<
      string,
      unknown
    >;
    if (record.jobId === jobId) {
      await stack.idle();
      return record;
    }
    if (Date.now() > deadline) throw new Error(`${stem}.json still shows job ${String(record.jobId)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function archiveKeys(jobId: string): Promise<string[]> {
  const out = await stack.s3.send(
    new ListObjectsV2Command({ Bucket: stack.names.outputBucket, Prefix: `archive/${jobId}/` }),
  );
  return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
}

describe('the output folder follows the inbox', () => {
  it(
    "puts A's video and record back, without a new task, when the image changed and changed back",
    async () => {
      const tasksBefore = stack.simulator?.acceptedTasks() ?? 0;
      await drop(stack, 'back/anna.png', samples.portrait);
      await drop(stack, 'back/anna.wav', samples.voice3s);
      const a = await nextDelivered('back/anna', []);
      const videoA = await readOutput(stack, 'back/anna.mp4');
      expect(await archiveKeys(a.jobId)).toEqual([`archive/${a.jobId}/video-1.mp4.archived`]);

      // A changed image: job B replaces the video and the record.
      await drop(stack, 'back/anna.png', otherPortrait);
      const b = await nextDelivered('back/anna', [a]);
      const videoB = await readOutput(stack, 'back/anna.mp4');
      expect(videoB.equals(videoA)).toBe(false);
      expect(await recordShows('back/anna', b.jobId)).toMatchObject({ jobId: b.jobId });
      const executions = stack.sfn.listExecutions().length;

      // The original image again: A's outputs are back, copied from A's archive; nothing was rendered or paid.
      await drop(stack, 'back/anna.png', samples.portrait);
      const record = await recordShows('back/anna', a.jobId);
      expect(record).toMatchObject({
        jobId: a.jobId,
        taskUUID: a.taskUUID,
        costUsd: a.costUsd,
        restoredAt: expect.any(String),
        outputs: [{ key: 'back/anna.mp4' }],
      });
      expect((await readOutput(stack, 'back/anna.mp4')).equals(videoA)).toBe(true);
      expect(await outputKeys(stack, 'back/anna')).toEqual(['back/anna.json', 'back/anna.mp4']);
      expect(stack.simulator?.acceptedTasks()).toBe(tasksBefore + 2);
      expect(stack.sfn.listExecutions()).toHaveLength(executions);
      expect((await storesOf(stack).jobs.get(a.jobId))?.restoredAt).toEqual(record.restoredAt);

      // And B's come back the same way.
      await drop(stack, 'back/anna.png', otherPortrait);
      await recordShows('back/anna', b.jobId);
      expect((await readOutput(stack, 'back/anna.mp4')).equals(videoB)).toBe(true);
      expect(stack.simulator?.acceptedTasks()).toBe(tasksBefore + 2);
    },
    SLOW,
  );

  it(
    "leaves only the new job's video after a late sidecar changes the format, and only A's once the sidecar is gone",
    async () => {
      const tasksBefore = stack.simulator?.acceptedTasks() ?? 0;
      await drop(stack, 'format/anna.png', samples.portrait);
      await drop(stack, 'format/anna.wav', samples.voice3s);
      const a = await nextDelivered('format/anna', []);
      expect(await outputKeys(stack, 'format/anna')).toEqual(['format/anna.json', 'format/anna.mp4']);

      // A late sidecar asks for WEBM: the next (billed) job, and the MP4 of the first does not stay beside it.
      await drop(stack, 'format/anna.json', JSON.stringify({ outputFormat: 'WEBM' }));
      const b = await nextDelivered('format/anna', [a]);
      expect(b.settings?.outputFormat).toBe('WEBM');
      expect(await outputKeys(stack, 'format/anna')).toEqual(['format/anna.json', 'format/anna.webm']);

      // The sidecar deleted and the pair uploaded again: the inbox is A's again, and so are the outputs.
      await stack.s3.send(
        new DeleteObjectCommand({ Bucket: stack.names.inputBucket, Key: 'inbox/format/anna.json' }),
      );
      await stack.idle();
      await drop(stack, 'format/anna.png', samples.portrait);
      await recordShows('format/anna', a.jobId);
      expect(await outputKeys(stack, 'format/anna')).toEqual(['format/anna.json', 'format/anna.mp4']);
      expect(stack.simulator?.acceptedTasks()).toBe(tasksBefore + 2);
    },
    SLOW,
  );

  it(
    "keeps showing A when A's inputs come back while B renders; B is delivered to its archive, not shown, until its inputs return",
    async () => {
      const stem = 'race/anna';
      const tasksBefore = stack.simulator?.acceptedTasks() ?? 0;
      await drop(stack, `${stem}.png`, samples.portrait);
      await drop(stack, `${stem}.wav`, samples.voice3s);
      const a = await nextDelivered(stem, []);
      const videoA = await readOutput(stack, `${stem}.mp4`);

      // B (a changed image) renders slowly; meanwhile the original image is uploaded again: the inbox is A's.
      stack.simulator?.setRenderSpeed(3);
      let b: JobRecord;
      try {
        await drop(stack, `${stem}.png`, otherPortrait);
        const deadline = Date.now() + 60_000;
        while ((stack.simulator?.acceptedTasks() ?? 0) < tasksBefore + 2) {
          if (Date.now() > deadline) throw new Error("B's task was never accepted");
          await new Promise((r) => setTimeout(r, 200));
        }
        await drop(stack, `${stem}.png`, samples.portrait);
        b = await nextDelivered(stem, [a]);

        // B was made and paid for, and kept; the output folder still shows A, as the inbox does.
        expect(b.notShown).toMatchObject({ code: 'INBOX_CHANGED', changed: ['image'] });
        expect(await recordShows(stem, a.jobId)).toMatchObject({ jobId: a.jobId });
        expect((await readOutput(stack, `${stem}.mp4`)).equals(videoA)).toBe(true);
        expect(await outputKeys(stack, stem)).toEqual([`${stem}.json`, `${stem}.mp4`]);
        expect(await archiveKeys(b.jobId)).toEqual([
          `archive/${b.jobId}/record.json.archived`,
          `archive/${b.jobId}/video-1.mp4.archived`,
        ]);
        const event = stack.events.find((e) => e.detailType === 'JobSucceeded' && e.detail.jobId === b.jobId);
        expect(JobSucceededDetailSchema.parse(event?.detail)).toMatchObject({
          shown: false,
          outputs: [`archive/${b.jobId}/video-1.mp4.archived`],
          recordKey: `archive/${b.jobId}/record.json.archived`,
        });
      } finally {
        stack.simulator?.setRenderSpeed(0);
      }

      // B's image again: B's outputs come from its archive, with no new task.
      await drop(stack, `${stem}.png`, otherPortrait);
      const record = await recordShows(stem, b.jobId);
      expect(record).toMatchObject({ restoredAt: expect.any(String), notShown: { code: 'INBOX_CHANGED' } });
      expect((await readOutput(stack, `${stem}.mp4`)).equals(videoA)).toBe(false);
      expect(stack.simulator?.acceptedTasks()).toBe(tasksBefore + 2);
    },
    SLOW,
  );
});
