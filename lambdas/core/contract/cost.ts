import * as z from 'zod';
import { AVATAR_MODELS, type AvatarModel } from './job-settings.js';

/** USD per second of output video, per model (the `modelPricesUsdPerSecond` setting). */
export type ModelPrices = Readonly<Record<AvatarModel, number>>;

/** The price table as it travels in an environment variable: a JSON object naming every model. */
export const ModelPricesJson = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of model name to USD per second' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.enum(AVATAR_MODELS), z.number().min(0).max(100)));

export interface Estimate {
  model: AvatarModel;
  audioSeconds: number;
  numberResults: number;
  /** The price used. */
  usdPerSecond: number;
  estimatedUsd: number;
}

/**
 * The estimate rule, used by validation (recorded with the job, reserved against the budget at submit) and by the
 * CLI's `estimate`: decoded audio seconds x the model's price per second x results, rounded to a tenth of a cent.
 * Kling's video lasts as long as the voice track, and Runware bills per second of video made.
 */
export function estimateCost(
  audioSeconds: number,
  model: AvatarModel,
  numberResults: number,
  prices: ModelPrices,
): Estimate {
  const usdPerSecond = prices[model];
  const estimatedUsd = Math.round(audioSeconds * usdPerSecond * numberResults * 1000) / 1000;
  return { model, audioSeconds, numberResults, usdPerSecond, estimatedUsd };
}
