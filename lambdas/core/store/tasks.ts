import { taskExpiresAt } from '../contract/retention.js';
import { SupersededAttemptError } from '../errors.js';
import type { GenerationResult, TaskError, TaskRecord } from '../job.js';
import { TaskRecordSchema } from '../job.js';
import { expr, itemExists, itemIsNew, keys, type Table } from './table.js';

/** What the submit step saves before calling Runware; results and errors start empty. */
export type NewTask = Omit<TaskRecord, 'results' | 'errors' | 'completedAt'>;

/** The Runware tasks: what the webhook and the poller need to complete one. */
export interface TaskStore {
  /**
   * Creates the task lookup, or rotates its token when the submit step runs again. Returns the stored task.
   * Throws {@link SupersededAttemptError} when the task belongs to another attempt (or job).
   */
  save(task: NewTask): Promise<TaskRecord>;
  /**
   * Hands the task of an earlier attempt of the same job over to `task.attempt` (see `adoptableTask`): the
   * webhook and the poller then complete this attempt's token, and a result already recorded is told to it
   * again. Creates the lookup when the earlier attempt never stored it, rotates the token when this attempt
   * already took it over. Throws {@link SupersededAttemptError} when a later attempt (or another job) holds it.
   */
  adopt(task: NewTask): Promise<TaskRecord>;
  get(taskUUID: string): Promise<TaskRecord | undefined>;
  /** Adds one result; `added` is false for a duplicate delivery of a result already kept. */
  addResult(taskUUID: string, result: GenerationResult): Promise<{ added: boolean; task: TaskRecord }>;
  /** Records a failure report, keyed by `id` so a duplicated delivery of the same report counts once. */
  addError(taskUUID: string, id: string, error: TaskError): Promise<TaskRecord>;
  /** Marks the waiting step as told; false when it was already. */
  markCompleted(taskUUID: string, at: string): Promise<boolean>;
}

export class DynamoTaskStore implements TaskStore {
  constructor(private readonly table: Table) {}

  async save(task: NewTask): Promise<TaskRecord> {
    const saved = await this.table.update(
      {
        update: keys.task(task.taskUUID),
        set: expr(
          'SET taskUUID = :uuid, jobId = :job, attempt = :attempt, numberResults = :n, taskToken = :token, ' +
            'results = if_not_exists(results, :empty), #errors = if_not_exists(#errors, :empty), ' +
            'createdAt = if_not_exists(createdAt, :at), expiresAt = if_not_exists(expiresAt, :expires)',
          { '#errors': 'errors' },
          {
            ':uuid': task.taskUUID,
            ':job': task.jobId,
            ':attempt': task.attempt,
            ':n': task.numberResults,
            ':token': task.taskToken,
            ':empty': {},
            ':at': task.createdAt,
            // The token and results are of no use once the job ended (see retention.ts).
            ':expires': taskExpiresAt(task.createdAt),
          },
        ),
        // A step of an attempt that is over never takes the token of the attempt that adopted its task.
        if: expr(`${itemIsNew.text} OR (jobId = :job AND attempt = :attempt)`),
      },
      TaskRecordSchema,
    );
    if (!saved) throw supersededTask(task);
    return saved;
  }

  async adopt(task: NewTask): Promise<TaskRecord> {
    const adopted = await this.table.update(
      {
        update: keys.task(task.taskUUID),
        set: expr(
          'SET attempt = :attempt, taskToken = :token, numberResults = :n REMOVE completedAt',
          undefined,
          {
            ':attempt': task.attempt,
            ':token': task.taskToken,
            ':n': task.numberResults,
          },
        ),
        if: expr(`${itemExists.text} AND jobId = :job AND attempt < :attempt`, undefined, {
          ':job': task.jobId,
        }),
      },
      TaskRecordSchema,
    );
    // Not an earlier attempt's: never stored (created now), already this attempt's (token rotated) or superseded.
    return adopted ?? this.save(task);
  }

  get(taskUUID: string): Promise<TaskRecord | undefined> {
    return this.table.get(keys.task(taskUUID), TaskRecordSchema);
  }

  async addResult(taskUUID: string, result: GenerationResult): Promise<{ added: boolean; task: TaskRecord }> {
    const added = await this.table.update(
      {
        update: keys.task(taskUUID),
        set: expr('SET results.#video = :result', { '#video': result.videoUUID }, { ':result': result }),
        // Never more results than the task asked for, even when two webhooks race past the caller's own cap:
        // a result beyond `numberResults` is not kept, so it is never delivered or billed.
        if: expr(
          `${itemExists.text} AND attribute_not_exists(results.#video) AND size(results) < numberResults`,
        ),
      },
      TaskRecordSchema,
    );
    if (added) return { added: true, task: added };
    const task = await this.get(taskUUID);
    if (!task) throw new Error(`Unknown task ${taskUUID}`);
    return { added: false, task };
  }

  async addError(taskUUID: string, id: string, error: TaskError): Promise<TaskRecord> {
    // `errors` exists from the moment the task is saved (see save).
    const task = await this.table.update(
      {
        update: keys.task(taskUUID),
        set: expr(
          'SET #errors.#id = if_not_exists(#errors.#id, :error)',
          { '#errors': 'errors', '#id': id },
          {
            ':error': error,
          },
        ),
        if: itemExists,
      },
      TaskRecordSchema,
    );
    if (!task) throw new Error(`Unknown task ${taskUUID}`);
    return task;
  }

  markCompleted(taskUUID: string, at: string): Promise<boolean> {
    return this.table.write({
      update: keys.task(taskUUID),
      set: expr('SET completedAt = :at', undefined, { ':at': at }),
      if: expr(`${itemExists.text} AND attribute_not_exists(completedAt)`),
    });
  }
}

const supersededTask = (task: NewTask) =>
  new SupersededAttemptError(
    `Task ${task.taskUUID} is not job ${task.jobId} attempt ${task.attempt}'s: a later attempt (or another job) holds it.`,
  );
