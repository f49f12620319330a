import type { InvocationType } from './lambda-limits.js';
import type { FunctionName, LocalFunction } from './template.js';

/** What the local Lambda host (lambda-host.ts) is told: its functions, where their output goes, and its limits. */

/** How many execution environments (processes) local mode may keep, and for how long. */
export interface LambdaConcurrency {
  /**
   * Environments per function when its template sets no `ReservedConcurrentExecutions`. Invocations beyond it
   * wait, first in first out, for one of them to be free.
   * @default 6
   */
  perFunction?: number;
  /**
   * Environments of all functions together (the account's concurrency limit, scaled to one machine). At the
   * limit, an idle environment of another function is stopped to make room; if none is idle, the invocation
   * waits. Every invocation ends by its function's timeout at the latest, so waiting never deadlocks.
   * @default 24
   */
  total?: number;
  /**
   * Environments per function kept however long they sit idle, so that sequential work stays warm.
   * @default 1
   */
  keepWarm?: number;
  /**
   * How long an environment beyond `keepWarm` may sit idle before it is stopped.
   * @default 30_000
   */
  idleMs?: number;
}

export interface LambdaHostOptions {
  functions: Record<FunctionName, LocalFunction>;
  /** Added to every function's own environment: endpoints, region, credentials. */
  sharedEnvironment: Record<string, string>;
  /** Where each function's output goes (one line at a time). */
  log: (name: FunctionName, line: string) => void;
  concurrency?: LambdaConcurrency;
  /**
   * How often the resident memory of a running environment is compared with its function's `MemorySize`, in ms.
   * A spike shorter than this between two samples goes unseen (Lambda's cgroup would see it).
   * @default 100
   */
  memoryPollMs?: number;
  /**
   * Folder under which each environment gets its own `/tmp` (its `TMPDIR`), removed when the environment ends.
   * @default a new folder in the operating system's temporary directory, removed by {@link LambdaHost.stop}
   */
  tmpRoot?: string;
}

/** Options of one invocation. */
export interface InvokeOptions {
  /**
   * Called when it starts running in an environment (after any wait for one): callers that time the invocation
   * start their clock there.
   */
  onStart?: () => void;
  /**
   * `Event` for an asynchronous invocation (EventBridge targets), with its smaller request limit and no response
   * limit; `RequestResponse` waits for the result.
   * @default 'RequestResponse'
   */
  invocationType?: InvocationType;
}

/** Sized for a 2-core, 24 GiB machine: a bundle's process takes about 60-120 MiB resident. */
export const DEFAULTS: Required<LambdaConcurrency> = {
  perFunction: 6,
  total: 24,
  keepWarm: 1,
  idleMs: 30_000,
};
