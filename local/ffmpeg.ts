/**
 * ffmpeg helpers for local mode: render the Runware simulator's stand-in for a talking-avatar video, probe media
 * files, and make a sample portrait and voice track for the demo and the tests. The binaries are the static
 * builds shipped by `@ffmpeg-installer/ffmpeg` and `@ffprobe-installer/ffprobe`, so nothing needs to be installed
 * on the machine.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import ffprobeInstaller from '@ffprobe-installer/ffprobe';
import { z } from 'zod';

/**
 * Containers the renders can be made in. Declared here rather than imported, so that the Runware simulator, which
 * renders with this module, takes nothing from the pipeline's code (local/runware/spec.ts).
 */
export type OutputFormat = 'MP4' | 'WEBM' | 'MOV';

/** Absolute path of the static ffmpeg binary. */
export const FFMPEG_PATH: string = ffmpegInstaller.path;
/** Absolute path of the static ffprobe binary. */
export const FFPROBE_PATH: string = ffprobeInstaller.path;

/** Keeps error messages readable: ffmpeg prints the interesting line last, after a lot of banner. */
const STDERR_TAIL_CHARS = 2000;

/** A failed ffmpeg or ffprobe run, with the end of what the tool printed. */
export class MediaToolError extends Error {
  override readonly name = 'MediaToolError';
}

/** Runs a binary to completion; resolves with stdout, rejects with the tail of stderr. */
function run(binary: string, args: readonly string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    // SIGKILL: a tool stuck in a decode loop must end when its time limit is up, not when it chooses to.
    const child = spawn(binary, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      killSignal: 'SIGKILL',
      ...(signal ? { signal } : {}),
    });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    });
    child.on('error', (error) => reject(error));
    child.on('close', (code, killedBy) => {
      if (code === 0) {
        resolve(Buffer.concat(stdout).toString('utf8'));
        return;
      }
      const tool = binary === FFPROBE_PATH ? 'ffprobe' : 'ffmpeg';
      const how = killedBy ? `was killed by ${killedBy}` : `exited with code ${code}`;
      reject(new MediaToolError(`${tool} ${how}: ${stderr.trim() || '(no output)'}`));
    });
  });
}

// ------------------------------------------------------------------------------------------------ probe

const ProbeOutputSchema = z.looseObject({
  streams: z
    .array(
      z.looseObject({
        codec_type: z.string().optional(),
        codec_name: z.string().optional(),
        width: z.number().optional(),
        height: z.number().optional(),
        duration: z.string().optional(),
      }),
    )
    .default([]),
  format: z.looseObject({ duration: z.string().optional() }).optional(),
});

/** One stream of a probed file. */
export interface ProbedStream {
  /** `video`, `audio`, `data`, ... */
  codecType: string;
  /** `h264`, `aac`, `vp9`, `opus`, `png`, ... */
  codecName: string;
  width?: number;
  height?: number;
}

/** What {@link probe} reports about a media file. */
export interface ProbeResult {
  /** Container duration in seconds; 0 for still images, which have none. */
  durationSeconds: number;
  streams: ProbedStream[];
}

/**
 * Describes a media file with ffprobe.
 *
 * @throws {MediaToolError} when ffprobe cannot read the file (missing, not media, truncated beyond repair).
 */
export async function probe(file: string, signal?: AbortSignal): Promise<ProbeResult> {
  const stdout = await run(
    FFPROBE_PATH,
    ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file],
    signal,
  );
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new MediaToolError(`ffprobe printed something that is not JSON for ${file}.`);
  }
  const parsed = ProbeOutputSchema.safeParse(json);
  if (!parsed.success) throw new MediaToolError(`ffprobe printed an unexpected report for ${file}.`);
  const { streams, format } = parsed.data;
  // WebM stores no per-stream duration, and a still image has neither: fall back from format to streams to 0.
  const durations = [format?.duration, ...streams.map((s) => s.duration)]
    .map((d) => (d === undefined ? Number.NaN : Number(d)))
    .filter((d) => Number.isFinite(d) && d > 0);
  return {
    durationSeconds: durations[0] ?? 0,
    streams: streams.map((s) => ({
      codecType: s.codec_type ?? 'unknown',
      codecName: s.codec_name ?? 'unknown',
      ...(s.width === undefined ? {} : { width: s.width }),
      ...(s.height === undefined ? {} : { height: s.height }),
    })),
  };
}

