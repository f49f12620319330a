import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_EPHEMERAL_STORAGE_MB,
  diskUsageBytes,
  type InvocationType,
  openRssProbe,
} from './lambda-limits.js';
import { type FunctionName, type LocalFunction, localFunctionName } from './template.js';

/**
 * One execution environment of the local Lambda host: its process, started the way Lambda starts a runtime, and
 * the checks of the limits Lambda holds it to while it runs (memory, `/tmp`). The host (lambda-host.ts) decides
 * which environment runs what.
 */

const CHILD = join(fileURLToPath(new URL('.', import.meta.url)), 'lambda-child.mjs');

export interface Invocation {
  id: string;
  /** Order of arrival: waiting invocations run oldest first. */
  seq: number;
  /** When it was made: the time it waited is counted for `waits`. */
  at: number;
  onStart?: () => void;
  name: FunctionName;
  event: unknown;
  invocationType: InvocationType;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export interface Environment {
  name: FunctionName;
  child: ChildProcess;
  ready: boolean;
  /** The invocation it runs; an environment started for an invocation runs it as soon as it is ready. */
  current?: Invocation;
  /** Set once it has been told to stop: it takes no more work, but holds its slot until the process is gone. */
  stopping: boolean;
  /** When it last became free (the longest idle is stopped first to make room). */
  idleSince?: number;
  idleTimer?: NodeJS.Timeout;
  /** The function's timeout while it runs; Lambda's init limit while it starts. */
  runTimer?: NodeJS.Timeout;
  /** Samples its resident memory and its `/tmp` while it starts or runs. */
  watch?: NodeJS.Timeout;
  /** Its own `/tmp` (the `TMPDIR` of its process). */
  tmp: string;
  /** Set when local mode ended it for exceeding a limit: how its invocation is reported once the process is gone. */
  exceeded?: { errorType: string; errorMessage: string };
  /** The most resident memory seen, in MiB (Lambda's "Max Memory Used"). */
  maxMemoryMiB: number;
}

/** Lambda gives a function's initialisation 10 s, then retries it as part of the invocation. */
export const INIT_MS = 10_000;

/** Starts the process of an environment of `fn`, with the function's own environment and its own `/tmp`. */
export function forkEnvironment(
  fn: LocalFunction,
  name: FunctionName,
  tmp: string,
  sharedEnvironment: Record<string, string>,
): ChildProcess {
  const [file, exportName] = fn.handler.split('.');
  return fork(
    CHILD,
    [
      join(fn.assetDir, `${file}.mjs`),
      exportName ?? 'handler',
      localFunctionName(name),
      String(fn.timeoutSeconds * 1000),
    ],
    {
      // The bundles are plain JavaScript: no TypeScript loader or other flag of the parent (under `npm start`
      // every child would otherwise load tsx, about 0.5 s and 110 MiB more each). Lambda's runtime starts
      // node with no loader either.
      execArgv: [],
      env: {
        PATH: process.env.PATH ?? '',
        // Bundles carry sharp's linux-arm64 binary (for Lambda); this machine's one comes from the repo's modules.
        NODE_PATH: fileURLToPath(new URL('../node_modules', import.meta.url)),
        ...sharedEnvironment,
        ...fn.environment,
        AWS_LAMBDA_FUNCTION_NAME: localFunctionName(name),
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        // Where `os.tmpdir()` points; code that names `/tmp` itself would miss it (no bundle does today).
        TMPDIR: tmp,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
}

/** What the limit checks of an environment report to and act on. */
export interface LimitsWatch {
  /** How often resident memory is sampled, in ms. */
  pollMs: number;
  log: (name: FunctionName, line: string) => void;
  /** Stops the environment for good. */
  retire: (env: Environment) => void;
  /** The resident memory just sampled, in MiB. */
  memorySeen: (name: FunctionName, mib: number) => void;
}

/**
 * Samples the environment's resident memory (and, every tenth sample, its /tmp) while it starts or runs; an
 * idle environment costs one timer tick. Lambda ends an environment over its memory with the process killed and
 * reports `Runtime.OutOfMemory` ("Runtime exited with error: signal: killed"; the Telemetry API's
 * `platform.report` record carries `"errorType": "Runtime.OutOfMemory"`:
 * https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html). The memory counted is the process's
 * own RSS: processes it starts are not added (Lambda counts the whole sandbox), and a spike shorter than the
 * sampling period can pass unseen.
 */
export function watchEnvironment(env: Environment, fn: LocalFunction, watch: LimitsWatch): void {
  const period = watch.pollMs;
  const probe = env.child.pid === undefined ? undefined : openRssProbe(env.child.pid);
  if (probe) env.child.once('exit', () => probe.close());
  let tick = 0;
  env.watch = setInterval(() => {
    const current = env.current;
    if (!current || env.stopping) return;
    const rss = probe?.read();
    if (rss !== undefined) {
      env.maxMemoryMiB = Math.max(env.maxMemoryMiB, rss);
      watch.memorySeen(env.name, rss);
      if (rss > fn.memoryMb) {
        watch.log(
          env.name,
          `local mode: ${env.name} used ${Math.ceil(rss)} MB of its ${fn.memoryMb} MB (MemorySize): killed, as Lambda does`,
        );
        env.exceeded = {
          errorType: 'Runtime.OutOfMemory',
          errorMessage: `RequestId: ${current.id} Error: Runtime exited with error: signal: killed`,
        };
        watch.retire(env);
        return;
      }
    }
    tick += 1;
    if (tick % 10 === 0) storageExceeded(env, fn, current, watch);
  }, period);
  env.watch.unref();
}

/**
 * Whether the environment's /tmp holds more than the function's `EphemeralStorage`; if so the environment is
 * ended and its invocation fails the way an unhandled ENOSPC fails a Node handler.
 */
export function storageExceeded(
  env: Environment,
  fn: LocalFunction,
  current: Invocation,
  watch: Pick<LimitsWatch, 'log' | 'retire'>,
): boolean {
  const limitMb = fn.ephemeralStorageMb ?? DEFAULT_EPHEMERAL_STORAGE_MB;
  const used = diskUsageBytes(env.tmp);
  if (used <= limitMb * 1024 * 1024) return false;
  const usedMb = Math.ceil(used / (1024 * 1024));
  watch.log(
    env.name,
    `local mode: ${env.name} holds ${usedMb} MB in /tmp, more than its ${limitMb} MB (EphemeralStorage): ended`,
  );
  env.exceeded = {
    errorType: 'Error',
    errorMessage: `ENOSPC: no space left on device (local mode: /tmp held ${usedMb} MB of ${limitMb} MB)`,
  };
  if (env.current === current) watch.retire(env);
  return true;
}
