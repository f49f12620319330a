import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FunctionName, type LocalFunction, localFunctionName } from './template.js';

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

interface Instance {
  child: ChildProcess;
  ready: Promise<void>;
  busy: boolean;
  /** The invocation it is running. */
  current?: string;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export interface LambdaHostOptions {
  functions: Record<FunctionName, LocalFunction>;
  /** Added to every function's own environment: endpoints, region, credentials. */
  sharedEnvironment: Record<string, string>;
  /** Where each function's output goes (one line at a time). */
  log: (name: FunctionName, line: string) => void;
}

/**
 * Runs the synthesized Lambda bundles, each in its own processes with its own environment, the way Lambda
 * does: one invocation per execution environment at a time, warm environments reused, more started under
 * concurrency, and an environment that exceeds the function's timeout killed (`Sandbox.Timedout`).
 */
export class LambdaHost {
  private readonly idle = new Map<FunctionName, Instance[]>();
  private readonly all = new Set<Instance>();
  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  readonly invocations: { name: FunctionName; at: number }[] = [];
  /** One-shot faults for tests: the next invocation of a function has its process killed after `afterMs`. */
  private readonly crashes = new Map<FunctionName, { afterMs: number; as: 'crash' | 'timeout' }[]>();

  constructor(private readonly options: LambdaHostOptions) {}

  async invoke(name: FunctionName, event: unknown): Promise<unknown> {
    const fn = this.options.functions[name];
    this.invocations.push({ name, at: Date.now() });
    const instance = this.take(name);
    await instance.ready;
    const id = String(this.nextId++);
    const timeoutMs = fn.timeoutSeconds * 1000;
    try {
      return await new Promise<unknown>((resolve, reject) => {
        const expire = () => {
          if (!this.pending.has(id)) return;
          clearTimeout(timer);
          this.pending.delete(id);
          this.kill(instance);
          reject(
            new LambdaFunctionError(
              'Sandbox.Timedout',
              `Task timed out after ${fn.timeoutSeconds}.00 seconds`,
            ),
          );
        };
        const timer = setTimeout(expire, timeoutMs);
        this.pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        instance.current = id;
        instance.child.send({ id, event });
        const crash = this.crashes.get(name)?.shift();
        if (crash?.as === 'crash') setTimeout(() => instance.child.kill('SIGKILL'), crash.afterMs);
        // A timeout ends the invocation the way the function's own timeout does (above), just sooner.
        if (crash?.as === 'timeout') setTimeout(() => expire(), crash.afterMs);
      });
    } finally {
      if (this.all.has(instance)) {
        instance.busy = false;
        this.idle.get(name)?.push(instance) ?? this.idle.set(name, [instance]);
      }
    }
  }

  /**
   * Kills the process that runs the next invocation of `name`, `afterMs` after it starts: a function that dies
   * mid-step, as when Lambda runs out of memory or the host fails.
   */
  crashNext(name: FunctionName, afterMs: number): void {
    this.crashes.set(name, [...(this.crashes.get(name) ?? []), { afterMs, as: 'crash' }]);
  }

  /**
   * Makes the next invocation of `name` time out `afterMs` after it starts, as if that were the function's
   * timeout: Lambda stops the environment and reports `Sandbox.Timedout`.
   */
  timeOutNext(name: FunctionName, afterMs: number): void {
    this.crashes.set(name, [...(this.crashes.get(name) ?? []), { afterMs, as: 'timeout' }]);
  }

  async stop(): Promise<void> {
    for (const instance of this.all) this.kill(instance);
    this.idle.clear();
  }

  private take(name: FunctionName): Instance {
    const warm = this.idle.get(name)?.pop();
    if (warm) {
      warm.busy = true;
      return warm;
    }
    const fn = this.options.functions[name];
    const [file, exportName] = fn.handler.split('.');
    const child = fork(
      CHILD,
      [
        join(fn.assetDir, `${file}.mjs`),
        exportName ?? 'handler',
        localFunctionName(name),
        String(fn.timeoutSeconds * 1000),
      ],
      {
        env: {
          PATH: process.env.PATH ?? '',
          // Bundles carry sharp's linux-arm64 binary (for Lambda); this machine's one comes from the repo's modules.
          NODE_PATH: fileURLToPath(new URL('../node_modules', import.meta.url)),
          ...this.options.sharedEnvironment,
          ...fn.environment,
          AWS_LAMBDA_FUNCTION_NAME: localFunctionName(name),
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
          AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      },
    );
    const instance: Instance = {
      child,
      busy: true,
      ready: new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) =>
          reject(new LambdaFunctionError('Runtime.ExitError', `${name} exited with ${code} while starting`)),
        );
      }),
    };
    instance.ready.catch(() => undefined);
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.options.log(name, line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    child.on(
      'message',
      (message: { id?: string; result?: unknown; error?: { errorType: string; errorMessage: string } }) => {
        if (message.id === undefined) return;
        const waiting = this.pending.get(message.id);
        if (!waiting) return;
        this.pending.delete(message.id);
        if (message.error)
          waiting.reject(new LambdaFunctionError(message.error.errorType, message.error.errorMessage));
        else waiting.resolve(message.result);
      },
    );
    child.on('exit', (code, signal) => {
      this.all.delete(instance);
      for (const [fn, list] of this.idle)
        this.idle.set(
          fn,
          list.filter((i) => i !== instance),
        );
      const waiting = instance.current === undefined ? undefined : this.pending.get(instance.current);
      if (waiting && instance.current !== undefined) {
        this.pending.delete(instance.current);
        waiting.reject(
          new LambdaFunctionError(
            'Runtime.ExitError',
            `RequestId: ${instance.current} Error: Runtime exited with ${signal ?? `status ${code}`}`,
          ),
        );
      }
    });
    this.all.add(instance);
    return instance;
  }

  private kill(instance: Instance): void {
    this.all.delete(instance);
    for (const [name, list] of this.idle)
      this.idle.set(
        name,
        list.filter((i) => i !== instance),
      );
    instance.child.kill('SIGKILL');
  }
}
