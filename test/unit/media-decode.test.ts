/**
 * The decoder wrapper (lambdas/core/media/decode.ts) through prepareImage/inspectImage: images are decoded whole,
 * bombs refused from their header, animations and trailing bytes refused, and Runware gets a normalized JPEG.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../lambdas/core/errors.js';
import {
  checkImageHeader,
  DEFAULT_IMAGE_DECODE_LIMITS,
  FAIL_ON,
  readImageHeader,
} from '../../lambdas/core/media/decode.js';
import {
  DEFAULT_MEDIA_LIMITS,
  inspectImage,
  type MediaErrorCode,
  type MediaLimits,
  prepareImage,
} from '../../lambdas/core/media/inspect.js';
import {
  animatedWebp,
  apng,
  concat,
  cutJpegScan,
  ffmpeg,
  jpeg,
  photoJpeg,
  png,
  pngClaiming,
  webp,
} from '../fixtures/media/generate.js';

const limits: MediaLimits = { ...DEFAULT_MEDIA_LIMITS };
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function expectRejection(
  action: Promise<unknown>,
  code: MediaErrorCode,
  ...fragments: string[]
): Promise<PipelineError> {
  const caught = await action.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught, `expected a ${code} rejection`).toBeInstanceOf(PipelineError);
  const error = caught as PipelineError;
  expect(error.name).toBe('ValidationError');
  expect(error.code).toBe(code);
  for (const fragment of fragments) expect(error.detail).toContain(fragment);
  return error;
}

/** The average colour of a 20×20 px square centred at (x, y) of a decoded image. */
async function colourAt(bytes: Uint8Array, x: number, y: number): Promise<[number, number, number]> {
  const { data } = await sharp(bytes)
    .extract({ left: x - 10, top: y - 10, width: 20, height: 20 })
    .resize(1, 1)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return [data[0] ?? 0, data[1] ?? 0, data[2] ?? 0];
}
const isRed = ([r, , b]: number[]): boolean => (r ?? 0) > 150 && (b ?? 0) < 100;
const isBlue = ([r, , b]: number[]): boolean => (b ?? 0) > 150 && (r ?? 0) < 100;

describe('decoding for real', () => {
  it('uses the failOn level that catches warnings', () => {
    expect(FAIL_ON).toBe('warning');
  });

  it('refuses a JPEG missing the middle of its scan data though it keeps its end marker', async () => {
    const whole = await photoJpeg(600, 800);
    await expect(inspectImage(whole, 'jpg', limits)).resolves.toMatchObject({ width: 600, height: 800 });
    const cut = cutJpegScan(whole);
    // The structure is sound: SOI, headers, a scan, EOI. Only decoding the scan shows the hole.
    await expectRejection(inspectImage(cut, 'jpg', limits), 'CORRUPT_IMAGE', 'cannot be decoded whole');
  });

  it('refuses a cut JPEG also when it is large enough to be scaled down while decoding', async () => {
    const big = await photoJpeg(4200, 1800);
    await expect(prepareImage(big, 'jpg', limits)).resolves.toMatchObject({
      normalized: { width: 4096, height: 1755 },
    });
    await expectRejection(prepareImage(cutJpegScan(big, 0.8), 'jpg', limits), 'CORRUPT_IMAGE');
  });

  it('refuses a JPEG whose scan data is garbled in the middle, end marker and length intact', async () => {
    // The garbling writes 0xFF bytes, which libjpeg reads as stray markers and warns about. Garbage that happens to
    // form valid Huffman codes decodes to wrong pixels without a word from any decoder: no check can see that.
    const garbled = await photoJpeg(600, 800);
    const from = garbled.length >> 1;
    for (let i = from; i < from + 400; i++) garbled[i] = ((garbled[i] ?? 0) * 7 + 13) & 0xff;
    await expectRejection(inspectImage(garbled, 'jpg', limits), 'CORRUPT_IMAGE', 'Corrupt JPEG data');
  });

  it('refuses a JPEG whose header promises more rows than its data holds', async () => {
    const bytes = jpeg(600, 400);
    const sof = Buffer.from(bytes).indexOf(Buffer.of(0xff, 0xc0));
    new DataView(bytes.buffer, bytes.byteOffset).setUint16(sof + 5, 800);
    await expectRejection(inspectImage(bytes, 'jpg', limits), 'CORRUPT_IMAGE', 'premature end');
  });

  it('refuses a PNG whose header promises more rows than its data holds', async () => {
    await expectRejection(inspectImage(pngClaiming(400, 800), 'png', limits), 'CORRUPT_IMAGE', 'decoded');
  });

  it('refuses a decompression bomb from its header, before decoding: 30000×30000 over a few KiB', async () => {
    const bomb = pngClaiming(30_000, 30_000);
    expect(bomb.length).toBeLessThan(10_000);
    const started = performance.now();
    await expectRejection(
      inspectImage(bomb, 'png', limits),
      'IMAGE_TOO_MANY_PIXELS',
      '30000×30000 px (900 megapixels)',
      'the limit is 100 megapixels',
    );
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses a complete image with an absurd pixel count, and accepts one at the limit', async () => {
    // A real, complete 20000×6000 PNG (120 megapixels) compresses to a few hundred KiB of flat grey.
    const huge = png(20_000, 6_000);
    await expectRejection(inspectImage(huge, 'png', limits), 'IMAGE_TOO_MANY_PIXELS', '(120 megapixels)');
    const atLimit = { ...limits, maxImagePixels: 600 * 500 };
    await expect(inspectImage(png(600, 500), 'png', atLimit)).resolves.toMatchObject({ width: 600 });
    await expectRejection(
      inspectImage(png(600, 501), 'png', atLimit),
      'IMAGE_TOO_MANY_PIXELS',
      '(0.301 megapixels); the limit is 0.3 megapixels',
    );
  });

  it('counts pixels from the header alone, whatever the orientation', async () => {
    const header = await readImageHeader(await photoJpeg(600, 400, 6), 'JPEG');
    expect(header).toEqual({
      storedWidth: 600,
      storedHeight: 400,
      width: 400,
      height: 600,
      orientation: 6,
      pages: 1,
    });
    expect(() => checkImageHeader(header, 'JPEG', { maxPixels: 240_000 })).not.toThrow();
    expect(() => checkImageHeader(header, 'JPEG', { maxPixels: 239_999 })).toThrow(/megapixels/);
  });
});

