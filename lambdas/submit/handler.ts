import * as z from 'zod';
import { SfnTaskNotifier } from '../core/completion.js';
import { loadConfig, positiveInt, usdAmount } from '../core/config.js';
import { metrics } from '../core/metrics.js';
import { S3InputPresigner } from '../core/presign.js';
import { dynamoClient, readSecret, runwareClient, s3Client, sfnClient } from '../core/runtime.js';
import { StepInputSchema, stepHandler } from '../core/step-input.js';
import { DynamoBudgetStore } from '../core/store/budget.js';
import { DynamoJobStore } from '../core/store/jobs.js';
import { DynamoSlotStore } from '../core/store/slots.js';
import { Table } from '../core/store/table.js';
import { DynamoTaskStore } from '../core/store/tasks.js';
import { submitJob } from './submit.js';

const config = loadConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    INPUT_BUCKET: z.string().min(1),
    RUNWARE_API_URL: z.url(),
    RUNWARE_API_KEY_SECRET: z.string().min(1),
    WEBHOOK_SECRET_ARN: z.string().min(1),
    WEBHOOK_URL: z.url(),
    PRESIGN_TTL_SECONDS: positiveInt,
    MAX_CONCURRENT_TASKS: positiveInt,
    STALE_WAITER_SECONDS: positiveInt,
    DAILY_BUDGET_USD: usdAmount,
    MONTHLY_BUDGET_USD: usdAmount,
  }),
);

const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  jobs: new DynamoJobStore(table),
  tasks: new DynamoTaskStore(table),
  slots: new DynamoSlotStore(table, { staleAfterMs: config.STALE_WAITER_SECONDS * 1000 }),
  maxConcurrentTasks: config.MAX_CONCURRENT_TASKS,
  budget: new DynamoBudgetStore(table),
  budgetLimits: { dailyUsd: config.DAILY_BUDGET_USD, monthlyUsd: config.MONTHLY_BUDGET_USD },
  runware: runwareClient(config.RUNWARE_API_URL, config.RUNWARE_API_KEY_SECRET),
  presigner: new S3InputPresigner(s3Client(), config.INPUT_BUCKET, config.PRESIGN_TTL_SECONDS),
  notifier: new SfnTaskNotifier(sfnClient()),
  webhook: { baseUrl: config.WEBHOOK_URL, secret: () => readSecret(config.WEBHOOK_SECRET_ARN) },
  now: () => new Date(),
};

const SubmitInput = StepInputSchema.extend({ taskToken: z.string().min(1) });

/** Invoked by the state machine with `.waitForTaskToken`: the step waits until the webhook reports back. */
export const handler = stepHandler(
  'submitted',
  (input) => submitJob(input, deps).catch((error: unknown) => metrics.rethrow(error)),
  SubmitInput,
);
