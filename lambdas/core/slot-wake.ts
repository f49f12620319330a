import * as z from 'zod';
import { sfnClient } from './aws/runtime.js';
import { SfnSlotWaker } from './aws/task-tokens.js';
import { positiveInt } from './config.js';
import type { SlotDeps } from './holdings.js';
import { DynamoSlotStore, type SlotStoreOptions } from './store/slots.js';
import type { Table } from './store/table.js';

/**
 * The slot variables the stack sets on every function that takes or gives back Runware slots (submit, record, fail,
 * sweep): the cap (`MAX_CONCURRENT_TASKS`) and how long a waiter may go unheard before it counts as lapsed and is
 * skipped (`WAITER_LAPSE_SECONDS`). Each of those handlers lists them in its one config schema
 * (`SlotEnvSchema.extend({...})`), so they are parsed once, at load, with the rest.
 */
export const SlotEnvSchema = z.object({
  MAX_CONCURRENT_TASKS: positiveInt,
  WAITER_LAPSE_SECONDS: positiveInt,
});
export type SlotEnv = z.infer<typeof SlotEnvSchema>;

/**
 * The slots of a function that takes or gives back Runware slots, from its parsed `env`: the store (with the
 * waiters' lapse), the cap, and the waker that completes the tokens of the waiters freed slots are owed to (the
 * function may call `states:SendTaskSuccess`). The cap reaches the slots by this one route (`maxConcurrentTasks`).
 */
export function slotDeps(table: Table, env: SlotEnv, options: SlotStoreOptions = {}): Required<SlotDeps> {
  return {
    slots: new DynamoSlotStore(table, { lapseAfterMs: env.WAITER_LAPSE_SECONDS * 1000, ...options }),
    maxConcurrentTasks: env.MAX_CONCURRENT_TASKS,
    waker: new SfnSlotWaker(sfnClient),
  };
}
