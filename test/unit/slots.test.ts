import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoSlotStore } from '../../lambdas/core/store/slots.js';
import { useStores } from '../support/harness.js';

const db = useStores();

/** A clock the test moves; each test starts from a later time, so waiters of earlier tests have long lapsed. */
let clock = Date.parse('2026-11-24T10:00:00Z');
const now = () => new Date(clock);
const slots = () => new DynamoSlotStore(db.table, { now, lapseAfterMs: 60_000 });

async function releaseAll(store: DynamoSlotStore): Promise<void> {
  for (const h of await store.holders()) await store.release(h.jobId, h.attempt);
  for (const w of await store.waiters(100)) await store.release(w.jobId, w.attempt);
}

describe('slot store (against dynalite)', () => {
  beforeEach(async () => {
    clock += 3_600_000;
    await releaseAll(slots());
  });

  it('gives the last free slot to exactly one of two takers at once', async () => {
    const store = slots();
    expect((await store.acquire('a', 1, 2)).taken).toBe(true);
    clock += 1;
    const [b, c] = await Promise.all([store.acquire('b', 1, 2), store.acquire('c', 1, 2)]);
    expect([b, c].filter((ask) => ask.taken)).toHaveLength(1);
    expect(await store.holders()).toHaveLength(2);
  });

  it('lets a holder ask again without taking a second slot', async () => {
    const store = slots();
    expect((await store.acquire('a', 1, 1)).taken).toBe(true);
    expect((await store.acquire('a', 1, 1)).taken).toBe(true);
    expect(await store.holders()).toEqual([
      expect.objectContaining({ holder: 'a#1', jobId: 'a', attempt: 1 }),
    ]);
    // Another attempt of the same job is another holder.
    expect((await store.acquire('a', 2, 1)).taken).toBe(false);
  });

  it('releases a slot once: the second release finds nothing and changes nothing', async () => {
    const store = slots();
    await store.acquire('a', 1, 2);
    await store.acquire('b', 1, 2);
    expect(await store.release('a', 1)).toEqual({ held: 1 });
    expect(await store.release('a', 1)).toBeUndefined();
    expect((await store.holders()).map((h) => h.holder)).toEqual(['b#1']);
    expect(await store.release('never', 1)).toBeUndefined();
  });

  it('gives a freed slot to the oldest waiter, not to a newer job', async () => {
    const store = slots();
    expect((await store.acquire('holder', 1, 1)).taken).toBe(true);
    clock += 1000;
    expect((await store.acquire('old', 1, 1)).taken).toBe(false);
    clock += 1000;
    expect((await store.acquire('new', 1, 1)).taken).toBe(false);
    expect((await store.waiters(10)).map((w) => w.jobId)).toEqual(['old', 'new']);

    await store.release('holder', 1);
    clock += 1000;
    // The newer job asks first, but the slot is owed to the older one.
    expect((await store.acquire('new', 1, 1)).taken).toBe(false);
    expect((await store.acquire('old', 1, 1)).taken).toBe(true);
    expect((await store.waiters(10)).map((w) => w.jobId)).toEqual(['new']);
  });

  it('keeps when a waiter started waiting, however often it asks', async () => {
    const store = slots();
    await store.acquire('holder', 1, 1);
    clock += 1000;
    await store.acquire('w', 1, 1);
    const first = (await store.waiters(10))[0];
    clock += 5000;
    await store.acquire('w', 1, 1);
    const again = (await store.waiters(10))[0];
    expect(again?.queuedAt).toBe(first?.queuedAt);
    expect(again?.heartbeatAt).not.toBe(first?.heartbeatAt);
  });

  it('skips a waiter that stopped asking', async () => {
    const store = slots();
    await store.acquire('holder', 1, 1);
    clock += 1000;
    expect((await store.acquire('gone', 1, 1)).taken).toBe(false);
    clock += 1000;
    expect((await store.acquire('live', 1, 1)).taken).toBe(false);
    await store.release('holder', 1);
    clock += 120_000; // past lapseAfterMs for both; `live` asks again now, `gone` never does
    expect((await store.acquire('live', 1, 1)).taken).toBe(true);
    await store.release('gone', 1);
  });

  it('gives back a slot leaked by a crashed holder when it is released by the reaper or the fail step', async () => {
    const store = slots();
    expect((await store.acquire('crashed', 1, 1)).taken).toBe(true);
    expect((await store.acquire('next', 1, 1)).taken).toBe(false);
    // What the reaper does for a holder whose attempt has ended: release it by its job and attempt.
    expect(await store.release('crashed', 1)).toEqual({ held: 0 });
    clock += 1000;
    expect((await store.acquire('next', 1, 1)).taken).toBe(true);
  });
});
