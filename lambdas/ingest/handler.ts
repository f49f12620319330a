import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { SfnExecutionStarter } from '../core/aws/executions.js';
import { dynamoClient, logger, s3Client, sfnClient } from '../core/aws/runtime.js';
import { loadConfig, positiveInt } from '../core/config.js';
import { OutputWriter } from '../core/outputs/writer.js';
import { DynamoFileStore } from '../core/store/files.js';
import { DynamoJobStore } from '../core/store/jobs.js';
import { DynamoOutputNameStore } from '../core/store/output-claims.js';
import { DynamoShownOutputsStore } from '../core/store/shown-outputs.js';
import { Table } from '../core/store/table.js';
import { forgetObject, ingestObject } from './ingest.js';

const config = loadConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    STATE_MACHINE_ARN: z.string().startsWith('arn:'),
    OUTPUT_BUCKET: z.string().min(1),
    ORPHAN_AFTER_SECONDS: positiveInt,
    JOB_RECORD_RETENTION_DAYS: z.coerce.number().int().nonnegative(),
  }),
);

const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  files: new DynamoFileStore(table),
  jobs: new DynamoJobStore(table),
  orphanAfterSeconds: config.ORPHAN_AFTER_SECONDS,
  jobRecordRetentionDays: config.JOB_RECORD_RETENTION_DAYS,
  executions: new SfnExecutionStarter(sfnClient(), config.STATE_MACHINE_ARN),
  outputs: new OutputWriter(s3Client(), config.OUTPUT_BUCKET, new DynamoOutputNameStore(table)),
  shown: new DynamoShownOutputsStore(table),
  now: () => new Date(),
};

const ObjectCreatedDetail = z.object({
  bucket: z.object({ name: z.string() }),
  object: z.object({
    key: z.string().min(1),
    // S3 always sends both; the ETag is part of the job's identity, so a missing one must not become ''.
    size: z.number().int().nonnegative(),
    etag: z.string(),
    sequencer: z.string().min(1),
  }),
});

const ObjectDeletedDetail = z.object({
  object: z.object({ key: z.string().min(1), sequencer: z.string().min(1) }),
});

/** EventBridge `Object Created` / `Object Deleted` notifications of the input bucket (rule: `inbox/` prefix). */
export const handler = async (
  event: EventBridgeEvent<'Object Created' | 'Object Deleted', unknown>,
): Promise<void> => {
  if (event['detail-type'] === 'Object Deleted') {
    const { object } = ObjectDeletedDetail.parse(event.detail);
    const outcome = await forgetObject({ encodedKey: object.key, sequencer: object.sequencer }, deps);
    logger.info('forgotten', { outcome });
    return;
  }
  const detail = ObjectCreatedDetail.parse(event.detail);
  const outcome = await ingestObject(
    {
      eventId: event.id,
      encodedKey: detail.object.key,
      etag: detail.object.etag,
      size: detail.object.size,
      sequencer: detail.object.sequencer,
    },
    deps,
  );
  if (outcome.kind === 'archive-missing') {
    // A job delivered before deliver kept an archive: its outputs cannot come back without a new render, which
    // would be billed, so the output folder is left as it was.
    logger.warn('ingested: outputs not restored, no archived copy', { outcome });
    return;
  }
  logger.info('ingested', { outcome });
};
