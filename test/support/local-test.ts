/**
 * One local stack per e2e file, started and stopped by vitest's hooks. Apart from test/support/local.ts so that
 * what does not run under vitest (the bench) can use those helpers without loading vitest.
 */
import { afterAll, beforeAll } from 'vitest';
import type { JobRecord } from '../../lambdas/core/job.js';
import type { LocalStack } from '../../local/stack.js';
import {
  drop,
  E2E_CONTEXT,
  finishedJob,
  inputExists,
  outputKeys,
  readOutput,
  type Samples,
  startLocal,
} from './local.js';

/** A local stack started for one e2e file, with the helpers above bound to it. */
export interface LocalTest {
  readonly stack: LocalStack;
  readonly samples: Samples;
  /** The stack's work folder (deleted when it stops): room for files a test makes. */
  readonly dir: string;
  drop(key: string, body: Buffer | string): Promise<void>;
  finishedJob(stem: string, which?: (job: JobRecord) => boolean): Promise<JobRecord>;
  outputKeys(prefix: string): Promise<string[]>;
  readOutput(key: string): Promise<Buffer>;
  inputExists(key: string): Promise<boolean>;
  /** The executions started for `stem`, oldest first. */
  executionsOf(stem: string): ReturnType<LocalStack['sfn']['listExecutions']>;
}

/**
 * Starts one local stack with `context` for the calling e2e file (before all its tests; `setUp` then runs, for
 * what the file builds on it) and stops it after them. Its fields can be read once the tests run.
 */
export function useLocalStack(
  context: Record<string, string> = E2E_CONTEXT,
  setUp?: (local: LocalTest) => Promise<void> | void,
): LocalTest {
  let started: { stack: LocalStack; samples: Samples; dir: string } | undefined;
  const running = () => {
    if (!started) throw new Error('useLocalStack: the stack starts in beforeAll; use it inside tests');
    return started;
  };
  const local: LocalTest = {
    get stack() {
      return running().stack;
    },
    get samples() {
      return running().samples;
    },
    get dir() {
      return running().dir;
    },
    drop: (key, body) => drop(running().stack, key, body),
    finishedJob: (stem, which) => finishedJob(running().stack, stem, which),
    outputKeys: (prefix) => outputKeys(running().stack, prefix),
    readOutput: (key) => readOutput(running().stack, key),
    inputExists: (key) => inputExists(running().stack, key),
    executionsOf: (stem) =>
      running()
        .stack.sfn.listExecutions()
        .filter((e) => (JSON.parse(e.input) as { stem: string }).stem === stem),
  };
  beforeAll(
    async () => {
      started = await startLocal(context);
      await setUp?.(local);
    },
    Number(process.env.E2E_START_TIMEOUT_MS ?? 120_000),
  );
  afterAll(async () => started?.stack.stop());
  return local;
}
