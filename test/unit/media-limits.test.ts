/**
 * Every limit the media inspection compares, just inside and just outside, on exact values; and messages that
 * never print the measured value onto its own limit.
 */
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../lambdas/core/errors.js';
import { formatBeyond, formatPair } from '../../lambdas/core/media/format.js';
import {
  checkDeclaredSize,
  DEFAULT_MEDIA_LIMITS,
  inspectAudio,
  inspectImage,
  type MediaErrorCode,
} from '../../lambdas/core/media/inspect.js';
import { mp3, png, wav } from '../fixtures/media/generate.js';

const limits = { ...DEFAULT_MEDIA_LIMITS };
const MIB = 1024 * 1024;

async function rejection(action: Promise<unknown> | (() => unknown), code: MediaErrorCode): Promise<string> {
  let caught: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a ${code} rejection`).toBeInstanceOf(PipelineError);
  expect((caught as PipelineError).code).toBe(code);
  return (caught as PipelineError).detail;
}

/** 8 kHz 8-bit mono: one sample is 1/8000 s and one byte, so lengths are exact and files small. */
const wavSamples = (samples: number): Uint8Array =>
  wav(samples / 8000, { sampleRate: 8000, bitsPerSample: 8 });

describe('audio duration, compared exact', () => {
  it('minimum: one sample short of 2 s is refused and says so; 2 s and one sample more pass', async () => {
    const message = await rejection(inspectAudio(wavSamples(15_999), 'wav', limits), 'AUDIO_TOO_SHORT');
    expect(message).toContain('lasts 1.9999 s; the model needs at least 2 s');
    expect(message).not.toContain('2.00 s');
    await expect(inspectAudio(wavSamples(16_000), 'wav', limits)).resolves.toMatchObject({
      durationSeconds: 2,
    });
    await expect(inspectAudio(wavSamples(16_001), 'wav', limits)).resolves.toMatchObject({
      durationSeconds: 2,
    });
  });

  it('maximum: one sample over 300 s is refused and says so; 300 s and one sample less pass', async () => {
    const message = await rejection(inspectAudio(wavSamples(2_400_001), 'wav', limits), 'AUDIO_TOO_LONG');
    expect(message).toContain('lasts 300.0001 s; the model accepts at most 300 s (5 min)');
    await expect(inspectAudio(wavSamples(2_400_000), 'wav', limits)).resolves.toMatchObject({
      durationSeconds: 300,
    });
    await expect(inspectAudio(wavSamples(2_399_999), 'wav', limits)).resolves.toMatchObject({
      durationSeconds: 300,
    });
  });

  it('the example of the issue: 1.9995 s reads as 1.9995 s, not 2.00 s', async () => {
    // 1.9995 s at 8 kHz is not a whole number of samples; at 16 kHz 16-bit it is 31,992 samples.
    const short = wav(1.9995, { sampleRate: 16_000 });
    const message = await rejection(inspectAudio(short, 'wav', limits), 'AUDIO_TOO_SHORT');
    expect(message).toContain('lasts 1.9995 s; the model needs at least 2 s');
  });

  it('MP3 frames either side of 2 s: 76 frames (1.985 s) refused, 77 frames (2.011 s) accepted', async () => {
    expect(await rejection(inspectAudio(mp3(76), 'mp3', limits), 'AUDIO_TOO_SHORT')).toContain(
      'lasts 1.99 s',
    );
    await expect(inspectAudio(mp3(77), 'mp3', limits)).resolves.toMatchObject({ durationSeconds: 2.01 });
  });

  it('relaxed limits are compared exact too', async () => {
    const relaxed = { ...limits, minAudioSeconds: 2.5 };
    expect(await rejection(inspectAudio(wavSamples(19_999), 'wav', relaxed), 'AUDIO_TOO_SHORT')).toContain(
      '2.4999 s; the model needs at least 2.5 s',
    );
    await expect(inspectAudio(wavSamples(20_000), 'wav', relaxed)).resolves.toBeDefined();
  });
});

describe('image sides and aspect ratio', () => {
  it('short side: 300 px passes, 299 px is refused', async () => {
    await expect(inspectImage(png(300, 500), 'png', limits)).resolves.toBeDefined();
    expect(await rejection(inspectImage(png(299, 500), 'png', limits), 'IMAGE_TOO_SMALL')).toContain(
      '299×500',
    );
  });

  it('aspect ratio: 750×300 (2.5:1) passes, 751×300 is refused with a ratio that is not 2.5', async () => {
    await expect(inspectImage(png(750, 300), 'png', limits)).resolves.toBeDefined();
    await expect(inspectImage(png(300, 750), 'png', limits)).resolves.toBeDefined();
    const message = await rejection(inspectImage(png(751, 300), 'png', limits), 'IMAGE_ASPECT_RATIO');
    expect(message).toContain('a ratio of 2.503:1; the model accepts at most 2.5:1');
    // 2501×1000: 2.501:1, whose two-decimal reading (2.50) would be the limit.
    const tall = await rejection(inspectImage(png(1000, 2501), 'png', limits), 'IMAGE_ASPECT_RATIO');
    expect(tall).toContain('a ratio of 2.501:1');
  });
});

describe('file sizes', () => {
  it('the limit passes; one byte more is refused with both sizes printed apart', async () => {
    for (const [role, limit] of [
      ['image', limits.maxImageBytes],
      ['audio', limits.maxAudioBytes],
    ] as const) {
      expect(() => checkDeclaredSize(role, limit, limits)).not.toThrow();
      const message = await rejection(() => checkDeclaredSize(role, limit + 1, limits), 'FILE_TOO_LARGE');
      const [, measured, allowed] = /is (.+?); the limit is (.+?)\./.exec(message) ?? [];
      expect(measured).toBeDefined();
      expect(measured).not.toBe(allowed);
      expect(Number.parseFloat(measured ?? '')).toBeGreaterThan(Number.parseFloat(allowed ?? ''));
    }
    expect(
      await rejection(
        () => checkDeclaredSize('audio', 50 * MIB + 1, { ...limits, maxAudioBytes: 50 * MIB }),
        'FILE_TOO_LARGE',
      ),
    ).toContain('50.000001 MiB; the limit is 50 MiB');
  });
});

describe('formatBeyond and formatPair', () => {
  it('prints a value beyond a limit on its side of it, with the fewest decimals', () => {
    expect(formatBeyond(1.9995, 2, { minDecimals: 2, keepZeros: true })).toBe('1.9995');
    expect(formatBeyond(1, 2, { minDecimals: 2, keepZeros: true })).toBe('1.00');
    expect(formatBeyond(300.004, 300, { minDecimals: 2, keepZeros: true })).toBe('300.004');
    expect(formatBeyond(2.5033, 2.5, { minDecimals: 2 })).toBe('2.503');
    expect(formatBeyond(3.3333, 2.5, { minDecimals: 2 })).toBe('3.33');
    // Beyond the decimals allowed, it rounds away from the limit, never onto it.
    expect(formatBeyond(2 - 1e-9, 2, { maxDecimals: 3 })).toBe('1.999');
    expect(formatBeyond(2 + 1e-9, 2, { maxDecimals: 3 })).toBe('2.001');
  });

  it('prints two different values apart with the same decimals', () => {
    expect(formatPair(2.999875, 3)).toEqual(['2.9999', '3.0000']);
    expect(formatPair(3.001, 3.004)).toEqual(['3.001', '3.004']);
    expect(formatPair(1, 2)).toEqual(['1.00', '2.00']);
    const [a, b] = formatPair(2 - 1e-12, 2);
    expect(Number(a)).toBeLessThan(Number(b));
  });
});
