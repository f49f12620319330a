import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../lambdas/core/job.js';
import { probe } from '../../local/ffmpeg.js';
import type { LocalStack } from '../../local/stack.js';
import {
  animatedWebp,
  concat,
  cutJpegScan,
  lameMp3,
  photoJpeg,
  png,
  pngClaiming,
  wav,
} from '../fixtures/media/generate.js';
import { E2E_CONTEXT } from '../support/local.js';
import { useLocalStack } from '../support/local-test.js';

/**
 * Each class of input that used to be paid for and then fail (issue 9, items 1-3), through the whole local
 * pipeline, with the real validate bundle decoding images with sharp: limits compared exact, images decoded whole
 * (bombs, cut scan data, animation, trailing bytes), the image Runware gets normalized (rotated as displayed),
 * MP3s measured over every frame, and every problem of a job reported at once. A refused job costs nothing:
 * 0 Runware tasks, `<stem>.error.json` with the code and a message a person can act on, the inputs in place.
 */
let stack: LocalStack;
const local = useLocalStack(E2E_CONTEXT, (started) => {
  ({ stack } = started);
});

type Files = Record<string, Uint8Array>;

async function dropAll(stem: string, files: Files): Promise<void> {
  for (const [ext, body] of Object.entries(files)) await local.drop(`${stem}.${ext}`, Buffer.from(body));
}

/** Runware tasks the simulator accepted whose audio is this stem's (the image URL is the normalized copy's). */
function tasksFor(stem: string) {
  return (stack.simulator?.submissions ?? []).filter((s) =>
    decodeURIComponent(new URL(String(s.task.inputs.audio)).pathname).includes(`/inbox/${stem}.`),
  );
}

