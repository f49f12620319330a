/**
 * Frame walks of the audio formats without a container (MP3, ADTS AAC): every frame from the first to the last,
 * across ID3v2/ID3v1 tags and Xing/Info frames in mid-stream (files joined together), so a duration is measured
 * over the whole stream and a stream that cannot be walked to its end is found before anything is paid for.
 */
import { ascii, CUT_SHORT, promisedButHolds, u32be } from './structure.js';

/** Length of the ID3v2 tag at `at` (header, body and footer), or 0 when none starts there. */
function id3v2Length(b: Uint8Array, at: number): number {
  if (at + 10 > b.length || ascii(b, at, 3) !== 'ID3') return 0;
  const size =
    ((b[at + 6] ?? 0) << 21) | ((b[at + 7] ?? 0) << 14) | ((b[at + 8] ?? 0) << 7) | (b[at + 9] ?? 0);
  const hasFooter = ((b[at + 5] ?? 0) & 0x10) !== 0;
  return 10 + size + (hasFooter ? 10 : 0);
}

/**
 * Length of a tag at `at` that can sit between or after frames: an ID3v2 tag (files joined together each keep
 * theirs) or an ID3v1 tag (128 bytes). An APEv2 or Lyrics3 tag is `'end'`: they only ever close a file.
 * 0 when no tag starts there.
 */
function tagLength(b: Uint8Array, at: number): number | 'end' {
  // Called on every byte of junk between frames: look at one byte before building any string.
  const first = b[at];
  if (first !== 0x54 && first !== 0x49 && first !== 0x41 && first !== 0x4c) return 0; // T I A L
  if (first === 0x49) return id3v2Length(b, at);
  if (ascii(b, at, 3) === 'TAG') return 128;
  if (ascii(b, at, 8) === 'APETAGEX' || ascii(b, at, 11) === 'LYRICSBEGIN') return 'end';
  return 0;
}

/** Duration of a frame-based audio stream, measured by walking its frames. */
export interface FrameWalk {
  /** Audio frames found (a Xing/Info/VBRI header frame is not audio and not counted). */
  frames: number;
  durationSeconds: number;
  /** Set when the stream's own header says how long it should be and the file holds clearly less. */
  problem?: string;
}

const MP3_BITRATES_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MP3_BITRATES_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const MP3_SAMPLE_RATES: Record<number, readonly number[]> = {
  3: [44_100, 48_000, 32_000], // MPEG-1
  2: [22_050, 24_000, 16_000], // MPEG-2
  0: [11_025, 12_000, 8_000], // MPEG-2.5
};

interface Mp3Frame {
  length: number;
  samples: number;
  sampleRate: number;
  /** Offset of the Xing/Info tag from the frame start: after the header, the CRC and the side information. */
  xingOffset: number;
}

/** Parses an MPEG audio Layer III frame header. Free-format and reserved values are not frames. */
function mp3FrameAt(b: Uint8Array, at: number): Mp3Frame | undefined {
  const b1 = b[at + 1] ?? 0;
  const b2 = b[at + 2] ?? 0;
  const b3 = b[at + 3] ?? 0;
  if (b[at] !== 0xff || (b1 & 0xe0) !== 0xe0 || at + 4 > b.length) return undefined;
  const version = (b1 >> 3) & 3;
  if (version === 1 || ((b1 >> 1) & 3) !== 1) return undefined; // reserved version, or not Layer III
  const mpeg1 = version === 3;
  const kbps = (mpeg1 ? MP3_BITRATES_V1 : MP3_BITRATES_V2)[b2 >> 4];
  const sampleRate = MP3_SAMPLE_RATES[version]?.[(b2 >> 2) & 3];
  if (!kbps || !sampleRate) return undefined;
  const padding = (b2 >> 1) & 1;
  const mono = b3 >> 6 === 3;
  const sideInfo = mpeg1 ? (mono ? 17 : 32) : mono ? 9 : 17;
  const hasCrc = (b1 & 1) === 0;
  return {
    length: Math.floor(((mpeg1 ? 144 : 72) * kbps * 1000) / sampleRate) + padding,
    samples: mpeg1 ? 1152 : 576,
    sampleRate,
    xingOffset: 4 + (hasCrc ? 2 : 0) + sideInfo,
  };
}

/** Frame count from a Xing/Info or VBRI header frame (`null` when it has no count), or `undefined` when not one. */
function declaredMp3Frames(b: Uint8Array, at: number, frame: Mp3Frame): number | null | undefined {
  const tag = ascii(b, at + frame.xingOffset, 4);
  if (tag === 'Xing' || tag === 'Info') {
    return (u32be(b, at + frame.xingOffset + 4) & 1) !== 0 ? u32be(b, at + frame.xingOffset + 8) : null;
  }
  if (ascii(b, at + 36, 4) === 'VBRI') return u32be(b, at + 36 + 14);
  return undefined;
}

/** The part of a frame header the walk needs. */
interface StreamFrame {
  length: number;
  seconds: number;
}

/**
 * Walks a stream of self-delimiting frames from the first byte to the last, every frame, across tags in the
 * middle (several files joined together keep their ID3 tags and Xing frames). Junk before the first frame is
 * skipped, as players do; after a gap (and at the start) a sync pattern only counts when another frame, the end of
 * the file or a tag follows it, since random bytes match a 12-bit sync every few KiB. A last frame cut in the
 * middle is ignored: harmless, and rejecting it would make the check fragile. Anything else that is not a frame
 * or a tag after the first frame (runs of zero bytes aside) means the stream cannot be followed to its end: a
 * `problem`, since what a player makes of it cannot be known.
 * @param headerFrame - sees the first frame of each run (at the start, after a tag or a gap); returning true
 *   consumes it as a header frame (Xing, Info, VBRI) instead of audio.
 */
