/** Every problem at once: inspectMedia reports the image's, the audio's and the caller's problems together. */
import { describe, expect, it, vi } from 'vitest';
import { PipelineError } from '../../lambdas/core/errors.js';
import { DEFAULT_MEDIA_LIMITS } from '../../lambdas/core/media/inspect.js';
import {
  declaredSizeProblem,
  inspectMedia,
  type MediaProblem,
  MediaProblemsError,
  problemsMessage,
} from '../../lambdas/core/media/problems.js';
import { png, text, wav } from '../fixtures/media/generate.js';

const limits = { ...DEFAULT_MEDIA_LIMITS };
const sidecarProblem: MediaProblem = {
  code: 'INVALID_SIDECAR',
  message: 'in/anna.json has invalid settings: "safety.mode": Invalid option.',
  file: 'in/anna.json',
};

describe('inspectMedia', () => {
  it('returns the facts of good files, the normalized image, and no problem', async () => {
    const result = await inspectMedia(
      { image: { bytes: png(400, 600), key: 'in/anna.png' }, audio: { bytes: wav(2.5), key: 'in/anna.wav' } },
      limits,
    );
    expect(result.problems).toEqual([]);
    expect(result.image?.info).toMatchObject({ format: 'png', width: 400, height: 600 });
    expect(result.image?.normalized).toMatchObject({ format: 'jpeg', width: 400, height: 600 });
    expect(result.audio).toMatchObject({ format: 'wav', durationSeconds: 2.5 });
  });

  it('reports a bad image, a bad audio file and the sidecar problem together, in that order after the known ones', async () => {
    const result = await inspectMedia(
      { image: { bytes: png(200, 180), key: 'in/anna.png' }, audio: { bytes: wav(1), key: 'in/anna.WAV' } },
      limits,
      [sidecarProblem],
    );
    expect(result.problems).toEqual([
      sidecarProblem,
      { code: 'IMAGE_TOO_SMALL', message: expect.stringContaining('200×180 px'), file: 'in/anna.png' },
      { code: 'AUDIO_TOO_SHORT', message: expect.stringContaining('lasts 1.00 s'), file: 'in/anna.WAV' },
    ]);
    expect(result.image).toBeUndefined();
    expect(result.audio).toBeUndefined();
  });

  it('keeps the facts of the good file when only the other is bad', async () => {
    const result = await inspectMedia(
      { image: { bytes: text(), key: 'in/bob.jpg' }, audio: { bytes: wav(2.5), key: 'in/bob.wav' } },
      limits,
    );
    expect(result.problems.map((p) => p.code)).toEqual(['NOT_AN_IMAGE']);
    expect(result.problems[0]?.message).toContain('The .jpg file is not an image');
    expect(result.audio).toMatchObject({ durationSeconds: 2.5 });
  });

  it('skips a file the caller already has a problem for, such as a declared size over the limit', async () => {
    const tooBig = declaredSizeProblem('image', limits.maxImageBytes + 1, limits, 'in/carl.png');
    expect(tooBig).toMatchObject({ code: 'FILE_TOO_LARGE', file: 'in/carl.png' });
    expect(declaredSizeProblem('audio', 1000, limits, 'in/carl.wav')).toBeUndefined();
    const result = await inspectMedia(
      { image: undefined, audio: { bytes: wav(0.5), key: 'in/carl.wav' } },
      limits,
      tooBig ? [tooBig] : [],
    );
    expect(result.problems.map((p) => p.code)).toEqual(['FILE_TOO_LARGE', 'AUDIO_TOO_SHORT']);
  });
});

describe('MediaProblemsError', () => {
  it('fails with the first code, every problem in the message, and the list in `problems`', async () => {
    const { problems } = await inspectMedia(
      { image: { bytes: png(200, 180), key: 'in/anna.png' }, audio: { bytes: wav(1), key: 'in/anna.wav' } },
      limits,
      [sidecarProblem],
    );
    const error = new MediaProblemsError(problems);
    expect(error).toBeInstanceOf(PipelineError);
    expect(error.name).toBe('ValidationError');
    expect(error.code).toBe('INVALID_SIDECAR');
    expect(error.problems).toHaveLength(3);
    expect(error.message).toMatch(/^\[INVALID_SIDECAR\] 3 problems to fix: \(1\) in\/anna\.json: /);
    expect(error.detail).toContain('(2) in/anna.png: The image is 200×180 px');
    expect(error.detail).toContain('(3) in/anna.wav: The voice track lasts 1.00 s');
  });

  it('is just the problem when there is one', () => {
    expect(problemsMessage([sidecarProblem])).toBe(sidecarProblem.message);
    expect(new MediaProblemsError([sidecarProblem]).message).toBe(
      `[INVALID_SIDECAR] ${sidecarProblem.message}`,
    );
  });
});

describe('a bundle without its image library', () => {
  it('fails the job as the pipeline fault, not as a problem with the file, and the audio alone still works', async () => {
    vi.resetModules();
    vi.doMock('sharp', () => {
      throw new Error('Could not load the "sharp" module using the linux-arm64 runtime');
    });
    try {
      const isolated = await import('../../lambdas/core/media/problems.js');
      const files = { image: { bytes: png(400, 600), key: 'in/anna.png' }, audio: undefined };
      await expect(isolated.inspectMedia(files, limits)).rejects.toMatchObject({
        name: 'ConfigurationError',
        code: 'CONFIGURATION',
        message: expect.stringContaining('sharp could not be loaded'),
      });
      const inspect = await import('../../lambdas/core/media/inspect.js');
      await expect(inspect.inspectAudio(wav(2.5), 'wav', limits)).resolves.toMatchObject({ format: 'wav' });
    } finally {
      vi.doUnmock('sharp');
      vi.resetModules();
    }
  });
});
