import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PIPELINE_FUNCTION_NAMES } from '../../lib/function-names.js';
import { LambdaFunctionError } from '../../local/lambda-errors.js';
import { type LambdaConcurrency, LambdaHost } from '../../local/lambda-host.js';
import type { FunctionName, LocalFunction } from '../../local/template.js';

/**
 * The local Lambda host against tiny fake bundles: how many processes it keeps, in what order waiting
 * invocations run, when the timeout clock starts, and what a dying process does to its invocation and its slot.
 */

interface Result {
  pid: number;
  n: number;
  started: number;
  /** `getRemainingTimeInMillis()` when the handler began. */
  remaining: number;
  execArgv: string[];
}

/** A handler that does what its event says: sleep, wait until a file exists, throw, or kill its own process. */
const HANDLER = `
export const handler = async (event, context) => {
  const started = Date.now();
  const remaining = context.getRemainingTimeInMillis();
  if (event.exit) process.exit(3);
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  if (event.holdFile) {
    const { existsSync } = await import('node:fs');
    while (!existsSync(event.holdFile)) await new Promise((r) => setTimeout(r, 10));
  }
  if (event.fail) throw Object.assign(new Error('boom'), { name: 'CustomError' });
  return { pid: process.pid, n: event.n ?? 0, started, remaining, execArgv: process.execArgv };
};
`;

let dir: string;
const hosts: LambdaHost[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lambda-host-'));
  writeFileSync(join(dir, 'index.mjs'), HANDLER);
  writeFileSync(join(dir, 'broken.mjs'), 'throw new Error("cannot load");\n');
});
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeFunctions(overrides: Partial<Record<FunctionName, Partial<LocalFunction>>> = {}) {
  const functions = {} as Record<FunctionName, LocalFunction>;
  for (const name of PIPELINE_FUNCTION_NAMES) {
    functions[name] = {
      name,
      logicalId: `${name}Function`,
      assetDir: dir,
      handler: 'index.handler',
      timeoutSeconds: 10,
      memoryMb: 128,
      environment: {},
      asyncRetryAttempts: 2,
      asyncOnFailure: false,
      arn: `arn:aws:lambda:us-east-1:000000000000:function:avatar-pipeline-${name}`,
      ...overrides[name],
    };
  }
  return functions;
}

function hostWith(
  concurrency: LambdaConcurrency,
  overrides: Partial<Record<FunctionName, Partial<LocalFunction>>> = {},
): LambdaHost {
  const host = new LambdaHost({
    functions: fakeFunctions(overrides),
    sharedEnvironment: {},
    log: () => undefined,
    concurrency,
  });
  hosts.push(host);
  return host;
}

/** Processes of the fake bundles that are children of this process, as the operating system sees them. */
function osProcesses(): number {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(dir)).length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function errorOf(promise: Promise<unknown>): Promise<LambdaFunctionError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LambdaFunctionError) return error;
    throw error;
  }
  throw new Error('expected the invocation to fail');
}

