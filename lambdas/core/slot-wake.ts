import * as z from 'zod';
import { sfnClient } from './aws/runtime.js';
import { SfnSlotWaker } from './aws/task-tokens.js';
import { positiveInt } from './config.js';
import { DynamoSlotStore, type SlotStoreOptions } from './store/slots.js';
import type { Table } from './store/table.js';

/**
 * The slot variables the stack sets on every function that takes or gives back Runware slots (submit, record, fail,
 * sweep): the cap (`MAX_CONCURRENT_TASKS`) and the waiters' staleness. Each of those handlers lists them in its
 * one config schema (`SlotEnvSchema.extend({...})`), so they are parsed once, at load, with the rest.
 */
export const SlotEnvSchema = z.object({
  MAX_CONCURRENT_TASKS: positiveInt,
  STALE_WAITER_SECONDS: positiveInt,
});
export type SlotEnv = z.infer<typeof SlotEnvSchema>;

/**
 * The slot store of a function that gives Runware slots back: each release wakes the waiters the freed slots are
 * owed to, with the cap and the waiters' staleness of `env` (the function may call `states:SendTaskSuccess`).
 */
export function releasingSlotStore(
  table: Table,
  env: SlotEnv,
  options: SlotStoreOptions = {},
): DynamoSlotStore {
  return new DynamoSlotStore(table, {
    staleAfterMs: env.STALE_WAITER_SECONDS * 1000,
    wake: { waker: new SfnSlotWaker(sfnClient), max: env.MAX_CONCURRENT_TASKS },
    ...options,
  });
}
