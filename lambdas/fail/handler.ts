import * as z from 'zod';
import { EventBridgeJobEvents } from '../core/aws/job-event-publisher.js';
import { metrics } from '../core/aws/metrics.js';
import { dynamoClient, eventsClient, logger, s3Client } from '../core/aws/runtime.js';
import { loadConfig } from '../core/config.js';
import { executionEndMessage } from '../core/errors.js';
import { OutputWriter } from '../core/outputs/writer.js';
import { SlotEnvSchema, slotDeps } from '../core/slot-wake.js';
import { DynamoBudgetStore } from '../core/store/budget.js';
import { DynamoJobStore } from '../core/store/jobs.js';
import { DynamoOutputNameStore } from '../core/store/output-claims.js';
import { Table } from '../core/store/table.js';
import { DynamoTaskStore } from '../core/store/tasks.js';
import { type FailInput, failJob, failureLogAttributes } from './fail.js';

const config = loadConfig(
  SlotEnvSchema.extend({ TABLE_NAME: z.string().min(1), OUTPUT_BUCKET: z.string().min(1) }),
);

const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  jobs: new DynamoJobStore(table),
  ...slotDeps(table, config),
  tasks: new DynamoTaskStore(table),
  events: new EventBridgeJobEvents(eventsClient()),
  budget: new DynamoBudgetStore(table),
  onLateCharge: (usd: number) => metrics.lateCharge(usd),
  outputs: new OutputWriter(s3Client(), config.OUTPUT_BUCKET, new DynamoOutputNameStore(table)),
  now: () => new Date(),
};

const ExecutionInput = z.object({
  jobId: z.string(),
  attempt: z.number().int().positive(),
  stem: z.string(),
});

/** From the state machine's Catch. */
const CaughtFailure = ExecutionInput.extend({
  error: z.object({ Error: z.string(), Cause: z.string().optional() }),
});

/** From EventBridge, when an execution ended without reaching the fail step (timed out, aborted). */
const ExecutionStatusChange = z.object({
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    status: z.string(),
    name: z.string(),
    input: z.string(),
    cause: z.string().nullish(),
    error: z.string().nullish(),
  }),
});

function toFailInput(event: unknown): FailInput {
  const caught = CaughtFailure.safeParse(event);
  if (caught.success) return caught.data;
  const change = ExecutionStatusChange.parse(event);
  const input = ExecutionInput.parse(JSON.parse(change.detail.input));
  const message = executionEndMessage(change.detail.status, change.detail.cause, change.detail.error);
  return {
    ...input,
    error: { Error: `Execution.${change.detail.status}`, Cause: JSON.stringify({ errorMessage: message }) },
  };
}

export const handler = async (event: unknown) => {
  const input = toFailInput(event);
  logger.appendKeys({ jobId: input.jobId, attempt: input.attempt });
  const output = await failJob(input, deps);
  // A cancel is an operator's decision, not a fault: logged as information.
  if (output.cancelled) logger.info('job cancelled', failureLogAttributes(output));
  else logger.warn('job failed', failureLogAttributes(output));
  // Counted once per attempt: a stopped execution reaches this function twice (its Catch and the ended rule).
  if (!output.repeated) metrics.jobFailed(input.error.Error, output.code);
  return output;
};
