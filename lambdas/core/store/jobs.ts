import { STAGES, type Stage } from '../contract/lifecycle.js';
import { SupersededAttemptError } from '../errors.js';
import {
  CANCELLABLE_STATUSES,
  type CancelRequest,
  type JobError,
  type JobRecord,
  JobRecordSchema,
  RETRYABLE_STATUSES,
} from '../job.js';
import { type Expr, expr, itemIsNew, join, keys, type Table } from './table.js';

/** The jobs: one item per job, holding its current attempt. */
export interface JobStore {
  /** Creates the job; false when it exists already. */
  create(job: JobRecord): Promise<boolean>;
  /**
   * Replaces an ended (FAILED or CANCELLED) attempt by the next one; false when someone else did first or the
   * attempt has not ended.
   */
  restart(next: JobRecord, previousAttempt: number): Promise<boolean>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /**
   * Moves the attempt forward to `status` with extra fields. A step that runs late (the job already went
   * further) changes nothing and gets the current record; throws {@link SupersededAttemptError} if the attempt is
   * over.
   */
  advance(jobId: string, attempt: number, status: Stage, fields?: Partial<JobRecord>): Promise<JobRecord>;
  /** Sets fields of the attempt without changing its status; throws {@link SupersededAttemptError} if it is over. */
  update(jobId: string, attempt: number, fields: Partial<JobRecord>): Promise<JobRecord>;
  /** Gives the attempt its Runware task UUID unless it has one; returns the one stored. */
  assignTaskUUID(jobId: string, attempt: number, taskUUID: string): Promise<string>;
  /** Marks the attempt FAILED (first failure wins: a later one does not overwrite it). */
  fail(jobId: string, attempt: number, error: JobError): Promise<JobRecord | undefined>;
  /**
   * Records an operator's cancel of the attempt while it runs (RECEIVED to SUBMITTED, not cancelled yet);
   * undefined when it is not in such a state (any more). From then on the attempt is no longer live.
   */
  requestCancel(jobId: string, attempt: number, request: CancelRequest): Promise<JobRecord | undefined>;
  /** Ends a cancel-requested attempt CANCELLED; undefined when it is not (or no longer) waiting for that. */
  cancel(
    jobId: string,
    attempt: number,
    fields: Pick<JobRecord, 'error' | 'cancelledAt' | 'taskAccepted' | 'lateCostUsd' | 'costUsd'>,
  ): Promise<JobRecord | undefined>;
  /** Notes that the JobCancelled event of the attempt was put. */
  markCancelAnnounced(jobId: string, attempt: number, at: string): Promise<void>;
  /** Records what Runware charged for the task of a CANCELLED attempt, reported after the cancel. */
  recordLateCost(jobId: string, attempt: number, costUsd: number): Promise<JobRecord | undefined>;
}

/** Fields that only the store's own transitions may change. */
const PROTECTED_FIELDS = new Set(['jobId', 'attempt', 'status', 'stages', 'cancel', 'pk', 'sk']);

/** `#status IN (...)` over `statuses`, with placeholders named `:<prefix><n>`. */
const statusIn = (prefix: string, statuses: readonly string[]): Expr =>
  expr(
    `#status IN (${statuses.map((_, n) => `:${prefix}${n}`).join(', ')})`,
    { '#status': 'status' },
    Object.fromEntries(statuses.map((status, n) => [`:${prefix}${n}`, status])),
  );

/**
 * The attempt named is the job's current one, it has not ended FAILED or CANCELLED, and no operator asked to
 * cancel it: a step that runs after a cancel request changes nothing (it gets a {@link SupersededAttemptError}).
 */
const liveAttempt = (attempt: number) =>
  expr(
    'attempt = :attempt AND #status <> :failed AND #status <> :cancelled AND attribute_not_exists(#cancel)',
    { '#status': 'status', '#cancel': 'cancel' },
    { ':attempt': attempt, ':failed': 'FAILED', ':cancelled': 'CANCELLED' },
  );

/** Whether a record read back is still the live attempt (the same test as {@link liveAttempt}). */
const isLive = (job: JobRecord | undefined, attempt: number): job is JobRecord =>
  job !== undefined &&
  job.attempt === attempt &&
  job.status !== 'FAILED' &&
  job.status !== 'CANCELLED' &&
  job.cancel === undefined;

