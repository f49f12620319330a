import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { JobFailedDetailSchema } from '../../lambdas/core/contract/job-events.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import { makeSamplePortrait, makeSampleVoice } from '../../local/ffmpeg.js';
import type { LocalStack } from '../../local/stack.js';
import { png, text, wav } from '../fixtures/media/generate.js';
import { type Samples, SHORT_LIMITS_CONTEXT, storesOf } from '../support/local.js';
import { useLocalStack } from '../support/local-test.js';

/**
 * Bad input through the whole local pipeline: every file or sidecar a person could get wrong must end in
 * `<stem>.error.json` with a stable code and a message that quotes the file's own numbers, before Runware is
 * paid anything, with the inputs left where they were. And every key a person could reasonably type (spaces,
 * `+`, `%`, non-Latin letters, emoji, deep folders, upper-case extensions) must simply work.
 *
 * Limits are lowered so that the size checks and the orphan clock are testable in seconds.
 */
const CONTEXT = SHORT_LIMITS_CONTEXT;

let stack: LocalStack;
let samples: Samples;
/** A real JPEG portrait and a real 3 s MP3 voice track (ffmpeg), beside the PNG / WAV of {@link Samples}. */
let portraitJpeg: Buffer;
let voiceMp3: Buffer;

const local = useLocalStack(CONTEXT, async (started) => {
  const { dir } = started;
  ({ stack, samples } = started);
  await Promise.all([
    makeSamplePortrait(join(dir, 'portrait.jpg')),
    makeSampleVoice(join(dir, 'voice3.mp3'), 3),
  ]);
  portraitJpeg = readFileSync(join(dir, 'portrait.jpg'));
  voiceMp3 = readFileSync(join(dir, 'voice3.mp3'));
});

// ------------------------------------------------------------------------------------------------ helpers

type Body = Buffer | Uint8Array | string;
/** Files of one job: extension (with its case) -> bytes. */
type Files = Record<string, Body>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function dropAll(stem: string, files: Files): Promise<void> {
  for (const [ext, body] of Object.entries(files)) {
    await local.drop(`${stem}.${ext}`, typeof body === 'string' ? body : Buffer.from(body));
  }
}

/** Runware tasks whose image or audio URL points at one of this stem's inputs (any attempt, any job). */
function submissionsForStem(stem: string) {
  const ours = (url: string) => {
    const path = decodeURIComponent(new URL(url).pathname);
    return path.includes(`/inbox/${stem}.`);
  };
  return (stack.simulator?.submissions ?? []).filter(
    (s) => ours(String(s.task.inputs.image)) || ours(String(s.task.inputs.audio)),
  );
}

/** Output keys of exactly this stem (`<stem>.ext`, `<stem>-N.ext`), not of stems that merely share its prefix. */
async function outputsOf(stem: string): Promise<string[]> {
  return (await local.outputKeys(stem)).filter((k) =>
    /^(-\d+)?\.[a-z0-9]+(\.json)?$/.test(k.slice(stem.length)),
  );
}

