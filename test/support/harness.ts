import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { ExecutionInput, ExecutionStarter } from '../../lambdas/core/aws/executions.js';
import { OutputWriter } from '../../lambdas/core/outputs/writer.js';
import { DynamoBudgetStore } from '../../lambdas/core/store/budget.js';
import { DynamoFileStore } from '../../lambdas/core/store/files.js';
import { DynamoJobStore } from '../../lambdas/core/store/jobs.js';
import { DynamoOutputNameStore } from '../../lambdas/core/store/output-claims.js';
import { DynamoShownOutputsStore } from '../../lambdas/core/store/shown-outputs.js';
import { DynamoSlotStore } from '../../lambdas/core/store/slots.js';
import { Table } from '../../lambdas/core/store/table.js';
import { DynamoTaskStore } from '../../lambdas/core/store/tasks.js';
import type { IngestDeps, ObjectCreated } from '../../lambdas/ingest/ingest.js';
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

/** Step Functions stand-in with its naming rule: one execution per name, ever. Records every start. */
export class RecordingStarter implements ExecutionStarter {
  readonly calls: { name: string; input: ExecutionInput }[] = [];
  readonly executions = new Map<string, ExecutionInput>();

  /** @param delayMs - how long each start takes (a real API call gives racing callers time to interleave) */
  constructor(private readonly delayMs = 0) {}

  async start(name: string, input: ExecutionInput) {
    this.calls.push({ name, input });
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const alreadyExisted = this.executions.has(name);
    this.executions.set(name, input);
    return { executionArn: `arn:aws:states:us-east-1:123:execution:sm:${name}`, alreadyExisted };
  }
}

/** S3 `Object Created` events of one bucket, as ingest gets them: each later one has a later sequencer. */
export class InboxEvents {
  constructor(private seq: number) {}

  /** A sequencer later than every one given before (hexadecimal, as S3 writes them). */
  nextSequencer(): string {
    this.seq += 1;
    return this.seq.toString(16).toUpperCase();
  }

  /** The event of an upload of `key` whose ETag is `etag`. */
  created(key: string, etag = `etag-${key}`, extra: Partial<ObjectCreated> = {}): ObjectCreated {
    const sequencer = this.nextSequencer();
    return {
      eventId: `event-${parseInt(sequencer, 16)}`,
      encodedKey: key,
      etag: `"${etag}"`,
      size: 1000,
      sequencer,
      ...extra,
    };
  }
}

/**
 * Ingest's dependencies over the test file's stores: a {@link RecordingStarter}, an output writer on `bucket`
 * (S3 mocked by the caller) with the real output-name store, a pairing orphan wait of an hour, a fixed clock.
 */
export function ingestDeps(
  db: TestStores,
  options: { bucket: string; now: Date; executions?: RecordingStarter },
): IngestDeps & { executions: RecordingStarter } {
  return {
    files: db.files,
    jobs: db.jobs,
    orphanAfterSeconds: 3600,
    executions: options.executions ?? new RecordingStarter(),
    outputs: new OutputWriter(new S3Client({ region: 'us-east-1' }), options.bucket, db.outputNames),
    shown: db.shown,
    now: () => options.now,
  };
}
