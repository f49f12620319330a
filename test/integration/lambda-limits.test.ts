import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE_FUNCTION_NAMES } from '../../lib/function-names.js';
import { LocalEventBus } from '../../local/event-bus.js';
import { LambdaFunctionError, LambdaServiceError } from '../../local/lambda-errors.js';
import { type InvokeOptions, LambdaHost } from '../../local/lambda-host.js';
import type { FunctionName, LocalFunction } from '../../local/template.js';

/**
 * The limits Lambda holds and the local host must hold too, against tiny fake bundles: payload sizes by
 * invocation type, the configured memory, and each execution environment's own /tmp with its configured size.
 */

interface Result {
  pid: number;
  tmp: string;
  files: string[];
}

/** A handler that does what its event says; `pad` only makes the event larger. */
const HANDLER = `
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
export const handler = async (event) => {
  if (event.respondBytes) return 'x'.repeat(event.respondBytes - 2);
  if (event.allocMb) {
    // Native memory (outside the V8 heap), written so that it is resident.
    const held = Buffer.alloc(event.allocMb * 1024 * 1024, 1);
    await new Promise((r) => setTimeout(r, event.holdMs ?? 600));
    return { pid: process.pid, held: held.length };
  }
  if (event.writeMb) {
    mkdirSync(tmpdir(), { recursive: true });
    writeFileSync(join(tmpdir(), event.name ?? 'file'), Buffer.alloc(event.writeMb * 1024 * 1024, 1));
  }
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  return { pid: process.pid, tmp: tmpdir(), files: readdirSync(tmpdir()) };
};
`;

let dir: string;
const hosts: LambdaHost[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lambda-limits-'));
  writeFileSync(join(dir, 'index.mjs'), HANDLER);
});
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function hostWith(overrides: Partial<LocalFunction> = {}, memoryPollMs?: number): LambdaHost {
  const functions = {} as Record<FunctionName, LocalFunction>;
  for (const name of PIPELINE_FUNCTION_NAMES) {
    functions[name] = {
      name,
      logicalId: `${name}Function`,
      assetDir: dir,
      handler: 'index.handler',
      timeoutSeconds: 20,
      memoryMb: 512,
      environment: {},
      asyncRetryAttempts: 2,
      asyncOnFailure: false,
      arn: `arn:aws:lambda:us-east-1:000000000000:function:avatar-pipeline-${name}`,
      ...overrides,
    };
  }
  const host = new LambdaHost({
    functions,
    sharedEnvironment: {},
    log: () => undefined,
    concurrency: { perFunction: 1 },
    ...(memoryPollMs === undefined ? {} : { memoryPollMs }),
  });
  hosts.push(host);
  return host;
}

async function errorOf(promise: Promise<unknown>): Promise<LambdaFunctionError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LambdaFunctionError) return error;
    throw error;
  }
  throw new Error('expected the invocation to fail');
}

const MiB = 1024 * 1024;
/** An event whose JSON text is exactly `bytes` long: `{"pad":"xxx"}` is 10 bytes plus the padding. */
const eventOf = (bytes: number, extra: Record<string, unknown> = {}) => {
  const base = JSON.stringify({ ...extra, pad: '' }).length;
  return { ...extra, pad: 'x'.repeat(bytes - base) };
};

