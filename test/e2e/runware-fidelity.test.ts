import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../lambdas/core/job.js';
import type { FailureShape, RunwareSimulator } from '../../local/runware-simulator.js';
import type { LocalStack } from '../../local/stack.js';
import { drop, finishedJob, outputKeys, readOutput, type Samples, startLocal } from '../support/local.js';

/**
 * Runware as its docs and SDKs show it (docs/runware-api.md), end to end in local mode (E2E_CONTEXT: webhook
 * wait 8 s): every plausible failure webhook shape, a 408 on submit, more results than asked for, an unstorable
 * cost, a 40 KiB provider message, a video URL with a user and password, and the documented input limits.
 */

const SLOW = 120_000;
/**
 * The job of `stem` was told its end by the webhook, not found by polling after waitTimeoutSeconds: its execution
 * never entered Poll. (A bound on the time would race a loaded machine: the webhook wait is 8 s here.)
 */
function expectToldByWebhook(stem: string): void {
  const [execution] = stack.sfn
    .listExecutions()
    .filter((e) => (JSON.parse(e.input) as { stem: string }).stem === stem);
  expect(execution?.states).toContain('Submit');
  expect(execution?.states).not.toContain('Poll');
}

let stack: LocalStack;
let samples: Samples;
let dir: string;
let sim: RunwareSimulator;

beforeAll(async () => {
  ({ stack, samples, dir } = await startLocal());
  if (!stack.simulator) throw new Error('These tests need the Runware simulator.');
  sim = stack.simulator;
}, 180_000);
afterAll(async () => stack?.stop());
afterEach(() => {
  sim.faults = {};
});

async function dropPair(stem: string, audio: Buffer = samples.voice3s): Promise<number> {
  const startedAt = Date.now();
  await drop(stack, `${stem}.png`, samples.portrait);
  await drop(stack, `${stem}.wav`, audio);
  return startedAt;
}

async function readJson(key: string): Promise<Record<string, unknown>> {
  return JSON.parse((await readOutput(stack, key)).toString('utf8')) as Record<string, unknown>;
}

const eventsOf = (job: JobRecord) => stack.events.filter((e) => e.detail.jobId === job.jobId);

/** Every function log line written so far (local mode writes them to `<workDir>/logs/<function>.log`). */
function allLogs(): string {
  const logDir = join(dir, 'logs');
  let names: string[] = [];
  try {
    names = readdirSync(logDir);
  } catch {
    return '';
  }
  return names.map((name) => readFileSync(join(logDir, name), 'utf8')).join('\n');
}

/** A silent 16-bit mono PCM WAV of `seconds` at `sampleRate`. */
function silentWav(seconds: number, sampleRate: number): Buffer {
  const data = Math.round(seconds * sampleRate) * 2;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data, 40);
  return Buffer.concat([header, Buffer.alloc(data)]);
}

describe('failure webhooks', () => {
  const shapes: Exclude<FailureShape, 'round-robin'>[] = ['errors', 'data-item', 'error-object', 'bare'];
  it.each(shapes)(
    "a failure sent as %s fails the job at once with Runware's message",
    async (shape) => {
      const stem = `fidelity/failure-${shape}/avatar`;
      sim.queueFault({
        errorWebhook: { code: 'timeoutProvider', message: `Provider timed out (${shape}).` },
        failureShape: shape,
      });
      await dropPair(stem);
      const job = await finishedJob(stack, stem);
      expect(job.status).toBe('FAILED');
      expect(job.error).toMatchObject({ stage: 'GENERATED', code: 'RUNWARE_TASK_FAILED' });
      expect(job.error?.message).toContain(`Provider timed out (${shape}).`);
      expectToldByWebhook(stem);
      expect(sim.webhookDeliveries.filter((d) => d.taskUUID === job.taskUUID).map((d) => d.status)).toEqual([
        200,
      ]);
      expect(sim.acceptedTasks(job.taskUUID)).toBe(1);
    },
    SLOW,
  );
});

