import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { STAGES, type Stage } from './errors.js';
import type { GenerationResult, JobError, JobRecord, StoredFile, TaskError, TaskRecord } from './job.js';

/**
 * Everything the pipeline keeps, in one DynamoDB table keyed by `pk`/`sk`:
 * - `STEM#<stem>` / `FILE#<key>`: a file seen in the inbox (pairing);
 * - `JOB#<jobId>` / `JOB`: the job record;
 * - `TASK#<taskUUID>` / `TASK`: the Runware task lookup for the webhook and the poller.
 * Every write is a single-item conditional write (no transactions), so it runs on DynamoDB Local emulators too.
 */
export interface JobStore {
  /** Records a file; false when a newer event of the same key was recorded already (stale event). */
  putFile(file: StoredFile): Promise<boolean>;
  listFiles(stem: string): Promise<StoredFile[]>;
  /** Forgets a file whose object was deleted; false when a newer upload of the key replaced it meanwhile. */
  forgetFile(stem: string, key: string, sequencer: string): Promise<boolean>;
  /** Starts (or restarts) the orphan clock of a stem that has only one of its two files. */
  watchOrphan(watch: OrphanWatch): Promise<void>;
  /** The pair is complete (or the files are gone): stop watching. */
  unwatchOrphan(stem: string): Promise<void>;
  /** Watches that fell due at or before `now`, oldest first. */
  dueOrphans(now: string, limit?: number): Promise<OrphanWatch[]>;
  /** Marks a watch as reported; false when another sweep reported it first. */
  markOrphanReported(stem: string, at: string): Promise<boolean>;
  /** Creates the job; false when it exists already. */
  createJob(job: JobRecord): Promise<boolean>;
  /** Replaces a FAILED job by its next attempt; false when someone else did first or it is not FAILED. */
  restartJob(next: JobRecord, previousAttempt: number): Promise<boolean>;
  getJob(jobId: string): Promise<JobRecord | undefined>;
  /**
   * Moves the attempt forward to `status` with extra fields. A step that runs late (the job already went
   * further) changes nothing and gets the current record; throws `StaleAttemptError` if the attempt is over.
   */
  advanceJob(jobId: string, attempt: number, status: Stage, fields?: Partial<JobRecord>): Promise<JobRecord>;
  /** Gives the attempt its Runware task UUID unless it has one; returns the one stored. */
  assignTaskUUID(jobId: string, attempt: number, taskUUID: string): Promise<string>;
  /** Sets fields of the attempt without changing its status. */
  updateJob(jobId: string, attempt: number, fields: Partial<JobRecord>): Promise<JobRecord>;
  /** Marks the attempt FAILED (first failure wins: a later one does not overwrite it). */
  failJob(jobId: string, attempt: number, error: JobError): Promise<JobRecord | undefined>;

  /** Creates the task lookup, or rotates its token when the submit step runs again. Returns the stored task. */
  saveTaskToken(
    task: Omit<TaskRecord, 'results' | 'errors' | 'createdAt'> & { createdAt: string },
  ): Promise<TaskRecord>;
  getTask(taskUUID: string): Promise<TaskRecord | undefined>;
  /** Adds one result; `added` is false for a duplicate delivery of a result already kept. */
  addTaskResult(taskUUID: string, result: GenerationResult): Promise<{ added: boolean; task: TaskRecord }>;
  /** Records a failure report, keyed by `id` so a duplicated delivery of the same report counts once. */
  addTaskError(taskUUID: string, id: string, error: TaskError): Promise<TaskRecord>;
  /** Marks the waiting step as told; false when it was already. */
  markTaskCompleted(taskUUID: string, at: string): Promise<boolean>;
}

/** Name of the table's index of items by due time (`duePk` / `dueSk`). */
export const DUE_INDEX = 'due';
const ORPHAN_DUE = 'ORPHAN';

/** A stem with a lone file, watched so that it is reported if its partner never comes. */
export interface OrphanWatch {
  stem: string;
  /** When the lone file(s) count as orphaned. */
  dueAt: string;
  since: string;
}

/** The job is on another attempt, or already failed: this step's work is no longer wanted. */
export class StaleAttemptError extends Error {
  override name = 'StaleAttemptError';
}

const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' });
const taskKey = (taskUUID: string) => ({ pk: `TASK#${taskUUID}`, sk: 'TASK' });
const fileKey = (stem: string, key: string) => ({ pk: `STEM#${stem}`, sk: `FILE#${key}` });

function strip<T>(item: Record<string, unknown> | undefined): T | undefined {
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as T;
}

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error instanceof Error && error.name === 'ConditionalCheckFailedException')
  );
}

