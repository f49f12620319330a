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

export const CUT_SHORT = '(the file was cut short)';

function u16be(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}
export function u32be(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}
function u32le(b: Uint8Array, at: number): number {
  return (((b[at + 3] ?? 0) << 24) | ((b[at + 2] ?? 0) << 16) | ((b[at + 1] ?? 0) << 8) | (b[at] ?? 0)) >>> 0;
}
export function ascii(b: Uint8Array, at: number, length: number): string {
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
export function promisedButHolds(promised: number, holds: number): string {
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
