import * as z from 'zod';
import { loadConfig } from '../core/config.js';
import { OutputWriter } from '../core/outputs.js';
import { dynamoClient, logger, s3Client } from '../core/runtime.js';
import { DynamoFileStore } from '../core/store/files.js';
import { Table } from '../core/store/table.js';
import { sweepOrphans } from './sweep.js';

const config = loadConfig(z.object({ TABLE_NAME: z.string().min(1), OUTPUT_BUCKET: z.string().min(1) }));

const deps = {
  files: new DynamoFileStore(new Table(dynamoClient(), config.TABLE_NAME)),
  outputs: new OutputWriter(s3Client(), config.OUTPUT_BUCKET),
  now: () => new Date(),
};

/** Scheduled (EventBridge rule): reports orphaned inputs. */
export const handler = async () => {
  const output = await sweepOrphans(deps);
  if (output.reported.length || output.cleared.length) logger.info('swept', { ...output });
  return output;
};
