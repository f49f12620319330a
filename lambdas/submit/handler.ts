import { z } from 'zod';
import { SfnTaskNotifier } from '../core/completion.js';
import { loadConfig, positiveInt } from '../core/config.js';
import { S3InputPresigner } from '../core/presign.js';
import { dynamoClient, logger, readSecret, s3Client, sfnClient } from '../core/runtime.js';
import { HttpRunwareClient } from '../core/runware/client.js';
import { StepInputSchema } from '../core/step-input.js';
import { DynamoJobStore } from '../core/store.js';
import { submitJob } from './submit.js';

const config = loadConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    INPUT_BUCKET: z.string().min(1),
    RUNWARE_API_URL: z.url(),
    RUNWARE_API_KEY_SECRET: z.string().min(1),
    WEBHOOK_SECRET_ARN: z.string().min(1),
    WEBHOOK_URL: z.url(),
    PRESIGN_TTL_SECONDS: positiveInt.default(900),
  }),
);

const deps = {
  store: new DynamoJobStore(dynamoClient(), config.TABLE_NAME),
  // 3 tries of at most 25 s each, plus backoff, fit well inside the function's timeout.
  runware: new HttpRunwareClient({
    url: config.RUNWARE_API_URL,
    apiKey: () => readSecret(config.RUNWARE_API_KEY_SECRET),
    maxAttempts: 3,
    timeoutMs: 25_000,
  }),
  presigner: new S3InputPresigner(s3Client(), config.INPUT_BUCKET, config.PRESIGN_TTL_SECONDS),
  notifier: new SfnTaskNotifier(sfnClient()),
  webhook: { baseUrl: config.WEBHOOK_URL, secret: () => readSecret(config.WEBHOOK_SECRET_ARN) },
  now: () => new Date(),
};

const SubmitInput = StepInputSchema.extend({ taskToken: z.string().min(1) });

/** Invoked by the state machine with `.waitForTaskToken`: the step waits until the webhook reports back. */
export const handler = async (event: unknown) => {
  const input = SubmitInput.parse(event);
  logger.appendKeys({ jobId: input.jobId, attempt: input.attempt });
  const output = await submitJob(input, deps);
  logger.info('submitted', { ...output });
  return output;
};