// ----------------------------------------------------------------------------------------------- render

/** Options of {@link renderAvatarVideo}. */
export interface RenderAvatarVideoOptions {
  /** Still image (any format ffmpeg reads: PNG, JPEG, WebP, ...). */
  image: string;
  /** Voice track (any format ffmpeg reads). */
  audio: string;
  /** Where to write the video; overwritten if present. */
  output: string;
  format: OutputFormat;
  /** Runware's `outputQuality`, 20..99, mapped onto the encoder's CRF. @default 95 */
  quality?: number;
  /** Varies the picture slightly (hue and brightness), so results with different seeds differ. @default 0 */
  seed?: number;
  /** Length of the audio in seconds, if already known; probed otherwise. */
  durationSeconds?: number;
  /** Long side of the video, in pixels; smaller images are not enlarged. @default 720 */
  maxSide?: number;
  /** Frames per second: a still picture needs few, and few keep rendering fast. @default 12 */
  fps?: number;
  /** Kills ffmpeg when aborted. */
  signal?: AbortSignal;
}

/** What {@link renderAvatarVideo} wrote. */
export interface RenderedVideo {
  /** Duration of the written file, in seconds. */
  durationSeconds: number;
  width: number;
  height: number;
  bytes: number;
  /** Wall-clock time ffmpeg took. */
  elapsedMs: number;
}

/** x264 CRF: quality 20 -> 40 (small, blocky), 99 -> 18 (visually lossless). Lower CRF is better. */
function x264Crf(quality: number): number {
  return Math.round(40 - ((quality - 20) * 22) / 79);
}

/** VP9 CRF (0..63 scale): quality 20 -> 50, 99 -> 15. */
function vp9Crf(quality: number): number {
  return Math.round(50 - ((quality - 20) * 35) / 79);
}

function encoderArgs(format: OutputFormat, quality: number): string[] {
  if (format === 'WEBM') {
    // `realtime` + `cpu-used 8` is VP9's fastest mode; without it a 30 s clip takes many times longer.
    return [
      ...['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1'],
      ...['-crf', String(vp9Crf(quality)), '-b:v', '0'],
      ...['-c:a', 'libopus', '-b:a', '96k', '-f', 'webm'],
    ];
  }
  return [
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'stillimage', '-crf', String(x264Crf(quality))],
    ...['-c:a', 'aac', '-b:a', '128k'],
    // moov first, so a player (or the pipeline's probe) can start before the whole file has arrived.
    ...['-movflags', '+faststart', '-f', format === 'MOV' ? 'mov' : 'mp4'],
  ];
}

/**
 * Decodes the first frame of an image into a PNG. The renderer loops this still, never the user's file: ffmpeg's
 * looping image reader re-reads its input for every frame and never ends on an input it cannot fully decode
 * (an animated WebP, a PNG followed by other bytes).
 *
 * @throws {MediaToolError} when the image cannot be decoded (or the signal aborts).
 */
export async function extractStill(image: string, output: string, signal?: AbortSignal): Promise<void> {
  await run(
    FFMPEG_PATH,
    [...['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'], '-i', image, '-frames:v', '1', output],
    signal,
  );
}

/**
 * Renders a video of the still image for exactly the audio's length, with the audio track: MP4 and MOV as
 * H.264 + AAC, WebM as VP9 + Opus, all yuv420p so every player can show them. It stands in for Kling's avatar
 * video, which has the same shape: the portrait's framing, the voice's duration.
 *
 * @throws {MediaToolError} when ffmpeg or ffprobe fails (unreadable image or audio, disk full, aborted).
 */
