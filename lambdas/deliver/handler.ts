import * as z from 'zod';
import { metrics } from '../core/aws/metrics.js';
import { dynamoClient, s3Client } from '../core/aws/runtime.js';
import { csv, loadConfig } from '../core/config.js';
import { OutputWriter } from '../core/outputs/writer.js';
import { stepHandler } from '../core/step-input.js';
import { DynamoFileStore } from '../core/store/files.js';
import { DynamoJobStore } from '../core/store/jobs.js';
import { DynamoOutputNameStore } from '../core/store/output-claims.js';
import { DynamoShownOutputsStore } from '../core/store/shown-outputs.js';
import { Table } from '../core/store/table.js';
import { DynamoTaskStore } from '../core/store/tasks.js';
import { deliverJob } from './deliver.js';
import { HttpVideoSource } from './video-source.js';

const config = loadConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    OUTPUT_BUCKET: z.string().min(1),
    ALLOWED_VIDEO_HOSTS: csv.pipe(z.array(z.string()).min(1)),
  }),
);

const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  jobs: new DynamoJobStore(table),
  tasks: new DynamoTaskStore(table),
  videos: new HttpVideoSource(config.ALLOWED_VIDEO_HOSTS),
  s3: s3Client(),
  outputs: new OutputWriter(s3Client(), config.OUTPUT_BUCKET, new DynamoOutputNameStore(table)),
  shown: new DynamoShownOutputsStore(table),
  files: new DynamoFileStore(table),
  now: () => new Date(),
};

export const handler = stepHandler('delivered', async (input) => {
  const output = await deliverJob(input, deps);
  // Stage durations and cost come from the record as delivery left it; failing to read it never fails delivery.
  metrics.jobDelivered(await deps.jobs.get(input.jobId).catch(() => undefined));
  return output;
});
