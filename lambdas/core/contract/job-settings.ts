import * as z from 'zod';

/** The Kling avatar models this pipeline knows how to drive (same inputs, same options). */
export const AVATAR_MODELS = ['klingai:avatar@2.0-pro', 'klingai:avatar@2.0-standard'] as const;
export type AvatarModel = (typeof AVATAR_MODELS)[number];

export const OUTPUT_FORMATS = ['MP4', 'WEBM', 'MOV'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const PROMPT_MAX_LENGTH = 2500;
/** Most videos one job may ask for (`numberResults`). */
export const MAX_NUMBER_RESULTS = 4;
/** Runware's shortest `ttl`, in seconds (model page: "ttl integer min: 60"; docs/runware-api.md section 4). */
export const MIN_TTL_SECONDS = 60;
/**
 * Our own cap on `ttl` (Runware documents no maximum): a year, far beyond any delivery, and small enough that a
 * typo such as an extra digit group is caught rather than keeping likeness data at Runware for ever.
 */
export const MAX_TTL_SECONDS = 31_536_000;

export const SafetySchema = z
  .object({
    checkContent: z.boolean().optional(),
    mode: z.enum(['none', 'fast', 'full']).optional(),
  })
  .strict();

/**
 * The optional `<stem>.json` sidecar. Unknown fields are refused rather than ignored: a typo such as
 * `outputformat` would otherwise silently cost a video made with the wrong settings.
 */
export const SidecarSchema = z
  .object({
    prompt: z.string().trim().min(1).max(PROMPT_MAX_LENGTH).optional(),
    outputFormat: z
      .string()
      .transform((s) => s.toUpperCase())
      .pipe(z.enum(OUTPUT_FORMATS))
      .optional(),
    outputQuality: z.number().int().min(20).max(99).optional(),
    numberResults: z.number().int().min(1).max(MAX_NUMBER_RESULTS).optional(),
    safety: SafetySchema.optional(),
    model: z.enum(AVATAR_MODELS).optional(),
    // Seconds Runware keeps the video at its URL. The deployment's own minimum is checked by validate, which knows it.
    ttl: z.number().int().min(MIN_TTL_SECONDS).max(MAX_TTL_SECONDS).optional(),
  })
  .strict();
export type Sidecar = z.infer<typeof SidecarSchema>;

/** Settings of one job: the sidecar merged over the deployment's defaults (as stored with the job). */
export const JobSettingsSchema = z.object({
  model: z.enum(AVATAR_MODELS),
  prompt: z.string().optional(),
  outputFormat: z.enum(OUTPUT_FORMATS),
  outputQuality: z.number(),
  numberResults: z.number(),
  safety: SafetySchema.optional(),
  /** Absent on jobs validated before `ttl` existed: their task is sent without one. */
  ttl: z.number().optional(),
});
export type JobSettings = z.infer<typeof JobSettingsSchema>;

export interface SettingsDefaults {
  model: AvatarModel;
  prompt?: string;
  /** The deployment's `ttl` (RESULT_TTL_SECONDS). @default - none sent */
  ttl?: number;
  /** The shortest `ttl` a sidecar may ask for (MIN_RESULT_TTL_SECONDS). @default MIN_TTL_SECONDS */
  minTtl?: number;
}

/**
 * Why a sidecar's `ttl` is too short for this deployment, as a message the person can act on; undefined when it is
 * not. The minimum is the time delivery and its retries may need to fetch the video (lib/delivery-window.ts).
 */
export function ttlProblem(ttl: number | undefined, defaults: SettingsDefaults): string | undefined {
  const min = defaults.minTtl ?? MIN_TTL_SECONDS;
  if (ttl === undefined || ttl >= min) return undefined;
  const fallback = defaults.ttl === undefined ? '' : ` (${defaults.ttl} s)`;
  return (
    `"ttl": ${ttl} s is too short for this deployment: Runware must keep the video at its URL until delivery and ` +
    `its retries are over, which can take up to ${min} s (the job's hard deadline plus the retries of recording ` +
    `and delivery). Set "ttl" to ${min} or more, or leave it out to use the deployment's default${fallback}`
  );
}

export function resolveSettings(sidecar: Sidecar, defaults: SettingsDefaults): JobSettings {
  const prompt = sidecar.prompt ?? defaults.prompt;
  const ttl = sidecar.ttl ?? defaults.ttl;
  return {
    model: sidecar.model ?? defaults.model,
    ...(prompt ? { prompt } : {}),
    outputFormat: sidecar.outputFormat ?? 'MP4',
    outputQuality: sidecar.outputQuality ?? 95,
    numberResults: sidecar.numberResults ?? 1,
    ...(sidecar.safety ? { safety: sidecar.safety } : {}),
    ...(ttl === undefined ? {} : { ttl }),
  };
}

export const FILE_EXTENSION_OF_FORMAT: Record<OutputFormat, string> = {
  MP4: 'mp4',
  WEBM: 'webm',
  MOV: 'mov',
};
export const CONTENT_TYPE_OF_FORMAT: Record<OutputFormat, string> = {
  MP4: 'video/mp4',
  WEBM: 'video/webm',
  MOV: 'video/quicktime',
};