export async function renderAvatarVideo(options: RenderAvatarVideoOptions): Promise<RenderedVideo> {
  const started = performance.now();
  const quality = Math.min(99, Math.max(20, Math.round(options.quality ?? 95)));
  const maxSide = options.maxSide ?? 720;
  const fps = options.fps ?? 12;
  const seed = Math.abs(Math.trunc(options.seed ?? 0));
  const duration = options.durationSeconds ?? (await probe(options.audio, options.signal)).durationSeconds;
  if (!(duration > 0)) throw new MediaToolError(`The audio ${options.audio} has no duration.`);

  // Fit into maxSide x maxSide without enlarging, then round down to even sizes: yuv420p needs them.
  const fit = `min(1,${maxSide}/max(iw,ih))`;
  const scale = `scale=w='max(2,2*trunc(${fit}*iw/2))':h='max(2,2*trunc(${fit}*ih/2))'`;
  // A cheap per-seed variation: hue within +-10 degrees, brightness within +-0.05.
  const hue = `hue=h=${(seed % 21) - 10}:b=${((Math.trunc(seed / 21) % 11) - 5) / 100}`;
  const args = [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'],
    ...['-loop', '1', '-framerate', String(fps), '-i', options.image],
    ...['-i', options.audio],
    ...['-filter_complex', `[0:v]${scale},${hue},format=yuv420p[v]`],
    ...['-map', '[v]', '-map', '1:a:0'],
    ...encoderArgs(options.format, quality),
    // The looped image never ends: -t cuts at the audio's length, -shortest guards against a short decode.
    ...['-t', duration.toFixed(3), '-shortest'],
    options.output,
  ];
  await run(FFMPEG_PATH, args, options.signal);
  const written = await probe(options.output, options.signal);
  const video = written.streams.find((s) => s.codecType === 'video');
  return {
    durationSeconds: written.durationSeconds,
    width: video?.width ?? 0,
    height: video?.height ?? 0,
    bytes: (await stat(options.output)).size,
    elapsedMs: Math.round(performance.now() - started),
  };
}

// ---------------------------------------------------------------------------------------------- samples

/** One shape of the sample portrait: where it is (an ffmpeg `geq` condition) and its RGB colour. */
interface Layer {
  inside: string;
  rgb: readonly [number, number, number];
}

/** `geq` condition for the inside of an ellipse centred at (cx, cy) with radii (rx, ry), all as fractions of W/H. */
function ellipse(cx: number, cy: number, rx: number, ry: number): string {
  return `lt(hypot((X-${cx}*W)/(${rx}*W),(Y-${cy}*H)/(${ry}*H)),1)`;
}

/** Bottom to top: the last layer that contains a pixel paints it. */
const PORTRAIT_LAYERS: readonly Layer[] = [
  { inside: `lt(abs(X-0.5*W),0.06*W)*gt(Y,0.55*H)`, rgb: [214, 168, 136] }, // neck
  { inside: ellipse(0.5, 1.02, 0.46, 0.3), rgb: [52, 72, 110] }, // shoulders and jacket
  { inside: ellipse(0.5, 0.36, 0.25, 0.2), rgb: [70, 48, 36] }, // hair, behind the face
  { inside: ellipse(0.5, 0.42, 0.21, 0.2), rgb: [226, 182, 150] }, // face
  { inside: ellipse(0.41, 0.39, 0.04, 0.018), rgb: [250, 250, 250] }, // eye whites
  { inside: ellipse(0.59, 0.39, 0.04, 0.018), rgb: [250, 250, 250] },
  { inside: ellipse(0.41, 0.39, 0.016, 0.014), rgb: [40, 70, 90] }, // irises
  { inside: ellipse(0.59, 0.39, 0.016, 0.014), rgb: [40, 70, 90] },
  { inside: ellipse(0.5, 0.45, 0.018, 0.035), rgb: [206, 160, 130] }, // nose
  { inside: ellipse(0.5, 0.52, 0.07, 0.018), rgb: [168, 70, 72] }, // mouth
];

