import type { OutputFormat } from '../core/contract/job-settings.js';

/**
 * Reads what a person notices first about a video (is there a picture, is there sound, how long, how big) from its
 * container header while the video streams through deliver, in bounded memory and without ffmpeg (Lambda has
 * none). Only the header is kept: the MP4/MOV `moov` box (wherever it is in the file: before or after `mdat`),
 * and WebM's `Info` and `Tracks` elements; every other byte is counted and dropped as it passes.
 *
 * Why not a library: music-metadata (already a dependency) reports for MP4 only whether video and audio tracks
 * exist and the first audio track's duration (no dimensions, no video duration); mp4box.js parses far more than
 * this needs and does not read WebM. The boxes and elements read here are few and fixed by ISO/IEC 14496-12
 * (`mvhd`, `tkhd`, `mdhd`, `hdlr`) and the Matroska spec (`Info`, `Tracks`).
 */

/** One track as its container declares it. */
export interface TrackFacts {
  kind: 'video' | 'audio' | 'other';
  /** Seconds, when the container says (0 or absent: unknown). */
  durationSeconds?: number;
  /** Pixels, for a video track. */
  width?: number;
  height?: number;
}

/** What the container declares. */
export interface ContainerFacts {
  tracks: TrackFacts[];
  /** The whole presentation's duration in seconds, when declared. */
  durationSeconds?: number;
}

/** Largest header kept in memory: a `moov` of a long 60 fps video is a few MB; nothing real comes near this. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

/** Feeds a video's bytes in order; {@link ContainerReader.finish} then says what the container declares. */
export interface ContainerReader {
  push(chunk: Buffer): void;
  /** The facts, or why they could not be read (no header found, a header too large, malformed). */
  finish(): ContainerFacts | { unreadable: string };
}

export function containerReader(format: OutputFormat): ContainerReader {
  return format === 'WEBM' ? new EbmlReader() : new IsoBmffReader();
}

/**
 * Walks top-level boxes: an 8-byte header (or 16 with a 64-bit size), then the body, which is kept only for
 * `moov` and skipped otherwise.
 */
class IsoBmffReader implements ContainerReader {
  private pending = Buffer.alloc(0);
  /** Bytes of the current box's body still to skip. */
  private skip = 0;
  /** The `moov` body being collected, and how many bytes of it are still to come. */
  private moov: Buffer[] | undefined;
  private moovRemaining = 0;
  private moovBody: Buffer | undefined;
  private failure: string | undefined;
  /** Set by a box whose size is 0: it runs to the end of the file. */
  private toEnd = false;

  push(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0 && !this.failure && !this.toEnd) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
        continue;
      }
      if (this.moov) {
        const n = Math.min(this.moovRemaining, data.length);
        this.moov.push(data.subarray(0, n));
        this.moovRemaining -= n;
        data = data.subarray(n);
        if (this.moovRemaining === 0) {
          this.moovBody = Buffer.concat(this.moov);
          this.moov = undefined;
        }
        continue;
      }
      // A box header: at most 16 bytes are held across chunks.
      this.pending = Buffer.concat([this.pending, data]);
      data = Buffer.alloc(0);
      if (this.pending.length < 8) return;
      let size = this.pending.readUInt32BE(0);
      const type = this.pending.toString('latin1', 4, 8);
      let header = 8;
      if (size === 1) {
        if (this.pending.length < 16) return;
        size = Number(this.pending.readBigUInt64BE(8));
        header = 16;
      }
      const rest = this.pending.subarray(header);
      this.pending = Buffer.alloc(0);
      if (size === 0) {
        if (type === 'moov') this.failure = 'its moov box runs to the end of the file, without a size';
        this.toEnd = true;
        return;
      }
      if (size < header) {
        this.failure = `its ${printable(type)} box declares ${size} bytes, less than its own header`;
        return;
      }
      const body = size - header;
      if (type === 'moov' && this.moovBody === undefined) {
        if (body > MAX_HEADER_BYTES) {
          this.failure = `its moov box (${body} bytes) is larger than the ${MAX_HEADER_BYTES} bytes read`;
          return;
        }
        this.moov = [];
        this.moovRemaining = body;
        if (body === 0) {
          this.moovBody = Buffer.alloc(0);
          this.moov = undefined;
        }
      } else {
        this.skip = body;
      }
      data = rest;
    }
  }

  finish(): ContainerFacts | { unreadable: string } {
    if (this.failure) return { unreadable: this.failure };
    if (!this.moovBody)
      return { unreadable: 'it has no complete moov box (the header that lists its tracks)' };
    try {
      return readMoov(this.moovBody);
    } catch (error) {
      return { unreadable: `its moov box is malformed (${(error as Error).message})` };
    }
  }
}