async function readInput(key: string): Promise<Buffer> {
  const out = await stack.s3.send(new GetObjectCommand({ Bucket: stack.names.inputBucket, Key: key }));
  return Buffer.from(await (out.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
}

interface ErrorDocument {
  code: string;
  stage: string;
  message: string;
  howToRetry: string;
  problems?: { code: string; message: string; file: string }[];
}

async function expectRefused(
  stem: string,
  files: Files,
  code: string,
  phrases: string[],
): Promise<ErrorDocument> {
  const job = await local.finishedJob(stem);
  expect(job.status).toBe('FAILED');
  expect(job.error).toMatchObject({ stage: 'VALIDATED', code });
  expect(tasksFor(stem)).toHaveLength(0);
  const error = JSON.parse((await local.readOutput(`${stem}.error.json`)).toString('utf8')) as ErrorDocument;
  expect(error).toMatchObject({ stage: 'VALIDATED', code });
  for (const phrase of phrases) expect(error.message).toContain(phrase);
  expect(error.howToRetry).toContain('upload');
  expect(await local.outputKeys(`${stem}.`)).toEqual([`${stem}.error.json`]);
  for (const [ext, body] of Object.entries(files)) {
    expect(await local.inputExists(`${stem}.${ext}`)).toBe(true);
    expect((await readInput(`inbox/${stem}.${ext}`)).equals(Buffer.from(body))).toBe(true);
  }
  return error;
}

async function expectDelivered(
  stem: string,
  files: Files,
): Promise<{ job: JobRecord; video: { width: number; height: number }; normalized: Buffer }> {
  const job = await local.finishedJob(stem);
  expect(job.error).toBeUndefined();
  expect(job.status).toBe('DELIVERED');
  const tasks = tasksFor(stem);
  expect(tasks).toHaveLength(1);
  const normalizedKey = job.media?.image.normalized?.key ?? '';
  expect(normalizedKey).toBe(`normalized/${job.jobId}/${job.attempt}/image.jpg`);
  // Runware got the normalized copy, not the user's file.
  expect(decodeURIComponent(new URL(String(tasks[0]?.task.inputs.image)).pathname)).toContain(
    `/${normalizedKey}`,
  );
  const normalized = await readInput(normalizedKey);
  expect(job.media?.image.normalized?.bytes).toBe(normalized.length);
  // <stem>.json carries both copies' facts.
  const record = JSON.parse((await local.readOutput(`${stem}.json`)).toString('utf8'));
  expect(record.inputs.image).toMatchObject({
    sha256: job.media?.image.sha256,
    normalized: { key: normalizedKey, sha256: job.media?.image.normalized?.sha256 },
  });
  // The user's files are untouched.
  for (const [ext, body] of Object.entries(files)) {
    expect((await readInput(`inbox/${stem}.${ext}`)).equals(Buffer.from(body))).toBe(true);
  }
  const dir = mkdtempSync(join(tmpdir(), 'media-classes-'));
  const file = join(dir, 'video.mp4');
  writeFileSync(file, await local.readOutput(`${stem}.mp4`));
  const stream = (await probe(file)).streams.find((s) => s.codecType === 'video');
  return { job, video: { width: stream?.width ?? 0, height: stream?.height ?? 0 }, normalized };
}

interface RefusedCase {
  name: string;
  files: () => Promise<Files> | Files;
  code: string;
  phrases: string[];
}

const voice = () => wav(3);
const portrait = () => png(720, 960);

const REFUSED: RefusedCase[] = [
  // 1. Limits compared exact, and printed so a message never contradicts its own limit.
  {
    name: 'audio 0.0005 s under 2 s',
    files: () => ({ png: portrait(), wav: wav(1.9995, { sampleRate: 16_000 }) }),
    code: 'AUDIO_TOO_SHORT',
    phrases: ['lasts 1.9995 s', 'at least 2 s', 'longer recording'],
  },
  {
    name: 'image one pixel under 300 px',
    files: () => ({ png: png(299, 600), wav: voice() }),
    code: 'IMAGE_TOO_SMALL',
    phrases: ['299×600 px', 'at least 300 px', 'larger portrait'],
  },
  {
    name: 'aspect ratio just over 2.5:1',
    files: () => ({ png: png(300, 751), wav: voice() }),
    code: 'IMAGE_ASPECT_RATIO',
    phrases: ['2.503:1', 'at most 2.5:1', 'Crop it'],
  },
  // 2. Images decoded, not parsed.
  {
    name: 'decompression bomb',
    files: () => ({ png: pngClaiming(30_000, 30_000), wav: voice() }),
    code: 'IMAGE_TOO_MANY_PIXELS',
    phrases: ['30000×30000 px', 'the limit is 100 megapixels', 'scale it down'],
  },
  {
    name: 'JPEG with scan data cut out, end marker kept',
    files: async () => ({ jpg: cutJpegScan(await photoJpeg(720, 960)), wav: voice() }),
    code: 'CORRUPT_IMAGE',
    phrases: ['damaged', 'cannot be decoded whole', 'Export or download it again'],
  },
  {
    name: 'animated WebP',
    files: async () => ({ webp: await animatedWebp(720, 960, 3), wav: voice() }),
    code: 'ANIMATED_IMAGE',
    phrases: ['animated (3 frames)', 'Save the frame you want'],
  },
  {
    name: 'PNG with bytes after its end',
    files: () => ({
      png: concat([portrait(), new TextEncoder().encode('appended bytes after the image end')]),
      wav: voice(),
    }),
    code: 'IMAGE_TRAILING_DATA',
    phrases: ['34 bytes of something else after its end', 'save it again'],
  },
];

const slug = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

describe.concurrent('refused before any money is spent: 0 Runware tasks', () => {
  it.each(REFUSED)('$name -> $code', async ({ name, files, code, phrases }) => {
    const stem = `classes/${slug(name)}/portrait`;
    const built = await files();
    await dropAll(stem, built);
    const error = await expectRefused(stem, built, code, phrases);
    expect(error.problems).toEqual([expect.objectContaining({ code, file: expect.stringContaining(stem) })]);
  });

  it('image and audio both bad: one error file listing both problems, one upload round', async () => {
    const stem = 'classes/both-bad/portrait';
    const files = { png: png(200, 180), wav: wav(1) };
    await dropAll(stem, files);
    const error = await expectRefused(stem, files, 'IMAGE_TOO_SMALL', [
      '2 problems to fix',
      '200×180 px',
      'lasts 1.00 s',
    ]);
    expect(error.problems).toEqual([
      expect.objectContaining({ code: 'IMAGE_TOO_SMALL', file: `inbox/${stem}.png` }),
      expect.objectContaining({ code: 'AUDIO_TOO_SHORT', file: `inbox/${stem}.wav` }),
    ]);
  });
});

describe.concurrent('borderline input is delivered: 1 Runware task', () => {
  it('limits just inside: 300×750 px (2.5:1) and exactly 2 s of audio', async () => {
    const stem = 'classes/limits-inside/portrait';
    const files = { png: png(300, 750), wav: wav(2, { sampleRate: 8000, bitsPerSample: 8 }) };
    await dropAll(stem, files);
    const { job, video } = await expectDelivered(stem, files);
    expect(job.media?.audio.durationSeconds).toBe(2);
    expect(job.media?.image).toMatchObject({
      width: 300,
      height: 750,
      normalized: { width: 300, height: 750 },
    });
    expect(video.height).toBeGreaterThan(video.width);
  });

  it('an EXIF-rotated portrait reaches Runware turned the way a viewer sees it', async () => {
    const stem = 'classes/exif-rotated/portrait';
    // Stored 960×720 (landscape) with orientation 6: displayed as a 720×960 portrait, red half on the right.
    const files = { jpg: await photoJpeg(960, 720, 6), wav: voice() };
    await dropAll(stem, files);
    const { job, video, normalized } = await expectDelivered(stem, files);
    expect(job.media?.image).toMatchObject({
      width: 720,
      height: 960,
      normalized: { width: 720, height: 960 },
    });
    const meta = await sharp(normalized).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 720, height: 960 });
    expect(meta.orientation ?? 1).toBe(1);
    // The simulator rendered the normalized copy: a portrait video.
    expect(video.height).toBeGreaterThan(video.width);
  });

  it('an MP3 of several files joined together is measured whole (first part alone is under 2 s)', async () => {
    const stem = 'classes/joined-mp3/portrait';
    const files = { png: portrait(), mp3: concat([lameMp3(0.5), lameMp3(1.5, 660), lameMp3(1.25, 880)]) };
    await dropAll(stem, files);
    const { job } = await expectDelivered(stem, files);
    expect(job.media?.audio.durationSeconds).toBeGreaterThan(3.2);
    expect(job.media?.audio.durationSeconds).toBeLessThan(3.5);
  });
});
