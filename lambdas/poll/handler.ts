import * as z from 'zod';
import { dynamoClient, logger, runwareClient } from '../core/aws/runtime.js';
import { loadConfig } from '../core/config.js';
import { stepHandler } from '../core/step-input.js';
import { DynamoJobStore } from '../core/store/jobs.js';
import { Table } from '../core/store/table.js';
import { DynamoTaskStore } from '../core/store/tasks.js';
import { pollJob } from './poll.js';

const config = loadConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    RUNWARE_API_URL: z.url(),
    RUNWARE_API_KEY_SECRET: z.string().min(1),
  }),
);

const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  jobs: new DynamoJobStore(table),
  tasks: new DynamoTaskStore(table),
  runware: runwareClient(config.RUNWARE_API_URL, config.RUNWARE_API_KEY_SECRET),
  now: () => new Date(),
  log: (message: string, detail: Record<string, unknown>) => logger.warn(message, detail),
};

export const handler = stepHandler('polled', (input) => pollJob(input, deps));
