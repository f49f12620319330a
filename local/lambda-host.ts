import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_EPHEMERAL_STORAGE_MB,
  diskUsageBytes,
  type InvocationType,
  openRssProbe,
  payloadBytes,
  REQUEST_LIMIT_BYTES,
  RESPONSE_LIMIT_BYTES,
  requestTooLargeMessage,
} from './lambda-limits.js';
import { type FunctionName, type LocalFunction, localFunctionName } from './template.js';

export type { InvocationType } from './lambda-limits.js';

const CHILD = join(fileURLToPath(new URL('.', import.meta.url)), 'lambda-child.mjs');

/** A function error as Lambda reports it: Step Functions matches `name` (the errorType) in Retry and Catch. */
export class LambdaFunctionError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    // `message` is what Step Functions puts in `Cause`: the JSON payload Lambda returns for a function error.
    super(JSON.stringify({ errorType, errorMessage }));
    this.name = errorType;
  }
}

/**
 * Lambda refused the invocation itself (the Invoke API answered an error status): the function never ran. A
 * `LambdaFunctionError` too, so that callers that pass function errors on (Step Functions) pass this one on as well.
 */
export class LambdaServiceError extends LambdaFunctionError {
  constructor(
    errorType: string,
    errorMessage: string,
    /** The Invoke API's HTTP status. */
    readonly statusCode: number,
  ) {
    super(errorType, errorMessage);
  }
}

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
const DEFAULTS: Required<LambdaConcurrency> = { perFunction: 6, total: 24, keepWarm: 1, idleMs: 30_000 };

interface Invocation {
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

interface Environment {
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
const INIT_MS = 10_000;

/**
 * Runs the synthesized Lambda bundles, each in its own processes with its own environment, the way Lambda
 * does: one invocation per execution environment at a time, warm environments reused, more started under
 * concurrency up to the function's concurrency limit (its reserved concurrency, else `perFunction`) and a limit
 * on all environments together; invocations beyond the limits wait in order for a free environment (what a
 * throttled invocation retried by its caller amounts to), and the function's timeout counts from when one
 * starts running. An environment that exceeds the timeout is killed (`Sandbox.Timedout`); one that dies is a
 * failed invocation (`Runtime.ExitError`); either way its slot is free again once the process is gone.
 *
 * It also holds the limits Lambda holds (see `lambda-limits.ts` for the sources): a request payload over 6 MiB
 * (1 MiB for an `Event` invocation) is refused before anything runs (`RequestEntityTooLargeException`, 413), and a
 * synchronous response over 6 MiB + 100 bytes fails the invocation (`Function.ResponseSizeTooLarge`); an environment
 * whose resident memory passes its function's `MemorySize` is killed (`Runtime.OutOfMemory`); each environment has
 * its own `/tmp` (`TMPDIR`), and one that holds more than its function's `EphemeralStorage` is ended. Local mode
 * cannot make a plain folder answer ENOSPC at the write that fills it without root (a size-limited mount); it
 * checks the folder's usage every second while the function runs and when it answers, and reports what the
 * function would most likely have thrown (`Error: ENOSPC: no space left on device`).
 */
export class LambdaHost {
  private readonly environments = new Map<FunctionName, Set<Environment>>();
  /** Free environments per function, the most recently used last (reused first, as Lambda tends to). */
  private readonly idle = new Map<FunctionName, Environment[]>();
  private readonly queues = new Map<FunctionName, Invocation[]>();
  private readonly limits: Required<LambdaConcurrency>;
  private total = 0;
  /** Processes told to stop that have not exited yet. */
  private exiting = 0;
  private stopped = false;
  private nextId = 0;
  readonly invocations: { name: FunctionName; at: number }[] = [];
  /** One-shot faults for tests: the next invocation of a function has its process killed after `after`. */
  private readonly crashes = new Map<
    FunctionName,
    { after: number | Promise<unknown>; as: 'crash' | 'timeout' }[]
  >();
  /** The most processes alive at once, per function and in all (for tests and benchmarks). */
  readonly peak: { total: number; byFunction: Partial<Record<FunctionName, number>> } = {
    total: 0,
    byFunction: {},
  };
  /** Per function: invocations started, and how long they waited for an environment (cold starts included). */
  readonly waits: Partial<Record<FunctionName, { started: number; totalMs: number; maxMs: number }>> = {};

