import * as z from 'zod';
import { metrics } from '../core/aws/metrics.js';
import { dynamoClient, logger, s3Client } from '../core/aws/runtime.js';
import { loadConfig } from '../core/config.js';
import { OutputWriter } from '../core/outputs/writer.js';
import { SlotEnvSchema, slotDeps } from '../core/slot-wake.js';
import { DynamoBudgetStore } from '../core/store/budget.js';
import { DynamoFileStore } from '../core/store/files.js';
import { DynamoJobStore } from '../core/store/jobs.js';
import { DynamoOutputNameStore } from '../core/store/output-claims.js';
import { Table } from '../core/store/table.js';
import { budgetGauge } from './budget-gauge.js';
import { reclaimSlots } from './reclaim.js';
import { slotGauge } from './slot-gauge.js';
import { sweepOrphans } from './sweep.js';

const config = loadConfig(
  SlotEnvSchema.extend({
    TABLE_NAME: z.string().min(1),
    OUTPUT_BUCKET: z.string().min(1),
    ACCEPT_OGG_AUDIO: z.enum(['true', 'false']).transform((v) => v === 'true'),
  }),
);

const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  files: new DynamoFileStore(table),
  jobs: new DynamoJobStore(table),
  ...slotDeps(table, config),
  budget: new DynamoBudgetStore(table),
  outputs: new OutputWriter(s3Client(), config.OUTPUT_BUCKET, new DynamoOutputNameStore(table)),
  now: () => new Date(),
  acceptOggAudio: config.ACCEPT_OGG_AUDIO,
};

/**
 * Scheduled (EventBridge rule): reports orphaned inputs, gives back Runware slots and budget reservations that
 * leaked, and reports the slots in use and the queue for them (the dashboard's gauges, the slot-wait alarm), and
 * what the budget has committed this month and day (the monthly budget alarm).
 */
export const handler = async () => {
  const output = await sweepOrphans(deps);
  if (output.reported.length || output.cleared.length) logger.info('swept', { ...output });
  const slots = await reclaimSlots(deps);
  if (slots.released.length || slots.dequeued.length || slots.settled.length)
    logger.warn('reclaimed what ended attempts still held', { ...slots });
  metrics.slots(await slotGauge(deps.slots, deps.now()));
  metrics.budget(await budgetGauge(deps.budget, deps.now()));
  return { ...output, slots };
};
