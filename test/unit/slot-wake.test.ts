import { beforeEach, describe, expect, it } from 'vitest';
import { exitAttempt, takeSlot } from '../../lambdas/core/holdings.js';
import { DynamoSlotStore, type SlotWaker, WaiterSchema } from '../../lambdas/core/store/slots.js';
import { duePartitions, type Table } from '../../lambdas/core/store/table.js';
import { useStores } from '../support/harness.js';

const db = useStores();

/** A clock the test moves; each test starts from a later time, so waiters of earlier tests have long lapsed. */
let clock = Date.parse('2026-12-24T10:00:00Z');
const now = () => new Date(clock);

/** Step Functions as the waker sees it: tokens it completed, and tokens no step waits on any more. */
class FakeWaker implements SlotWaker {
  readonly woken: string[] = [];
  readonly gone = new Set<string>();

  async wake(taskToken: string): Promise<'delivered' | 'gone'> {
    if (this.gone.has(taskToken)) return 'gone';
    this.woken.push(taskToken);
    this.gone.add(taskToken); // a token answers once
    return 'delivered';
  }
}

let waker: FakeWaker;
/** The slots as the functions take and give them back (`holdings.ts`): a cap of `max`, and the waker. */
const slots = (max: number, table: Table = db.table, onTaken?: (s: number) => void) => {
  const deps = {
    slots: new DynamoSlotStore(table, { now, lapseAfterMs: 60_000, ...(onTaken ? { onTaken } : {}) }),
    budget: db.budget,
    maxConcurrentTasks: max,
    waker,
  };
  return {
    acquire: (jobId: string, attempt: number, taskToken?: string) =>
      takeSlot(deps, { jobId, attempt }, taskToken),
    /** Through the attempt's one exit, as a 429 ends it (no reservation to close). */
    release: async (jobId: string, attempt: number) =>
      (await exitAttempt(deps, { jobId, attempt }, { kind: 'busy' })).slotReleased,
    waiters: (limit: number) => deps.slots.waiters(limit),
  };
};

