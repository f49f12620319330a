/**
 * Audio is measured over the whole stream: every frame, across tags in the middle of files joined together; a
 * stream that cannot be followed to its end is refused. One class per container.
 */
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../lambdas/core/errors.js';
import { walkMp3 } from '../../lambdas/core/media/frame-walk.js';
import { DEFAULT_MEDIA_LIMITS, inspectAudio, type MediaErrorCode } from '../../lambdas/core/media/inspect.js';
import {
  adts,
  concat,
  lameMp3,
  MP3_FRAME_BYTES,
  MP3_FRAME_SAMPLES,
  m4a,
  mp3,
  oggOpus,
  wav,
} from '../fixtures/media/generate.js';

const limits = { ...DEFAULT_MEDIA_LIMITS };
const id3v1 = (): Uint8Array => concat([new TextEncoder().encode('TAG'), new Uint8Array(125)]);
const noise = (length: number): Uint8Array => {
  let seed = 7;
  return Uint8Array.from({ length }, () => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return (seed >>> 24) | 1; // never zero: zero runs are padding
  });
};

async function expectRejection(action: Promise<unknown>, code: MediaErrorCode, ...fragments: string[]) {
  const caught = await action.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught, `expected a ${code} rejection`).toBeInstanceOf(PipelineError);
  const error = caught as PipelineError;
  expect(error.code).toBe(code);
  for (const fragment of fragments) expect(error.detail).toContain(fragment);
}

describe('MP3 joined together', () => {
  it('measures LAME files joined together (each with its ID3 tag and Xing frame) over every frame', async () => {
    const parts = [lameMp3(0.5), lameMp3(1.5, 660), lameMp3(1.25, 880)];
    const joined = concat(parts);
    const each = parts.map((part) => walkMp3(part).durationSeconds);
    const total = each.reduce((a, b) => a + b, 0);
    // The first part alone is what a walk stopping at the first mid-stream tag reported (0.55 s).
    expect(each[0]).toBeCloseTo(0.55, 2);
    expect(total).toBeGreaterThan(3.3);
    const walk = walkMp3(joined);
    expect(walk.problem).toBeUndefined();
    expect(walk.durationSeconds).toBeCloseTo(total, 9);
    await expect(inspectAudio(joined, 'mp3', limits)).resolves.toMatchObject({
      format: 'mp3',
      durationSeconds: Math.round(total * 100) / 100,
    });
  });

  it('counts frames after a mid-stream ID3v2 tag and Xing frame, and after a mid-stream ID3v1 tag', async () => {
    // 50 + 65 frames × 1152 / 44100 = 3.004 s; neither Xing frame is audio.
    const joined = concat([mp3(50, { id3: true }), mp3(65, { id3: true, xingFrames: 65 })]);
    expect(walkMp3(joined)).toEqual({ frames: 115, durationSeconds: expect.closeTo(3.004, 3) });
    const withV1 = concat([mp3(50), id3v1(), mp3(65, { id3: true }), id3v1()]);
    expect(walkMp3(withV1).frames).toBe(115);
    await expect(inspectAudio(withV1, 'mp3', limits)).resolves.toMatchObject({ durationSeconds: 3 });
  });

  it('refuses a joined file whose first part holds fewer frames than its own Xing header declares', async () => {
    const cutFirst = mp3(100, { xingFrames: 100 }).subarray(0, 51 * MP3_FRAME_BYTES);
    const joined = concat([cutFirst, mp3(100, { id3: true, xingFrames: 100 })]);
    await expectRejection(
      inspectAudio(joined, 'mp3', limits),
      'CORRUPT_AUDIO',
      'promises 2.61 s',
      'cut short',
    );
  });

  it('refuses a stream with bytes in the middle that are not frames', async () => {
    const damaged = concat([mp3(60), noise(3000), mp3(60)]);
    await expectRejection(
      inspectAudio(damaged, 'mp3', limits),
      'CORRUPT_AUDIO',
      `at byte ${60 * MP3_FRAME_BYTES}`,
      'cannot be followed to the end',
    );
  });

  it('refuses a stream followed by bytes that are neither frames nor tags', async () => {
    await expectRejection(
      inspectAudio(concat([mp3(120), noise(500)]), 'mp3', limits),
      'CORRUPT_AUDIO',
      'not audio frames',
    );
  });

  it('accepts zero padding between and after frames', async () => {
    const padded = concat([mp3(60), new Uint8Array(700), mp3(60), new Uint8Array(300)]);
    const walk = walkMp3(padded);
    expect(walk.problem).toBeUndefined();
    expect(walk.frames).toBe(120);
  });

  it('times a walk exactly: frames × 1152 / 44100', () => {
    expect(walkMp3(mp3(77)).durationSeconds).toBeCloseTo((77 * MP3_FRAME_SAMPLES) / 44_100, 12);
  });
});

