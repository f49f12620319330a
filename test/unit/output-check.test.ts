import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutputFormat } from '../../lambdas/core/contract/job-settings.js';
import { checkVideo, durationToleranceSeconds, outputCheckOf } from '../../lambdas/core/output-check.js';
import { type ContainerFacts, containerReader, MAX_HEADER_BYTES } from '../../lambdas/deliver/container.js';
import { FFMPEG_PATH } from '../../local/ffmpeg.js';
import { box, timedBox, trak } from '../support/mp4.js';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'output-check-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A 2 s, 64x48 clip (or only its picture or sound), written by ffmpeg. */
async function clip(
  name: string,
  format: OutputFormat,
  streams: { video: boolean; audio: boolean },
  extra: string[] = [],
) {
  const file = join(dir, name);
  const inputs = [
    ...(streams.video ? ['-f', 'lavfi', '-i', 'color=c=blue:size=64x48:rate=12'] : []),
    ...(streams.audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'] : []),
  ];
  const codecs =
    format === 'WEBM'
      ? [
          ...(streams.video ? ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8'] : []),
          ...(streams.audio ? ['-c:a', 'libopus'] : []),
          '-f',
          'webm',
        ]
      : [
          ...(streams.video ? ['-c:v', 'libx264', '-preset', 'ultrafast'] : []),
          ...(streams.audio ? ['-c:a', 'aac'] : []),
          '-f',
          format === 'MOV' ? 'mov' : 'mp4',
        ];
  await run(FFMPEG_PATH, [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    ...inputs,
    ...codecs,
    ...extra,
    '-t',
    '2',
    file,
  ]);
  return readFile(file);
}

/** Feeds `bytes` to a reader in chunks of `size` (1 byte at a time finds every boundary bug). */
function read(format: OutputFormat, bytes: Buffer, size = 4096) {
  const reader = containerReader(format);
  for (let at = 0; at < bytes.length; at += size) reader.push(bytes.subarray(at, at + size));
  return reader.finish();
}

const facts = (reading: ReturnType<typeof read>): ContainerFacts => {
  if ('unreadable' in reading) throw new Error(reading.unreadable);
  return reading;
};

describe('the container reader', () => {
  it.each([
    ['MP4 with moov first', 'MP4', ['-movflags', '+faststart']],
    ['MP4 with moov at the end', 'MP4', []],
    ['MOV', 'MOV', []],
    ['WebM', 'WEBM', []],
  ] as const)('reads tracks, length and size of an %s', async (_, format, extra) => {
    const bytes = await clip(`both-${format}-${extra.length}.bin`, format, { video: true, audio: true }, [
      ...extra,
    ]);
    for (const size of [1, 7, 65536]) {
      const got = facts(read(format, bytes, size));
      const video = got.tracks.find((t) => t.kind === 'video');
      const audio = got.tracks.find((t) => t.kind === 'audio');
      expect(video).toMatchObject({ width: 64, height: 48 });
      expect(audio).toBeDefined();
      const length = video?.durationSeconds ?? got.durationSeconds;
      expect(length).toBeGreaterThan(1.8);
      expect(length).toBeLessThan(2.2);
    }
  });

  it.each(['MP4', 'WEBM'] as const)('sees a %s without sound, and one without picture', async (format) => {
    const silent = facts(read(format, await clip(`silent.${format}`, format, { video: true, audio: false })));
    expect(silent.tracks.map((t) => t.kind)).toEqual(['video']);
    const blind = facts(read(format, await clip(`blind.${format}`, format, { video: false, audio: true })));
    expect(blind.tracks.map((t) => t.kind)).toEqual(['audio']);
  });

  it('keeps only the header: a moov larger than the bound is refused, not buffered', () => {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(MAX_HEADER_BYTES + 9, 0);
    header.write('moov', 4, 'latin1');
    expect(read('MP4', header)).toEqual({ unreadable: expect.stringContaining('larger than') });
  });

  it('skips mdat boxes of any size, 64-bit sizes included, without keeping them', () => {
    const ftyp = box('ftyp', Buffer.from('isom\0\0\0\0isom', 'latin1'));
    const big = Buffer.alloc(16);
    big.writeUInt32BE(1, 0);
    big.write('mdat', 4, 'latin1');
    big.writeBigUInt64BE(16n + 1000n, 8);
    const moov = box(
      'moov',
      Buffer.concat([
        timedBox('mvhd', 1000, 5000),
        trak('vide', 1000, 5000, 640, 360),
        trak('soun', 48000, 240000),
      ]),
    );
    const file = Buffer.concat([ftyp, big, Buffer.alloc(1000), moov]);
    expect(read('MP4', file, 3)).toEqual({
      durationSeconds: 5,
      tracks: [
        { kind: 'video', durationSeconds: 5, width: 640, height: 360 },
        { kind: 'audio', durationSeconds: 5 },
      ],
    });
  });

  it('says why when there is no header at all, or the bytes are not a container', () => {
    expect(read('MP4', box('mdat', Buffer.alloc(100)))).toEqual({
      unreadable: expect.stringContaining('no complete moov'),
    });
    expect(read('WEBM', Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x80]))).toEqual({
      unreadable: expect.stringContaining('no Tracks'),
    });
    const overrun = Buffer.alloc(8);
    overrun.writeUInt32BE(1000, 0);
    overrun.write('trak', 4, 'latin1');
    expect(read('MP4', box('moov', overrun))).toEqual({ unreadable: expect.stringContaining('malformed') });
  });
});

