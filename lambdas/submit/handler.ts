import * as z from 'zod';
import { metrics } from '../core/aws/metrics.js';
import { S3InputPresigner } from '../core/aws/presign.js';
import { dynamoClient, readSecret, runwareClient, s3Client, sfnClient } from '../core/aws/runtime.js';
import { SfnTaskNotifier } from '../core/completion.js';
import { loadConfig, positiveInt, usdAmount } from '../core/config.js';
import { SlotEnvSchema, slotDeps } from '../core/slot-wake.js';
import { StepInputSchema, stepHandler } from '../core/step-input.js';
import { DynamoBudgetStore } from '../core/store/budget.js';
import { DynamoJobStore } from '../core/store/jobs.js';
import { Table } from '../core/store/table.js';
import { DynamoTaskStore } from '../core/store/tasks.js';
import { type WaitForSlotOutput, waitForSlot } from './queue.js';
import { type SubmitOutput, submitJob } from './submit.js';

const config = loadConfig(
  SlotEnvSchema.extend({
    TABLE_NAME: z.string().min(1),
    INPUT_BUCKET: z.string().min(1),
    RUNWARE_API_URL: z.url(),
    RUNWARE_API_KEY_SECRET: z.string().min(1),
    WEBHOOK_SECRET_ARN: z.string().min(1),
    WEBHOOK_URL: z.url(),
    PRESIGN_TTL_SECONDS: positiveInt,
    DAILY_BUDGET_USD: usdAmount,
    MONTHLY_BUDGET_USD: usdAmount,
  }),
);

const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  jobs: new DynamoJobStore(table),
  tasks: new DynamoTaskStore(table),
  // A 429 gives the slot back: the next waiter is woken at once.
  ...slotDeps(table, config, { onTaken: (seconds) => metrics.slotWait(seconds) }),
  budget: new DynamoBudgetStore(table),
  budgetLimits: { dailyUsd: config.DAILY_BUDGET_USD, monthlyUsd: config.MONTHLY_BUDGET_USD },
  runware: runwareClient(config.RUNWARE_API_URL, config.RUNWARE_API_KEY_SECRET),
  presigner: new S3InputPresigner(s3Client(), config.INPUT_BUCKET, config.PRESIGN_TTL_SECONDS),
  notifier: new SfnTaskNotifier(sfnClient()),
  webhook: { baseUrl: config.WEBHOOK_URL, secret: () => readSecret(config.WEBHOOK_SECRET_ARN) },
  now: () => new Date(),
};

const SubmitInput = StepInputSchema.extend({
  taskToken: z.string().min(1),
  /** Set by the WaitForSlot step: take a slot or wait to be woken, nothing is sent to Runware. */
  waitForSlot: z.literal(true).optional(),
});

/**
 * Invoked by the state machine with `.waitForTaskToken`, by two steps: WaitForSlot (`waitForSlot: true`), which
 * waits until a slot is taken, and Submit, which waits until the webhook reports back.
 */
export const handler = stepHandler(
  'submitted',
  (input): Promise<SubmitOutput | WaitForSlotOutput> =>
    (input.waitForSlot ? waitForSlot(input, deps) : submitJob(input, deps)).catch((error: unknown) =>
      metrics.rethrow(error),
    ),
  SubmitInput,
);
