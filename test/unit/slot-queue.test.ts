import { describe, expect, it } from 'vitest';
import {
  freeSlots,
  isLive,
  isOwedSlot,
  queueReadLimit,
  waitedSeconds,
  wakeCandidates,
} from '../../lambdas/core/rules/slot-queue.js';

/** The slot queue's policy, run without a table. */
const NOW = '2026-11-24T12:00:00.000Z';
const LAPSE = 60_000;
const waiter = (since: string, heartbeatAt = NOW) => ({ dueSk: `${since}#job-${since}#1`, heartbeatAt });

describe('slot queue rules', () => {
  it('counts the free slots, never below none', () => {
    expect(freeSlots(3, 1)).toBe(2);
    expect(freeSlots(2, 5)).toBe(0);
  });

  it('reads past the free slots, to find live waiters among lapsed ones', () => {
    expect(queueReadLimit(2)).toBe(102);
  });

  it('counts a waiter as live while it asked within the lapse window', () => {
    expect(isLive({ heartbeatAt: '2026-11-24T11:59:00.000Z' }, NOW, LAPSE)).toBe(true);
    expect(isLive({ heartbeatAt: '2026-11-24T11:58:59.999Z' }, NOW, LAPSE)).toBe(false);
  });

  it('owes a free slot to the oldest live waiters: a newer one waits while older ones are owed every slot', () => {
    const older = waiter('2026-11-24T11:00:00.000Z');
    const me = waiter('2026-11-24T11:30:00.000Z');
    const newer = waiter('2026-11-24T11:45:00.000Z');
    const queue = [older, me, newer];
    expect(isOwedSlot(me, queue, 1, NOW, LAPSE)).toBe(false);
    expect(isOwedSlot(me, queue, 2, NOW, LAPSE)).toBe(true);
    expect(isOwedSlot(older, queue, 1, NOW, LAPSE)).toBe(true);
    // The queue as read may not show `me` yet: only those ahead of it count.
    expect(isOwedSlot(me, [older], 2, NOW, LAPSE)).toBe(true);
  });

  it('skips an older waiter that stopped asking (its execution died), so nobody waits behind it', () => {
    const dead = waiter('2026-11-24T10:00:00.000Z', '2026-11-24T10:05:00.000Z');
    const me = waiter('2026-11-24T11:30:00.000Z');
    expect(isOwedSlot(me, [dead, me], 1, NOW, LAPSE)).toBe(true);
    expect(wakeCandidates([dead, me], NOW, LAPSE)).toEqual([me]);
  });

  it('reports how long a waiter waited, in whole seconds', () => {
    expect(waitedSeconds('2026-11-24T11:58:29.600Z', NOW)).toBe(90);
    expect(waitedSeconds(NOW, NOW)).toBe(0);
  });
});
