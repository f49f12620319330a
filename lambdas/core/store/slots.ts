import * as z from 'zod';
import { TABLE_SCHEMA } from './schema.js';
import {
  dueAt,
  duePartitions,
  expr,
  inDueIndex,
  itemIsNew,
  keys,
  leaveDueIndex,
  type Table,
} from './table.js';

const DUE = TABLE_SCHEMA.dueIndex;

/**
 * The Runware slots: at most `maxConcurrentTasks` job attempts hold one at a time, across all executions. A job
 * takes a slot before it submits and gives it back when its generation has ended (see {@link SlotStore}).
 *
 * All slots live in one item, a map of holders keyed `<jobId>#<attempt>`, so that "take one if fewer than max are
 * taken" is a single conditional write (no counter that a crash could leave wrong: the map says who holds what,
 * and a holder whose attempt has ended can be found and released). At the largest cap (1000) the item stays far
 * below DynamoDB's 400 KB.
 *
 * Fairness: an attempt that finds no slot it may take is listed as a waiter in the due index (partition `QUEUE`,
 * sorted by when it started waiting). A free slot goes to the oldest waiters still alive (heard from within
 * `staleAfterMs`), so no job waits behind newer ones for ever; a waiter that stopped asking (its execution died)
 * is skipped, and removed when its attempt is released.
 */

/** The key of a holder (and of a waiter): one per job attempt. */
export const holderOf = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;

const HolderSchema = z.object({ jobId: z.string(), attempt: z.number(), takenAt: z.string() });
const SlotsItemSchema = z.object({ holders: z.record(z.string(), HolderSchema).default({}) });

export const WaiterSchema = z.object({
  jobId: z.string(),
  attempt: z.number(),
  /** When this attempt first found no slot. */
  queuedAt: z.string(),
  /** When it last asked for one. */
  heartbeatAt: z.string(),
  dueSk: z.string(),
});
export type Waiter = z.infer<typeof WaiterSchema>;

export interface SlotHolder {
  holder: string;
  jobId: string;
  attempt: number;
  takenAt: string;
}

export interface SlotStore {
  /**
   * Takes a slot for the attempt if one is free and no older live waiter is owed it; true when the attempt holds
   * one (taken now or before: asking again is harmless). Otherwise lists it as waiting and returns false.
   */
  acquire(jobId: string, attempt: number, max: number): Promise<boolean>;
  /** Gives the attempt's slot back and ends its wait; false when it held none (already released). */
  release(jobId: string, attempt: number): Promise<boolean>;
  /** Every slot taken. */
  holders(): Promise<SlotHolder[]>;
  /** The attempts waiting for a slot, oldest first (at most `limit`). */
  waiters(limit: number): Promise<Waiter[]>;
}

export interface SlotStoreOptions {
  now?: () => Date;
  /** A waiter not heard from for this long is skipped (its execution is gone or stuck). @default 300000 */
  staleAfterMs?: number;
}

/** Longer than any job may wait (the largest hard deadline is 7 days). */
const WAITER_TTL_SECONDS = 8 * 86_400;

/** How many waiters past the free slots are read to find the live ones among them. */
const WAITER_LOOKAHEAD = 100;

export class DynamoSlotStore implements SlotStore {
  private readonly now: () => Date;
  private readonly staleAfterMs: number;

  constructor(
    private readonly table: Table,
    options: SlotStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.staleAfterMs = options.staleAfterMs ?? 300_000;
  }

  async acquire(jobId: string, attempt: number, max: number): Promise<boolean> {
    const holder = holderOf(jobId, attempt);
    const taken = await this.taken();
    if (Object.hasOwn(taken, holder)) return true;
    const now = this.now().toISOString();
    const me = await this.wait(holder, jobId, attempt, now);
    const free = max - Object.keys(taken).length;
    if (free <= 0 || !(await this.isFirst(me, free, now))) return false;
    await this.table.write({ put: { ...keys.slots(), holders: {} }, if: itemIsNew });
    const took = await this.table.write({
      update: keys.slots(),
      set: expr(
        'SET holders.#h = :holder',
        { '#h': holder },
        { ':holder': { jobId, attempt, takenAt: now } },
      ),
      // The same holder asking again keeps its slot; a new one needs a free slot. Both in one write.
      if: expr('attribute_exists(holders.#h) OR size(holders) < :max', { '#h': holder }, { ':max': max }),
    });
    if (took) await this.stopWaiting(holder);
    return took;
  }

  async release(jobId: string, attempt: number): Promise<boolean> {
    const holder = holderOf(jobId, attempt);
    await this.stopWaiting(holder);
    return this.table.write({
      update: keys.slots(),
      set: expr('REMOVE holders.#h', { '#h': holder }),
      if: expr('attribute_exists(holders.#h)', { '#h': holder }),
    });
  }

  async holders(): Promise<SlotHolder[]> {
    return Object.entries(await this.taken()).map(([holder, h]) => ({ holder, ...h }));
  }

  waiters(limit: number): Promise<Waiter[]> {
    return this.table.due(duePartitions.slotQueue, this.now().toISOString(), limit, WaiterSchema);
  }

  /**
   * Takes the attempt out of the queue. The item stays (and expires by TTL): only GetItem, Query, PutItem and
   * UpdateItem are needed by the functions that take and give back slots.
   */
  private async stopWaiting(holder: string): Promise<void> {
    await this.table.write({ update: keys.waiter(holder), set: expr(leaveDueIndex), if: inDueIndex });
  }

  private async taken(): Promise<z.output<typeof SlotsItemSchema>['holders']> {
    return (await this.table.get(keys.slots(), SlotsItemSchema))?.holders ?? {};
  }

  /** Lists the attempt as waiting (keeping when it started) and records that it asked now. */
  private wait(holder: string, jobId: string, attempt: number, now: string): Promise<Waiter> {
    const due = dueAt(duePartitions.slotQueue, now, holder);
    return this.table.update(
      {
        update: keys.waiter(holder),
        set: expr(
          'SET jobId = :job, attempt = :attempt, heartbeatAt = :now, queuedAt = if_not_exists(queuedAt, :now), ' +
            '#duePk = :duePk, #dueSk = if_not_exists(#dueSk, :dueSk), #expiresAt = :expiresAt',
          {
            '#duePk': DUE.partitionKey,
            '#dueSk': DUE.sortKey,
            '#expiresAt': TABLE_SCHEMA.timeToLiveAttribute,
          },
          {
            ':expiresAt': Math.floor(Date.parse(now) / 1000) + WAITER_TTL_SECONDS,
            ':job': jobId,
            ':attempt': attempt,
            ':now': now,
            ':duePk': due[DUE.partitionKey],
            ':dueSk': due[DUE.sortKey],
          },
        ),
      },
      WaiterSchema,
    );
  }

  /** Whether `me` is among the `free` oldest live waiters (the index may not show its own write yet). */
  private async isFirst(me: Waiter, free: number, now: string): Promise<boolean> {
    const liveSince = Date.parse(now) - this.staleAfterMs;
    const listed = await this.table.due(duePartitions.slotQueue, now, free + WAITER_LOOKAHEAD, WaiterSchema);
    const ahead = listed.filter((w) => w.dueSk < me.dueSk && Date.parse(w.heartbeatAt) >= liveSince);
    return ahead.length < free;
  }
}
