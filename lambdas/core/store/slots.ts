import * as z from 'zod';
import {
  DEFAULT_LAPSE_AFTER_MS,
  freeSlots,
  holderOf,
  isOwedSlot,
  queueReadLimit,
  WAITER_TTL_SECONDS,
  waitedSeconds,
  wakeCandidates,
} from '../rules/slot-queue.js';
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
 * `lapseAfterMs`), so no job waits behind newer ones for ever; a waiter that stopped asking (its execution died)
 * is skipped, and removed when its attempt is released.
 *
 * Waking: a waiter may leave the task token of its waiting step (`WaitForSlot`) on its item. Whoever frees a slot
 * (or sees one free that it may not take) completes the tokens of the oldest live waiters, as many as slots are
 * free, so a freed slot is taken within a second instead of at the waiter's next timed retry. The token is stored
 * *before* the waiter looks at the slots, so a slot freed in between is seen by one of the two: the waiter (which
 * then takes it) or the releaser (which then finds the token). This store reads and writes the items a wake needs
 * ({@link SlotStore.wakeCandidates}, {@link SlotStore.claimToken}, {@link SlotStore.dropUnwaited}); the wake itself
 * (who is woken, in which order, until the free slots are spent) is in `core/holdings.ts`.
 */

export { holderOf } from '../rules/slot-queue.js';

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
  /** The task token of its waiting step, until a releaser claims it to wake the step. */
  taskToken: z.string().optional(),
});
export type Waiter = z.infer<typeof WaiterSchema>;
/** The waiter item as read by its key: out of the queue (no `dueSk`) once its attempt took a slot or ended. */
const WaiterItemSchema = WaiterSchema.extend({ dueSk: z.string().optional() });

export interface SlotHolder {
  holder: string;
  jobId: string;
  attempt: number;
  takenAt: string;
}

/** Completes a waiting step's task token (`SendTaskSuccess`). */
export interface SlotWaker {
  /** 'gone' when no step waits on the token any more (it timed out, its execution ended, it was woken). */
  wake(taskToken: string): Promise<'delivered' | 'gone'>;
}

/** What asking for a slot came to. */
export interface SlotAsk {
  /** The attempt holds a slot (taken now or before). */
  taken: boolean;
  /**
   * Slots free that older live waiters are owed (so this attempt may not take them): a wake may have been lost (a
   * releaser that crashed), so they are to be woken. 0 when taken, or when no slot is free.
   */
  owed: number;
}

/** A waiter to wake, as read by its key: its token, if it left one and no releaser has claimed it. */
export type WakeCandidate = Pick<Waiter, 'jobId' | 'attempt' | 'heartbeatAt' | 'taskToken'>;

export interface SlotStore {
  /**
   * Takes a slot (one of `max`) for the attempt if one is free and no older live waiter is owed it: `taken` when the
   * attempt holds one (taken now or before: asking again is harmless). Otherwise lists it as waiting (with
   * `taskToken`, to be woken when a slot is freed), and says how many free slots older waiters are owed.
   */
  acquire(jobId: string, attempt: number, max: number, taskToken?: string): Promise<SlotAsk>;
  /**
   * Gives the attempt's slot back and ends its wait: how many slots are still held after it, or undefined when it
   * held none (already released). The count comes from the write itself: whoever wakes the waiters the freed slots
   * are owed to needs no read of its own.
   */
  release(jobId: string, attempt: number): Promise<{ held: number } | undefined>;
  /** Every slot taken. */
  holders(): Promise<SlotHolder[]>;
  /** The attempts waiting for a slot, oldest first (at most `limit`). */
  waiters(limit: number): Promise<Waiter[]>;
  /**
   * The live waiters (heard from lately) the next `free` slots may go to, oldest first, each as its own item says
   * now (the queue's index may lag behind it): one that has left the queue since (took a slot, was released) is left
   * out. Read lazily, one item per step, so a wake reads no more items than it uses.
   */
  wakeCandidates(free: number): AsyncIterable<WakeCandidate>;
  /**
   * Claims the waiter's token, so that two releasers never both complete it: false when another releaser claimed it,
   * or the waiter asked again with a new one.
   */
  claimToken(waiter: WakeCandidate, token: string): Promise<boolean>;
  /**
   * Takes out of the queue a waiter whose claimed token no step waited on (its step timed out, its execution ended),
   * unless it asked again since (a new token or a new heartbeat); like any waiter, it joins again when it next asks.
   */
  dropUnwaited(waiter: WakeCandidate): Promise<void>;
}

export interface SlotStoreOptions {
  now?: () => Date;
  /** A waiter not heard from for this long is skipped (its execution is gone or stuck). @default 300000 */
  lapseAfterMs?: number;
  /** Called when this store took a slot for an attempt, with how long it had waited (0: it never waited). */
  onTaken?: (waitedSeconds: number) => void;
}

export class DynamoSlotStore implements SlotStore {
  private readonly now: () => Date;
  private readonly lapseAfterMs: number;