describe('LambdaHost payload limits', () => {
  it('refuses a synchronous request over 6 MiB as Lambda does, without running anything', async () => {
    const host = hostWith();
    const error = await errorOf(host.invoke('validate', eventOf(6 * MiB + 1)));
    expect(error).toBeInstanceOf(LambdaServiceError);
    expect(error.name).toBe('RequestEntityTooLargeException');
    expect((error as LambdaServiceError).statusCode).toBe(413);
    expect(error.errorMessage).toBe(
      '6291457 byte payload is too large for the RequestResponse invocation type (limit 6291456 bytes)',
    );
    expect(host.processes()).toBe(0);
    // Exactly at the limit is accepted.
    const result = (await host.invoke('validate', eventOf(6 * MiB))) as Result;
    expect(result.pid).toBeGreaterThan(0);
  });

  it('refuses an asynchronous (Event) request over 1 MiB, which a synchronous one may carry', async () => {
    const host = hostWith();
    const event: InvokeOptions = { invocationType: 'Event' };
    const error = await errorOf(host.invoke('ingest', eventOf(MiB + 1), event));
    expect(error.name).toBe('RequestEntityTooLargeException');
    expect(error.errorMessage).toBe(
      '1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)',
    );
    await expect(host.invoke('ingest', eventOf(MiB), event)).resolves.toBeTruthy();
    await expect(host.invoke('ingest', eventOf(MiB + 1))).resolves.toBeTruthy();
  });

  it('fails a synchronous invocation whose response passes 6 MiB + 100 bytes, and keeps the environment', async () => {
    const host = hostWith();
    const limit = 6 * MiB + 100;
    const error = await errorOf(host.invoke('record', { respondBytes: limit + 1 }));
    expect(error.name).toBe('Function.ResponseSizeTooLarge');
    expect(error.errorMessage).toBe(
      'Response payload size exceeded maximum allowed payload size (6291556 bytes).',
    );
    const exact = (await host.invoke('record', { respondBytes: limit })) as string;
    expect(exact.length).toBe(limit - 2);
    expect(host.processes('record')).toBe(1);
  });

  it('drops no asynchronous invocation for its response size (Lambda discards that result)', async () => {
    const host = hostWith();
    await expect(
      host.invoke('record', { respondBytes: 7 * MiB }, { invocationType: 'Event' }),
    ).resolves.toHaveLength(7 * MiB - 2);
  });

  it('has the event bus invoke its targets asynchronously', async () => {
    const calls: { fn: FunctionName; options: InvokeOptions | undefined }[] = [];
    const functions = {} as Record<FunctionName, LocalFunction>;
    const bus = new LocalEventBus({
      rules: [
        {
          id: 'Rule',
          arn: 'arn:aws:events:us-east-1:000000000000:rule/Rule',
          eventPattern: { source: ['test'] },
          targets: [{ function: 'ingest', deadLetterQueue: false }],
        },
      ],
      functions: { ...functions, ingest: { asyncRetryAttempts: 0, asyncOnFailure: false } as LocalFunction },
      lambdas: {
        invoke: async (fn: FunctionName, _event: unknown, options?: InvokeOptions) => {
          calls.push({ fn, options });
          return null;
        },
      },
      onDeadLetter: () => undefined,
    });
    bus.put({
      version: '0',
      id: '1',
      'detail-type': 'Test',
      source: 'test',
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [],
      detail: {},
    });
    await bus.idle();
    expect(calls).toEqual([{ fn: 'ingest', options: { invocationType: 'Event' } }]);
  });
});

describe('LambdaHost memory', () => {
  it('kills an environment whose resident memory passes its MemorySize, as Runtime.OutOfMemory', async () => {
    const host = hostWith({ memoryMb: 128 }, 50);
    const error = await errorOf(host.invoke('validate', { allocMb: 200 }));
    expect(error.name).toBe('Runtime.OutOfMemory');
    expect(error.errorMessage).toMatch(/^RequestId: \S+ Error: Runtime exited with error: signal: killed$/);
    // The environment is gone; the next invocation gets a new one.
    const next = (await host.invoke('validate', {})) as Result;
    expect(next.pid).toBeGreaterThan(0);
    expect(host.processes('validate')).toBe(1);
  });

  it('lets the same work run under a MemorySize that fits it, and records the most it used', async () => {
    const host = hostWith({ memoryMb: 512 }, 50);
    const result = (await host.invoke('validate', { allocMb: 200 })) as { held: number };
    expect(result.held).toBe(200 * MiB);
    expect(host.maxMemoryMiB.validate ?? 0).toBeGreaterThan(200);
  });
});

describe('LambdaHost /tmp', () => {
  it('gives each environment its own /tmp, kept across its invocations and removed with it', async () => {
    const host = hostWith({}, 50);
    const first = (await host.invoke('deliver', { writeMb: 1, name: 'a' })) as Result;
    const second = (await host.invoke('deliver', {})) as Result;
    expect(second.pid).toBe(first.pid);
    expect(second.tmp).toBe(first.tmp);
    expect(second.files).toEqual(['a']);
    expect(first.tmp).not.toBe(tmpdir());
    // Another function's environment has its own.
    const other = (await host.invoke('record', {})) as Result;
    expect(other.tmp).not.toBe(first.tmp);
    expect(other.files).toEqual([]);
    await host.stop();
    expect(existsSync(first.tmp)).toBe(false);
  });

  it('ends an environment that holds more than its EphemeralStorage in /tmp, and fails the invocation', async () => {
    const host = hostWith({ ephemeralStorageMb: 2 }, 50);
    await host.invoke('deliver', { writeMb: 1, name: 'a' });
    const error = await errorOf(host.invoke('deliver', { writeMb: 2, name: 'b' }));
    expect(error.name).toBe('Error');
    expect(error.errorMessage).toMatch(/^ENOSPC: no space left on device/);
    // The next invocation starts afresh, with an empty /tmp.
    const next = (await host.invoke('deliver', {})) as Result;
    expect(next.files).toEqual([]);
  });

  it('ends a long-running invocation that fills /tmp while it still runs', async () => {
    const host = hostWith({ ephemeralStorageMb: 1 }, 20);
    // It would sleep past its 20 s timeout (Sandbox.Timedout), so ENOSPC can only come while it still runs: no
    // wall-clock bound that a loaded machine could break.
    const error = await errorOf(host.invoke('deliver', { writeMb: 2, sleepMs: 600_000 }));
    expect(error.errorMessage).toMatch(/^ENOSPC/);
  });
});