async function errorDocument(stem: string) {
  return JSON.parse((await local.readOutput(`${stem}.error.json`)).toString('utf8')) as {
    stem: string;
    jobId?: string;
    stage: string;
    code: string;
    message: string;
    howToRetry: string;
    inputs?: Record<string, string>;
  };
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * The full contract of a rejected input: FAILED at VALIDATED before any submission, `<stem>.error.json` with the
 * code and the phrases, no video and no job record beside it, a JobFailed event, and every input still there.
 */
async function expectRejected(
  stem: string,
  files: Files,
  code: string,
  phrases: (string | RegExp)[],
): Promise<JobRecord> {
  const job = await local.finishedJob(stem);
  expect(job.status).toBe('FAILED');
  expect(job.error).toMatchObject({ stage: 'VALIDATED', code });
  expect(job.stages.SUBMITTED).toBeUndefined();
  expect(job.taskUUID).toBeUndefined();
  expect(submissionsForStem(stem)).toEqual([]);
  expect(local.executionsOf(stem)).toHaveLength(1);

  const error = await errorDocument(stem);
  expect(error).toMatchObject({ stem, jobId: job.jobId, stage: 'VALIDATED', code });
  for (const phrase of phrases) {
    if (typeof phrase === 'string') expect(error.message).toContain(phrase);
    else expect(error.message).toMatch(phrase);
  }
  expect(error.howToRetry).toContain('upload');
  expect(await outputsOf(stem)).toEqual([`${stem}.error.json`]);
  const failed = stack.events.filter(
    (e) => e.detailType === 'JobFailed' && e.detail.jobId === job.jobId && e.detail.code === code,
  );
  expect(failed).toHaveLength(1);
  // The published detail is the documented one (docs/events.md), version 1.
  expect(JobFailedDetailSchema.parse(failed[0]?.detail)).toMatchObject({
    version: '1',
    jobId: job.jobId,
    stem,
    code,
    stage: 'VALIDATED',
    errorKey: `${stem}.error.json`,
  });
  for (const ext of Object.keys(files)) expect(await local.inputExists(`${stem}.${ext}`)).toBe(true);
  return job;
}

/** A job that must work: DELIVERED, one submission, outputs that mirror the stem exactly, no error file. */
async function expectDelivered(stem: string, files: Files): Promise<JobRecord> {
  const job = await local.finishedJob(stem);
  expect(job.error).toBeUndefined();
  expect(job.status).toBe('DELIVERED');
  expect(await outputsOf(stem)).toEqual([`${stem}.json`, `${stem}.mp4`]);
  const record = JSON.parse((await local.readOutput(`${stem}.json`)).toString('utf8'));
  expect(record).toMatchObject({ jobId: job.jobId, stem, status: 'DELIVERED' });
  const [imageExt, audioExt] = Object.keys(files).filter((e) => e.toLowerCase() !== 'json');
  expect(job.inputs.image.key).toBe(`inbox/${stem}.${imageExt}`);
  expect(job.inputs.audio.key).toBe(`inbox/${stem}.${audioExt}`);
  expect(stack.simulator?.submissions.filter((s) => s.task.taskUUID === job.taskUUID)).toHaveLength(1);
  for (const ext of Object.keys(files)) expect(await local.inputExists(`${stem}.${ext}`)).toBe(true);
  return job;
}

const cut = (bytes: Uint8Array, length: number) => Buffer.from(bytes.subarray(0, length));

// ------------------------------------------------------------------------------------------------- tests

interface BadCase {
  name: string;
  /** Built lazily: the ffmpeg samples exist only after beforeAll. */
  files: () => Files;
  code: string;
  phrases: (string | RegExp)[];
}

/** 4 s of 16 kHz 16-bit mono: a 44-byte header then 128000 bytes; cut to 2 s of sound. */
const wav4sCutTo2s = () => cut(wav(4), 44 + 64_000);

const BAD_FILES: BadCase[] = [
  {
    name: 'zero-byte image',
    files: () => ({ png: '', wav: samples.voice3s }),
    code: 'EMPTY_FILE',
    phrases: ['The image is empty (0 bytes)', 'Upload the portrait again'],
  },
  {
    name: 'zero-byte audio',
    files: () => ({ png: samples.portrait, mp3: '' }),
    code: 'EMPTY_FILE',
    phrases: ['The audio file is empty (0 bytes)', 'Upload the voice track again'],
  },
  {
    name: 'text renamed .jpg',
    files: () => ({ jpg: text(), wav: samples.voice3s }),
    code: 'NOT_AN_IMAGE',
    phrases: ['The .jpg file is not an image', 'it may be text', 'JPEG, PNG or WebP'],
  },
  {
    name: 'PNG renamed .mp3',
    files: () => ({ png: samples.portrait, mp3: png(720, 960) }),
    code: 'NOT_AN_AUDIO_FILE',
    phrases: [
      'The .mp3 file is not an audio file',
      'PNG image data (image/png)',
      // Ogg is not listed: acceptOggAudio is off.
      'MP3, WAV, M4A or AAC.',
    ],
  },
  {
    name: 'PNG cut in half',
    files: () => ({ png: cut(samples.portrait, samples.portrait.length >> 1), wav: samples.voice3s }),
    code: 'CORRUPT_IMAGE',
    phrases: ['The PNG image is damaged or incomplete', '(the file was cut short)', 'upload the new file'],
  },
  {
    name: 'JPEG cut in half',
    files: () => ({ jpg: cut(portraitJpeg, portraitJpeg.length >> 1), wav: samples.voice3s }),
    code: 'CORRUPT_IMAGE',
    phrases: ['The JPEG image is damaged or incomplete', '(the file was cut short)'],
  },
  {
    name: 'WAV cut short',
    files: () => ({ png: samples.portrait, wav: wav4sCutTo2s() }),
    code: 'CORRUPT_AUDIO',
    phrases: [
      'The WAV audio is damaged or incomplete',
      'its header promises 4.00 s of sound but the file holds only 2.00 s (the file was cut short)',
    ],
  },
  {
    name: 'MP3 cut in half',
    files: () => ({ png: samples.portrait, mp3: cut(voiceMp3, voiceMp3.length >> 1) }),
    code: 'CORRUPT_AUDIO',
    phrases: [
      'The MP3 audio is damaged or incomplete',
      /its header promises 3\.\d\d s of sound but the file holds only 1\.\d\d s \(the file was cut short\)/,
    ],
  },
  {
    name: 'image too small (200×180)',
    files: () => ({ png: png(200, 180), wav: samples.voice3s }),
    code: 'IMAGE_TOO_SMALL',
    phrases: ['The image is 200×180 px', 'at least 300 px on the short side', 'Use a larger portrait'],
  },
  {
    name: 'image too elongated (1000×300)',
    files: () => ({ png: png(1000, 300), wav: samples.voice3s }),
    code: 'IMAGE_ASPECT_RATIO',
    phrases: ['The image is 1000×300 px, a ratio of 3.33:1', 'at most 2.5:1', 'Crop it around the face'],
  },
  {
    name: 'audio over 300 s (301 s WAV, 8 kHz 8-bit, under the size limit)',
    files: () => ({ png: samples.portrait, wav: wav(301, { sampleRate: 8000, bitsPerSample: 8 }) }),
    code: 'AUDIO_TOO_LONG',
    phrases: [
      'The voice track lasts 301.00 s (5 min 1 s)',
      'at most 300 s (5 min)',
      'Trim it, or split it into several jobs',
    ],
  },
  {
    name: 'audio under 2 s',
    files: () => ({ png: samples.portrait, wav: wav(1.5) }),
    code: 'AUDIO_TOO_SHORT',
    phrases: ['The voice track lasts 1.50 s', 'at least 2 s', 'Use a longer recording'],
  },
  {
    name: 'image over the size limit (2.5 MB padded PNG)',
    files: () => ({ png: Buffer.concat([png(720, 960), Buffer.alloc(2_500_000)]), wav: samples.voice3s }),
    code: 'FILE_TOO_LARGE',
    // (2.5 MB + the PNG) / MiB = 2.4; 2,000,000 / MiB = 1.9.
    phrases: ['The image is 2.4 MiB; the limit is 1.9 MiB', 'Save it as a JPEG at a smaller size'],
  },
  {
    name: 'audio over the size limit (401 s WAV, 3.2 MB)',
    files: () => ({ png: samples.portrait, wav: wav(401, { sampleRate: 8000, bitsPerSample: 8 }) }),
    code: 'FILE_TOO_LARGE',
    // 3,208,044 / MiB = 3.1; 3,000,000 / MiB = 2.9.
    phrases: ['The audio file is 3.1 MiB; the limit is 2.9 MiB', 'Export it as MP3'],
  },
];

const BAD_SIDECARS: (Omit<BadCase, 'files'> & { sidecar: string })[] = [
  {
    name: 'sidecar with invalid JSON',
    sidecar: '{ "prompt": "A calm presenter", }',
    code: 'INVALID_SIDECAR_JSON',
    phrases: ['is not valid JSON', 'Fix the file and upload it again'],
  },
  {
    name: 'sidecar with an unknown field',
    sidecar: JSON.stringify({ prompt: 'A calm presenter', outputformat: 'WEBM' }),
    code: 'INVALID_SIDECAR',
    phrases: ['unknown field(s) "outputformat"', 'Allowed fields: prompt'],
  },
  {
    name: 'sidecar with a prompt over 2500 characters',
    sidecar: JSON.stringify({ prompt: 'x'.repeat(2501) }),
    code: 'INVALID_SIDECAR',
    phrases: [/"prompt": .*2500/, 'prompt (1-2500 characters)'],
  },
  {
    name: 'sidecar with outputQuality 100',
    sidecar: JSON.stringify({ outputQuality: 100 }),
    code: 'INVALID_SIDECAR',
    phrases: [/"outputQuality": .*99/, 'outputQuality (20-99)'],
  },
];

const slug = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

describe.concurrent('bad input fails at validation, before any money is spent', () => {
  it.each(BAD_FILES)('$name -> $code', async ({ name, files, code, phrases }) => {
    const stem = `bad/${slug(name)}/portrait`;
    const built = files();
    await dropAll(stem, built);
    await expectRejected(stem, built, code, phrases);
  });

  it.each(BAD_SIDECARS)('$name -> $code', async ({ name, sidecar, code, phrases }) => {
    const stem = `bad/${slug(name)}/portrait`;
    const built: Files = { json: sidecar, png: samples.portrait, wav: samples.voice3s };
    await dropAll(stem, built);
    const job = await expectRejected(stem, built, code, [`inbox/${stem}.json`, ...phrases]);
    expect(job.inputs.sidecar?.key).toBe(`inbox/${stem}.json`);
  });
});

describe.concurrent('keys people actually type all work', () => {
  const KEYS: { name: string; stem: string; image: string; audio: string }[] = [
    { name: 'spaces', stem: 'keys/with spaces/Anna Maria Lopez', image: 'png', audio: 'wav' },
    { name: 'plus signs', stem: 'keys/plus/a+b c++', image: 'png', audio: 'wav' },
    { name: 'percent signs', stem: 'keys/percent/100% real %20 not a space %2B', image: 'png', audio: 'wav' },
    { name: 'Cyrillic', stem: 'keys/кириллица/Анна Каренина', image: 'png', audio: 'wav' },
    { name: 'CJK', stem: 'keys/中文/安娜 写真', image: 'png', audio: 'wav' },
    { name: 'emoji', stem: 'keys/emoji/anna 😀🎤', image: 'png', audio: 'wav' },
    { name: 'upper-case extensions', stem: 'keys/upper/Portrait', image: 'JPEG', audio: 'WAV' },
    {
      name: 'all of it, six folders deep',
      stem: 'deep/a/b/c/d/e/Анна + 100% 😀',
      image: 'JPG',
      audio: 'MP3',
    },
  ];
  it.each(KEYS)('$name: $stem', async ({ stem, image, audio }) => {
    const body = (ext: string) =>
      ({ png: samples.portrait, jpg: portraitJpeg, jpeg: portraitJpeg, wav: samples.voice3s, mp3: voiceMp3 })[
        ext.toLowerCase()
      ] as Buffer;
    const files: Files = { [image]: body(image), [audio]: body(audio) };
    await dropAll(stem, files);
    const job = await expectDelivered(stem, files);
    expect(job.media?.image.format).toBe(image.toLowerCase() === 'png' ? 'png' : 'jpeg');
    expect(job.media?.audio.format).toBe(audio.toLowerCase());
  });
});

describe('one image and one audio file per stem', () => {
  it('two images under one stem: AMBIGUOUS_INPUT naming both, nothing started', async () => {
    const stem = 'ambiguous/first/anna';
    await dropAll(stem, { jpg: portraitJpeg, png: samples.portrait });
    await stack.idle();
    await dropAll(stem, { mp3: voiceMp3 });
    await stack.idle();

    expect(local.executionsOf(stem)).toEqual([]);
    expect(submissionsForStem(stem)).toEqual([]);
    const error = await errorDocument(stem);
    expect(error).toMatchObject({ stem, stage: 'RECEIVED', code: 'AMBIGUOUS_INPUT' });
    expect(error.message).toContain(`More than one image has the name "${stem}"`);
    expect(error.message).toContain(`inbox/${stem}.jpg`);
    expect(error.message).toContain(`inbox/${stem}.png`);
    expect(error.message).toContain('Keep one image and one audio file per name');
    expect(await outputsOf(stem)).toEqual([`${stem}.error.json`]);
    for (const ext of ['jpg', 'png', 'mp3']) expect(await local.inputExists(`${stem}.${ext}`)).toBe(true);
  });

  it('doing what AMBIGUOUS_INPUT says (delete the extra image, upload the one you want again) runs the job', async () => {
    const stem = 'ambiguous/fixed/anna';
    await dropAll(stem, { jpg: portraitJpeg, png: samples.portrait });
    await stack.idle();
    await dropAll(stem, { mp3: voiceMp3 });
    await stack.idle();
    expect((await errorDocument(stem)).code).toBe('AMBIGUOUS_INPUT');

    await stack.s3.send(
      new DeleteObjectCommand({ Bucket: stack.names.inputBucket, Key: `inbox/${stem}.png` }),
    );
    await stack.idle(); // whatever the pipeline does with the deletion, it has done it
    await local.drop(`${stem}.jpg`, portraitJpeg);
    await stack.idle();
    const report = await errorDocument(stem).catch(() => undefined);
    expect(
      local.executionsOf(stem),
      `the deleted ${stem}.png still counts: ${report?.message ?? '(no error file)'}`,
    ).toHaveLength(1);
    await expectDelivered(stem, { jpg: portraitJpeg, mp3: voiceMp3 });
  });

  it('a second image landing while the first pair settles: the job fails AMBIGUOUS_INPUT before any submission', async () => {
    const stem = 'ambiguous/late/anna';
    await dropAll(stem, { jpg: portraitJpeg, mp3: voiceMp3 });
    // The pair is complete: its execution starts (and waits settleSeconds before validating).
    await waitFor(`the execution of ${stem}`, () => local.executionsOf(stem).length === 1);
    await local.drop(`${stem}.png`, samples.portrait);

    const job = await local.finishedJob(stem);
    expect(local.executionsOf(stem)).toHaveLength(1);
    // Validate sees both images: which one the person meant is unknown, so nothing is paid for.
    expect(job).toMatchObject({ status: 'FAILED', error: { stage: 'VALIDATED', code: 'AMBIGUOUS_INPUT' } });
    expect(job.taskUUID).toBeUndefined();
    expect(submissionsForStem(stem)).toHaveLength(0);
    const report = await errorDocument(stem);
    expect(report).toMatchObject({ code: 'AMBIGUOUS_INPUT' });
    expect(report.message).toContain(`inbox/${stem}.jpg`);
    expect(report.message).toContain(`inbox/${stem}.png`);
    expect(await outputsOf(stem)).toEqual([`${stem}.error.json`]);
    for (const ext of ['jpg', 'png', 'mp3']) expect(await local.inputExists(`${stem}.${ext}`)).toBe(true);
  });
});

describe('orphans and retries', () => {
  it('a lone file past orphanAfterSeconds is reported; its partner arriving later still runs the job', async () => {
    const imageOnly = 'orphan/image-only/anna';
    const audioOnly = 'orphan/audio-only/anna';
    await local.drop(`${imageOnly}.png`, samples.portrait);
    await local.drop(`${audioOnly}.wav`, samples.voice3s);
    await stack.idle(); // both ingested: their orphan clocks run from now
    await sleep(2_300);
    const swept = (await stack.sweep()) as { reported: string[] };
    expect(swept.reported).toEqual(expect.arrayContaining([imageOnly, audioOnly]));

    const imageReport = await errorDocument(imageOnly);
    expect(imageReport).toMatchObject({
      stem: imageOnly,
      stage: 'RECEIVED',
      code: 'ORPHAN_INPUT',
      inputs: { image: `inbox/${imageOnly}.png` },
    });
    expect(imageReport.message).toContain(`inbox/${imageOnly}.png has waited`);
    // Ogg is listed only where acceptOggAudio is set (not in these settings).
    expect(imageReport.message).toContain('for its audio file (.mp3 .wav .m4a .aac) named');
    expect(imageReport.message).toContain('Nothing was started');
    expect(imageReport.message).toContain(`Upload the missing file to inbox/${imageOnly}.<extension>`);
    const audioReport = await errorDocument(audioOnly);
    expect(audioReport).toMatchObject({ code: 'ORPHAN_INPUT', inputs: { audio: `inbox/${audioOnly}.wav` } });
    expect(audioReport.message).toContain('for its image (.jpg .jpeg .png .webp)');

    for (const stem of [imageOnly, audioOnly]) {
      expect(local.executionsOf(stem)).toEqual([]);
      expect(submissionsForStem(stem)).toEqual([]);
      expect(await outputsOf(stem)).toEqual([`${stem}.error.json`]);
    }
    expect(await local.inputExists(`${imageOnly}.png`)).toBe(true);
    expect(await local.inputExists(`${audioOnly}.wav`)).toBe(true);
    // Reported once: the next sweep leaves it alone.
    expect(((await stack.sweep()) as { reported: string[] }).reported).not.toContain(imageOnly);

    // The missing audio arrives: the job runs, and deliver removes the stale orphan report.
    await local.drop(`${imageOnly}.wav`, samples.voice3s);
    await expectDelivered(imageOnly, { png: samples.portrait, wav: samples.voice3s });
    expect(local.executionsOf(imageOnly)).toHaveLength(1);
    // The other orphan is still reported and still waiting.
    expect(await outputsOf(audioOnly)).toEqual([`${audioOnly}.error.json`]);
  });

  it('a failed job is retried by uploading a good image under the same key', async () => {
    const stem = 'retry/image/anna';
    const bad: Files = { png: png(200, 180), wav: samples.voice3s };
    await dropAll(stem, bad);
    const failed = await expectRejected(stem, bad, 'IMAGE_TOO_SMALL', ['The image is 200×180 px']);

    await local.drop(`${stem}.png`, samples.portrait);
    const retried = await expectDelivered(stem, { png: samples.portrait, wav: samples.voice3s });
    // New bytes make a new job (a new id), run by a second execution; the old error file is gone.
    expect(retried.jobId).not.toBe(failed.jobId);
    expect(local.executionsOf(stem)).toHaveLength(2);
    expect(retried.media?.image).toMatchObject({ width: 720, height: 960 });
    expect(submissionsForStem(stem)).toHaveLength(1);
  });

  it('a fixed sidecar after a failed job starts the job with the fixed settings (the sidecar is part of the job)', async () => {
    const stem = 'retry/sidecar/anna';
    const bad: Files = {
      json: JSON.stringify({ outputQuality: 100 }),
      png: samples.portrait,
      wav: samples.voice3s,
    };
    await dropAll(stem, bad);
    const failed = await expectRejected(stem, bad, 'INVALID_SIDECAR', ['"outputQuality"']);

    await local.drop(`${stem}.json`, JSON.stringify({ outputQuality: 80 }));
    const retried = await expectDelivered(stem, { ...bad, json: '{}' });
    expect(retried.jobId).not.toBe(failed.jobId);
    expect(retried.attempt).toBe(1);
    expect(retried.settings?.outputQuality).toBe(80);
    expect(retried.inputs.sidecar?.key).toBe(`inbox/${stem}.json`);
    // The failed job keeps its record and its error.
    expect(await storesOf(stack).jobs.get(failed.jobId)).toMatchObject({
      attempt: 1,
      status: 'FAILED',
      error: { code: 'INVALID_SIDECAR' },
    });
    expect(submissionsForStem(stem)).toHaveLength(1);
  });

  it('a failed job is retried without its sidecar: delete the bad sidecar, upload the image again', async () => {
    const stem = 'retry/no-sidecar/anna';
    const bad: Files = {
      json: JSON.stringify({ outputQuality: 100 }),
      png: samples.portrait,
      wav: samples.voice3s,
    };
    await dropAll(stem, bad);
    await expectRejected(stem, bad, 'INVALID_SIDECAR', ['"outputQuality"']);

    await stack.s3.send(
      new DeleteObjectCommand({ Bucket: stack.names.inputBucket, Key: `inbox/${stem}.json` }),
    );
    await stack.idle();
    await local.drop(`${stem}.png`, samples.portrait);
    const job = await local.finishedJob(stem);
    expect(job.error, 'the deleted sidecar must not be read').toBeUndefined();
    expect(job.status).toBe('DELIVERED');
    expect(job.settings?.outputQuality).toBe(95);
    expect(job.inputs.sidecar).toBeUndefined();
    expect(await outputsOf(stem)).toEqual([`${stem}.json`, `${stem}.mp4`]);
  });
});