describe('bytes after the image', () => {
  const junk = new TextEncoder().encode('<?php echo "not a picture"; ?>');

  it('refuses a PNG with bytes after IEND', async () => {
    await expectRejection(
      inspectImage(concat([png(400, 400), junk]), 'png', limits),
      'IMAGE_TRAILING_DATA',
      `${junk.length} bytes of something else after its end`,
    );
  });

  it('refuses a JPEG with bytes after its end-of-image marker', async () => {
    await expectRejection(
      inspectImage(concat([jpeg(400, 400), junk]), 'jpg', limits),
      'IMAGE_TRAILING_DATA',
      'after its end',
    );
  });

  it('refuses a WebP with bytes beyond the size its RIFF header gives', async () => {
    await expectRejection(
      inspectImage(concat([webp(400, 400), junk]), 'webp', limits),
      'IMAGE_TRAILING_DATA',
      'save it again as a new JPEG or PNG',
    );
  });

  it('accepts what phones legitimately append to a JPEG, and zero padding after any image', async () => {
    const photo = jpeg(400, 400);
    // A Multi-Picture file's second image, and a Motion Photo's MP4 video.
    await expect(inspectImage(concat([photo, jpeg(320, 240)]), 'jpg', limits)).resolves.toBeDefined();
    const video = concat([
      Uint8Array.of(0, 0, 0, 24),
      new TextEncoder().encode('ftypmp42'),
      new Uint8Array(12),
    ]);
    await expect(inspectImage(concat([photo, video]), 'jpg', limits)).resolves.toBeDefined();
    const samsung = concat([
      new TextEncoder().encode('\0\0\x0a\0Image_UTC_Data1700000000000'),
      new TextEncoder().encode('SEFHSEFT'),
    ]);
    await expect(inspectImage(concat([photo, samsung]), 'jpg', limits)).resolves.toBeDefined();
    await expect(
      inspectImage(concat([photo, Uint8Array.of(0xff, 0xff, 0, 0)]), 'jpg', limits),
    ).resolves.toBeDefined();
    await expect(
      inspectImage(concat([png(400, 400), new Uint8Array(64)]), 'png', limits),
    ).resolves.toBeDefined();
  });
});

/**
 * What the strict decode (`failOn: 'warning'`) means for the JPEGs people upload, class by class. Checked with
 * sharp's own warnings: the classes a phone or camera produces decode without a single warning and are accepted;
 * every class that makes libjpeg warn is damage to the picture (grey-filled or garbled rows), refused. Extra bytes
 * between header segments are refused earlier, by the structure check (`jpegProblem`).
 */
