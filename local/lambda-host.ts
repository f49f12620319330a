import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Environment,
  forkEnvironment,
  INIT_MS,
  type Invocation,
  type LimitsWatch,
  storageExceeded,
  watchEnvironment,
} from './lambda-environment.js';
import { LambdaFunctionError, LambdaServiceError } from './lambda-errors.js';
import {
  DEFAULTS,
  type InvokeOptions,
  type LambdaConcurrency,
  type LambdaHostOptions,
} from './lambda-host-options.js';
import {
  payloadBytes,
  REQUEST_LIMIT_BYTES,
  RESPONSE_LIMIT_BYTES,
  requestTooLargeMessage,
} from './lambda-limits.js';
import type { FunctionName } from './template.js';

export type { InvokeOptions, LambdaConcurrency, LambdaHostOptions } from './lambda-host-options.js';
export type { InvocationType } from './lambda-limits.js';

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
    // Lambda's /tmp belongs to one execution environment: kept across its invocations, gone with it.
    const tmp = join(this.tmpRoot, `${name}-${this.nextEnvironment++}`);
    mkdirSync(tmp, { recursive: true });
    const child = forkEnvironment(fn, name, tmp, this.options.sharedEnvironment);
    const env: Environment = {
      name,
      child,
      ready: false,
      stopping: false,
      current: invocation,
      tmp,
      maxMemoryMiB: 0,
    };
    watchEnvironment(env, fn, this.limitsWatch());
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
        if (storageExceeded(env, fn, current, this.limitsWatch())) return;
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

  /** What the resource checks of an environment report to and act on. */
  private limitsWatch(): LimitsWatch {
    return {
      pollMs: this.options.memoryPollMs ?? 100,
      log: (name, line) => this.options.log(name, line),
      retire: (env) => this.retire(env),
      memorySeen: (name, mib) => {
        this.maxMemoryMiB[name] = Math.max(this.maxMemoryMiB[name] ?? 0, mib);
      },
    };
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