const sameAttempt = (attempt: number) => expr('attempt = :attempt', undefined, { ':attempt': attempt });

/** Only forward (or the same stage again, for a retried step): never back to an earlier stage. */
function reachedAtMost(status: Stage): Expr {
  const from = STAGES.slice(0, STAGES.indexOf(status) + 1);
  return expr(
    `#status IN (${from.map((_, n) => `:from${n}`).join(', ')})`,
    { '#status': 'status' },
    Object.fromEntries(from.map((stage, n) => [`:from${n}`, stage])),
  );
}

/** `updatedAt` and each given field, except the protected ones. */
function setFields(fields: Partial<JobRecord>, now: string): Expr[] {
  const parts = [expr('#updatedAt = :now', { '#updatedAt': 'updatedAt' }, { ':now': now })];
  const settable = Object.entries(fields).filter(
    ([name, value]) => value !== undefined && !PROTECTED_FIELDS.has(name),
  );
  settable.forEach(([name, value], i) => {
    parts.push(expr(`#f${i} = :f${i}`, { [`#f${i}`]: name }, { [`:f${i}`]: value }));
  });
  return parts;
}

const stageNames = (status: Stage) => ({ '#stages': 'stages', '#stage': status });

/** The job moves to `status`, stamped now. */
const moveTo = (status: Stage) =>
  expr(
    '#status = :stage, #stages.#stage = :now',
    { '#status': 'status', ...stageNames(status) },
    { ':stage': status },
  );

/** The job already went further: keep its status, but still record when this stage happened. */
const stampLate = (status: Stage) =>
  expr('#stages.#stage = if_not_exists(#stages.#stage, :now)', stageNames(status));

const set = (parts: Expr[]): Expr => {
  const joined = join(', ', parts);
  return { ...joined, text: `SET ${joined.text}` };
};

export class DynamoJobStore implements JobStore {
  constructor(
    private readonly table: Table,
    private readonly now: () => Date = () => new Date(),
  ) {}

  create(job: JobRecord): Promise<boolean> {
    return this.table.write({ put: { ...keys.job(job.jobId), ...job }, if: itemIsNew });
  }

  restart(next: JobRecord, previousAttempt: number): Promise<boolean> {
    return this.table.write({
      put: { ...keys.job(next.jobId), ...next },
      if: join(' AND ', [
        statusIn('ended', RETRYABLE_STATUSES),
        expr('attempt = :previous', undefined, { ':previous': previousAttempt }),
      ]),
    });
  }

  get(jobId: string): Promise<JobRecord | undefined> {
    return this.table.get(keys.job(jobId), JobRecordSchema);
  }

  /** Every job (a bounded scan of the table, for the operators' CLI); `complete` is false when it was cut short. */
  list(maxPages?: number): Promise<{ items: JobRecord[]; complete: boolean }> {
    return this.table.scanKind(keys.job('').sk, JobRecordSchema, maxPages);
  }

  async advance(
    jobId: string,
    attempt: number,
    status: Stage,
    fields: Partial<JobRecord> = {},
  ): Promise<JobRecord> {
    const now = this.now().toISOString();
    const moved = await this.table.update(
      {
        update: keys.job(jobId),
        set: set([...setFields(fields, now), moveTo(status)]),
        if: join(' AND ', [liveAttempt(attempt), reachedAtMost(status)]),
      },
      JobRecordSchema,
    );
    if (moved) return moved;
    const current = await this.get(jobId);
    if (!isLive(current, attempt)) throw superseded(jobId, attempt);
    return this.change(jobId, attempt, [...setFields(fields, now), stampLate(status)]);
  }

  update(jobId: string, attempt: number, fields: Partial<JobRecord>): Promise<JobRecord> {
    return this.change(jobId, attempt, setFields(fields, this.now().toISOString()));
  }

  async assignTaskUUID(jobId: string, attempt: number, taskUUID: string): Promise<string> {
    const job = await this.table.update(
      {
        update: keys.job(jobId),
        set: expr('SET taskUUID = if_not_exists(taskUUID, :uuid)', undefined, { ':uuid': taskUUID }),
        if: liveAttempt(attempt),
      },
      JobRecordSchema,
    );
    if (!job) throw superseded(jobId, attempt);
    return String(job.taskUUID);
  }