export class DynamoJobStore implements JobStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
    });
  }

  async putFile(file: StoredFile): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...fileKey(file.stem, file.key), ...file },
          // An equal sequencer is the same event delivered again: let it through, so a retried ingest can
          // finish what a crashed one started. The job claim below stops it from doing anything twice.
          ConditionExpression: 'attribute_not_exists(pk) OR sequencer <= :seq',
          ExpressionAttributeValues: { ':seq': file.sequencer },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async forgetFile(stem: string, key: string, sequencer: string): Promise<boolean> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: fileKey(stem, key),
          // A delete event older than the upload on record (a late or re-ordered event) must not remove it.
          ConditionExpression: 'attribute_exists(pk) AND sequencer < :seq',
          ExpressionAttributeValues: { ':seq': sequencer },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async listFiles(stem: string): Promise<StoredFile[]> {
    const files: StoredFile[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :file)',
          ExpressionAttributeValues: { ':pk': `STEM#${stem}`, ':file': 'FILE#' },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const file = strip<StoredFile>(item);
        if (file) files.push(file);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return files;
  }

  async watchOrphan(watch: OrphanWatch): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `STEM#${watch.stem}`,
          sk: 'ORPHAN_WATCH',
          duePk: ORPHAN_DUE,
          dueSk: `${watch.dueAt}#${watch.stem}`,
          ...watch,
        },
      }),
    );
  }

  async unwatchOrphan(stem: string): Promise<void> {
    await this.doc.send(
      new DeleteCommand({ TableName: this.tableName, Key: { pk: `STEM#${stem}`, sk: 'ORPHAN_WATCH' } }),
    );
  }

  async dueOrphans(now: string, limit = 100): Promise<OrphanWatch[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: DUE_INDEX,
        KeyConditionExpression: 'duePk = :orphan AND dueSk <= :now',
        // `~` sorts after every character of an ISO time and `#`: all watches due at or before `now`.
        ExpressionAttributeValues: { ':orphan': ORPHAN_DUE, ':now': `${now}~` },
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((item) => ({
      stem: String(item.stem),
      dueAt: String(item.dueAt),
      since: String(item.since),
    }));
  }

  async markOrphanReported(stem: string, at: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `STEM#${stem}`, sk: 'ORPHAN_WATCH' },
          UpdateExpression: 'REMOVE duePk, dueSk SET reportedAt = :at',
          ConditionExpression: 'attribute_exists(dueSk)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async createJob(job: JobRecord): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...jobKey(job.jobId), ...job },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async restartJob(next: JobRecord, previousAttempt: number): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...jobKey(next.jobId), ...next },
          ConditionExpression: '#status = :failed AND attempt = :previous',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':failed': 'FAILED', ':previous': previousAttempt },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: jobKey(jobId), ConsistentRead: true }),
    );
    return strip<JobRecord>(out.Item);
  }

  async advanceJob(
    jobId: string,
    attempt: number,
    status: Stage,
    fields: Partial<JobRecord> = {},
  ): Promise<JobRecord> {
    try {
      return await this.update(jobId, attempt, fields, status);
    } catch (error) {
      if (!(error instanceof StaleAttemptError)) throw error;
      const current = await this.getJob(jobId);
      if (current && current.attempt === attempt && current.status !== 'FAILED') {
        return this.update(jobId, attempt, fields, status, true);
      }
      throw error;
    }
  }

  async assignTaskUUID(jobId: string, attempt: number, taskUUID: string): Promise<string> {
    const out = await this.doc
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(jobId),
          UpdateExpression: 'SET taskUUID = if_not_exists(taskUUID, :uuid)',
          ConditionExpression: 'attempt = :attempt AND #status <> :failed',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':uuid': taskUUID, ':attempt': attempt, ':failed': 'FAILED' },
          ReturnValues: 'ALL_NEW',
        }),
      )
      .catch((error: unknown) => {
        if (isConditionFailure(error)) {
          throw new StaleAttemptError(
            `Job ${jobId} attempt ${attempt} is over (failed, retried or missing).`,
          );
        }
        throw error;
      });
    return String(out.Attributes?.taskUUID);
  }

  updateJob(jobId: string, attempt: number, fields: Partial<JobRecord>): Promise<JobRecord> {
    return this.update(jobId, attempt, fields);
  }

  private async update(
    jobId: string,
    attempt: number,
    fields: Partial<JobRecord>,
    status?: Stage,
    late = false,
  ): Promise<JobRecord> {
    const now = this.now().toISOString();
    const names: Record<string, string> = { '#status': 'status', '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':attempt': attempt, ':failed': 'FAILED', ':now': now };
    const sets = ['#updatedAt = :now'];
    let i = 0;
    for (const [name, value] of Object.entries(fields)) {
      if (value === undefined || ['jobId', 'attempt', 'status', 'stages', 'pk', 'sk'].includes(name))
        continue;
      names[`#f${i}`] = name;
      values[`:f${i}`] = value;
      sets.push(`#f${i} = :f${i}`);
      i++;
    }
    let condition = 'attempt = :attempt AND #status <> :failed';
    if (status && late) {
      // The job already went further: keep its status, but still record when this stage happened.
      names['#stages'] = 'stages';
      names['#stage'] = status;
      sets.push('#stages.#stage = if_not_exists(#stages.#stage, :now)');
    } else if (status) {
      names['#stages'] = 'stages';
      names['#stage'] = status;
      values[':stage'] = status;
      sets.push('#status = :stage', '#stages.#stage = :now');
      // Only forward (or the same stage again, for a retried step): never back to an earlier stage.
      const from = STAGES.slice(0, STAGES.indexOf(status) + 1);
      from.forEach((stage, n) => {
        values[`:from${n}`] = stage;
      });
      condition += ` AND #status IN (${from.map((_, n) => `:from${n}`).join(', ')})`;
    }
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(jobId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return strip<JobRecord>(out.Attributes) as JobRecord;
    } catch (error) {
      if (isConditionFailure(error)) {
        throw new StaleAttemptError(`Job ${jobId} attempt ${attempt} is over (failed, retried or missing).`);
      }
      throw error;
    }
  }

  async failJob(jobId: string, attempt: number, error: JobError): Promise<JobRecord | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(jobId),
          UpdateExpression: 'SET #status = :failed, #error = :error, #stages.#failed = :at, updatedAt = :at',
          ConditionExpression: 'attempt = :attempt AND #status <> :failed',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#error': 'error',
            '#stages': 'stages',
            '#failed': 'FAILED',
          },
          ExpressionAttributeValues: {
            ':failed': 'FAILED',
            ':error': error,
            ':at': error.at,
            ':attempt': attempt,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return strip<JobRecord>(out.Attributes);
    } catch (e) {
      if (isConditionFailure(e)) return undefined;
      throw e;
    }
  }

  async saveTaskToken(
    task: Omit<TaskRecord, 'results' | 'errors' | 'createdAt'> & { createdAt: string },
  ): Promise<TaskRecord> {
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: taskKey(task.taskUUID),
        UpdateExpression:
          'SET taskUUID = :uuid, jobId = :job, attempt = :attempt, numberResults = :n, taskToken = :token, ' +
          'results = if_not_exists(results, :empty), #errors = if_not_exists(#errors, :empty), ' +
          'createdAt = if_not_exists(createdAt, :at)',
        ExpressionAttributeNames: { '#errors': 'errors' },
        ExpressionAttributeValues: {
          ':uuid': task.taskUUID,
          ':job': task.jobId,
          ':attempt': task.attempt,
          ':n': task.numberResults,
          ':token': task.taskToken,
          ':empty': {},
          ':at': task.createdAt,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return strip<TaskRecord>(out.Attributes) as TaskRecord;
  }

  async getTask(taskUUID: string): Promise<TaskRecord | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: taskKey(taskUUID), ConsistentRead: true }),
    );
    return strip<TaskRecord>(out.Item);
  }

  async addTaskResult(
    taskUUID: string,
    result: GenerationResult,
  ): Promise<{ added: boolean; task: TaskRecord }> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: taskKey(taskUUID),
          UpdateExpression: 'SET results.#video = :result',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(results.#video)',
          ExpressionAttributeNames: { '#video': result.videoUUID },
          ExpressionAttributeValues: { ':result': result },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { added: true, task: strip<TaskRecord>(out.Attributes) as TaskRecord };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const task = await this.getTask(taskUUID);
      if (!task) throw new Error(`Unknown task ${taskUUID}`);
      return { added: false, task };
    }
  }

  async addTaskError(taskUUID: string, id: string, error: TaskError): Promise<TaskRecord> {
    // `errors` exists from the moment the task is saved (see saveTaskToken).
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: taskKey(taskUUID),
        UpdateExpression: 'SET #errors.#id = if_not_exists(#errors.#id, :error)',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#errors': 'errors', '#id': id },
        ExpressionAttributeValues: { ':error': error },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return strip<TaskRecord>(out.Attributes) as TaskRecord;
  }

  async markTaskCompleted(taskUUID: string, at: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: taskKey(taskUUID),
          UpdateExpression: 'SET completedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(completedAt)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
