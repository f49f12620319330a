import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { OutputWriter } from '../../lambdas/core/outputs.js';
import { DynamoBudgetStore } from '../../lambdas/core/store/budget.js';
import { DynamoFileStore } from '../../lambdas/core/store/files.js';
import { DynamoJobStore } from '../../lambdas/core/store/jobs.js';
import { DynamoOutputNameStore } from '../../lambdas/core/store/outputs.js';
import { DynamoShownOutputsStore } from '../../lambdas/core/store/shown.js';
import { DynamoSlotStore } from '../../lambdas/core/store/slots.js';
import { Table } from '../../lambdas/core/store/table.js';
import { DynamoTaskStore } from '../../lambdas/core/store/tasks.js';
import { startDynamo } from './dynamo.js';
import { MemoryOutputNameStore } from './output-names.js';

/**
 * The unit tests' one setup: call these at the top of a test file. They register their own vitest hooks.
 */

/** The stores of one test file, over one in-memory table. */
export interface TestStores {
  table: Table;
  files: DynamoFileStore;
  jobs: DynamoJobStore;
  tasks: DynamoTaskStore;
  slots: DynamoSlotStore;
  outputNames: DynamoOutputNameStore;
  budget: DynamoBudgetStore;
  shown: DynamoShownOutputsStore;
}

/**
 * The unit tests' harness: starts one in-memory table for the calling test file (before all its tests) and
 * stops it after them. The stores are read through the returned object once the tests run.
 */
export function useStores(options: { now?: () => Date } = {}): TestStores {
  let dynamo: Awaited<ReturnType<typeof startDynamo>> | undefined;
  let stores: TestStores | undefined;
  beforeAll(async () => {
    dynamo = await startDynamo();
    const table = new Table(dynamo.client, dynamo.tableName);
    stores = {
      table,
      files: new DynamoFileStore(table),
      jobs: new DynamoJobStore(table, options.now),
      tasks: new DynamoTaskStore(table),
      slots: new DynamoSlotStore(table, options.now ? { now: options.now } : {}),
      outputNames: new DynamoOutputNameStore(table),
      budget: new DynamoBudgetStore(table, options.now ? { now: options.now } : {}),
      shown: new DynamoShownOutputsStore(table),
    };
  });
  afterAll(async () => dynamo?.stop());
  const started = (): TestStores => {
    if (!stores) throw new Error('useStores: the table starts in beforeAll; use the stores inside tests');
    return stores;
  };
  return {
    get table() {
      return started().table;
    },
    get files() {
      return started().files;
    },
    get jobs() {
      return started().jobs;
    },
    get tasks() {
      return started().tasks;
    },
    get slots() {
      return started().slots;
    },
    get outputNames() {
      return started().outputNames;
    },
    get budget() {
      return started().budget;
    },
    get shown() {
      return started().shown;
    },
  };
}

/**
 * S3 mocked for the code that writes outputs: every `PutObject` succeeds, and the calls are forgotten after
 * each test. `outputs(bucket)` is the writer the use cases get.
 */
export function useOutputBucket(): {
  s3: AwsClientStub<S3Client>;
  outputs: (bucket?: string) => OutputWriter;
} {
  const s3 = mockClient(S3Client);
  beforeEach(() => {
    s3.on(PutObjectCommand).resolves({});
  });
  afterEach(() => s3.reset());
  return {
    s3,
    outputs: (bucket = 'out') =>
      new OutputWriter(new S3Client({ region: 'us-east-1' }), bucket, new MemoryOutputNameStore()),
  };
}
