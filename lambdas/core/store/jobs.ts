import { STAGES, type Stage, StaleAttemptError } from '../errors.js';
import { type JobError, type JobRecord, JobRecordSchema } from '../job.js';
import { type Expr, expr, itemIsNew, join, keys, type Table } from './table.js';

/** The jobs: one item per job, holding its current attempt. */
export interface JobStore {
  /** Creates the job; false when it exists already. */
  create(job: JobRecord): Promise<boolean>;
  /** Replaces a FAILED job by its next attempt; false when someone else did first or it is not FAILED. */
  restart(next: JobRecord, previousAttempt: number): Promise<boolean>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /**
   * Moves the attempt forward to `status` with extra fields. A step that runs late (the job already went
   * further) changes nothing and gets the current record; throws {@link StaleAttemptError} if the attempt is over.
   */
  advance(jobId: string, attempt: number, status: Stage, fields?: Partial<JobRecord>): Promise<JobRecord>;
  /** Sets fields of the attempt without changing its status; throws {@link StaleAttemptError} if it is over. */
  update(jobId: string, attempt: number, fields: Partial<JobRecord>): Promise<JobRecord>;
  /** Gives the attempt its Runware task UUID unless it has one; returns the one stored. */
  assignTaskUUID(jobId: string, attempt: number, taskUUID: string): Promise<string>;
  /** Marks the attempt FAILED (first failure wins: a later one does not overwrite it). */
  fail(jobId: string, attempt: number, error: JobError): Promise<JobRecord | undefined>;
}

/** Fields that only the store's own transitions may change. */
const PROTECTED_FIELDS = new Set(['jobId', 'attempt', 'status', 'stages', 'pk', 'sk']);

/** The attempt named is the job's current one, and it has not failed. */
const liveAttempt = (attempt: number) =>
  expr(
    'attempt = :attempt AND #status <> :failed',
    { '#status': 'status' },
    { ':attempt': attempt, ':failed': 'FAILED' },
  );

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
      if: expr(
        '#status = :failed AND attempt = :previous',
        { '#status': 'status' },
        { ':failed': 'FAILED', ':previous': previousAttempt },
      ),
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
    if (!current || current.attempt !== attempt || current.status === 'FAILED') throw stale(jobId, attempt);
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
    if (!job) throw stale(jobId, attempt);
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

  /** Applies `parts` to the live attempt; throws {@link StaleAttemptError} if it is over. */
  private async change(jobId: string, attempt: number, parts: Expr[]): Promise<JobRecord> {
    const job = await this.table.update(
      { update: keys.job(jobId), set: set(parts), if: liveAttempt(attempt) },
      JobRecordSchema,
    );
    if (!job) throw stale(jobId, attempt);
    return job;
  }
}

const stale = (jobId: string, attempt: number) =>
  new StaleAttemptError(`Job ${jobId} attempt ${attempt} is over (failed, retried or missing).`);