describe('ADTS, WAV, Ogg and MP4 joined together or damaged mid-stream', () => {
  it('measures ADTS AAC across an ID3 tag in the middle', async () => {
    const joined = concat([adts(65), mp3(0, { id3: true }), adts(65)]);
    // 130 frames × 1024 / 44100 = 3.019 s
    await expect(inspectAudio(joined, 'aac', limits)).resolves.toMatchObject({
      format: 'aac',
      durationSeconds: 3.02,
    });
  });

  it('refuses ADTS AAC with bytes in the middle that are not frames', async () => {
    await expectRejection(
      inspectAudio(concat([adts(100), noise(900), adts(100)]), 'aac', limits),
      'CORRUPT_AUDIO',
      'not audio frames',
    );
  });

  it('refuses two WAV files joined together, of which players play the first', async () => {
    await expectRejection(
      inspectAudio(concat([wav(2), wav(3)]), 'wav', limits),
      'CORRUPT_AUDIO',
      'another WAV file follows its audio data',
      'Combine them in an audio editor',
    );
  });

  it('accepts a WAV with a tag chunk after its audio data, and refuses garbage there', async () => {
    const list = concat([
      new TextEncoder().encode('LIST'),
      Uint8Array.of(4, 0, 0, 0),
      new TextEncoder().encode('INFO'),
    ]);
    await expect(inspectAudio(concat([wav(2.5), list]), 'wav', limits)).resolves.toMatchObject({
      durationSeconds: 2.5,
    });
    await expectRejection(
      inspectAudio(concat([wav(2.5), noise(40)]), 'wav', limits),
      'CORRUPT_AUDIO',
      'not WAV chunks',
    );
  });

  it('refuses a chained Ogg file (two streams one after the other), which music-metadata times as the last one', async () => {
    await expectRejection(
      inspectAudio(concat([oggOpus(3), oggOpus(2.5)]), 'ogg', { ...limits, acceptOggAudio: true }),
      'CORRUPT_AUDIO',
      'second audio stream',
    );
  });

  it('refuses two M4A files joined together', async () => {
    await expectRejection(
      inspectAudio(concat([m4a(130), m4a(130)]), 'm4a', limits),
      'CORRUPT_AUDIO',
      'second movie header',
    );
  });

  it('never prints the promised and the present length of a cut WAV as the same number', async () => {
    // 16 kHz mono 16-bit: 4 bytes missing are 0.000125 s.
    const whole = wav(3);
    await expectRejection(
      inspectAudio(whole.subarray(0, whole.length - 4), 'wav', limits),
      'CORRUPT_AUDIO',
      'promises 3.0000 s of sound but the file holds only 2.9999 s',
    );
  });
});

describe('tags that run past the end', () => {
  it('refuses an MP3 whose mid-stream ID3 tag claims more bytes than the file has left', async () => {
    const tag = mp3(0, { id3: true });
    const joined = concat([mp3(100), tag.subarray(0, tag.length - 5)]);
    await expectRejection(
      inspectAudio(joined, 'mp3', limits),
      'CORRUPT_AUDIO',
      `ends inside the tag that starts at byte ${100 * MP3_FRAME_BYTES}`,
    );
  });
});
