import * as z from 'zod';

/** The Kling avatar models this pipeline knows how to drive (same inputs, same options). */
export const AVATAR_MODELS = ['klingai:avatar@2.0-pro', 'klingai:avatar@2.0-standard'] as const;
export type AvatarModel = (typeof AVATAR_MODELS)[number];

export const OUTPUT_FORMATS = ['MP4', 'WEBM', 'MOV'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const PROMPT_MAX_LENGTH = 2500;
/** Most videos one job may ask for (`numberResults`). */
export const MAX_NUMBER_RESULTS = 4;

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
});
export type JobSettings = z.infer<typeof JobSettingsSchema>;

export interface SettingsDefaults {
  model: AvatarModel;
  prompt?: string;
}

export function resolveSettings(sidecar: Sidecar, defaults: SettingsDefaults): JobSettings {
  const prompt = sidecar.prompt ?? defaults.prompt;
  return {
    model: sidecar.model ?? defaults.model,
    ...(prompt ? { prompt } : {}),
    outputFormat: sidecar.outputFormat ?? 'MP4',
    outputQuality: sidecar.outputQuality ?? 95,
    numberResults: sidecar.numberResults ?? 1,
    ...(sidecar.safety ? { safety: sidecar.safety } : {}),
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