  private readonly tmpRoot: string;
  private readonly ownsTmpRoot: boolean;
  private nextEnvironment = 0;
  /** The most resident memory any environment of a function reached, in MiB (for tests and benchmarks). */
  readonly maxMemoryMiB: Partial<Record<FunctionName, number>> = {};

  constructor(private readonly options: LambdaHostOptions) {
    this.ownsTmpRoot = options.tmpRoot === undefined;
    this.tmpRoot = options.tmpRoot ?? mkdtempSync(join(tmpdir(), 'lambda-tmp-'));
    this.limits = { ...DEFAULTS, ...options.concurrency };
    for (const key of ['perFunction', 'total', 'keepWarm'] as const) {
      const value = this.limits[key];
      if (!Number.isInteger(value) || value < (key === 'keepWarm' ? 0 : 1))
        throw new Error(`LambdaHost concurrency.${key} must be a whole number, got ${value}`);
    }
  }

  /**
   * Runs one invocation, after those waiting before it. A request payload over Lambda's limit for its invocation
   * type is refused at once with a {@link LambdaServiceError}, as the Invoke API refuses it.
   */
  invoke(name: FunctionName, event: unknown, options: InvokeOptions = {}): Promise<unknown> {
    this.invocations.push({ name, at: Date.now() });
    const invocationType = options.invocationType ?? 'RequestResponse';
    if (this.stopped)
      return Promise.reject(
        new LambdaFunctionError('Lambda.ServiceException', 'The local Lambda host stopped'),
      );
    const bytes = payloadBytes(event);
    if (bytes > REQUEST_LIMIT_BYTES[invocationType])
      return Promise.reject(
        new LambdaServiceError(
          'RequestEntityTooLargeException',
          requestTooLargeMessage(bytes, invocationType),
          413,
        ),
      );
    if (this.limitOf(name) === 0)
      // Reserved concurrency 0 is how a function is switched off: Lambda throttles every invocation.
      return Promise.reject(new LambdaFunctionError('Lambda.TooManyRequestsException', 'Rate Exceeded.'));
    return new Promise<unknown>((resolve, reject) => {
      const seq = this.nextId++;
      const invocation: Invocation = {
        id: String(seq),
        seq,
        at: Date.now(),
        name,
        event,
        invocationType,
        resolve,
        reject,
        ...(options.onStart ? { onStart: options.onStart } : {}),
      };
      this.queueOf(name).push(invocation);
      this.dispatch();
    });
  }

  /**
   * Kills the process that runs the next invocation of `name`, `after` ms after it starts or when `after`
   * settles (a moment the test sees, such as the function's request reaching a faulty service, where a fixed
   * delay would depend on the machine's load): a function that dies mid-step, as when Lambda runs out of memory
   * or the host fails.
   */
  crashNext(name: FunctionName, after: number | Promise<unknown>): void {
    this.crashes.set(name, [...(this.crashes.get(name) ?? []), { after, as: 'crash' }]);
  }

  /**
   * Makes the next invocation of `name` time out `afterMs` after it starts, as if that were the function's
   * timeout: Lambda stops the environment and reports `Sandbox.Timedout`.
   */
  timeOutNext(name: FunctionName, afterMs: number): void {
    this.crashes.set(name, [...(this.crashes.get(name) ?? []), { after: afterMs, as: 'timeout' }]);
  }