/** The child boxes of a box body, by type (first of each type wins, except `trak`, which is listed). */
function children(body: Buffer): { type: string; body: Buffer }[] {
  const out: { type: string; body: Buffer }[] = [];
  let at = 0;
  while (at + 8 <= body.length) {
    let size = body.readUInt32BE(at);
    const type = body.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      if (at + 16 > body.length) break;
      size = Number(body.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) {
      size = body.length - at;
    }
    if (size < header || at + size > body.length)
      throw new Error(`box ${printable(type)} overruns its parent`);
    out.push({ type, body: body.subarray(at + header, at + size) });
    at += size;
  }
  return out;
}

const child = (body: Buffer, type: string) => children(body).find((c) => c.type === type)?.body;

function readMoov(moov: Buffer): ContainerFacts {
  const boxes = children(moov);
  const mvhd = boxes.find((b) => b.type === 'mvhd')?.body;
  const tracks = boxes.filter((b) => b.type === 'trak').map((trak) => readTrak(trak.body));
  const facts: ContainerFacts = { tracks };
  if (mvhd) {
    const { timescale, duration } = timed(mvhd);
    if (timescale > 0 && duration > 0) facts.durationSeconds = duration / timescale;
  }
  return facts;
}

/** `mvhd` and `mdhd` share the layout of their first fields: version, times, timescale, duration. */
function timed(box: Buffer): { timescale: number; duration: number } {
  const version = box.readUInt8(0);
  if (version === 1) return { timescale: box.readUInt32BE(20), duration: Number(box.readBigUInt64BE(24)) };
  return { timescale: box.readUInt32BE(12), duration: box.readUInt32BE(16) };
}

function readTrak(trak: Buffer): TrackFacts {
  const mdia = child(trak, 'mdia');
  const hdlr = mdia && child(mdia, 'hdlr');
  // hdlr: version and flags (4), pre_defined / QuickTime component type (4), then the handler type.
  const handler = hdlr && hdlr.length >= 12 ? hdlr.toString('latin1', 8, 12) : '';
  const kind = handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other';
  const track: TrackFacts = { kind };
  const mdhd = mdia && child(mdia, 'mdhd');
  if (mdhd) {
    const { timescale, duration } = timed(mdhd);
    // A duration of all ones means "unknown" (ISO/IEC 14496-12); 0 is a fragmented file's empty moov.
    if (timescale > 0 && duration > 0 && duration !== 0xffffffff)
      track.durationSeconds = duration / timescale;
  }
  const tkhd = child(trak, 'tkhd');
  if (kind === 'video' && tkhd) {
    // Width and height (16.16 fixed point) end the box: 76 and 80 bytes in for version 0, 88 and 92 for 1.
    const at = tkhd.readUInt8(0) === 1 ? 88 : 76;
    if (tkhd.length >= at + 8) {
      track.width = tkhd.readUInt32BE(at) / 65536;
      track.height = tkhd.readUInt32BE(at + 4) / 65536;
    }
  }
  return track;
}

const printable = (type: string) => JSON.stringify(type.replace(/[^\x20-\x7e]/g, '?'));

// ------------------------------------------------------------------------------------------------ WebM

const EBML_ID = {
  segment: 0x18538067,
  info: 0x1549a966,
  tracks: 0x1654ae6b,
  timecodeScale: 0x2ad7b1,
  duration: 0x4489,
  trackEntry: 0xae,
  trackType: 0x83,
  video: 0xe0,
  pixelWidth: 0xb0,
  pixelHeight: 0xba,
} as const;

/** Elements whose body is read whole (small: a few hundred bytes in any real file). */
const KEPT = new Set<number>([EBML_ID.info, EBML_ID.tracks]);

/**
 * Walks EBML elements flat: the Segment (and any element of unknown size, such as a live-written Cluster) is
 * entered rather than skipped, Info and Tracks are kept, everything else is skipped by its size.
 */
class EbmlReader implements ContainerReader {
  private pending = Buffer.alloc(0);
  private skip = 0;
  private kept: { id: number; parts: Buffer[]; remaining: number } | undefined;
  private readonly bodies = new Map<number, Buffer>();
  private failure: string | undefined;