describe('JPEG classes under the strict decode', () => {
  const withSegment = (photo: Uint8Array, marker: number, body: Uint8Array) =>
    concat([
      photo.subarray(0, 2),
      Uint8Array.of(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff),
      body,
      photo.subarray(2),
    ]);
  const beforeEnd = (photo: Uint8Array, padding: Uint8Array) =>
    concat([photo.subarray(0, photo.length - 2), padding, photo.subarray(photo.length - 2)]);
  /** Warnings libvips reports while decoding the whole image at sharp's most lenient level. */
  async function decoderWarnings(bytes: Uint8Array): Promise<string[]> {
    const warnings: string[] = [];
    const image = sharp(bytes, { failOn: 'none' });
    image.on('warning', (w: string) => warnings.push(w));
    await image.raw().toBuffer();
    return warnings.filter((w) => w.includes('VipsJpeg'));
  }

  it.each([
    [
      'an EXIF orientation (a phone held upright)',
      async () => photoJpeg(800, 600, 6),
      { width: 600, height: 800 },
    ],
    [
      'an EXIF block no parser understands (maker notes gone wrong)',
      async () => {
        const tiff = concat([
          new TextEncoder().encode('Exif\0\0MM\0*\0\0\0\x08'),
          new Uint8Array(24).fill(0xab),
        ]);
        return withSegment(await photoJpeg(600, 800), 0xe1, tiff);
      },
      { width: 600, height: 800 },
    ],
    [
      'padding between the scan and the end-of-image marker',
      async () => beforeEnd(await photoJpeg(600, 800), new Uint8Array(16)),
      { width: 600, height: 800 },
    ],
    [
      'a JPEG written by ffmpeg (full-range YUV, its own tables)',
      async () => ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=480x640:rate=1', '-frames:v', '1'], 'jpg'),
      { width: 480, height: 640 },
    ],
  ])('accepts %s: no decoder warning', async (_name, make, displayed) => {
    const bytes = await make();
    expect(await decoderWarnings(bytes)).toEqual([]);
    await expect(prepareImage(bytes, 'jpg', limits)).resolves.toMatchObject({ info: displayed });
  });

  it.each([
    [
      'scan data cut out, end marker kept',
      async () => cutJpegScan(await photoJpeg(600, 800)),
      'premature end of data segment',
    ],
    [
      'a cut file with an end marker glued on after padding',
      async () => beforeEnd(cutJpegScan(await photoJpeg(600, 800), 0.5), new Uint8Array(16)),
      'premature end of data segment',
    ],
  ])('refuses %s, which only a warning shows', async (_name, make, warning) => {
    const bytes = await make();
    expect((await decoderWarnings(bytes)).join(' ')).toContain(warning);
    // The lenient levels decode it "fine" (grey rows where the data is missing): why FAIL_ON must be 'warning'.
    await expect(sharp(bytes, { failOn: 'error' }).raw().toBuffer()).resolves.toBeDefined();
    await expectRejection(prepareImage(bytes, 'jpg', limits), 'CORRUPT_IMAGE', warning);
  });

  it('refuses a truncated JPEG (no end marker) and extra bytes between header segments before decoding', async () => {
    const photo = await photoJpeg(600, 800);
    await expectRejection(
      prepareImage(photo.subarray(0, Math.floor(photo.length * 0.7)), 'jpg', limits),
      'CORRUPT_IMAGE',
      'end-of-image marker',
    );
    const sos = Buffer.from(photo).indexOf(Buffer.of(0xff, 0xda));
    const extra = concat([photo.subarray(0, sos), Uint8Array.of(0x12, 0x34, 0x56), photo.subarray(sos)]);
    await expectRejection(prepareImage(extra, 'jpg', limits), 'CORRUPT_IMAGE', 'marker structure is damaged');
  });
});

describe('animations', () => {
  it('refuses an animated WebP', async () => {
    await expectRejection(
      inspectImage(await animatedWebp(400, 400, 3), 'webp', limits),
      'ANIMATED_IMAGE',
      'animated (3 frames)',
      'Save the frame you want',
    );
  });

  it('refuses an animated PNG, which libvips would show as a still', async () => {
    await expectRejection(inspectImage(apng(400, 400, 4), 'png', limits), 'ANIMATED_IMAGE', '4 frames');
  });

  it('accepts a still WebP made by the same encoder', async () => {
    const still = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#c04040' } })
      .webp()
      .toBuffer();
    await expect(inspectImage(new Uint8Array(still), 'webp', limits)).resolves.toMatchObject({
      format: 'webp',
    });
  });
});

