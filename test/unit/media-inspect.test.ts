import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { PipelineError } from '../../lambdas/core/errors.js';
import {
  checkDeclaredSize,
  DEFAULT_MEDIA_LIMITS,
  inspectAudio,
  inspectImage,
  type MediaErrorCode,
  type MediaLimits,
} from '../../lambdas/core/media/inspect.js';
import {
  adts,
  bmp,
  concat,
  gif,
  jpeg,
  MP3_FRAME_BYTES,
  m4a,
  mp3,
  oggOpus,
  oggVorbis,
  png,
  text,
  wav,
  webp,
} from '../fixtures/media/generate.js';

const limits: MediaLimits = { ...DEFAULT_MEDIA_LIMITS };
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Runs `action` and checks it failed validation with `code` and a message naming every fragment. */
async function expectRejection(
  action: Promise<unknown> | (() => unknown),
  code: MediaErrorCode,
  ...fragments: string[]
): Promise<void> {
  let caught: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a ${code} rejection`).toBeInstanceOf(PipelineError);
  const error = caught as PipelineError;
  expect(error.name).toBe('ValidationError');
  expect(error.code).toBe(code);
  for (const fragment of fragments) expect(error.message).toContain(fragment);
}

const flac = (): Uint8Array => concat([new TextEncoder().encode('fLaC'), new Uint8Array(64)]);

describe('checkDeclaredSize', () => {
  it('fails an empty object before it is downloaded', async () => {
    await expectRejection(() => checkDeclaredSize('image', 0, limits), 'EMPTY_FILE', '0 bytes', 'portrait');
    await expectRejection(
      () => checkDeclaredSize('audio', 0, limits),
      'EMPTY_FILE',
      '0 bytes',
      'voice track',
    );
  });

  it('fails an object over the limit, quoting both sizes', async () => {
    await expectRejection(
      () => checkDeclaredSize('image', 12_000_000, limits),
      'FILE_TOO_LARGE',
      '11.4 MiB',
      'the limit is 10 MiB',
    );
    await expectRejection(
      () => checkDeclaredSize('audio', 60 * 1024 * 1024, { ...limits, maxAudioBytes: 50 * 1024 * 1024 }),
      'FILE_TOO_LARGE',
      '60 MiB',
      'the limit is 50 MiB',
    );
  });

  it('shows enough decimals to tell a size just over the limit from the limit', async () => {
    await expectRejection(
      () => checkDeclaredSize('image', 10 * 1024 * 1024 + 5_000, limits),
      'FILE_TOO_LARGE',
      '10.005 MiB',
      '10 MiB',
    );
  });

  it('accepts sizes up to the limit', () => {
    expect(() => checkDeclaredSize('image', limits.maxImageBytes, limits)).not.toThrow();
    expect(() => checkDeclaredSize('audio', 1, limits)).not.toThrow();
  });
});

describe('inspectImage', () => {
  it('reports format, dimensions, size and checksum of a PNG', async () => {
    const bytes = png(400, 600);
    await expect(inspectImage(bytes, 'png', limits)).resolves.toEqual({
      format: 'png',
      width: 400,
      height: 600,
      bytes: bytes.length,
      sha256: sha256(bytes),
    });
  });

  it('reads a baseline JPEG and a lossless WebP', async () => {
    const photo = jpeg(480, 640);
    await expect(inspectImage(photo, 'jpeg', limits)).resolves.toEqual({
      format: 'jpeg',
      width: 480,
      height: 640,
      bytes: photo.length,
      sha256: sha256(photo),
    });
    const still = webp(400, 600);
    await expect(inspectImage(still, 'webp', limits)).resolves.toMatchObject({
      format: 'webp',
      width: 400,
      height: 600,
    });
  });

  it('reports a JPEG turned a quarter by EXIF as it is displayed', async () => {
    const stored600x400 = jpeg(600, 400, 6);
    await expect(inspectImage(stored600x400, 'jpg', limits)).resolves.toMatchObject({
      width: 400,
      height: 600,
    });
  });

  it('accepts a supported image whose extension names another format, and reports the real one', async () => {
    await expect(inspectImage(png(400, 600), '.JPG', limits)).resolves.toMatchObject({ format: 'png' });
    await expect(inspectImage(jpeg(400, 600), 'webp', limits)).resolves.toMatchObject({ format: 'jpeg' });
  });

  it('accepts the limits themselves: 300 px short side, 2.5:1', async () => {
    await expect(inspectImage(png(300, 300), 'png', limits)).resolves.toMatchObject({ width: 300 });
    await expect(inspectImage(png(750, 300), 'png', limits)).resolves.toMatchObject({ width: 750 });
  });

  it('refuses an empty file', async () => {
    await expectRejection(inspectImage(new Uint8Array(0), 'jpg', limits), 'EMPTY_FILE', '0 bytes');
  });

  it('refuses a file over the size limit', async () => {
    const bytes = png(400, 600);
    await expectRejection(
      inspectImage(bytes, 'png', { ...limits, maxImageBytes: 1000 }),
      'FILE_TOO_LARGE',
      `${bytes.length} bytes`,
      '1000 bytes',
    );
  });

  it('refuses text renamed .jpg', async () => {
    await expectRejection(
      inspectImage(text(), 'jpg', limits),
      'NOT_AN_IMAGE',
      'The .jpg file',
      'JPEG, PNG or WebP',
    );
  });

  it('refuses an MP3 renamed .png, saying what it is', async () => {
    await expectRejection(
      inspectImage(mp3(100), 'png', limits),
      'NOT_AN_IMAGE',
      'MP3 audio data (audio/mpeg)',
    );
  });

  it('refuses GIF and BMP images as unsupported formats', async () => {
    await expectRejection(
      inspectImage(gif(), 'gif', limits),
      'UNSUPPORTED_IMAGE_FORMAT',
      'GIF image data (image/gif)',
    );
    await expectRejection(
      inspectImage(bmp(400, 400), 'png', limits),
      'UNSUPPORTED_IMAGE_FORMAT',
      'BMP image data',
    );
  });

  it('refuses a PNG cut short inside its image data', async () => {
    await expectRejection(
      inspectImage(png(400, 600).subarray(0, 200), 'png', limits),
      'CORRUPT_IMAGE',
      'ends inside its IDAT chunk',
    );
  });

  it('refuses a PNG without its IEND chunk', async () => {
    const bytes = png(400, 600);
    await expectRejection(
      inspectImage(bytes.subarray(0, bytes.length - 12), 'png', limits),
      'CORRUPT_IMAGE',
      'ends before its IEND chunk',
    );
  });

  it('refuses a PNG whose image data fails its checksum', async () => {
    const bytes = png(400, 600).slice();
    const idat = Buffer.from(bytes).indexOf('IDAT');
    bytes[idat + 10] = (bytes[idat + 10] ?? 0) ^ 0xff;
    await expectRejection(
      inspectImage(bytes, 'png', limits),
      'CORRUPT_IMAGE',
      'IDAT chunk fails its checksum',
    );
  });

  it('refuses a JPEG without its end-of-image marker', async () => {
    const bytes = jpeg(400, 600);
    await expectRejection(
      inspectImage(bytes.subarray(0, bytes.length - 2), 'jpg', limits),
      'CORRUPT_IMAGE',
      'end-of-image marker',
    );
  });

  it('refuses a JPEG cut before its scan', async () => {
    await expectRejection(
      inspectImage(jpeg(400, 600).subarray(0, 120), 'jpg', limits),
      'CORRUPT_IMAGE',
      'cut short',
    );
  });

  it('refuses a WebP shorter than its RIFF header says', async () => {
    const bytes = concat([webp(400, 600), new Uint8Array(40)]);
    new DataView(bytes.buffer).setUint32(4, bytes.length, true); // claims 8 more bytes than there are
    await expectRejection(
      inspectImage(bytes, 'webp', limits),
      'CORRUPT_IMAGE',
      `it is ${bytes.length} bytes`,
    );
  });

  it('refuses an image whose short side is under the minimum, quoting its size', async () => {
    await expectRejection(
      inspectImage(png(200, 180), 'png', limits),
      'IMAGE_TOO_SMALL',
      '200×180 px',
      'at least 300 px on the short side',
    );
  });

  it('refuses an image more elongated than 2.5:1, quoting its ratio', async () => {
    await expectRejection(
      inspectImage(png(1000, 300), 'png', limits),
      'IMAGE_ASPECT_RATIO',
      '1000×300 px',
      '3.33:1',
      'at most 2.5:1',
    );
  });
});

describe('inspectAudio', () => {
  it('reports format, duration, size and checksum of a WAV', async () => {
    const bytes = wav(3);
    await expect(inspectAudio(bytes, 'wav', limits)).resolves.toEqual({
      format: 'wav',
      durationSeconds: 3,
      bytes: bytes.length,
      sha256: sha256(bytes),
    });
  });

  it('times a WAV written by a streaming encoder, whose data size is left as 0xFFFFFFFF', async () => {
    const bytes = wav(2.5, { sampleRate: 44_100, channels: 2 }).slice();
    const view = new DataView(bytes.buffer);
    view.setUint32(4, 0xffffffff, true);
    view.setUint32(40, 0xffffffff, true);
    await expect(inspectAudio(bytes, 'wav', limits)).resolves.toMatchObject({
      format: 'wav',
      durationSeconds: 2.5,
    });
  });

  it('times an MP3 by its frames, behind an ID3 tag or a Xing header', async () => {
    // 115 frames × 1152 samples / 44100 Hz = 3.004 s
    const tagged = mp3(115, { id3: true });
    await expect(inspectAudio(tagged, 'mp3', limits)).resolves.toEqual({
      format: 'mp3',
      durationSeconds: 3,
      bytes: tagged.length,
      sha256: sha256(tagged),
    });
    await expect(inspectAudio(mp3(115, { xingFrames: 115 }), 'mp3', limits)).resolves.toMatchObject({
      durationSeconds: 3,
    });
  });

  it('times an MP3 cut in the middle of its last frame by its whole frames', async () => {
    const cut = mp3(116).subarray(0, 116 * MP3_FRAME_BYTES - 100);
    await expect(inspectAudio(cut, 'mp3', limits)).resolves.toMatchObject({ durationSeconds: 3 });
  });

  it('skips junk before the first MP3 frame and stops at an ID3v1 tag after the last', async () => {
    const junk = Uint8Array.of(0xff, 0xfb, 0x00, 0x42, ...new Array(60).fill(0));
    const id3v1 = concat([new TextEncoder().encode('TAG'), new Uint8Array(125)]);
    await expect(inspectAudio(concat([junk, mp3(115), id3v1]), 'mp3', limits)).resolves.toMatchObject({
      format: 'mp3',
      durationSeconds: 3,
    });
  });

  it('refuses noise behind an MP3 sync word instead of timing false frames', async () => {
    let seed = 42;
    const noise = Uint8Array.from({ length: 200_000 }, () => {
      seed = (seed * 1_103_515_245 + 12_345) >>> 0;
      return seed >>> 24;
    });
    noise.set([0xff, 0xfb, 0x90, 0xc0], 0);
    await expectRejection(inspectAudio(noise, 'mp3', limits), 'CORRUPT_AUDIO', 'no audio frames');
  });

  it('reads AAC in ADTS, also behind an ID3 tag', async () => {
    const id3 = mp3(0, { id3: true });
    await expect(inspectAudio(concat([id3, adts(130)]), 'aac', limits)).resolves.toMatchObject({
      format: 'aac',
    });
    // 130 frames × 1024 samples / 44100 Hz = 3.019 s
    await expect(inspectAudio(adts(130), 'aac', limits)).resolves.toMatchObject({
      format: 'aac',
      durationSeconds: 3.02,
    });
  });

  it('reads M4A, and an audio-only MP4 with a generic brand, as m4a', async () => {
    await expect(inspectAudio(m4a(130), 'm4a', limits)).resolves.toMatchObject({
      format: 'm4a',
      durationSeconds: 3.02,
    });
    await expect(inspectAudio(m4a(130, { brand: 'isom' }), 'm4a', limits)).resolves.toMatchObject({
      format: 'm4a',
      durationSeconds: 3.02,
    });
  });

  it('reads Ogg Opus (without its pre-skip) and Ogg Vorbis as ogg', async () => {
    const ogg = { ...limits, acceptOggAudio: true };
    await expect(inspectAudio(oggOpus(3), 'ogg', ogg)).resolves.toMatchObject({
      format: 'ogg',
      durationSeconds: 2.99,
    });
    await expect(inspectAudio(oggVorbis(3), 'ogg', ogg)).resolves.toMatchObject({
      format: 'ogg',
      durationSeconds: 3,
    });
  });

  it('refuses Ogg by default: not among the formats Kling documents (acceptOggAudio relaxes it)', async () => {
    await expectRejection(
      () => inspectAudio(oggOpus(3), 'ogg', limits),
      'UNSUPPORTED_AUDIO_FORMAT',
      'acceptOggAudio',
    );
  });

  it("refuses audio over Kling's documented 5 MB by default", async () => {
    expect(DEFAULT_MEDIA_LIMITS.maxAudioBytes).toBe(5_000_000);
    await expectRejection(() => checkDeclaredSize('audio', 5_000_001, limits), 'FILE_TOO_LARGE');
  });

  it('accepts a supported audio file whose extension names another format, and reports the real one', async () => {
    await expect(inspectAudio(mp3(115), 'wav', limits)).resolves.toMatchObject({ format: 'mp3' });
  });

  it('accepts the limits themselves: 2 s and 300 s', async () => {
    await expect(inspectAudio(wav(2, { sampleRate: 8000 }), 'wav', limits)).resolves.toMatchObject({
      durationSeconds: 2,
    });
    const fiveMinutes = wav(300, { sampleRate: 8000, bitsPerSample: 8 });
    await expect(inspectAudio(fiveMinutes, 'wav', limits)).resolves.toMatchObject({ durationSeconds: 300 });
  });

  it('refuses an empty file', async () => {
    await expectRejection(inspectAudio(new Uint8Array(0), 'mp3', limits), 'EMPTY_FILE', '0 bytes');
  });

  it('refuses a file over the size limit', async () => {
    const bytes = wav(3);
    await expectRejection(
      inspectAudio(bytes, 'wav', { ...limits, maxAudioBytes: 64 * 1024 }),
      'FILE_TOO_LARGE',
      `${Number((bytes.length / 1024).toFixed(1))} KiB`,
      '64 KiB',
    );
  });

  it('refuses a PNG renamed .mp3, saying what it is and what the settings accept', async () => {
    await expectRejection(
      inspectAudio(png(400, 600), 'mp3', limits),
      'NOT_AN_AUDIO_FILE',
      'The .mp3 file',
      'PNG image data (image/png)',
      'Upload the voice track as MP3, WAV, M4A or AAC.',
    );
    await expectRejection(
      inspectAudio(png(400, 600), 'mp3', { ...limits, acceptOggAudio: true }),
      'NOT_AN_AUDIO_FILE',
      'Upload the voice track as MP3, WAV, M4A, AAC or OGG.',
    );
  });

  it('refuses text renamed .wav', async () => {
    await expectRejection(
      inspectAudio(text(), 'wav', limits),
      'NOT_AN_AUDIO_FILE',
      'not a known media format',
    );
  });

  it('refuses an MP4 with a picture track as a video', async () => {
    await expectRejection(
      inspectAudio(m4a(130, { brand: 'isom', withVideoTrack: true }), 'm4a', limits),
      'NOT_AN_AUDIO_FILE',
      'is a video',
    );
  });

  it('refuses audio in a format the model does not take', async () => {
    await expectRejection(
      inspectAudio(flac(), 'mp3', limits),
      'UNSUPPORTED_AUDIO_FORMAT',
      'FLAC audio data (audio/flac)',
      'Convert it to MP3',
    );
  });

  it('refuses a WAV cut short, quoting the promised and the present length', async () => {
    const bytes = wav(3); // 16 kHz mono 16-bit: 32000 bytes a second
    await expectRejection(
      inspectAudio(bytes.subarray(0, 44 + 32_000 * 1.5), 'wav', limits),
      'CORRUPT_AUDIO',
      'promises 3.00 s',
      'holds only 1.50 s',
    );
  });

  it('refuses a WAV without audio data', async () => {
    await expectRejection(
      inspectAudio(wav(3).subarray(0, 36), 'wav', limits),
      'CORRUPT_AUDIO',
      'no audio data',
    );
  });

  it('refuses an MP3 holding far fewer frames than its Xing header declares', async () => {
    await expectRejection(
      inspectAudio(mp3(115, { xingFrames: 400 }), 'mp3', limits),
      'CORRUPT_AUDIO',
      'promises 10.45 s',
      'holds only 3.00 s',
    );
  });

  it('refuses an MP3 that is only a tag', async () => {
    const tagOnly = mp3(0, { id3: true });
    await expectRejection(inspectAudio(tagOnly, 'mp3', limits), 'CORRUPT_AUDIO', 'no audio frames');
  });

  it('refuses an M4A cut inside its media data', async () => {
    const bytes = m4a(130);
    await expectRejection(
      inspectAudio(bytes.subarray(0, bytes.length - 50), 'm4a', limits),
      'CORRUPT_AUDIO',
      "ends inside its 'mdat' box",
    );
  });

  it('refuses an Ogg file cut inside a page', async () => {
    await expectRejection(
      inspectAudio(oggOpus(3).subarray(0, 200), 'ogg', { ...limits, acceptOggAudio: true }),
      'CORRUPT_AUDIO',
      'cut short',
    );
  });

  it('refuses audio shorter than the minimum, quoting its length', async () => {
    await expectRejection(inspectAudio(wav(1), 'wav', limits), 'AUDIO_TOO_SHORT', '1.00 s', 'at least 2 s');
  });

  it('refuses audio longer than the maximum, quoting its length', async () => {
    // 8 kHz mono 8-bit keeps 301 s at 2.4 MB.
    const long = wav(301, { sampleRate: 8000, bitsPerSample: 8 });
    await expectRejection(
      inspectAudio(long, 'wav', limits),
      'AUDIO_TOO_LONG',
      '301.00 s (5 min 1 s)',
      'at most 300 s (5 min)',
    );
  });

  it('blames the build, not the file, when music-metadata cannot load a parser', async () => {
    vi.resetModules();
    vi.doMock('music-metadata', async (importOriginal) => {
      const original = await importOriginal<typeof import('music-metadata')>();
      return {
        ...original,
        parseBuffer: async () => {
          throw new original.UnsupportedFileTypeError('Guessed MIME-type not supported: audio/wav');
        },
      };
    });
    try {
      const isolated = await import('../../lambdas/core/media/inspect.js');
      await expect(isolated.inspectAudio(wav(3), 'wav', limits)).rejects.toMatchObject({
        name: 'ConfigurationError',
        code: 'CONFIGURATION',
      });
    } finally {
      vi.doUnmock('music-metadata');
      vi.resetModules();
    }
  });
});