  /** Processes alive now (starting, busy, idle or being stopped), of one function or of all. */
  processes(name?: FunctionName): number {
    return name === undefined ? this.total : (this.environments.get(name)?.size ?? 0);
  }

  /** Invocations waiting for a free environment, of one function or of all. */
  queued(name?: FunctionName): number {
    if (name !== undefined) return this.queues.get(name)?.length ?? 0;
    let n = 0;
    for (const queue of this.queues.values()) n += queue.length;
    return n;
  }

  /** Stops every process; invocations still waiting fail, running ones fail as their process ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const queue of this.queues.values())
      for (const invocation of queue.splice(0))
        invocation.reject(
          new LambdaFunctionError('Lambda.ServiceException', 'The local Lambda host stopped'),
        );
    const exits: Promise<void>[] = [];
    for (const set of this.environments.values())
      for (const env of set) {
        if (env.child.exitCode === null && env.child.signalCode === null)
          exits.push(new Promise<void>((resolve) => env.child.once('exit', () => resolve())));
        this.retire(env);
      }
    await Promise.all(exits);
    if (this.ownsTmpRoot) rmSync(this.tmpRoot, { recursive: true, force: true });
  }

  private limitOf(name: FunctionName): number {
    return this.options.functions[name].reservedConcurrency ?? this.limits.perFunction;
  }

  private queueOf(name: FunctionName): Invocation[] {
    return entry(this.queues, name, () => []);
  }

  /**
   * Hands waiting invocations to environments, oldest first across functions: a free environment of the
   * invocation's own function, else a new one within the function's limit and the overall limit. At the overall
   * limit an idle environment (of a function with nothing waiting) is stopped to make room, so that a busy
   * function cannot hold every slot while an older invocation of another one waits.
   */
  private dispatch(): void {
    if (this.stopped) return;
    for (;;) {
      let next: Invocation | undefined;
      for (const [name, queue] of this.queues) {
        const head = queue[0];
        if (!head || (next && next.seq < head.seq)) continue;
        const warm = (this.idle.get(name)?.length ?? 0) > 0;
        // Otherwise it waits for one of its own function's environments.
        if (warm || this.processes(name) < this.limitOf(name)) next = head;
      }
      if (!next) return;
      const warm = this.idle.get(next.name)?.pop();
      if (warm) {
        this.queueOf(next.name).shift();
        this.run(warm, next);
        continue;
      }
      if (this.total < this.limits.total) {
        this.queueOf(next.name).shift();
        this.start(next);
        continue;
      }
      // A process already on its way out frees a slot when it is gone (its exit dispatches again).
      if (this.exiting > 0) return;
      let victim: Environment | undefined;
      for (const list of this.idle.values()) {
        const oldest = list[0];
        if (oldest && (!victim || (oldest.idleSince ?? 0) < (victim.idleSince ?? 0))) victim = oldest;
      }
      if (victim) this.retire(victim);
      return;
    }
  }