  push(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0 && !this.failure) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
        continue;
      }
      if (this.kept) {
        const n = Math.min(this.kept.remaining, data.length);
        this.kept.parts.push(data.subarray(0, n));
        this.kept.remaining -= n;
        data = data.subarray(n);
        if (this.kept.remaining === 0) {
          if (!this.bodies.has(this.kept.id)) this.bodies.set(this.kept.id, Buffer.concat(this.kept.parts));
          this.kept = undefined;
        }
        continue;
      }
      this.pending = Buffer.concat([this.pending, data]);
      data = Buffer.alloc(0);
      const id = readVint(this.pending, 0, true);
      if (!id) {
        this.incompleteOrBad(4);
        return;
      }
      const size = readVint(this.pending, id.length, false);
      if (!size) {
        this.incompleteOrBad(12);
        return;
      }
      const rest = this.pending.subarray(id.length + size.length);
      this.pending = Buffer.alloc(0);
      if (id.value === EBML_ID.segment || size.unknown) {
        // Entered: its children follow as if they were top-level elements.
      } else if (KEPT.has(id.value)) {
        if (size.value > MAX_HEADER_BYTES) {
          this.failure = `its header element (${size.value} bytes) is larger than the ${MAX_HEADER_BYTES} bytes read`;
          return;
        }
        this.kept = { id: id.value, parts: [], remaining: size.value };
        if (size.value === 0) {
          this.bodies.set(id.value, Buffer.alloc(0));
          this.kept = undefined;
        }
      } else {
        this.skip = size.value;
      }
      data = rest;
    }
  }

  /** An element header split across chunks waits for more bytes; one longer than EBML allows is malformed. */
  private incompleteOrBad(longest: number): void {
    if (this.pending.length >= longest || (this.pending.length > 0 && this.pending[0] === 0)) {
      this.failure = 'its EBML structure is malformed';
    }
  }

  finish(): ContainerFacts | { unreadable: string } {
    if (this.failure) return { unreadable: this.failure };
    const tracks = this.bodies.get(EBML_ID.tracks);
    if (!tracks) return { unreadable: 'it has no Tracks element (the header that lists its tracks)' };
    try {
      const facts: ContainerFacts = { tracks: readTracks(tracks) };
      const info = this.bodies.get(EBML_ID.info);
      const duration = info && readDuration(info);
      if (duration !== undefined && duration > 0) facts.durationSeconds = duration;
      return facts;
    } catch (error) {
      return { unreadable: `its header is malformed (${(error as Error).message})` };
    }
  }
}

/** An EBML variable-length integer at `at`; undefined when the buffer ends first (or the first byte is 0). */
function readVint(
  buffer: Buffer,
  at: number,
  keepMarker: boolean,
): { value: number; length: number; unknown: boolean } | undefined {
  const first = buffer[at];
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23; // leading zeros within the byte, plus one
  if (at + length > buffer.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const byte = buffer[at + i] ?? 0;
    value = value * 256 + byte;
    if (byte !== 0xff) allOnes = false;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

/** The elements of an EBML body, in order. */
function elements(body: Buffer): { id: number; body: Buffer }[] {
  const out: { id: number; body: Buffer }[] = [];
  let at = 0;
  while (at < body.length) {
    const id = readVint(body, at, true);
    const size = id && readVint(body, at + id.length, false);
    if (!id || !size || size.unknown) throw new Error('an element header is cut short');
    const start = at + id.length + size.length;
    if (start + size.value > body.length) throw new Error('an element overruns its parent');
    out.push({ id: id.value, body: body.subarray(start, start + size.value) });
    at = start + size.value;
  }
  return out;
}

function readUint(body: Buffer): number {
  let value = 0;
  for (const byte of body) value = value * 256 + byte;
  return value;
}

function readFloat(body: Buffer): number | undefined {
  if (body.length === 4) return body.readFloatBE(0);
  if (body.length === 8) return body.readDoubleBE(0);
  return undefined;
}

/** Info's Duration, in seconds (it counts TimecodeScale units, 1 ms by default). */
function readDuration(info: Buffer): number | undefined {
  let scale = 1_000_000;
  let duration: number | undefined;
  for (const e of elements(info)) {
    if (e.id === EBML_ID.timecodeScale) scale = readUint(e.body);
    if (e.id === EBML_ID.duration) duration = readFloat(e.body);
  }
  return duration === undefined ? undefined : (duration * scale) / 1e9;
}

function readTracks(tracks: Buffer): TrackFacts[] {
  return elements(tracks)
    .filter((e) => e.id === EBML_ID.trackEntry)
    .map((entry) => {
      const fields = elements(entry.body);
      const type = readUint(fields.find((f) => f.id === EBML_ID.trackType)?.body ?? Buffer.alloc(0));
      const kind = type === 1 ? 'video' : type === 2 ? 'audio' : 'other';
      const track: TrackFacts = { kind };
      const video = fields.find((f) => f.id === EBML_ID.video);
      if (kind === 'video' && video) {
        for (const v of elements(video.body)) {
          if (v.id === EBML_ID.pixelWidth) track.width = readUint(v.body);
          if (v.id === EBML_ID.pixelHeight) track.height = readUint(v.body);
        }
      }
      return track;
    });
}