describe('LambdaHost concurrency', () => {
  it('runs a burst of 200 invocations on at most 4 processes, all of them, oldest first', async () => {
    const host = hostWith({ perFunction: 4, idleMs: 60_000 });
    let mostSeen = 0;
    let mostSeenByOs = 0;
    const sampler = setInterval(() => {
      mostSeen = Math.max(mostSeen, host.processes('webhook'));
    }, 2);
    const osSampler = setInterval(() => {
      mostSeenByOs = Math.max(mostSeenByOs, osProcesses());
    }, 50);
    // The order in which the host hands invocations to its processes, taken where it does so (the host's own
    // clock), not from timestamps in four child processes that a loaded machine schedules unevenly.
    const dispatched: number[] = [];
    const results = (await Promise.all(
      Array.from({ length: 200 }, (_, n) =>
        host.invoke('webhook', { n, sleepMs: 5 }, { onStart: () => dispatched.push(n) }),
      ),
    )) as Result[];
    clearInterval(sampler);
    clearInterval(osSampler);

    expect(results.map((r) => r.n)).toEqual(Array.from({ length: 200 }, (_, n) => n));
    expect(new Set(results.map((r) => r.pid)).size).toBeLessThanOrEqual(4);
    expect(host.peak.byFunction.webhook).toBe(4);
    expect(mostSeen).toBeLessThanOrEqual(4);
    expect(mostSeenByOs).toBeGreaterThan(0);
    expect(mostSeenByOs).toBeLessThanOrEqual(4);
    // First in, first out once the processes are warm: the first four each wait for their own cold start (and
    // start when it ends, while a process that is already warm may take later ones); every later one is handed
    // out strictly in arrival order.
    expect([...dispatched].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, n) => n));
    expect(dispatched.filter((n) => n >= 4)).toEqual(Array.from({ length: 196 }, (_, n) => n + 4));
    // And each process ran what it was handed in that order.
    for (const pid of new Set(results.map((r) => r.pid))) {
      const ran = results.filter((r) => r.pid === pid).sort((a, b) => a.started - b.started || a.n - b.n);
      expect(ran.map((r) => r.n)).toEqual(ran.map((r) => r.n).sort((a, b) => a - b));
    }
    expect(host.queued()).toBe(0);
  }, 60_000);

  it('runs the invocations that wait for one process strictly in the order they came', async () => {
    const host = hostWith({ perFunction: 1 });
    const results = (await Promise.all(
      Array.from({ length: 20 }, (_, n) => host.invoke('record', { n })),
    )) as Result[];
    const starts = results.map((r) => r.started);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(new Set(results.map((r) => r.pid)).size).toBe(1);
  });

  it("takes a function's limit from its reserved concurrency when the template sets one", async () => {
    const host = hostWith({ perFunction: 8 }, { submit: { reservedConcurrency: 2 } });
    const results = (await Promise.all(
      Array.from({ length: 12 }, (_, n) => host.invoke('submit', { n, sleepMs: 30 })),
    )) as Result[];
    expect(results).toHaveLength(12);
    expect(host.peak.byFunction.submit).toBe(2);
  });

  it('throttles every invocation of a function whose reserved concurrency is 0', async () => {
    const host = hostWith({}, { sweep: { reservedConcurrency: 0 } });
    const error = await errorOf(host.invoke('sweep', {}));
    expect(error.name).toBe('Lambda.TooManyRequestsException');
    expect(host.processes()).toBe(0);
  });

  it('keeps all functions together within the overall limit, making room by stopping idle ones', async () => {
    const host = hostWith({ perFunction: 3, total: 3, idleMs: 60_000 });
    // Three webhook processes stay warm and idle; validate must get room from them.
    await Promise.all([0, 1, 2].map((n) => host.invoke('webhook', { n, sleepMs: 50 })));
    expect(host.processes('webhook')).toBe(3);
    const names: FunctionName[] = ['validate', 'record', 'webhook'];
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, n) => host.invoke(names[n % 3] ?? 'webhook', { n, sleepMs: 10 })),
    );
    expect(results).toHaveLength(30);
    expect(host.peak.total).toBeLessThanOrEqual(3);
    expect(host.processes()).toBeLessThanOrEqual(3);
  });

  it('starts children without the parent process flags (no TypeScript loader)', async () => {
    const host = hostWith({});
    const result = (await host.invoke('validate', {})) as Result;
    expect(result.execArgv).toEqual([]);
  });
});