  fail(jobId: string, attempt: number, error: JobError): Promise<JobRecord | undefined> {
    return this.table.update(
      {
        update: keys.job(jobId),
        set: expr(
          'SET #status = :failed, #error = :error, #stages.#failed = :at, updatedAt = :at',
          { '#status': 'status', '#error': 'error', '#stages': 'stages', '#failed': 'FAILED' },
          { ':failed': 'FAILED', ':error': error, ':at': error.at },
        ),
        if: liveAttempt(attempt),
      },
      JobRecordSchema,
    );
  }

  requestCancel(jobId: string, attempt: number, request: CancelRequest): Promise<JobRecord | undefined> {
    return this.table.update(
      {
        update: keys.job(jobId),
        set: expr(
          'SET #cancel = :cancel, updatedAt = :at',
          { '#cancel': 'cancel' },
          {
            ':cancel': request,
            ':at': request.requestedAt,
          },
        ),
        if: join(' AND ', [
          sameAttempt(attempt),
          statusIn('running', CANCELLABLE_STATUSES),
          expr('attribute_not_exists(#cancel)'),
        ]),
      },
      JobRecordSchema,
    );
  }

  cancel(
    jobId: string,
    attempt: number,
    fields: Pick<JobRecord, 'error' | 'cancelledAt' | 'taskAccepted' | 'lateCostUsd' | 'costUsd'>,
  ): Promise<JobRecord | undefined> {
    const at = fields.cancelledAt ?? this.now().toISOString();
    return this.table.update(
      {
        update: keys.job(jobId),
        set: set([
          ...setFields({ ...fields, cancelledAt: at }, at),
          expr(
            '#status = :cancelledStatus, #stages.#cancelledStage = :now',
            {
              '#status': 'status',
              '#stages': 'stages',
              '#cancelledStage': 'CANCELLED',
            },
            { ':cancelledStatus': 'CANCELLED' },
          ),
        ]),
        if: join(' AND ', [
          sameAttempt(attempt),
          statusIn('running', CANCELLABLE_STATUSES),
          expr('attribute_exists(#cancel)', { '#cancel': 'cancel' }),
        ]),
      },
      JobRecordSchema,
    );
  }

  async markCancelAnnounced(jobId: string, attempt: number, at: string): Promise<void> {
    await this.table.write({
      update: keys.job(jobId),
      set: expr('SET #cancel.announcedAt = :at', { '#cancel': 'cancel' }, { ':at': at }),
      if: join(' AND ', [sameAttempt(attempt), expr('attribute_exists(#cancel)', { '#cancel': 'cancel' })]),
    });
  }

  recordLateCost(jobId: string, attempt: number, costUsd: number): Promise<JobRecord | undefined> {
    return this.table.update(
      {
        update: keys.job(jobId),
        // A result came, so Runware had the task, whatever the cancel could tell then.
        set: expr(
          'SET lateCostUsd = :cost, costUsd = :cost, taskAccepted = :accepted, updatedAt = :now',
          undefined,
          {
            ':cost': costUsd,
            ':accepted': true,
            ':now': this.now().toISOString(),
          },
        ),
        if: join(' AND ', [
          sameAttempt(attempt),
          expr('#status = :cancelledStatus', { '#status': 'status' }, { ':cancelledStatus': 'CANCELLED' }),
        ]),
      },
      JobRecordSchema,
    );
  }

  /** Applies `parts` to the live attempt; throws {@link SupersededAttemptError} if it is over. */
  private async change(jobId: string, attempt: number, parts: Expr[]): Promise<JobRecord> {
    const job = await this.table.update(
      { update: keys.job(jobId), set: set(parts), if: liveAttempt(attempt) },
      JobRecordSchema,
    );
    if (!job) throw superseded(jobId, attempt);
    return job;
  }
}

const superseded = (jobId: string, attempt: number) =>
  new SupersededAttemptError(`Job ${jobId} attempt ${attempt} is over (failed, retried or missing).`);