function walkFrames<F extends StreamFrame>(
  b: Uint8Array,
  frameAt: (b: Uint8Array, at: number) => F | undefined,
  headerBytes: number,
  headerFrame?: (frame: F, at: number, framesSoFar: number) => boolean,
): FrameWalk {
  let at = 0;
  let frames = 0;
  let seconds = 0;
  let synced = false;
  let runStart = true;
  let gap: { at: number; bytes: number } | undefined; // first stretch of non-zero junk after the first frame
  let gapAt = -1;
  let overrun: number | undefined; // where a tag that claims more bytes than the file has begins
  while (at + Math.min(headerBytes, 3) <= b.length) {
    const tag = tagLength(b, at);
    if (tag === 'end') break;
    if (tag > 0) {
      // A tag running past the end hides whatever it covers: the rest of the stream cannot be checked.
      if (at + tag > b.length && frames > 0 && !overrun) overrun = at;
      at += tag;
      synced = false;
      runStart = true;
      gapAt = -1;
      continue;
    }
    const frame = at + headerBytes <= b.length ? frameAt(b, at) : undefined;
    const next = frame ? at + frame.length : 0;
    let confirmed = frame !== undefined && synced;
    if (frame && !synced) {
      confirmed =
        next <= b.length &&
        (next + headerBytes > b.length || frameAt(b, next) !== undefined || tagLength(b, next) !== 0);
    }
    if (!frame || !confirmed) {
      if (frames > 0 && b[at] !== 0) {
        if (gapAt === -1) gapAt = at;
        if (!gap || gap.at === gapAt) gap = { at: gapAt, bytes: at - gapAt + 1 };
      }
      synced = false;
      runStart = true;
      at++;
      continue;
    }
    gapAt = -1;
    synced = true;
    if (next > b.length) break;
    if (runStart) {
      runStart = false;
      if (headerFrame?.(frame, at, frames)) {
        at = next;
        continue;
      }
    }
    frames++;
    seconds += frame.seconds;
    at = next;
  }
  const walk: FrameWalk = { frames, durationSeconds: seconds };
  if (overrun !== undefined)
    walk.problem = `it ends inside the tag that starts at byte ${overrun} ${CUT_SHORT}`;
  else if (gap) {
    walk.problem =
      `${gap.bytes === 1 ? '1 byte' : `${gap.bytes} bytes`} at byte ${gap.at} are not audio frames, so its sound ` +
      'cannot be followed to the end (the file is damaged there)';
  }
  return walk;
}

/**
 * Measures an MP3 by walking all its frames: exact for CBR and VBR alike (encoder delay and padding, about 0.05 s,
 * are included), and for files joined together. When a Xing/Info/VBRI header declares a frame count and the run
 * of frames it heads holds clearly fewer, the file was cut short.
 */
export function walkMp3(b: Uint8Array): FrameWalk {
  const runs: { frames: number; seconds: number; found: number }[] = [];
  const walk = walkFrames(
    b,
    (bytes, at) => {
      const frame = mp3FrameAt(bytes, at);
      return frame && { ...frame, seconds: frame.samples / frame.sampleRate };
    },
    4,
    (frame, at, found) => {
      const declared = declaredMp3Frames(b, at, frame);
      if (declared === undefined) return false;
      if (declared !== null) {
        runs.push({ frames: declared, seconds: (declared * frame.samples) / frame.sampleRate, found });
      }
      return true;
    },
  );
  // Frames counted after each header, up to the next header: what the run it heads really holds.
  runs.forEach((run, i) => {
    const holds = (runs[i + 1]?.found ?? walk.frames) - run.found;
    if (run.frames - holds > Math.max(2, run.frames * 0.01) && !walk.problem) {
      walk.problem = promisedButHolds(run.seconds, (run.seconds * holds) / run.frames);
    }
  });
  return walk;
}

const ADTS_SAMPLE_RATES = [
  96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000, 7_350,
];

/** Parses an ADTS frame header (MPEG-2 or MPEG-4 AAC, layer 0). */
function adtsFrameAt(b: Uint8Array, at: number): StreamFrame | undefined {
  if (b[at] !== 0xff || ((b[at + 1] ?? 0) & 0xf6) !== 0xf0 || at + 7 > b.length) return undefined;
  const sampleRate = ADTS_SAMPLE_RATES[((b[at + 2] ?? 0) >> 2) & 0x0f];
  const length = (((b[at + 3] ?? 0) & 0x03) << 11) | ((b[at + 4] ?? 0) << 3) | ((b[at + 5] ?? 0) >> 5);
  if (!sampleRate || length < 7) return undefined;
  const blocks = ((b[at + 6] ?? 0) & 0x03) + 1;
  return { length, seconds: (blocks * 1024) / sampleRate };
}

/**
 * Measures an ADTS AAC stream by walking its frames (1024 samples per raw data block at the core sample rate,
 * which stays right for HE-AAC too). ADTS has no global header, so a cut file cannot be told from a short one.
 */
export function walkAdts(b: Uint8Array): FrameWalk {
  return walkFrames(b, adtsFrameAt, 7);
}
