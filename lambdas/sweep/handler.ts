import { z } from 'zod';
import { loadConfig } from '../core/config.js';
import { OutputWriter } from '../core/outputs.js';
import { dynamoClient, logger, s3Client } from '../core/runtime.js';
import { DynamoFileStore } from '../core/store/files.js';
import { DynamoOutputNameStore } from '../core/store/outputs.js';
import { Table } from '../core/store/table.js';
import { sweepOrphans } from './sweep.js';

const config = loadConfig(z.object({ TABLE_NAME: z.string().min(1), OUTPUT_BUCKET: z.string().min(1) }));

const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  files: new DynamoFileStore(table),
  outputs: new OutputWriter(s3Client(), config.OUTPUT_BUCKET, new DynamoOutputNameStore(table)),
  now: () => new Date(),
};

/** Scheduled (EventBridge rule): reports orphaned inputs. */
export const handler = async () => {
  const output = await sweepOrphans(deps);
  if (output.reported.length || output.cleared.length) logger.info('swept', { ...output });
  return output;
};
