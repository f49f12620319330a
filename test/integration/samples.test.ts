import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSamplePortrait, makeSampleVoice, probe } from '../../local/ffmpeg.js';

/**
 * The sample portrait and voice of the demo and the tests are synthetic and the same for the same command, so
 * each is made with ffmpeg once per machine and copied from the temporary folder after that (local/ffmpeg.ts).
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'samples-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const kept = async () => readdir(join(tmpdir(), 'avatar-pipeline-samples'));

describe('the sample media', () => {
  it('is the same bytes every time, made once and then copied', async () => {
    await makeSamplePortrait(join(dir, 'a.png'), { width: 322, height: 402 });
    const before = await kept();
    await makeSamplePortrait(join(dir, 'b.png'), { width: 322, height: 402 });
    expect(await kept()).toEqual(before);
    expect((await readFile(join(dir, 'a.png'))).equals(await readFile(join(dir, 'b.png')))).toBe(true);
  });

  it('is made anew for other settings or another format, each as asked', async () => {
    await makeSamplePortrait(join(dir, 'small.png'), { width: 320, height: 400 });
    await makeSamplePortrait(join(dir, 'small.jpg'), { width: 320, height: 400 });
    await makeSampleVoice(join(dir, 'two.wav'), 2);
    await makeSampleVoice(join(dir, 'three.wav'), 3);
    const [png, jpg, two, three] = await Promise.all(
      ['small.png', 'small.jpg', 'two.wav', 'three.wav'].map((name) => probe(join(dir, name))),
    );
    expect(png?.streams[0]).toMatchObject({ codecName: 'png', width: 320, height: 400 });
    expect(jpg?.streams[0]).toMatchObject({ codecName: 'mjpeg', width: 320, height: 400 });
    expect(two?.durationSeconds).toBeCloseTo(2, 1);
    expect(three?.durationSeconds).toBeCloseTo(3, 1);
    expect(await kept()).not.toContainEqual(expect.stringMatching(/[0-9a-f-]{36}/));
  });
});
