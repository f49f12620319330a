/**
 * Cheap structural checks of media containers, read straight from the bytes. They answer two questions the
 * libraries do not answer reliably: "was this file cut short?" and, for the frame-based audio formats
 * (MP3, ADTS AAC), "how long is it, exactly?".
 *
 * Why not leave it all to music-metadata (11.16.1)? Measured on generated files:
 * - MP3: when the first three frames share a bitrate it assumes CBR and estimates the duration from the file size
 *   and the size of the 4th frame, even with `{ duration: true }`; padding alone makes that up to 0.25 % long
 *   (0.7 s on a 5-minute 128 kbps file), and a VBR file without a Xing header that starts with equal frames is
 *   estimated wildly wrong. A Xing frame count is trusted as is, so a cut file reports its original length.
 * - ADTS: no duration at all without `{ duration: true }`; with it, the frames in the last 163 bytes are not counted.
 * - WAV: its "Data chunk size exceeds file size" warning is raised for valid files too, so warnings cannot tell a
 *   truncated file; the duration it reports for one is clamped to what is there.
 *
 * Each check returns `undefined` when the structure is sound, or a short reason a person can read ("it ends
 * inside its IDAT chunk (the file was cut short)"), which the caller wraps into a message.
 */
import { crc32 } from 'node:zlib';
import { formatPair } from './format.js';

const CUT_SHORT = '(the file was cut short)';

function u16be(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}
function u32be(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}
function u32le(b: Uint8Array, at: number): number {
  return (((b[at + 3] ?? 0) << 24) | ((b[at + 2] ?? 0) << 16) | ((b[at + 1] ?? 0) << 8) | (b[at] ?? 0)) >>> 0;
}
function ascii(b: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...b.subarray(at, at + length));
}
const isFourCc = (id: string): boolean => /^[\x20-\x7e]{4}$/.test(id);

// ---------------------------------------------------------------------------------------------- images

/**
 * Walks the PNG chunks up to IEND. Checksums are verified on critical chunks only (upper-case first letter),
 * because that is where decoders stop too: a bad CRC on an ancillary chunk (text, colour profile) is only a warning.
 */
export function pngProblem(b: Uint8Array): string | undefined {
  let at = 8; // after the signature
  let sawImageData = false;
  while (at + 8 <= b.length) {
    const length = u32be(b, at);
    const type = ascii(b, at + 4, 4);
    if (!/^[A-Za-z]{4}$/.test(type) || length > 0x7fffffff) return `a chunk header at byte ${at} is damaged`;
    if (at === 8 && type !== 'IHDR') return 'it does not start with an IHDR chunk';
    if (at + 12 + length > b.length) return `it ends inside its ${type} chunk ${CUT_SHORT}`;
    const critical = type.charCodeAt(0) < 0x61;
    if (critical && crc32(b.subarray(at + 4, at + 8 + length)) !== u32be(b, at + 8 + length)) {
      return `its ${type} chunk fails its checksum (the data is damaged)`;
    }
    if (type === 'IDAT') sawImageData = true;
    if (type === 'IEND') return sawImageData ? undefined : 'it holds no image data (no IDAT chunk)';
    at += 12 + length;
  }
  return `it ends before its IEND chunk ${CUT_SHORT}`;
}

/** SOF markers that carry the frame size: C0..CF except DHT (C4), JPG (C8) and DAC (CC). */
const isStartOfFrame = (marker: number): boolean =>
  marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/**
 * Walks the JPEG marker segments to the first scan, then looks for the end-of-image marker after it. Byte
 * stuffing guarantees FF D9 cannot occur inside entropy-coded data, so finding it is a reliable "the file is
 * complete" test. What follows EOI is judged apart ({@link imageDataEnd}, {@link knownTrailer}); whether the scan
 * data itself is whole only a decoder can tell (see decode.ts).
 */
export function jpegProblem(b: Uint8Array): string | undefined {
  let at = 2; // after SOI
  let sawFrame = false;
  for (;;) {
    if (at + 1 >= b.length) return `it ends before its image data ${CUT_SHORT}`;
    if (b[at] !== 0xff) return `its marker structure is damaged at byte ${at}`;
    while (b[at + 1] === 0xff) at++; // fill bytes
    const marker = b[at + 1];
    if (marker === undefined) return `it ends before its image data ${CUT_SHORT}`;
    if (marker === 0xd9) return 'it holds no image data (end-of-image before any scan)';
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a length
      continue;
    }
    if (at + 4 > b.length) return `it ends before its image data ${CUT_SHORT}`;
    const length = u16be(b, at + 2);
    if (length < 2) return `its marker structure is damaged at byte ${at}`;
    if (at + 2 + length > b.length) return `it ends inside a header segment ${CUT_SHORT}`;
    if (isStartOfFrame(marker)) sawFrame = true;
    if (marker === 0xda) {
      if (!sawFrame) return 'it has no frame header before its image data';
      const scanStart = at + 2 + length;
      const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      return view.indexOf(END_OF_IMAGE, scanStart) === -1
        ? `it ends before its end-of-image marker ${CUT_SHORT}`
        : undefined;
    }
    at += 2 + length;
  }
}
const END_OF_IMAGE = Buffer.of(0xff, 0xd9);

