import { z } from 'zod';
import { loadConfig } from '../core/config.js';
import { dynamoClient, logger, readSecret } from '../core/runtime.js';
import { HttpRunwareClient } from '../core/runware/client.js';
import { StepInputSchema } from '../core/step-input.js';
import { DynamoJobStore } from '../core/store.js';
import { pollJob } from './poll.js';

const config = loadConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    RUNWARE_API_URL: z.url(),
    RUNWARE_API_KEY_SECRET: z.string().min(1),
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
  now: () => new Date(),
};

export const handler = async (event: unknown) => {
  const input = StepInputSchema.parse(event);
  logger.appendKeys({ jobId: input.jobId, attempt: input.attempt });
  const output = await pollJob(input, deps);
  logger.info('polled', { ...output });
  return output;
};