describe('orientation as displayed', () => {
  it('checks the limits on the displayed sides of an EXIF-turned photo', async () => {
    // Stored 300×760 (2.53:1, too elongated either way) and 760×300: what matters is the short side as displayed.
    await expectRejection(
      inspectImage(await photoJpeg(760, 300, 6), 'jpg', limits),
      'IMAGE_ASPECT_RATIO',
      '300×760',
    );
    // Stored 400×290, displayed 290×400: too small on the displayed short side too.
    await expectRejection(
      inspectImage(await photoJpeg(400, 290, 8), 'jpg', limits),
      'IMAGE_TOO_SMALL',
      '290×400',
    );
  });
});

describe('normalization', () => {
  it('returns a JPEG turned as displayed, with its checksum, size and sides', async () => {
    // Stored 800×600 landscape, red on top; orientation 6 shows it turned a quarter clockwise: 600×800, red on the right.
    const photo = await photoJpeg(800, 600, 6);
    const { info, normalized } = await prepareImage(photo, 'jpg', limits);
    expect(info).toEqual({
      format: 'jpeg',
      width: 600,
      height: 800,
      bytes: photo.length,
      sha256: sha256(photo),
    });
    expect(normalized).toMatchObject({
      format: 'jpeg',
      width: 600,
      height: 800,
      size: normalized.bytes.length,
    });
    expect(normalized.sha256).toBe(sha256(normalized.bytes));
    const metadata = await sharp(normalized.bytes).metadata();
    expect(metadata).toMatchObject({ format: 'jpeg', width: 600, height: 800, space: 'srgb', channels: 3 });
    expect(metadata.orientation).toBeUndefined(); // turned for real, so no tag is left to turn it again
    expect(metadata.exif).toBeUndefined();
    expect(isRed(await colourAt(normalized.bytes, 500, 400))).toBe(true);
    expect(isBlue(await colourAt(normalized.bytes, 100, 400))).toBe(true);
  });

  it('never modifies the input', async () => {
    const photo = await photoJpeg(800, 600, 6);
    const copy = Uint8Array.from(photo);
    await prepareImage(photo, 'jpg', limits);
    expect(Buffer.from(photo).equals(Buffer.from(copy))).toBe(true);
  });

  it('makes a JPEG of a PNG and a WebP, keeping small images as they are', async () => {
    for (const [bytes, ext] of [
      [png(400, 600), 'png'],
      [webp(450, 300), 'webp'],
    ] as const) {
      const { info, normalized } = await prepareImage(bytes, ext, limits);
      expect(normalized).toMatchObject({ format: 'jpeg', width: info.width, height: info.height });
      expect((await sharp(normalized.bytes).metadata()).format).toBe('jpeg');
    }
  });

  it('scales the long side down to 4096 px, keeping the aspect ratio and never going under 300 px', async () => {
    const wide = png(10_000, 4_000);
    const { normalized } = await prepareImage(wide, 'png', limits);
    expect([normalized.width, normalized.height]).toEqual([4096, 1638]);
    // A relaxed aspect limit could make the short side fall under the model's minimum: the short side wins.
    const relaxed = { ...limits, maxAspectRatio: 30 };
    const strip = await prepareImage(png(9_000, 300), 'png', relaxed);
    expect([strip.normalized.width, strip.normalized.height]).toEqual([9000, 300]);
  });

  it('flattens transparency onto white', async () => {
    const clear = await sharp({
      create: { width: 400, height: 400, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const { normalized } = await prepareImage(new Uint8Array(clear), 'png', limits);
    expect((await colourAt(normalized.bytes, 200, 200)).every((c) => c > 240)).toBe(true);
  });

  it('lowers the quality until the copy fits the byte limit, and refuses when nothing fits', async () => {
    const photo = await photoJpeg(1200, 1600);
    const roomy = await prepareImage(photo, 'jpg', limits);
    const tight = { ...limits, maxNormalizedBytes: Math.floor(roomy.normalized.size * 0.7) };
    const squeezed = await prepareImage(photo, 'jpg', tight);
    expect(squeezed.normalized.size).toBeLessThanOrEqual(tight.maxNormalizedBytes);
    expect(squeezed.normalized.size).toBeLessThan(roomy.normalized.size);
    await expectRejection(
      prepareImage(photo, 'jpg', { ...limits, maxNormalizedBytes: 200 }),
      'IMAGE_TOO_COMPLEX',
      'at most 200 bytes',
    );
  });

  it('defaults to the model limits: JPEG under 10 MB, 300 px to 4096 px', () => {
    expect(DEFAULT_IMAGE_DECODE_LIMITS).toMatchObject({
      maxBytes: 10_000_000,
      minSide: 300,
      maxSide: 4096,
      quality: 90,
      maxPixels: 100_000_000,
    });
  });
});