  constructor(
    private readonly table: Table,
    private readonly options: SlotStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.lapseAfterMs = options.lapseAfterMs ?? DEFAULT_LAPSE_AFTER_MS;
  }

  async acquire(jobId: string, attempt: number, max: number, taskToken?: string): Promise<SlotAsk> {
    const holder = holderOf(jobId, attempt);
    if (Object.hasOwn(await this.taken(), holder)) return { taken: true, owed: 0 };
    const now = this.now().toISOString();
    const me = await this.wait(holder, jobId, attempt, now, taskToken);
    // Read after the token is stored: a slot freed before this read is seen here, one freed after it finds the token.
    const item = await this.slotsItem();
    const free = freeSlots(max, Object.keys(item?.holders ?? {}).length);
    if (free <= 0) return { taken: false, owed: 0 };
    // A free slot owed to older waiters: the caller wakes them.
    if (!(await this.isFirst(me, free, now))) return { taken: false, owed: free };
    // The item of the slots is made once, by the first taker ever; the read above says whether it exists.
    if (!item) await this.table.write({ put: { ...keys.slots(), holders: {} }, if: itemIsNew });
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
    if (took) {
      await this.stopWaiting(holder);
      this.options.onTaken?.(waitedSeconds(me.queuedAt, now));
    }
    return { taken: took, owed: 0 };
  }

  async release(jobId: string, attempt: number): Promise<{ held: number } | undefined> {
    const holder = holderOf(jobId, attempt);
    await this.stopWaiting(holder);
    // The item as the release left it says how many slots are still held.
    const left = await this.table.update(
      {
        update: keys.slots(),
        set: expr('REMOVE holders.#h', { '#h': holder }),
        if: expr('attribute_exists(holders.#h)', { '#h': holder }),
      },
      SlotsItemSchema,
    );
    return left ? { held: Object.keys(left.holders).length } : undefined;
  }

  async *wakeCandidates(free: number): AsyncIterable<WakeCandidate> {
    if (free <= 0) return;
    const now = this.now().toISOString();
    const listed = await this.table.due(duePartitions.slotQueue, now, queueReadLimit(free), WaiterSchema);
    for (const listedWaiter of wakeCandidates(listed, now, this.lapseAfterMs)) {
      // The index may lag behind the item: its token is read from the item itself.
      const waiter = await this.table.get(
        keys.waiter(holderOf(listedWaiter.jobId, listedWaiter.attempt)),
        WaiterItemSchema,
      );
      if (waiter?.dueSk) yield waiter; // else it took a slot or was released meanwhile
    }
  }

  claimToken(waiter: WakeCandidate, token: string): Promise<boolean> {
    return this.table.write({
      update: keys.waiter(holderOf(waiter.jobId, waiter.attempt)),
      set: expr('REMOVE taskToken'),
      if: expr('taskToken = :token', undefined, { ':token': token }),
    });
  }

  async dropUnwaited(waiter: WakeCandidate): Promise<void> {
    await this.table.write({
      update: keys.waiter(holderOf(waiter.jobId, waiter.attempt)),
      set: expr(leaveDueIndex),
      if: expr('attribute_not_exists(taskToken) AND heartbeatAt = :seen', undefined, {
        ':seen': waiter.heartbeatAt,
      }),
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
    await this.table.write({
      update: keys.waiter(holder),
      set: expr(`${leaveDueIndex}, taskToken`),
      if: inDueIndex,
    });
  }

  private async taken(): Promise<z.output<typeof SlotsItemSchema>['holders']> {
    return (await this.slotsItem())?.holders ?? {};
  }

  /** The item of the slots; undefined until the first slot was ever taken. */
  private slotsItem(): Promise<z.output<typeof SlotsItemSchema> | undefined> {
    return this.table.get(keys.slots(), SlotsItemSchema);
  }

  /**
   * Lists the attempt as waiting (keeping when it started) and records that it asked now, with the token that
   * wakes it (none: it asks again on its own, and a token it left before is dropped, its step being over).
   */
  private wait(
    holder: string,
    jobId: string,
    attempt: number,
    now: string,
    taskToken?: string,
  ): Promise<Waiter> {
    const due = dueAt(duePartitions.slotQueue, now, holder);
    return this.table.update(
      {
        update: keys.waiter(holder),
        set: expr(
          'SET jobId = :job, attempt = :attempt, heartbeatAt = :now, queuedAt = if_not_exists(queuedAt, :now), ' +
            '#duePk = :duePk, #dueSk = if_not_exists(#dueSk, :dueSk), #expiresAt = :expiresAt' +
            (taskToken ? ', taskToken = :token' : ' REMOVE taskToken'),
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
            ...(taskToken ? { ':token': taskToken } : {}),
          },
        ),
      },
      WaiterSchema,
    );
  }

  /** Whether `me` is among the `free` oldest live waiters (the index may not show its own write yet). */
  private async isFirst(me: Waiter, free: number, now: string): Promise<boolean> {
    const listed = await this.table.due(duePartitions.slotQueue, now, queueReadLimit(free), WaiterSchema);
    return isOwedSlot(me, listed, free, now, this.lapseAfterMs);
  }
}
