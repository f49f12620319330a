/**
 * Minimal ISO-BMFF files built in code: an `ftyp`, a `moov` with the tracks asked for (the boxes the output check
 * reads: mvhd, tkhd, mdhd, hdlr) and an `mdat` of filler. Not playable, but every field the check reads is real.
 */

export function box(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

/** Version 0 mvhd/mdhd: version+flags, creation, modification, timescale, duration (then fields not read). */
export function timedBox(type: 'mvhd' | 'mdhd', timescale: number, duration: number): Buffer {
  const body = Buffer.alloc(24);
  body.writeUInt32BE(timescale, 12);
  body.writeUInt32BE(duration, 16);
  return box(type, body);
}

export function trak(
  handler: 'vide' | 'soun',
  timescale: number,
  duration: number,
  width = 0,
  height = 0,
): Buffer {
  const tkhd = Buffer.alloc(84);
  tkhd.writeUInt32BE(width * 65536, 76);
  tkhd.writeUInt32BE(height * 65536, 80);
  const hdlr = Buffer.alloc(24);
  hdlr.write(handler, 8, 'latin1');
  return box(
    'trak',
    Buffer.concat([
      box('tkhd', tkhd),
      box('mdia', Buffer.concat([timedBox('mdhd', timescale, duration), box('hdlr', hdlr)])),
    ]),
  );
}

export interface Mp4Shape {
  /** Seconds and pixels of the picture; absent: no video track. */
  video?: { seconds: number; width: number; height: number };
  /** Seconds of sound; absent: no audio track. */
  audio?: { seconds: number };
}

/** `ftyp` + `moov` of the given shape. */
export function mp4Header(shape: Mp4Shape): Buffer {
  const ftyp = box('ftyp', Buffer.from('isom\0\0\x02\0isomiso2', 'latin1'));
  const seconds = Math.max(shape.video?.seconds ?? 0, shape.audio?.seconds ?? 0);
  const tracks = [
    ...(shape.video
      ? [
          trak(
            'vide',
            12_288,
            Math.round(shape.video.seconds * 12_288),
            shape.video.width,
            shape.video.height,
          ),
        ]
      : []),
    ...(shape.audio ? [trak('soun', 44_100, Math.round(shape.audio.seconds * 44_100))] : []),
  ];
  return Buffer.concat([
    ftyp,
    box('moov', Buffer.concat([timedBox('mvhd', 1000, Math.round(seconds * 1000)), ...tracks])),
  ]);
}

/** An MP4 of exactly `bytes` bytes (header, then an mdat of filler); shorter than the header: the header cut short. */
export function mp4File(bytes: number, shape: Mp4Shape): Uint8Array {
  const header = mp4Header(shape);
  if (bytes < header.length + 8) return new Uint8Array(header.subarray(0, bytes));
  const mdat = box('mdat', Buffer.alloc(bytes - header.length - 8, 7));
  return new Uint8Array(Buffer.concat([header, mdat]));
}
