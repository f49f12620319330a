import * as z from 'zod';

/**
 * The check a delivered video passes before it counts: what a person notices first. The user has paid by then,
 * so a video that fails it is still delivered; the problems are recorded (job record, `<stem>.json`, the
 * JobSucceeded event) and shown by `avatar-pipeline status`.
 */

/**
 * How far a video's length may be from the audio's before it is a problem: the larger of half a second and 3 %.
 * Encoders round to whole frames and audio packets (a few hundredths of a second at 24-30 fps and AAC's 1024
 * samples) and providers may trim or pad silence slightly; a cut or a stretch a person notices is larger.
 */
export function durationToleranceSeconds(audioSeconds: number): number {
  return Math.max(0.5, audioSeconds * 0.03);
}

export const OutputProblemCodeSchema = z.enum([
  /** The container's header could not be read: nothing below could be checked. */
  'CONTAINER_UNREADABLE',
  'NO_VIDEO_TRACK',
  'NO_AUDIO_TRACK',
  'DURATION_MISMATCH',
  'ZERO_DIMENSIONS',
]);
export type OutputProblemCode = z.infer<typeof OutputProblemCodeSchema>;

export const OutputProblemSchema = z.object({
  /** The output bucket key of the video (its visible name). */
  output: z.string(),
  code: OutputProblemCodeSchema,
  message: z.string(),
});
export type OutputProblem = z.infer<typeof OutputProblemSchema>;

/** What the container of one delivered video declares (absent values: not declared or not readable). */
export const VideoFactsSchema = z.object({
  output: z.string(),
  hasVideo: z.boolean().optional(),
  hasAudio: z.boolean().optional(),
  durationSeconds: z.number().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
});
export type VideoFacts = z.infer<typeof VideoFactsSchema>;

/** The check of a job's videos. */
export const OutputCheckSchema = z.object({
  /** True when no video has a problem. */
  passed: z.boolean(),
  /** The audio's duration validation measured: what each video's length is compared with. */
  expectedSeconds: z.number().optional(),
  toleranceSeconds: z.number().optional(),
  videos: z.array(VideoFactsSchema),
  problems: z.array(OutputProblemSchema),
});
export type OutputCheck = z.infer<typeof OutputCheckSchema>;

/** What a container reader found in one video: its tracks, or why the header could not be read. */
export type ContainerReading =
  | {
      tracks: {
        kind: 'video' | 'audio' | 'other';
        durationSeconds?: number;
        width?: number;
        height?: number;
      }[];
      durationSeconds?: number;
    }
  | { unreadable: string };

/** The problems of one video, and the facts they were judged on. */
export function checkVideo(
  output: string,
  reading: ContainerReading,
  audioSeconds: number | undefined,
): { facts: VideoFacts; problems: OutputProblem[] } {
  if ('unreadable' in reading) {
    return {
      facts: { output },
      problems: [
        {
          output,
          code: 'CONTAINER_UNREADABLE',
          message: `The video ${output} could not be checked: ${reading.unreadable}. It may not play.`,
        },
      ],
    };
  }
  const video = reading.tracks.find((t) => t.kind === 'video');
  const audio = reading.tracks.find((t) => t.kind === 'audio');
  // The length a viewer sees: the picture's, else the sound's, else the whole file's.
  const durationSeconds = video?.durationSeconds ?? audio?.durationSeconds ?? reading.durationSeconds;
  const facts: VideoFacts = {
    output,
    hasVideo: video !== undefined,
    hasAudio: audio !== undefined,
    ...(durationSeconds !== undefined ? { durationSeconds: round(durationSeconds) } : {}),
    ...(video?.width !== undefined ? { width: video.width } : {}),
    ...(video?.height !== undefined ? { height: video.height } : {}),
  };
  const problems: OutputProblem[] = [];
  const problem = (code: OutputProblemCode, message: string) => problems.push({ output, code, message });
  if (!video) problem('NO_VIDEO_TRACK', `The video ${output} has no picture: its file holds no video track.`);
  if (!audio) problem('NO_AUDIO_TRACK', `The video ${output} is silent: its file holds no audio track.`);
  if (video && !((video.width ?? 0) > 0 && (video.height ?? 0) > 0)) {
    problem(
      'ZERO_DIMENSIONS',
      `The video ${output} declares a picture of ${video.width ?? 0}x${video.height ?? 0} pixels: nothing can show.`,
    );
  }
  if (audioSeconds !== undefined && durationSeconds !== undefined) {
    const tolerance = durationToleranceSeconds(audioSeconds);
    if (Math.abs(durationSeconds - audioSeconds) > tolerance) {
      const how = durationSeconds < audioSeconds ? 'shorter' : 'longer';
      problem(
        'DURATION_MISMATCH',
        `The video ${output} lasts ${durationSeconds.toFixed(2)} s but the audio lasts ${audioSeconds.toFixed(2)} s ` +
          `(${how} by more than the ${tolerance.toFixed(2)} s allowed): the voice may be cut off or out of step.`,
      );
    }
  }
  return { facts, problems };
}

/** The check of all of a job's videos. */
export function outputCheckOf(
  checked: readonly { facts: VideoFacts; problems: OutputProblem[] }[],
  audioSeconds: number | undefined,
): OutputCheck {
  const problems = checked.flatMap((c) => c.problems);
  return {
    passed: problems.length === 0,
    ...(audioSeconds !== undefined
      ? {
          expectedSeconds: round(audioSeconds),
          toleranceSeconds: round(durationToleranceSeconds(audioSeconds)),
        }
      : {}),
    videos: checked.map((c) => c.facts),
    problems,
  };
}

const round = (seconds: number) => Math.round(seconds * 1000) / 1000;