/**
 * Where the image data of a structurally sound file ends (just after PNG's IEND chunk, JPEG's end-of-image marker,
 * or the size a WebP's RIFF header declares), or `undefined` when it cannot be found (the structure checks above
 * say why). Decoders stop there and ignore anything after it, which is how a PNG with a second file glued to it
 * decodes "fine" in one program and trips another.
 */
export function imageDataEnd(b: Uint8Array, format: 'jpeg' | 'png' | 'webp'): number | undefined {
  if (format === 'webp') {
    const size = u32le(b, 4);
    return 8 + size + (size & 1);
  }
  if (format === 'png') {
    for (let at = 8; at + 12 <= b.length; at += 12 + u32be(b, at)) {
      if (ascii(b, at + 4, 4) === 'IEND') return at + 12;
    }
    return undefined;
  }
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const scan = jpegFirstScan(b);
  if (scan === undefined) return undefined;
  const eoi = view.indexOf(END_OF_IMAGE, scan);
  return eoi === -1 ? undefined : eoi + 2;
}

/** Offset of the first scan's entropy-coded data, or `undefined` when the markers before it are damaged. */
function jpegFirstScan(b: Uint8Array): number | undefined {
  let at = 2;
  while (at + 4 <= b.length && b[at] === 0xff) {
    while (b[at + 1] === 0xff) at++;
    const marker = b[at + 1] ?? 0;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const length = u16be(b, at + 2);
    if (marker === 0xda) return at + 2 + length;
    if (length < 2) return undefined;
    at += 2 + length;
  }
  return undefined;
}

/**
 * What follows the image data, when it is something an image file may legitimately carry there: zero padding
 * (some writers pad to a block size) and, after a JPEG, fill bytes, the second picture of a Multi-Picture (MPF)
 * file (Ultra HDR gain maps too), the video of a Motion Photo, or a Samsung camera trailer: phones append these. `undefined` means the bytes are something else: another
 * file glued on, or garbage.
 */
export function knownTrailer(trailer: Uint8Array, format: 'jpeg' | 'png' | 'webp'): string | undefined {
  if (trailer.every((byte) => byte === 0)) return 'zero padding';
  if (format !== 'jpeg') return undefined;
  if (trailer.every((byte) => byte === 0 || byte === 0xff)) return 'fill bytes';
  if (trailer[0] === 0xff && trailer[1] === 0xd8 && trailer[2] === 0xff) return 'an embedded picture';
  if (ascii(trailer, 4, 4) === 'ftyp') return 'a Motion Photo video';
  // Samsung cameras append their own data after EOI, ending with a "SEFT" signature.
  if (ascii(trailer, trailer.length - 4, 4) === 'SEFT') return 'a Samsung camera trailer';
  return undefined;
}

/**
 * The number of frames an animated PNG (APNG) declares in its `acTL` chunk, or 1 for a still PNG. Decoders that
 * do not know APNG show its default image; the others play it.
 */
export function pngFrameCount(b: Uint8Array): number {
  for (let at = 8; at + 12 <= b.length; at += 12 + u32be(b, at)) {
    const type = ascii(b, at + 4, 4);
    if (type === 'acTL') return u32be(b, at + 8);
    if (type === 'IDAT' || type === 'IEND') return 1; // acTL must come before the image data
  }
  return 1;
}

/** Checks the RIFF size against the file and walks the WebP chunks inside it. */
export function webpProblem(b: Uint8Array): string | undefined {
  if (b.length < 20) return `it ends inside its header ${CUT_SHORT}`;
  const end = 8 + u32le(b, 4);
  if (end > b.length) return `it is ${b.length} bytes but its header says ${end} ${CUT_SHORT}`;
  let at = 12;
  let sawImageData = false;
  while (at + 8 <= end) {
    const id = ascii(b, at, 4);
    const size = u32le(b, at + 4);
    if (!isFourCc(id)) return `a chunk header at byte ${at} is damaged`;
    if (at === 12 && id !== 'VP8 ' && id !== 'VP8L' && id !== 'VP8X')
      return 'it does not start with an image chunk';
    if (at + 8 + size > end) return `it ends inside its ${id.trim()} chunk ${CUT_SHORT}`;
    if (id === 'VP8 ' || id === 'VP8L' || id === 'ANMF') sawImageData = true;
    at += 8 + size + (size & 1);
  }
  return sawImageData ? undefined : 'it holds no image data';
}

// ----------------------------------------------------------------------------------------------- audio

/** "its header promises 3.00 s of sound but the file holds only 2.996 s": never the same number twice. */
function promisedButHolds(promised: number, holds: number): string {
  const [held, declared] = formatPair(holds, promised);
  return `its header promises ${declared} s of sound but the file holds only ${held} s ${CUT_SHORT}`;
}