describe('LambdaHost timeouts and failures', () => {
  it("starts the function's timeout clock when the invocation runs, not while it waits", async () => {
    // The host's clock is fake (the processes stay real) and each handler runs until the test releases it, so
    // how long the second waits and runs is set by the test, not by how fast a loaded machine schedules it.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const host = hostWith({ perFunction: 1 }, { poll: { timeoutSeconds: 1 } });
    const [hold0, hold1] = [join(dir, `hold-${randomUUID()}`), join(dir, `hold-${randomUUID()}`)];
    let secondStarted: () => void = () => undefined;
    const second$ = new Promise<void>((resolve) => (secondStarted = resolve));
    let firstStarted: () => void = () => undefined;
    const first$ = new Promise<void>((resolve) => (firstStarted = resolve));
    const first = host.invoke('poll', { n: 0, holdFile: hold0 }, { onStart: () => firstStarted() });
    const second = host.invoke('poll', { n: 1, holdFile: hold1 }, { onStart: () => secondStarted() });
    await first$;
    vi.advanceTimersByTime(900);
    writeFileSync(hold0, '');
    expect(((await first) as Result).n).toBe(0);
    await second$;
    // 1.899 s after it was invoked, 0.999 s after it started: still within its 1 s.
    vi.advanceTimersByTime(999);
    writeFileSync(hold1, '');
    const b = (await second) as Result;
    expect(b.n).toBe(1);
    expect(b.remaining).toBeGreaterThan(900);
  });

  it('times an invocation out after the function timeout and frees its slot for the next one', async () => {
    const host = hostWith({ perFunction: 1 }, { poll: { timeoutSeconds: 1 } });
    const slow = host.invoke('poll', { sleepMs: 5_000 });
    const next = host.invoke('poll', { n: 1 });
    const error = await errorOf(slow);
    expect(error.name).toBe('Sandbox.Timedout');
    expect(JSON.parse(error.message)).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: 'Task timed out after 1.00 seconds',
    });
    expect(((await next) as Result).n).toBe(1);
    expect(host.peak.byFunction.poll).toBe(1);
  });

  it('fails the invocation of a process that dies, frees its slot, and runs the ones waiting', async () => {
    const host = hostWith({ perFunction: 1 });
    const dying = host.invoke('deliver', { exit: true });
    const waiting = [1, 2, 3].map((n) => host.invoke('deliver', { n }));
    const error = await errorOf(dying);
    expect(error.name).toBe('Runtime.ExitError');
    expect(error.errorMessage).toMatch(/Runtime exited with status 3/);
    const results = (await Promise.all(waiting)) as Result[];
    expect(results.map((r) => r.n)).toEqual([1, 2, 3]);
    expect(host.processes('deliver')).toBe(1);
  });

  it('reports a function error with its type and keeps the process', async () => {
    const host = hostWith({ perFunction: 1 });
    const error = await errorOf(host.invoke('record', { fail: true }));
    expect(error.name).toBe('CustomError');
    const [a, b] = (await Promise.all([host.invoke('record', {}), host.invoke('record', {})])) as Result[];
    expect(a?.pid).toBe(b?.pid);
  });

  it('fails an invocation whose bundle cannot load, and the next one too, without hanging', async () => {
    const host = hostWith({ perFunction: 1 }, { fail: { handler: 'broken.handler' } });
    const errors = await Promise.all([errorOf(host.invoke('fail', {})), errorOf(host.invoke('fail', {}))]);
    expect(errors.map((e) => e.name)).toEqual(['Runtime.ExitError', 'Runtime.ExitError']);
    expect(host.processes('fail')).toBe(0);
  });

  it('crashNext kills the process of the next invocation; the queued ones still run', async () => {
    const host = hostWith({ perFunction: 1 });
    host.crashNext('submit', 50);
    const crashed = host.invoke('submit', { sleepMs: 2_000 });
    const waiting = [1, 2].map((n) => host.invoke('submit', { n }));
    expect((await errorOf(crashed)).name).toBe('Runtime.ExitError');
    expect(((await Promise.all(waiting)) as Result[]).map((r) => r.n)).toEqual([1, 2]);
  });

  it('crashNext applies to the invocation that runs next, not to one still waiting', async () => {
    const host = hostWith({ perFunction: 1 });
    await host.invoke('submit', {}); // warm: the next invocation starts the moment it is made
    const running = host.invoke('submit', { n: 0, sleepMs: 200 });
    const waiting = host.invoke('submit', { n: 1, sleepMs: 2_000 });
    // Armed while the first runs: it hits the waiting one when that one starts.
    host.crashNext('submit', 50);
    expect(((await running) as Result).n).toBe(0);
    expect((await errorOf(waiting)).name).toBe('Runtime.ExitError');
  });

  it('crashNext with a promise kills the process when the promise settles, and not before', async () => {
    const host = hostWith({ perFunction: 1 });
    let trigger: () => void = () => undefined;
    host.crashNext('submit', new Promise<void>((resolve) => (trigger = resolve)));
    let settled = false;
    let runs: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (runs = resolve));
    const crashed = host.invoke('submit', { sleepMs: 5_000 }, { onStart: () => runs() });
    void crashed.catch(() => undefined).finally(() => (settled = true));
    // Counted from when it runs, not from when it was made (a cold start on a loaded machine can take longer).
    await running;
    await sleep(300);
    expect(settled, 'still running while the promise is pending').toBe(false);
    trigger();
    expect((await errorOf(crashed)).name).toBe('Runtime.ExitError');
    expect(((await host.invoke('submit', { n: 1 })) as Result).n).toBe(1);
  });

  it('timeOutNext ends the next invocation as Sandbox.Timedout and frees its slot', async () => {
    // On the host's fake clock: the time-out fires exactly 100 ms after the invocation starts, long before the
    // function's own 10 s, whatever the machine's load does to the cold start.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const host = hostWith({ perFunction: 1 });
    host.timeOutNext('submit', 100);
    let runs: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (runs = resolve));
    let settled = false;
    const timedOut = errorOf(host.invoke('submit', { sleepMs: 3_000 }, { onStart: () => runs() }));
    void timedOut.finally(() => (settled = true));
    const next = host.invoke('submit', { n: 7 });
    await running;
    vi.advanceTimersByTime(99);
    await Promise.resolve();
    expect(settled, 'still running 99 ms in').toBe(false);
    vi.advanceTimersByTime(1);
    expect((await timedOut).name).toBe('Sandbox.Timedout');
    expect(((await next) as Result).n).toBe(7);
  });
});