describe('the output check', () => {
  const tracks = (video: object | undefined, audio: object | undefined) => ({
    tracks: [
      ...(video ? [{ kind: 'video' as const, ...video }] : []),
      ...(audio ? [{ kind: 'audio' as const, ...audio }] : []),
    ],
  });
  const good = { durationSeconds: 10, width: 720, height: 720 };

  it('passes a video with picture and sound, as long as the audio within the tolerance', () => {
    expect(durationToleranceSeconds(10)).toBe(0.5);
    expect(durationToleranceSeconds(60)).toBeCloseTo(1.8);
    const ok = checkVideo('a.mp4', tracks(good, { durationSeconds: 10.02 }), 10.4);
    expect(ok.problems).toEqual([]);
    expect(ok.facts).toEqual({
      output: 'a.mp4',
      hasVideo: true,
      hasAudio: true,
      durationSeconds: 10,
      width: 720,
      height: 720,
    });
    expect(outputCheckOf([ok], 10.4)).toEqual({
      passed: true,
      expectedSeconds: 10.4,
      toleranceSeconds: 0.5,
      videos: [ok.facts],
      problems: [],
    });
  });

  it.each([
    ['shorter', tracks({ ...good, durationSeconds: 5 }, {}), ['DURATION_MISMATCH']],
    ['longer', tracks({ ...good, durationSeconds: 11 }, {}), ['DURATION_MISMATCH']],
    ['silent', tracks(good, undefined), ['NO_AUDIO_TRACK']],
    ['without picture', tracks(undefined, { durationSeconds: 10 }), ['NO_VIDEO_TRACK']],
    ['of 0x0 pixels', tracks({ durationSeconds: 10, width: 0, height: 0 }, {}), ['ZERO_DIMENSIONS']],
    ['with no size declared', tracks({ durationSeconds: 10 }, {}), ['ZERO_DIMENSIONS']],
    ['unreadable', { unreadable: 'it has no complete moov box' }, ['CONTAINER_UNREADABLE']],
  ] as const)('finds a video %s', (_, reading, codes) => {
    const { problems } = checkVideo('promo/anna.mp4', reading, 10);
    expect(problems.map((p) => p.code)).toEqual(codes);
    for (const p of problems) expect(p.message).toContain('promo/anna.mp4');
    expect(outputCheckOf([{ facts: { output: 'x' }, problems }], 10).passed).toBe(false);
  });

  it('names how much shorter the video is than the audio', () => {
    const { problems } = checkVideo('a.mp4', tracks({ ...good, durationSeconds: 5 }, {}), 10);
    expect(problems[0]?.message).toBe(
      'The video a.mp4 lasts 5.00 s but the audio lasts 10.00 s (shorter by more than the 0.50 s allowed): ' +
        'the voice may be cut off or out of step.',
    );
  });
});