/** One `geq` colour channel: nested ifs from the top layer down, over a vertical studio-backdrop gradient. */
function channel(index: 0 | 1 | 2): string {
  const backdrop = [`40+50*Y/H`, `50+40*Y/H`, `90+90*Y/H`][index];
  return PORTRAIT_LAYERS.reduce<string>(
    (below, layer) => `if(${layer.inside},${layer.rgb[index]},${below})`,
    backdrop ?? '0',
  );
}

/**
 * Writes `file` with ffmpeg `inputArgs` (everything but the output), from a copy kept in the temporary folder: the
 * samples are synthetic and the same for the same command, so each is made once per machine (the suite asks for
 * them in every end-to-end file, about 1 CPU-second each). The key is the command itself, binary included.
 */
async function generated(file: string, inputArgs: readonly string[]): Promise<void> {
  const key = createHash('sha256')
    .update(JSON.stringify([FFMPEG_PATH, ...inputArgs]))
    .digest('hex');
  const dir = join(tmpdir(), 'avatar-pipeline-samples');
  const kept = join(dir, `${key.slice(0, 32)}${extname(file)}`);
  try {
    await copyFile(kept, file);
    return;
  } catch {
    // Not made yet on this machine.
  }
  await mkdir(dir, { recursive: true });
  // Made beside the kept name and renamed onto it: a reader sees no file or a whole one.
  const making = `${kept}.${randomUUID()}${extname(file)}`;
  try {
    await run(FFMPEG_PATH, [...inputArgs, making]);
    await rename(making, kept);
  } finally {
    await rm(making, { force: true });
  }
  await copyFile(kept, file);
}

/**
 * Writes a sample head-and-shoulders portrait (a drawn face over a studio gradient) for the demo and the tests.
 * The format follows the extension: `.png`, `.jpg`, `.webp`.
 *
 * @param options.width - @default 720
 * @param options.height - @default 960 (portrait 3:4, as phones shoot)
 */
export async function makeSamplePortrait(
  file: string,
  options: { width?: number; height?: number } = {},
): Promise<void> {
  const size = `${options.width ?? 720}x${options.height ?? 960}`;
  const geq = `geq=r='${channel(0)}':g='${channel(1)}':b='${channel(2)}'`;
  await generated(file, [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `color=c=black:s=${size}:d=1,format=rgb24,${geq}`],
    ...['-frames:v', '1'],
  ]);
}

/**
 * Writes a sample voice track of `seconds` seconds: a buzzy 150 Hz voice with harmonics, chopped into
 * syllables at 3.5 Hz with pauses between phrases, and a vibrato so the pitch moves. Not speech, but not
 * silence either, so anything that checks for sound hears some. The format follows the extension: `.wav`,
 * `.mp3`, `.m4a`, `.ogg`.
 */
export async function makeSampleVoice(file: string, seconds: number): Promise<void> {
  if (!(seconds > 0)) throw new RangeError(`seconds must be positive, got ${seconds}.`);
  const harmonics = '(sin(2*PI*150*t)+0.5*sin(2*PI*300*t)+0.25*sin(2*PI*450*t))';
  const syllables = '(0.5-0.5*cos(2*PI*3.5*t))';
  // Silent for ~30% of every 2.5 s phrase, like breaths between sentences.
  const phrases = 'gt(sin(2*PI*0.4*t),-0.6)';
  await generated(file, [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `aevalsrc='0.3*${harmonics}*${syllables}*${phrases}':s=44100:d=${seconds}`],
    ...['-af', 'vibrato=f=5:d=0.3', '-ac', '1'],
  ]);
}