describe('LambdaHost idle processes', () => {
  it('stops processes idle longer than idleMs, keeping the warm ones', async () => {
    // The host's idle timers run on a fake clock (the processes and their pipes stay real): none can fire while
    // four cold starts spread out on a loaded machine, and each fires exactly when the test moves the clock.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const host = hostWith({ perFunction: 4, keepWarm: 1, idleMs: 300 });
    const burst = () =>
      Promise.all([0, 1, 2, 3].map((n) => host.invoke('ingest', { n, sleepMs: 100 }))) as Promise<Result[]>;
    const pids = new Set((await burst()).map((r) => r.pid));
    expect(pids.size).toBe(4);
    vi.advanceTimersByTime(299);
    // None was stopped before idleMs: the next burst runs on the same four processes, no cold start.
    expect(new Set((await burst()).map((r) => r.pid)), 'none stopped before idleMs').toEqual(pids);
    // Idle again since that burst: idleMs from now, all but keepWarm are stopped.
    vi.advanceTimersByTime(300);
    // Told to stop now; each slot is free once its process has exited (SIGKILL: at once, however loaded).
    await vi.waitFor(() => expect(host.processes('ingest')).toBe(1), { timeout: 30_000, interval: 20 });
    expect(osProcesses()).toBe(1);
    // The one kept is warm: the next invocation reuses it.
    const before = (await host.invoke('ingest', {})) as Result;
    const after = (await host.invoke('ingest', {})) as Result;
    expect(after.pid).toBe(before.pid);
  });

  it('stop ends every process and fails the invocations still waiting', async () => {
    const host = hostWith({ perFunction: 1 });
    let runs: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (runs = resolve));
    const running = errorOf(host.invoke('webhook', { sleepMs: 5_000 }, { onStart: () => runs() }));
    const waiting = errorOf(host.invoke('webhook', {}));
    // Stopped once the first one runs, not after a fixed delay its cold start may outlast.
    await started;
    await host.stop();
    expect((await waiting).name).toBe('Lambda.ServiceException');
    expect((await running).name).toBe('Runtime.ExitError');
    expect(host.processes()).toBe(0);
    expect(osProcesses()).toBe(0);
    expect((await errorOf(host.invoke('webhook', {}))).name).toBe('Lambda.ServiceException');
  });
});