/**
 * Walks the RIFF chunks of a WAV to its `data` chunk and compares the size the header declares with the bytes
 * present. A data size of 0xFFFFFFFF is what ffmpeg and other streaming writers leave when they cannot seek back:
 * "until the end of the file", not a truncation.
 */
export function wavProblem(b: Uint8Array): string | undefined {
  let at = 12;
  let byteRate: number | undefined;
  while (at + 8 <= b.length) {
    const id = ascii(b, at, 4);
    const size = u32le(b, at + 4);
    if (!isFourCc(id)) return `a chunk header at byte ${at} is damaged`;
    const available = b.length - (at + 8);
    if (id === 'data') {
      if (byteRate === undefined) return 'its audio data comes before its format chunk';
      if (size !== 0xffffffff && size > available) {
        if (byteRate === 0) return `its audio data ends early ${CUT_SHORT}`;
        return promisedButHolds(size / byteRate, available / byteRate);
      }
      return size === 0xffffffff ? undefined : wavTailProblem(b, at + 8 + size + (size & 1));
    }
    if (size > available) return `it ends inside its '${id.trim()}' chunk ${CUT_SHORT}`;
    if (id === 'fmt ') {
      if (size < 16) return 'its format chunk is damaged';
      byteRate = u32le(b, at + 8 + 8);
    }
    at += 8 + size + (size & 1);
  }
  return byteRate === undefined
    ? `it ends before its format chunk ${CUT_SHORT}`
    : 'it holds no audio data (no data chunk)';
}

/**
 * Walks the chunks after a WAV's audio data to the end of the file: tags (LIST, id3) are fine, another RIFF file
 * is two files joined together, of which players play the first only (and the model would hear that much).
 */
function wavTailProblem(b: Uint8Array, from: number): string | undefined {
  let at = from;
  while (at + 8 <= b.length) {
    const id = ascii(b, at, 4);
    const size = u32le(b, at + 4);
    if (id === 'RIFF') return JOINED('another WAV file follows its audio data');
    if (!isFourCc(id))
      return `the bytes after its audio data (byte ${at}) are not WAV chunks (the file is damaged)`;
    if (at + 8 + size > b.length) return `it ends inside its '${id.trim()}' chunk ${CUT_SHORT}`;
    at += 8 + size + (size & 1);
  }
  return undefined;
}

/** "…: files were joined together, and players play only the first. Join them in an audio editor…" */
const JOINED = (what: string): string =>
  `${what}: several files were joined together, and players stop after the first. Combine them in an audio ` +
  'editor and export one file';

/**
 * Walks the top-level boxes of an ISO BMFF file (MP4, M4A): every box must fit in the file and a `moov` box must be
 * there. A cut upload almost always ends inside `mdat`, which music-metadata does not look into.
 */
export function isoBmffProblem(b: Uint8Array): string | undefined {
  let at = 0;
  let sawMovie = false;
  while (at + 8 <= b.length) {
    let size = u32be(b, at);
    const type = ascii(b, at + 4, 4);
    let headerSize = 8;
    if (!isFourCc(type)) return `a box header at byte ${at} is damaged`;
    if (size === 1) {
      if (at + 16 > b.length) return `it ends inside its '${type}' box header ${CUT_SHORT}`;
      size = u32be(b, at + 8) * 2 ** 32 + u32be(b, at + 12);
      headerSize = 16;
    } else if (size === 0) {
      size = b.length - at; // "extends to the end of the file"
    }
    if (size < headerSize) return `a box header at byte ${at} is damaged`;
    if (at + size > b.length) return `it ends inside its '${type}' box ${CUT_SHORT}`;
    if (type === 'moov') {
      if (sawMovie) return JOINED('it holds a second movie header (moov box)');
      sawMovie = true;
    }
    at += size;
  }
  return sawMovie ? undefined : 'it has no movie header (moov box)';
}

/**
 * Checks that the file is a sequence of complete Ogg pages holding one logical stream. A beginning-of-stream page after
 * the data has begun makes a chained file (files joined together): the Ogg spec allows it, but its duration is the sum of the
 * links while many decoders play the first one only, so it is refused rather than guessed.
 */
export function oggProblem(b: Uint8Array): string | undefined {
  let at = 0;
  let sawData = false; // a page that is not a beginning-of-stream page (multiplexed streams all begin first)
  while (at < b.length) {
    if (at + 27 > b.length) return `it ends inside a page header ${CUT_SHORT}`;
    if (ascii(b, at, 4) !== 'OggS') return `its page structure is damaged at byte ${at}`;
    const beginsStream = ((b[at + 5] ?? 0) & 0x02) !== 0;
    if (beginsStream && sawData) return JOINED(`it holds a second audio stream from byte ${at}`);
    if (!beginsStream) sawData = true;
    const segments = b[at + 26] ?? 0;
    if (at + 27 + segments > b.length) return `it ends inside a page header ${CUT_SHORT}`;
    let body = 0;
    for (let i = 0; i < segments; i++) body += b[at + 27 + i] ?? 0;
    if (at + 27 + segments + body > b.length) return `it ends inside its last page ${CUT_SHORT}`;
    at += 27 + segments + body;
  }
  return undefined;
}

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
