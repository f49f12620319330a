import * as z from 'zod';
import { S3ObjectReader, S3ObjectWriter } from '../core/aws/input-objects.js';
import { dynamoClient, s3Client } from '../core/aws/runtime.js';
import { loadConfig, positiveInt } from '../core/config.js';
import { ModelPricesJson } from '../core/contract/cost.js';
import { AVATAR_MODELS, PROMPT_MAX_LENGTH } from '../core/contract/job-settings.js';
import { DEFAULT_MEDIA_LIMITS } from '../core/media/inspect.js';
import { stepHandler } from '../core/step-input.js';
import { DynamoFileStore } from '../core/store/files.js';
import { DynamoJobStore } from '../core/store/jobs.js';
import { DynamoOutputNameStore } from '../core/store/output-claims.js';
import { Table } from '../core/store/table.js';
import { validateOrRefuse } from './validate.js';

const config = loadConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    INPUT_BUCKET: z.string().min(1),
    MAX_IMAGE_BYTES: positiveInt,
    MAX_AUDIO_BYTES: positiveInt,
    ACCEPT_OGG_AUDIO: z.enum(['true', 'false']).transform((v) => v === 'true'),
    DEFAULT_MODEL: z.enum(AVATAR_MODELS),
    DEFAULT_PROMPT: z.string().max(PROMPT_MAX_LENGTH).optional(),
    HARD_DEADLINE_SECONDS: positiveInt,
    RESULT_TTL_SECONDS: positiveInt,
    MIN_RESULT_TTL_SECONDS: positiveInt,
    MODEL_PRICES_USD_PER_SECOND: ModelPricesJson,
  }),
);

const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  jobs: new DynamoJobStore(table),
  files: new DynamoFileStore(table),
  outputNames: new DynamoOutputNameStore(table),
  objects: new S3ObjectReader(s3Client(), config.INPUT_BUCKET),
  normalized: new S3ObjectWriter(s3Client(), config.INPUT_BUCKET),
  limits: {
    ...DEFAULT_MEDIA_LIMITS,
    maxImageBytes: config.MAX_IMAGE_BYTES,
    maxAudioBytes: config.MAX_AUDIO_BYTES,
    acceptOggAudio: config.ACCEPT_OGG_AUDIO,
  },
  defaults: {
    model: config.DEFAULT_MODEL,
    ...(config.DEFAULT_PROMPT ? { prompt: config.DEFAULT_PROMPT } : {}),
    ttl: config.RESULT_TTL_SECONDS,
    minTtl: config.MIN_RESULT_TTL_SECONDS,
  },
  hardDeadlineSeconds: config.HARD_DEADLINE_SECONDS,
  prices: config.MODEL_PRICES_USD_PER_SECOND,
  now: () => new Date(),
};

/** Refused input is a result, not an error (see `validateOrRefuse`): the state machine routes it to the fail step. */
export const handler = stepHandler('validated', (input) => validateOrRefuse(input, deps));