  private start(invocation: Invocation): void {
    const { name } = invocation;
    const fn = this.options.functions[name];
    const [file, exportName] = fn.handler.split('.');
    // Lambda's /tmp belongs to one execution environment: kept across its invocations, gone with it.
    const tmp = join(this.tmpRoot, `${name}-${this.nextEnvironment++}`);
    mkdirSync(tmp, { recursive: true });
    const child = fork(
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
          ...this.options.sharedEnvironment,
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
    const env: Environment = {
      name,
      child,
      ready: false,
      stopping: false,
      current: invocation,
      tmp,
      maxMemoryMiB: 0,
    };
    this.watch(env, fn);
    env.runTimer = setTimeout(
      () => {
        const current = env.current;
        if (env.ready || !current) return;
        env.current = undefined;
        this.retire(env);
        current.reject(
          new LambdaFunctionError(
            'Sandbox.Timedout',
            `${name} did not finish initialising within ${INIT_MS / 1000 + fn.timeoutSeconds} seconds`,
          ),
        );
      },
      INIT_MS + fn.timeoutSeconds * 1000,
    );
    const set = entry(this.environments, name, () => new Set());
    set.add(env);
    this.total += 1;
    this.peak.total = Math.max(this.peak.total, this.total);
    this.peak.byFunction[name] = Math.max(this.peak.byFunction[name] ?? 0, set.size);

    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.options.log(name, line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    child.on(
      'message',
      (message: {
        ready?: boolean;
        id?: string;
        result?: unknown;
        error?: { errorType: string; errorMessage: string };
      }) => {
        if (message.ready) {
          env.ready = true;
          clearTimeout(env.runTimer);
          const first = env.current;
          if (first && !env.stopping) this.run(env, first);
          return;
        }
        const current = env.current;
        if (message.id === undefined || !current || current.id !== message.id) return;
        // What the function left in /tmp counts when it answers too (a short run may end between two checks).
        if (this.storageExceeded(env, fn, current)) return;
        this.finish(env);
        if (message.error)
          current.reject(new LambdaFunctionError(message.error.errorType, message.error.errorMessage));
        else current.resolve(message.result);
      },
    );
    // Without this, a failed spawn (an 'error' event) would throw in the parent.
    child.on('error', (error) => this.options.log(name, `process error: ${error.message}`));
    child.on('exit', (code, signal) => {
      clearTimeout(env.runTimer);
      clearTimeout(env.idleTimer);
      clearInterval(env.watch);
      rmSync(tmp, { recursive: true, force: true });
      set.delete(env);
      this.total -= 1;
      if (env.stopping) this.exiting -= 1;
      // Marked so that nothing hands it work between now and the list cleanup below.
      env.stopping = true;
      const list = this.idle.get(name);
      const at = list?.indexOf(env) ?? -1;
      if (list && at >= 0) list.splice(at, 1);
      const current = env.current;
      env.current = undefined;
      if (current && env.exceeded) {
        current.reject(new LambdaFunctionError(env.exceeded.errorType, env.exceeded.errorMessage));
      } else if (current) {
        current.reject(
          new LambdaFunctionError(
            'Runtime.ExitError',
            env.ready
              ? `RequestId: ${current.id} Error: Runtime exited with ${signal ?? `status ${code}`}`
              : `${name} exited with ${signal ?? `status ${code}`} while starting`,
          ),
        );
      }
      this.dispatch();
    });
  }

  private run(env: Environment, invocation: Invocation): void {
    clearTimeout(env.idleTimer);
    env.current = invocation;
    env.idleSince = undefined;
    if (!env.ready) return; // Runs when the process says it is ready.
    const fn = this.options.functions[env.name];
    const waited = Date.now() - invocation.at;
    const waits = this.waits[env.name] ?? { started: 0, totalMs: 0, maxMs: 0 };
    this.waits[env.name] = {
      started: waits.started + 1,
      totalMs: waits.totalMs + waited,
      maxMs: Math.max(waits.maxMs, waited),
    };
    // The function's timeout counts from here, not from when the invocation was queued.
    const expire = () => {
      if (env.current !== invocation) return;
      env.current = undefined;
      this.retire(env);
      invocation.reject(
        new LambdaFunctionError('Sandbox.Timedout', `Task timed out after ${fn.timeoutSeconds}.00 seconds`),
      );
    };
    env.runTimer = setTimeout(expire, fn.timeoutSeconds * 1000);
    invocation.onStart?.();
    env.child.send({
      id: invocation.id,
      event: invocation.event,
      // An asynchronous invocation's result is dropped, so only a synchronous one has a response limit.
      ...(invocation.invocationType === 'RequestResponse' ? { responseLimit: RESPONSE_LIMIT_BYTES } : {}),
    });
    const crash = this.crashes.get(env.name)?.shift();
    const kill = () => {
      if (env.current === invocation) env.child.kill('SIGKILL');
    };
    if (crash?.as === 'crash')
      if (typeof crash.after === 'number') setTimeout(kill, crash.after);
      else void crash.after.then(kill, kill);
    // A timeout ends the invocation the way the function's own timeout does (above), just sooner.
    if (crash?.as === 'timeout') setTimeout(expire, Number(crash.after));
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
  private watch(env: Environment, fn: LocalFunction): void {
    const period = this.options.memoryPollMs ?? 100;
    const probe = env.child.pid === undefined ? undefined : openRssProbe(env.child.pid);
    if (probe) env.child.once('exit', () => probe.close());
    let tick = 0;
    env.watch = setInterval(() => {
      const current = env.current;
      if (!current || env.stopping) return;
      const rss = probe?.read();
      if (rss !== undefined) {
        env.maxMemoryMiB = Math.max(env.maxMemoryMiB, rss);
        this.maxMemoryMiB[env.name] = Math.max(this.maxMemoryMiB[env.name] ?? 0, rss);
        if (rss > fn.memoryMb) {
          this.options.log(
            env.name,
            `local mode: ${env.name} used ${Math.ceil(rss)} MB of its ${fn.memoryMb} MB (MemorySize): killed, as Lambda does`,
          );
          env.exceeded = {
            errorType: 'Runtime.OutOfMemory',
            errorMessage: `RequestId: ${current.id} Error: Runtime exited with error: signal: killed`,
          };
          this.retire(env);
          return;
        }
      }
      tick += 1;
      if (tick % 10 === 0) this.storageExceeded(env, fn, current);
    }, period);
    env.watch.unref();
  }

  /**
   * Whether the environment's /tmp holds more than the function's `EphemeralStorage`; if so the environment is
   * ended and its invocation fails the way an unhandled ENOSPC fails a Node handler.
   */
  private storageExceeded(env: Environment, fn: LocalFunction, current: Invocation): boolean {
    const limitMb = fn.ephemeralStorageMb ?? DEFAULT_EPHEMERAL_STORAGE_MB;
    const used = diskUsageBytes(env.tmp);
    if (used <= limitMb * 1024 * 1024) return false;
    const usedMb = Math.ceil(used / (1024 * 1024));
    this.options.log(
      env.name,
      `local mode: ${env.name} holds ${usedMb} MB in /tmp, more than its ${limitMb} MB (EphemeralStorage): ended`,
    );
    env.exceeded = {
      errorType: 'Error',
      errorMessage: `ENOSPC: no space left on device (local mode: /tmp held ${usedMb} MB of ${limitMb} MB)`,
    };
    if (env.current === current) this.retire(env);
    return true;
  }

  /** The environment's invocation has answered: it is free for the next one, and stopped if idle too long. */
  private finish(env: Environment): void {
    clearTimeout(env.runTimer);
    env.current = undefined;
    if (env.stopping) return;
    env.idleSince = Date.now();
    entry(this.idle, env.name, () => []).push(env);
    env.idleTimer = setTimeout(() => {
      if (env.current || env.stopping) return;
      // Those already on their way out do not count as kept.
      let kept = 0;
      for (const other of this.environments.get(env.name) ?? []) if (!other.stopping) kept += 1;
      if (kept > this.limits.keepWarm) this.retire(env);
    }, this.limits.idleMs);
    env.idleTimer.unref();
    this.dispatch();
  }

  /** Stops an environment for good; its slot is free again when the process has exited. */
  private retire(env: Environment): void {
    if (env.stopping) return;
    env.stopping = true;
    this.exiting += 1;
    clearTimeout(env.idleTimer);
    const list = this.idle.get(env.name);
    const at = list?.indexOf(env) ?? -1;
    if (list && at >= 0) list.splice(at, 1);
    env.child.kill('SIGKILL');
  }
}

function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  const found = map.get(key);
  if (found !== undefined) return found;
  const made = make();
  map.set(key, made);
  return made;
}