describe('what Runware answers', () => {
  it(
    'retries a 408 on submit and delivers the job with one accepted task',
    async () => {
      const stem = 'fidelity/408/avatar';
      const before = sim.acceptedTasks();
      sim.queueFault({ submitStatus: [408] });
      await dropPair(stem);
      const job = await finishedJob(stack, stem);
      expect(job.status).toBe('DELIVERED');
      expect(sim.acceptedTasks() - before).toBe(1);
    },
    SLOW,
  );

  it(
    'ignores results beyond numberResults: one video delivered, the cost of one',
    async () => {
      const stem = 'fidelity/extra-results/avatar';
      sim.queueFault({ extraResults: 3 });
      await dropPair(stem);
      const job = await finishedJob(stack, stem);
      expect(job.status).toBe('DELIVERED');
      expect(job.outputs).toHaveLength(1);
      expect(await outputKeys(stack, 'fidelity/extra-results/')).toEqual([`${stem}.json`, `${stem}.mp4`]);
      const delivery = sim.webhookDeliveries.find((d) => d.taskUUID === job.taskUUID);
      const sent = delivery?.body as { data: { cost: number }[] };
      expect(sent.data).toHaveLength(4);
      expect(job.results).toHaveLength(1);
      expect(job.costUsd).toBeCloseTo(sent.data[0]?.cost ?? Number.NaN, 6);
      expect(await readJson(`${stem}.json`)).toMatchObject({ costUsd: job.costUsd });
    },
    SLOW,
  );

  it(
    'answers 400 to an unstorable cost, and the job still ends (by polling)',
    async () => {
      const stem = 'fidelity/unstorable-cost/avatar';
      sim.queueFault({ webhookCost: 1e300 });
      await dropPair(stem);
      const job = await finishedJob(stack, stem);
      const statuses = sim.webhookDeliveries.filter((d) => d.taskUUID === job.taskUUID).map((d) => d.status);
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 400)).toBe(true);
      expect(job.status).toBe('DELIVERED');
      expect(job.results?.[0]?.cost ?? 0).toBeLessThan(100);
    },
    SLOW,
  );
});

describe('bounds and secrets', () => {
  it(
    'fails the job with a truncated message when the provider sends 40 KiB of it',
    async () => {
      const stem = 'fidelity/huge-message/avatar';
      const message = `Provider exploded: ${'e'.repeat(40 * 1024)}`;
      sim.queueFault({ errorWebhook: { code: 'providerError', message } });
      await dropPair(stem);
      const job = await finishedJob(stack, stem);
      expect(job.status).toBe('FAILED');
      expect(job.error?.code).toBe('RUNWARE_TASK_FAILED');
      expect(job.error?.message).toContain('Provider exploded');
      expect(job.error?.message).toContain('…[truncated]');
      expect(job.error?.message.length ?? 0).toBeLessThanOrEqual(4000);
      expectToldByWebhook(stem);
      const document = await readJson(`${stem}.error.json`);
      expect(String(document.message).length).toBeLessThanOrEqual(4000);
      const [event] = eventsOf(job);
      expect(event?.detailType).toBe('JobFailed');
      expect(JSON.stringify(event?.detail).length).toBeLessThan(32_768);
    },
    SLOW,
  );

  it(
    'keeps a user and password in a video URL out of the record, the error file, the event and the logs',
    async () => {
      const stem = 'fidelity/secret-url/avatar';
      const password = 'pa55w0rd-never-shown';
      sim.queueFault({ videoUrlHost: `https://alice:${password}@vm.runware.ai` });
      await dropPair(stem);
      const job = await finishedJob(stack, stem);
      expect(job.status).toBe('FAILED');
      expect(job.error?.stage).toBe('DELIVERED');
      const places: [string, string][] = [
        ['job record', JSON.stringify(job)],
        ['error file', (await readOutput(stack, `${stem}.error.json`)).toString('utf8')],
        ['events', JSON.stringify(eventsOf(job))],
        ['logs', allLogs()],
      ];
      for (const [where, content] of places) {
        expect(content.includes(password), `password found in ${where}`).toBe(false);
      }
    },
    SLOW,
  );
});

describe("Kling's documented limits", () => {
  it(
    'refuses audio over 5 MB before anything is sent to Runware',
    async () => {
      const stem = 'fidelity/audio-over-5mb/avatar';
      const before = sim.acceptedTasks();
      const big = silentWav(60, 44_100); // 5.3 MB, 60 s
      expect(big.length).toBeGreaterThan(5_000_000);
      await dropPair(stem, big);
      const job = await finishedJob(stack, stem);
      expect(job.status).toBe('FAILED');
      expect(job.error).toMatchObject({ stage: 'VALIDATED', code: 'FILE_TOO_LARGE' });
      expect(sim.acceptedTasks() - before).toBe(0);
    },
    SLOW,
  );
});
