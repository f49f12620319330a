import { describe, expect, it } from 'vitest';
import { slotGauge } from '../../lambdas/sweep/slot-gauge.js';
import { useStores } from '../support/harness.js';

let clock = new Date('2026-11-24T12:00:00Z');
const db = useStores({ now: () => clock });

describe('the slot gauge (sweep)', () => {
  it('reports no task in flight and nobody waiting on an empty table', async () => {
    await expect(slotGauge(db.slots, clock)).resolves.toEqual({ held: 0, waiting: 0, oldestWaitSeconds: 0 });
  });

  it('counts the slots held and the attempts waiting, and how long the oldest has waited', async () => {
    await db.slots.acquire('a', 1, 2);
    await db.slots.acquire('b', 1, 2);
    await db.slots.acquire('c', 1, 2); // waits since 12:00
    clock = new Date('2026-11-24T12:10:00Z');
    await db.slots.acquire('d', 1, 2); // waits since 12:10
    await db.slots.acquire('c', 1, 2); // asks again: still waiting since 12:00
    clock = new Date('2026-11-24T12:30:00Z');
    await expect(slotGauge(db.slots, clock)).resolves.toEqual({
      held: 2,
      waiting: 2,
      oldestWaitSeconds: 1800,
    });
    await db.slots.release('c', 1);
    await expect(slotGauge(db.slots, clock)).resolves.toEqual({
      held: 2,
      waiting: 1,
      oldestWaitSeconds: 1200,
    });
  });
});
