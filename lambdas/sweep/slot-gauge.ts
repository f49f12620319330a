import type { SlotGauge } from '../core/aws/metrics.js';
import type { SlotStore } from '../core/store/slots.js';

/** More waiters than this are counted as this many (the gauge is for a dashboard, not an invoice). */
export const MAX_COUNTED_WAITERS = 1000;

/**
 * What the Runware slots look like now: tasks in flight (slots held), job attempts waiting for one, and how long
 * the oldest of them has waited (0 when none waits). Read by the sweep on each scheduled run, after it gave back
 * leaked slots, so a job stuck in the queue shows even when no submit runs.
 */
export async function slotGauge(slots: SlotStore, now: Date): Promise<SlotGauge> {
  const [held, waiters] = await Promise.all([slots.holders(), slots.waiters(MAX_COUNTED_WAITERS)]);
  const oldest = waiters.reduce<number | undefined>((min, w) => {
    const t = Date.parse(w.queuedAt);
    return Number.isFinite(t) && (min === undefined || t < min) ? t : min;
  }, undefined);
  return {
    held: held.length,
    waiting: waiters.length,
    oldestWaitSeconds: oldest === undefined ? 0 : Math.max(0, Math.round((now.getTime() - oldest) / 1000)),
  };
}
