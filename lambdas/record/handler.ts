import { z } from 'zod';
import { loadConfig } from '../core/config.js';
import { dynamoClient, logger } from '../core/runtime.js';
import { StepInputSchema } from '../core/step-input.js';
import { DynamoJobStore } from '../core/store.js';
import { recordResults } from './record.js';

const config = loadConfig(z.object({ TABLE_NAME: z.string().min(1) }));
const deps = { store: new DynamoJobStore(dynamoClient(), config.TABLE_NAME) };

export const handler = async (event: unknown) => {
  const input = StepInputSchema.parse(event);
  logger.appendKeys({ jobId: input.jobId, attempt: input.attempt });
  const output = await recordResults(input, deps);
  logger.info('recorded', { ...output });
  return output;
};