describe('waking the jobs that wait for a slot (against dynalite)', () => {
  beforeEach(async () => {
    clock += 3_600_000;
    waker = new FakeWaker();
    const store = new DynamoSlotStore(db.table, { now });
    for (const h of await store.holders()) await store.release(h.jobId, h.attempt);
    for (const w of await store.waiters(100)) await store.release(w.jobId, w.attempt);
  });

  it('gives the last slot to one of two takers; the other waits with its token and is woken by the release', async () => {
    const store = slots(2);
    expect(await store.acquire('a', 1, 'tok-a')).toBe(true);
    clock += 1;
    const [b, c] = await Promise.all([store.acquire('b', 1, 'tok-b'), store.acquire('c', 1, 'tok-c')]);
    expect([b, c].filter(Boolean)).toHaveLength(1);
    const loser = b ? 'c' : 'b';
    expect((await store.waiters(10)).map((w) => [w.jobId, w.taskToken])).toEqual([[loser, `tok-${loser}`]]);
    expect(waker.woken).toEqual([]);

    expect(await store.release('a', 1)).toBe(true);
    expect(waker.woken).toEqual([`tok-${loser}`]);
    // The woken job comes to take its slot (Submit) and gets it.
    clock += 1;
    expect(await store.acquire(loser, 1)).toBe(true);
    expect(await store.waiters(10)).toEqual([]);
  });

  it('wakes the oldest live waiters, as many as slots are free, and no newer one', async () => {
    const store = slots(2);
    await store.acquire('h1', 1);
    await store.acquire('h2', 1);
    for (const job of ['old', 'mid', 'new']) {
      clock += 1000;
      expect(await store.acquire(job, 1, `tok-${job}`)).toBe(false);
    }
    await store.release('h1', 1);
    expect(waker.woken).toEqual(['tok-old']);
    // A second release frees the second slot: the next waiter, not `old` again (already woken, on its way).
    await store.release('h2', 1);
    expect(waker.woken).toEqual(['tok-old', 'tok-mid']);
    // A newer job asking now finds both free slots owed to the woken waiters.
    clock += 1000;
    expect(await store.acquire('newest', 1, 'tok-newest')).toBe(false);
    expect(await store.acquire('old', 1)).toBe(true);
    expect(await store.acquire('mid', 1)).toBe(true);
  });

  it('skips a lapsed waiter and wakes the live one behind it', async () => {
    const store = slots(1);
    await store.acquire('holder', 1);
    clock += 1000;
    expect(await store.acquire('lapsed', 1, 'tok-lapsed')).toBe(false);
    clock += 50_000;
    expect(await store.acquire('live', 1, 'tok-live')).toBe(false);
    clock += 20_000; // `lapsed` last asked 70 s ago (> lapseAfterMs), `live` 20 s ago
    await store.release('holder', 1);
    expect(waker.woken).toEqual(['tok-live']);
  });

  it('ignores a token no step waits on: that waiter leaves the queue and the next one is woken', async () => {
    const store = slots(1);
    await store.acquire('holder', 1);
    clock += 1000;
    await store.acquire('aborted', 1, 'tok-aborted');
    clock += 1000;
    await store.acquire('next', 1, 'tok-next');
    waker.gone.add('tok-aborted'); // its execution was stopped, or its step timed out

    await expect(store.release('holder', 1)).resolves.toBe(true);
    expect(waker.woken).toEqual(['tok-next']);
    expect((await store.waiters(10)).map((w) => w.jobId)).toEqual(['next']);
    expect(await store.acquire('next', 1)).toBe(true);
  });

  it('never completes a token twice when two releases race', async () => {
    const store = slots(2);
    await store.acquire('h1', 1);
    await store.acquire('h2', 1);
    clock += 1000;
    await store.acquire('w', 1, 'tok-w');
    await Promise.all([store.release('h1', 1), store.release('h2', 1)]);
    expect(waker.woken).toEqual(['tok-w']);
    // Completing it twice would have found it gone and taken `w` out of the queue.
    expect((await store.waiters(10)).map((w) => w.jobId)).toEqual(['w']);
  });

  it('stores the token before it looks at the slots: a slot freed in between is never missed', async () => {
    const releaser = slots(1);
    await releaser.acquire('holder', 1);
    clock += 1000;
    // The slot is freed right after the waiter's write and before it reads the slots (the race window).
    let freed = false;
    const racing = new Proxy(db.table, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== 'update' || typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const out = await value.apply(target, args);
          if (!freed) {
            freed = true;
            await releaser.release('holder', 1);
          }
          return out;
        };
      },
    });
    const took = await slots(1, racing).acquire('w', 1, 'tok-w');
    expect(freed).toBe(true);
    // Either the waiter saw the free slot and took it, or the release found its token and woke it.
    expect(took || waker.woken.includes('tok-w')).toBe(true);
  });

  it('wakes the waiters owed a free slot when a newer job finds it (a wake that was lost)', async () => {
    const store = slots(1);
    await store.acquire('holder', 1);
    clock += 1000;
    await store.acquire('old', 1, 'tok-old');
    // Released by a function that crashed before it could wake anyone.
    await new DynamoSlotStore(db.table, { now }).release('holder', 1);
    expect(waker.woken).toEqual([]);
    clock += 1000;
    expect(await store.acquire('new', 1, 'tok-new')).toBe(false);
    expect(waker.woken).toEqual(['tok-old']);
  });

  it('passes over a waiter the index still lists after it took its slot (the index lags behind the table)', async () => {
    const store = slots(2);
    await store.acquire('holder', 1);
    await store.acquire('full', 1);
    clock += 1000;
    await store.acquire('took', 1, 'tok-took');
    clock += 1000;
    await store.acquire('behind', 1, 'tok-behind');
    const listedBefore = await db.table.due(duePartitions.slotQueue, now().toISOString(), 10, WaiterSchema);
    // `took` takes a slot that frees up, and leaves the queue; the lagging index still lists it.
    await new DynamoSlotStore(db.table, { now }).release('full', 1);
    expect(await store.acquire('took', 1)).toBe(true);
    const lagging = new Proxy(db.table, {
      get: (target, property, receiver) =>
        property === 'due' ? async () => listedBefore : Reflect.get(target, property, receiver),
    });
    await expect(slots(2, lagging).release('holder', 1)).resolves.toBe(true);
    expect(waker.woken).toEqual(['tok-behind']);
  });

  it('reports how long a job waited when it takes its slot', async () => {
    const waited: number[] = [];
    const store = slots(1, db.table, (s) => waited.push(s));
    await store.acquire('first', 1);
    clock += 1000;
    await store.acquire('second', 1, 'tok-second');
    clock += 42_000;
    await store.release('first', 1);
    expect(await store.acquire('second', 1)).toBe(true);
    expect(waited).toEqual([0, 42]);
  });
});
