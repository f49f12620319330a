import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import {
  type Estimate,
  estimateCost as estimateWith,
  type ModelPrices,
} from '../lambdas/core/contract/cost.js';
import { DEFAULT_SETTINGS } from '../lambdas/core/contract/defaults.js';
import { AVATAR_MODELS, type AvatarModel } from '../lambdas/core/contract/job-settings.js';
import { PipelineError } from '../lambdas/core/errors.js';
import { DEFAULT_MEDIA_LIMITS, inspectAudio } from '../lambdas/core/media/inspect.js';
import { CliError, EXIT } from './errors.js';

export type { Estimate };

/** The estimate rule of the pipeline (lambdas/core/contract/cost.ts), with the default price table unless told. */
export const estimateCost = (
  audioSeconds: number,
  model: AvatarModel,
  numberResults: number,
  prices: ModelPrices = DEFAULT_SETTINGS.modelPricesUsdPerSecond,
): Estimate => estimateWith(audioSeconds, model, numberResults, prices);

export function parseModel(name: string | undefined): AvatarModel {
  const model = name ?? DEFAULT_SETTINGS.model;
  const found = AVATAR_MODELS.find((m) => m === model || m.endsWith(`-${model}`));
  if (!found)
    throw new CliError(
      `Unknown model "${model}"; use one of ${AVATAR_MODELS.join(', ')}.`,
      EXIT.usage,
      'USAGE',
    );
  return found;
}

/** The audio's playing time, measured by decoding it as validation does; an unusable file is a usage error. */
export async function measureAudio(file: string): Promise<number> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw new CliError(`Cannot read the audio file ${file}.`, EXIT.usage, 'USAGE');
  }
  try {
    return (await inspectAudio(bytes, extname(file), DEFAULT_MEDIA_LIMITS)).durationSeconds;
  } catch (error) {
    if (error instanceof PipelineError) throw new CliError(error.message, EXIT.usage, 'BAD_AUDIO');
    throw error;
  }
}
