import * as z from 'zod';
import {
  DEFAULT_STALE_AFTER_MS,
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
 * `staleAfterMs`), so no job waits behind newer ones for ever; a waiter that stopped asking (its execution died)
 * is skipped, and removed when its attempt is released.
 *
 * Waking: a waiter may leave the task token of its waiting step (`WaitForSlot`) on its item. Whoever frees a slot
 * (or sees one free that it may not take) completes the tokens of the oldest live waiters, as many as slots are
 * free ({@link DynamoSlotStore.wake}), so a freed slot is taken within a second instead of at the waiter's next
 * timed retry. The token is stored *before* the waiter looks at the slots, so a slot freed in between is seen by
 * one of the two: the waiter (which then takes it) or the releaser (which then finds the token).
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

export interface SlotStore {
  /**
   * Takes a slot for the attempt if one is free and no older live waiter is owed it; true when the attempt holds
   * one (taken now or before: asking again is harmless). Otherwise lists it as waiting (with `taskToken`, to be
   * woken when a slot is freed) and returns false.
   */
  acquire(jobId: string, attempt: number, max: number, taskToken?: string): Promise<boolean>;
  /**
   * Gives the attempt's slot back and ends its wait; false when it held none (already released). With a waker
   * (`SlotStoreOptions.wake`), then wakes the waiters the free slots are owed to.
   */
  release(jobId: string, attempt: number): Promise<boolean>;
  /** Wakes the oldest live waiters with a token, as many as slots are free of `max`; how many were woken. */
  wake(max: number): Promise<number>;
  /** Every slot taken. */
  holders(): Promise<SlotHolder[]>;
  /** The attempts waiting for a slot, oldest first (at most `limit`). */
  waiters(limit: number): Promise<Waiter[]>;
}

export interface SlotStoreOptions {
  now?: () => Date;
  /** A waiter not heard from for this long is skipped (its execution is gone or stuck). @default 300000 */
  staleAfterMs?: number;
  /** Given, a release wakes the waiters owed the free slots of `max`. */
  wake?: { waker: SlotWaker; max: number };
  /** Called when this store took a slot for an attempt, with how long it had waited (0: it never waited). */
  onTaken?: (waitedSeconds: number) => void;
}

export class DynamoSlotStore implements SlotStore {
  private readonly now: () => Date;
  private readonly staleAfterMs: number;

  constructor(
    private readonly table: Table,
    private readonly options: SlotStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  }

  async acquire(jobId: string, attempt: number, max: number, taskToken?: string): Promise<boolean> {
    const holder = holderOf(jobId, attempt);
    if (Object.hasOwn(await this.taken(), holder)) return true;
    const now = this.now().toISOString();
    const me = await this.wait(holder, jobId, attempt, now, taskToken);
    // Read after the token is stored: a slot freed before this read is seen here, one freed after it finds the token.
    const item = await this.slotsItem();
    const free = freeSlots(max, Object.keys(item?.holders ?? {}).length);
    if (free <= 0) return false;
    if (!(await this.isFirst(me, free, now))) {
      // A free slot owed to older waiters: a wake may have been lost (a releaser that crashed), so wake them.
      if (this.options.wake) await this.wakeFree(free);
      return false;
    }
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
    return took;
  }

  async release(jobId: string, attempt: number): Promise<boolean> {
    const holder = holderOf(jobId, attempt);
    await this.stopWaiting(holder);
    // The item as the release left it says how many slots are free: the wake needs no read of its own.
    const left = await this.table.update(
      {
        update: keys.slots(),
        set: expr('REMOVE holders.#h', { '#h': holder }),
        if: expr('attribute_exists(holders.#h)', { '#h': holder }),
      },
      SlotsItemSchema,
    );
    if (!left) return false;
    const wake = this.options.wake;
    if (wake) await this.wakeFree(freeSlots(wake.max, Object.keys(left.holders).length));
    return true;
  }

  async wake(max: number): Promise<number> {
    return this.wakeFree(freeSlots(max, Object.keys(await this.taken()).length));
  }

  /** Wakes the oldest live waiters with a token, as many as `free`; how many were woken. */
  private async wakeFree(slotsFree: number): Promise<number> {
    const waker = this.options.wake?.waker;
    let free = slotsFree;
    if (!waker || free <= 0) return 0;
    const now = this.now().toISOString();
    const listed = await this.table.due(duePartitions.slotQueue, now, queueReadLimit(free), WaiterSchema);
    let woken = 0;
    for (const listedWaiter of wakeCandidates(listed, now, this.staleAfterMs)) {
      if (free <= 0) break;
      // The index may lag behind the item: its token is read from the item itself.
      const waiter = await this.table.get(
        keys.waiter(holderOf(listedWaiter.jobId, listedWaiter.attempt)),
        WaiterItemSchema,
      );
      if (!waiter?.dueSk) continue; // it took a slot or was released meanwhile
      const outcome = waiter.taskToken ? await this.wakeOne(waiter, waiter.taskToken, waker) : 'pending';
      if (outcome === 'gone') continue; // not owed a slot any more: the next waiter is
      free -= 1; // woken now, or before (a waiter without a token is on its way to take its slot)
      if (outcome === 'woken') woken += 1;
    }
    return woken;
  }

  /**
   * Claims the waiter's token (so that two releasers never both use it) and completes it. A token no step waits
   * on means the waiter's step timed out or its execution ended: it leaves the queue unless it asked again since
   * (then it has a new token or a new heartbeat) and, like any waiter, joins it again the next time it asks.
   */
  private async wakeOne(
    waiter: Pick<Waiter, 'jobId' | 'attempt' | 'heartbeatAt'>,
    token: string,
    waker: SlotWaker,
  ): Promise<'woken' | 'gone' | 'pending'> {
    const key = keys.waiter(holderOf(waiter.jobId, waiter.attempt));
    const claimed = await this.table.write({
      update: key,
      set: expr('REMOVE taskToken'),
      if: expr('taskToken = :token', undefined, { ':token': token }),
    });
    if (!claimed) return 'pending'; // another releaser woke it, or it asked again with a new token
    if ((await waker.wake(token)) === 'delivered') return 'woken';
    await this.table.write({
      update: key,
      set: expr(leaveDueIndex),
      if: expr('attribute_not_exists(taskToken) AND heartbeatAt = :seen', undefined, {
        ':seen': waiter.heartbeatAt,
      }),
    });
    return 'gone';
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
    return isOwedSlot(me, listed, free, now, this.staleAfterMs);
  }
}
