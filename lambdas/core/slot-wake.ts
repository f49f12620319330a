import * as z from 'zod';
import { sfnClient } from './aws/runtime.js';
import { SfnSlotWaker } from './aws/task-tokens.js';
import { loadConfig, positiveInt } from './config.js';
import { DynamoSlotStore, type SlotStoreOptions } from './store/slots.js';
import type { Table } from './store/table.js';

/**
 * The slot store of a function that gives Runware slots back (submit, record, fail, sweep): each release wakes the
 * waiters the freed slots are owed to, with the cap and the waiters' staleness the stack sets
 * (`MAX_CONCURRENT_TASKS`, `STALE_WAITER_SECONDS`; the function may call `states:SendTaskSuccess`).
 */
export function releasingSlotStore(table: Table, options: SlotStoreOptions = {}): DynamoSlotStore {
  const config = loadConfig(
    z.object({ MAX_CONCURRENT_TASKS: positiveInt, STALE_WAITER_SECONDS: positiveInt }),
  );
  return new DynamoSlotStore(table, {
    staleAfterMs: config.STALE_WAITER_SECONDS * 1000,
    wake: { waker: new SfnSlotWaker(sfnClient), max: config.MAX_CONCURRENT_TASKS },
    ...options,
  });
}
