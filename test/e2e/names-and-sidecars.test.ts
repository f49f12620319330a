import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../lambdas/core/job.js';
import type { LocalStack } from '../../local/stack.js';
import { type Samples, SHORT_LIMITS_CONTEXT } from '../support/local.js';
import { useLocalStack } from '../support/local-test.js';

/**
 * Names through the whole local pipeline: stems whose outputs would share keys (`x` and `x.error`, `x` with two
 * results and `x-1`) never overwrite or delete each other's files; two sidecars for one stem are ambiguous; a
 * lone sidecar is reported; names that differ only in Unicode normalization pair up.
 */
// The orphan clock at 2 s (the lowered size limits do not matter here).
const CONTEXT = SHORT_LIMITS_CONTEXT;

let stack: LocalStack;
let samples: Samples;
const local = useLocalStack(CONTEXT, (started) => {
  ({ stack, samples } = started);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Runware tasks whose image or audio is exactly one of this stem's inputs (not a longer stem's). */
function submissionsFor(stem: string) {
  const ours = new RegExp(`/inbox/${escapeRegExp(stem)}\\.[A-Za-z0-9]+$`);
  const matches = (url: unknown) =>
    ours.test(decodeURIComponent(new URL(String(url)).pathname).normalize('NFC'));
  return (stack.simulator?.submissions ?? []).filter(
    (s) => matches(s.task.inputs.image) || matches(s.task.inputs.audio),
  );
}

async function json(key: string): Promise<Record<string, unknown> & { code?: string; message?: string }> {
  return JSON.parse((await local.readOutput(key)).toString('utf8'));
}

async function delivered(stem: string): Promise<JobRecord> {
  const job = await local.finishedJob(stem);
  expect(job.error).toBeUndefined();
  expect(job.status).toBe('DELIVERED');
  expect(submissionsFor(stem)).toHaveLength(1);
  return job;
}

/** Sizes of a stem's delivered videos, to prove later that nobody overwrote them. */
async function videoSizes(job: JobRecord): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for (const output of job.outputs ?? []) sizes[output.key] = (await local.readOutput(output.key)).length;
  return sizes;
}

describe('output names that cannot collide', () => {
  it('x then x.error: the second is refused at validation and x keeps its record and error-file name', async () => {
    const first = 'collide/error/x';
    const second = 'collide/error/x.error';
    await local.drop(`${first}.png`, samples.portrait);
    await local.drop(`${first}.wav`, samples.voice3s);
    const x = await delivered(first);
    const before = await videoSizes(x);

    await local.drop(`${second}.png`, samples.portrait);
    await local.drop(`${second}.wav`, samples.voice3s);
    const refused = await local.finishedJob(second);
    expect(refused).toMatchObject({
      status: 'FAILED',
      error: { stage: 'VALIDATED', code: 'OUTPUT_NAME_TAKEN' },
    });
    expect(submissionsFor(second)).toHaveLength(0);
    // Its own error file is `x.error.error.json`; `x.error.json` (its record's name) is x's.
    const report = await json(`${second}.error.json`);
    expect(report).toMatchObject({ code: 'OUTPUT_NAME_TAKEN', stage: 'VALIDATED' });
    expect(report.message).toContain(`${first}.error.json`);
    expect(report.message).toContain(`"${first}"`);
    expect(report.message).toMatch(/Rename the image, the audio and the sidecar/);
    expect(report.message).toContain('Nothing was sent to Runware');

    expect(await json(`${first}.json`)).toMatchObject({ jobId: x.jobId, status: 'DELIVERED' });
    expect(await videoSizes(x)).toEqual(before);
    expect(await local.outputKeys(first)).toEqual(
      [`${first}.json`, `${first}.mp4`, `${second}.error.json`].sort(),
    );
    for (const key of [`${first}.png`, `${first}.wav`, `${second}.png`, `${second}.wav`]) {
      expect(await local.inputExists(key)).toBe(true);
    }
  });

  it("x.error delivered first: a failing x keeps its error in the job record, never over x.error's record", async () => {
    const holder = 'collide/fail/x.error';
    const failing = 'collide/fail/x';
    await local.drop(`${holder}.png`, samples.portrait);
    await local.drop(`${holder}.wav`, samples.voice3s);
    const kept = await delivered(holder);

    // An empty image fails validation: the error would be written to `x.error.json`, the holder's record.
    await local.drop(`${failing}.png`, '');
    await local.drop(`${failing}.wav`, samples.voice3s);
    const failed = await local.finishedJob(failing);
    expect(failed).toMatchObject({ status: 'FAILED', error: { stage: 'VALIDATED', code: 'EMPTY_FILE' } });
    expect(failed.error?.message).toContain('empty');
    expect(submissionsFor(failing)).toHaveLength(0);
    expect(await json(`${holder}.json`)).toMatchObject({ jobId: kept.jobId, status: 'DELIVERED' });
    expect(await local.outputKeys('collide/fail/')).toEqual([`${holder}.json`, `${holder}.mp4`]);
    expect(await local.inputExists(`${failing}.png`)).toBe(true);
  });

  it("x with two results then x-1: x-1 is refused, x's numbered videos stay as they were", async () => {
    const first = 'collide/numbered/x';
    const second = 'collide/numbered/x-1';
    await local.drop(`${first}.json`, JSON.stringify({ numberResults: 2 }));
    await local.drop(`${first}.png`, samples.portrait);
    await local.drop(`${first}.wav`, samples.voice3s);
    const x = await delivered(first);
    expect(x.outputs?.map((o) => o.key)).toEqual([`${first}-1.mp4`, `${first}-2.mp4`]);
    const before = await videoSizes(x);

    await local.drop(`${second}.png`, samples.portrait);
    await local.drop(`${second}.wav`, samples.voice5s);
    const refused = await local.finishedJob(second);
    expect(refused).toMatchObject({
      status: 'FAILED',
      error: { stage: 'VALIDATED', code: 'OUTPUT_NAME_TAKEN' },
    });
    expect(refused.error?.message).toContain(`${second}.mp4`);
    expect(refused.error?.message).toContain(`"${first}"`);
    expect(submissionsFor(second)).toHaveLength(0);
    expect((await json(`${second}.error.json`)).code).toBe('OUTPUT_NAME_TAKEN');
    expect(await videoSizes(x)).toEqual(before);
    expect(await json(`${first}.json`)).toMatchObject({ jobId: x.jobId });
    for (const ext of ['png', 'wav']) expect(await local.inputExists(`${second}.${ext}`)).toBe(true);
  });
});

