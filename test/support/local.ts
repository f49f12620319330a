import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { JobRecord } from '../../lambdas/core/job.js';
import { DynamoFileStore } from '../../lambdas/core/store/files.js';
import { DynamoJobStore } from '../../lambdas/core/store/jobs.js';
import { TABLE_SCHEMA } from '../../lambdas/core/store/schema.js';
import { Table } from '../../lambdas/core/store/table.js';
import { DynamoTaskStore } from '../../lambdas/core/store/tasks.js';
import { makeSamplePortrait, makeSampleVoice } from '../../local/ffmpeg.js';
import { LocalStack } from '../../local/stack.js';

/** Settings for end-to-end runs: short waits so timeouts and polling happen within a test's time. */
export const E2E_CONTEXT = { settleSeconds: '1', waitTimeoutSeconds: '8', hardDeadlineSeconds: '40' };

/**
 * {@link E2E_CONTEXT} with the limits lowered so that the size checks and the orphan clock are testable in
 * seconds. One context for the files that need any of them: each distinct context is one more `cdk synth`.
 */
export const SHORT_LIMITS_CONTEXT = {
  ...E2E_CONTEXT,
  orphanAfterSeconds: '2',
  maxImageBytes: '2000000',
  maxAudioBytes: '3000000',
};

export interface Samples {
  portrait: Buffer;
  voice3s: Buffer;
  voice5s: Buffer;
}

export async function startLocal(
  context: Record<string, string> = E2E_CONTEXT,
): Promise<{ stack: LocalStack; samples: Samples; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'avatar-e2e-'));
  const stack = await LocalStack.start({ workDir: dir, context, removeWorkDirOnStop: true });
  await Promise.all([
    makeSamplePortrait(join(dir, 'portrait.png')),
    makeSampleVoice(join(dir, 'voice3.wav'), 3),
    makeSampleVoice(join(dir, 'voice5.wav'), 5),
  ]);
  const samples = {
    portrait: readFileSync(join(dir, 'portrait.png')),
    voice3s: readFileSync(join(dir, 'voice3.wav')),
    voice5s: readFileSync(join(dir, 'voice5.wav')),
  };
  return { stack, samples, dir };
}

export async function drop(stack: LocalStack, key: string, body: Buffer | string): Promise<void> {
  await stack.s3.send(
    new PutObjectCommand({ Bucket: stack.names.inputBucket, Key: `inbox/${key}`, Body: body }),
  );
}

/**
 * The job of `stem` once its execution has ended and nothing else is running: the job of its first execution,
 * or, given `which`, the one job of the stem that `which` matches, whichever execution it had (a stem can have
 * several jobs, e.g. when a sidecar lands after its pair's settings were frozen, and which one came first then
 * depends on timing).
 */
export async function finishedJob(
  stack: LocalStack,
  stem: string,
  which?: (job: JobRecord) => boolean,
): Promise<JobRecord> {
  await stack.idle();
  const jobIds = [
    ...new Set(
      stack.sfn
        .listExecutions()
        .map((e) => JSON.parse(e.input) as { stem: string; jobId: string })
        .filter((input) => input.stem === stem)
        .map((input) => input.jobId),
    ),
  ];
  if (jobIds.length === 0) throw new Error(`No execution for ${stem}`);
  const jobs: JobRecord[] = [];
  for (const jobId of which ? jobIds : jobIds.slice(0, 1)) {
    const job = await storesOf(stack).jobs.get(jobId);
    if (!job) throw new Error(`No job record for ${stem} (${jobId})`);
    jobs.push(job);
  }
  const matching = which ? jobs.filter(which) : jobs;
  if (matching.length !== 1)
    throw new Error(`${matching.length} of the ${jobs.length} jobs of ${stem} match, expected exactly one`);
  return matching[0] as JobRecord;
}

/** The pipeline's own stores over the local stack's table: tests read jobs, tasks and files as the code does. */
export interface LocalStores {
  files: DynamoFileStore;
  jobs: DynamoJobStore;
  tasks: DynamoTaskStore;
}

const storesByStack = new WeakMap<LocalStack, LocalStores>();

export function storesOf(stack: LocalStack): LocalStores {
  let stores = storesByStack.get(stack);
  if (!stores) {
    const table = new Table(stack.dynamo, stack.names.tableName);
    stores = {
      files: new DynamoFileStore(table),
      jobs: new DynamoJobStore(table),
      tasks: new DynamoTaskStore(table),
    };
    storesByStack.set(stack, stores);
  }
  return stores;
}

/** Every item of the table, raw and in key order: a snapshot to prove that something changed nothing. */
export async function tableSnapshot(stack: LocalStack): Promise<Record<string, unknown>[]> {
  const doc = DynamoDBDocumentClient.from(stack.dynamo);
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName: stack.names.tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  const { partitionKey, sortKey } = TABLE_SCHEMA;
  const order = (item: Record<string, unknown>) => `${String(item[partitionKey])}|${String(item[sortKey])}`;
  return items.sort((a, b) => order(a).localeCompare(order(b)));
}

export async function outputKeys(stack: LocalStack, prefix: string): Promise<string[]> {
  const out = await stack.s3.send(
    new ListObjectsV2Command({ Bucket: stack.names.outputBucket, Prefix: prefix }),
  );
  return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
}

export async function readOutput(stack: LocalStack, key: string): Promise<Buffer> {
  const out = await stack.s3.send(new GetObjectCommand({ Bucket: stack.names.outputBucket, Key: key }));
  return Buffer.from(await (out.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
}

export async function inputExists(stack: LocalStack, key: string): Promise<boolean> {
  try {
    await stack.s3.send(new HeadObjectCommand({ Bucket: stack.names.inputBucket, Key: `inbox/${key}` }));
    return true;
  } catch {
    return false;
  }
}