describe('sidecars and names', () => {
  it('two sidecars whose extensions differ only in case: AMBIGUOUS_INPUT naming both, nothing started', async () => {
    const stem = 'sidecars/two/anna';
    await local.drop(`${stem}.json`, JSON.stringify({ prompt: 'calm' }));
    await local.drop(`${stem}.JSON`, JSON.stringify({ prompt: 'excited' }));
    await local.drop(`${stem}.png`, samples.portrait);
    await local.drop(`${stem}.wav`, samples.voice3s);
    await stack.idle();

    expect(local.executionsOf(stem)).toEqual([]);
    expect(submissionsFor(stem)).toEqual([]);
    const report = await json(`${stem}.error.json`);
    expect(report).toMatchObject({ stage: 'RECEIVED', code: 'AMBIGUOUS_INPUT' });
    expect(report.message).toContain('More than one settings sidecar (.json)');
    expect(report.message).toContain(`inbox/${stem}.JSON, inbox/${stem}.json`);
    expect(report.message).toContain('delete or rename the others');
    for (const ext of ['json', 'JSON', 'png', 'wav'])
      expect(await local.inputExists(`${stem}.${ext}`)).toBe(true);
  });

  it('a lone sidecar past orphanAfterSeconds is reported, saying the image and the audio are missing', async () => {
    const stem = 'sidecars/lone/anna';
    await local.drop(`${stem}.json`, JSON.stringify({ prompt: 'calm' }));
    await stack.idle();
    await sleep(2_300);
    const swept = (await stack.sweep()) as { reported: string[] };
    expect(swept.reported).toContain(stem);

    const report = await json(`${stem}.error.json`);
    expect(report).toMatchObject({
      stage: 'RECEIVED',
      code: 'ORPHAN_INPUT',
      inputs: { sidecar: `inbox/${stem}.json` },
    });
    expect(report.message).toContain(`inbox/${stem}.json has waited`);
    expect(report.message).toContain('image (.jpg .jpeg .png .webp) and audio file');
    expect(report.message).toContain('Nothing was started');
    expect(local.executionsOf(stem)).toEqual([]);
    expect(submissionsFor(stem)).toEqual([]);
    expect(await local.inputExists(`${stem}.json`)).toBe(true);
  });

  it('an NFD image and an NFC audio file with the same visible name make one job, delivered', async () => {
    const nfd = 'unicode/cafe\u0301';
    const nfc = 'unicode/caf\u00e9';
    await local.drop(`${nfd}.png`, samples.portrait);
    await local.drop(`${nfc}.wav`, samples.voice3s);
    const job = await delivered(nfc);
    // S3 keys are bytes: each input is kept, and read, under the key it was uploaded with.
    expect(job.inputs.image.key).toBe(`inbox/${nfd}.png`);
    expect(job.inputs.audio.key).toBe(`inbox/${nfc}.wav`);
    expect(job.stem).toBe(nfc);
    expect(await local.outputKeys('unicode/')).toEqual([`${nfc}.json`, `${nfc}.mp4`]);
    const record = await json(`${nfc}.json`);
    expect(record).toMatchObject({ stem: nfc, status: 'DELIVERED' });
    expect(await local.inputExists(`${nfd}.png`)).toBe(true);
    expect(await local.inputExists(`${nfc}.wav`)).toBe(true);
  });
});
