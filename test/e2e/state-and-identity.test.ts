import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../lambdas/core/job.js';
import { makeSamplePortrait, makeSampleVoice } from '../../local/ffmpeg.js';
import { LocalStack } from '../../local/stack.js';
import { drop, E2E_CONTEXT, outputKeys, readOutput, storesOf } from '../support/local.js';

/**
 * Local mode keeps its state (issue 11): a stack started with `persist` finds its S3 objects, table, executions
 * and the simulator's Runware tasks again after a stop; an execution that was running when the stack stopped is
 * closed as ABORTED at the next start (its job FAILED with EXECUTION_ABORTED, retried by an upload, which
 * continues the Runware task already accepted instead of paying for a new one); `removeState`
 * (`npm start -- --fresh`) starts empty. Stopping a stack records nothing more, so a stop mid-job leaves the
 * state a kill would.
 */

const SLOW = 240_000;

let dir: string;
let portrait: Buffer;
let voice: Buffer;

const start = () => LocalStack.start({ workDir: dir, context: E2E_CONTEXT, persist: true });

async function jobOf(stack: LocalStack, stem: string): Promise<JobRecord | undefined> {
  const execution = stack.sfn
    .listExecutions()
    .find((e) => (JSON.parse(e.input) as { stem: string }).stem === stem);
  if (!execution) return undefined;
  return storesOf(stack).jobs.get((JSON.parse(execution.input) as { jobId: string }).jobId);
}

async function until<T>(what: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await what();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('Timed out waiting');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Drops a pair whose Runware task is accepted, has fetched its inputs and is still rendering; returns its job. */
async function cutOffJob(stack: LocalStack, stem: string): Promise<JobRecord> {
  if (!stack.simulator) throw new Error('These tests need the Runware simulator.');
  stack.simulator.faults = { slowMs: 600_000 };
  await drop(stack, `${stem}.png`, portrait);
  await drop(stack, `${stem}.wav`, voice);
  return until(async () => {
    const job = await jobOf(stack, stem);
    const task = job?.taskUUID ? stack.simulator?.tasks.get(job.taskUUID.toLowerCase()) : undefined;
    return job?.status === 'SUBMITTED' && task?.inputFiles ? job : undefined;
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'avatar-state-'));
  await makeSamplePortrait(join(dir, 'portrait.png'));
  await makeSampleVoice(join(dir, 'voice.wav'), 3);
  portrait = readFileSync(join(dir, 'portrait.png'));
  voice = readFileSync(join(dir, 'voice.wav'));
}, SLOW);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('local mode keeps its state across restarts', () => {
  it(
    'keeps outputs, records and executions; closes a cut-off execution as ABORTED; --fresh starts empty',
    async () => {
      // First run: one job delivered, another cut off after Runware accepted its task.
      const first = await start();
      let delivered: JobRecord;
      let cutOff: JobRecord;
      try {
        await drop(first, 'state/done.png', portrait);
        await drop(first, 'state/done.wav', voice);
        delivered = await until(async () => {
          const job = await jobOf(first, 'state/done');
          return job?.status === 'DELIVERED' ? job : undefined;
        });
        await first.idle();
        // Accepted, inputs fetched, still rendering when the stack stops.
        cutOff = await cutOffJob(first, 'state/cut');
        expect(first.simulator?.acceptedTasks()).toBe(2);
      } finally {
        await first.stop();
      }

      // Second run on the same folder.
      const second = await start();
      try {
        await second.idle();
        expect(await outputKeys(second, 'state/done')).toEqual(['state/done.json', 'state/done.mp4']);
        expect((await storesOf(second).jobs.get(delivered.jobId))?.status).toBe('DELIVERED');
        const listed = second.sfn.listExecutions();
        expect(listed.find((e) => e.name === delivered.executionName)?.status).toBe('SUCCEEDED');

        // The cut-off execution was closed the way AWS closes an aborted one, and the job says why.
        expect(listed.find((e) => e.name === cutOff.executionName)?.status).toBe('ABORTED');
        const failed = await storesOf(second).jobs.get(cutOff.jobId);
        expect(failed?.status).toBe('FAILED');
        expect(failed?.error?.code).toBe('EXECUTION_ABORTED');
        expect(failed?.error?.message).toMatch(/Local mode stopped/);
        expect(await outputKeys(second, 'state/cut')).toEqual(['state/cut.error.json']);

        // The same bytes dropped again start nothing and cost nothing.
        const before = listed.length;
        await drop(second, 'state/done.png', portrait);
        await drop(second, 'state/done.wav', voice);
        await new Promise((r) => setTimeout(r, 2_000));
        await second.idle();
        expect(second.sfn.listExecutions()).toHaveLength(before);

        // An upload retries the failed job: a new attempt that continues the task Runware accepted (it went on
        // while the stack was down), under the same task UUID. Runware saw one task for the job in all.
        await drop(second, 'state/cut.png', portrait);
        const retried = await until(async () => {
          const job = await storesOf(second).jobs.get(cutOff.jobId);
          return job?.status === 'DELIVERED' ? job : undefined;
        });
        await second.idle();
        expect(retried.attempt).toBe(2);
        expect(retried.taskUUID).toBe(cutOff.taskUUID);
        expect(retried.adoptedTask).toEqual({ taskUUID: cutOff.taskUUID, fromAttempt: 1 });
        expect(retried.history?.[0]).toMatchObject({ attempt: 1, taskUUID: cutOff.taskUUID });
        expect(second.simulator?.acceptedTasks()).toBe(2);
        expect(second.simulator?.acceptedTasks(cutOff.taskUUID)).toBe(1);
        expect(second.simulator?.requests.videoInference ?? 0).toBe(0);
        expect(await outputKeys(second, 'state/cut')).toEqual(['state/cut.json', 'state/cut.mp4']);
        const record = JSON.parse((await readOutput(second, 'state/cut.json')).toString('utf8')) as unknown;
        expect(record).toMatchObject({ taskUUID: cutOff.taskUUID, adoptedTask: { fromAttempt: 1 } });
      } finally {
        await second.stop();
      }

      // --fresh: the kept state is deleted before the start.
      LocalStack.removeState(dir);
      const third = await start();
      try {
        expect(await outputKeys(third, 'state/')).toEqual([]);
        expect(third.sfn.listExecutions()).toEqual([]);
        expect(await storesOf(third).jobs.get(delivered.jobId)).toBeUndefined();
      } finally {
        await third.stop();
      }
    },
    SLOW * 2,
  );
});

describe('a retry after a restart without --port-base', () => {
  it(
    "finishes by polling when the adopted task is still rendering: its webhook goes to the stopped run's port",
    async () => {
      const workDir = join(dir, 'other-port');
      const startIn = (renderSpeed?: number) =>
        LocalStack.start({
          workDir,
          context: E2E_CONTEXT,
          persist: true,
          ...(renderSpeed ? { runware: { renderSpeed } } : {}),
        });
      const first = await startIn();
      let cutOff: JobRecord;
      const firstWebhook = first.endpoints.webhook;
      try {
        cutOff = await cutOffJob(first, 'port/cut');
      } finally {
        await first.stop();
      }

      // Other ports; the task goes on rendering, slowly enough that the retry finds it still processing.
      const second = await startIn(6);
      try {
        await drop(second, 'port/cut.png', portrait);
        const retried = await until(async () => {
          const job = await storesOf(second).jobs.get(cutOff.jobId);
          // Attempt 1 is FAILED (EXECUTION_ABORTED) until the upload's ingest claims attempt 2.
          const ended = job?.status === 'DELIVERED' || job?.status === 'FAILED';
          return job?.attempt === 2 && ended ? job : undefined;
        }, 90_000);
        await second.idle();
        expect(retried).toMatchObject({ status: 'DELIVERED', attempt: 2, taskUUID: cutOff.taskUUID });
        expect(second.simulator?.acceptedTasks(cutOff.taskUUID)).toBe(1);
        expect(second.simulator?.requests.videoInference ?? 0).toBe(0);
        // Runware keeps a task's webhookURL: it went where the first run listened, and nobody answered.
        const hooks = second.simulator?.webhookDeliveries.filter((d) => d.taskUUID === cutOff.taskUUID) ?? [];
        expect(hooks.length).toBeGreaterThan(0);
        for (const hook of hooks) {
          expect(hook.url.startsWith(firstWebhook)).toBe(true);
          expect(hook.status).toBeNull();
        }
        // The poller finished it: the adopting submit's lookup found it processing, a later poll found the result.
        expect(second.simulator?.requests.getResponse ?? 0).toBeGreaterThanOrEqual(2);
        expect(await outputKeys(second, 'port/cut')).toEqual(['port/cut.json', 'port/cut.mp4']);
      } finally {
        await second.stop();
      }
    },
    SLOW,
  );
});

describe('settings are part of the job', () => {
  it(
    'a sidecar after delivery starts the next job with its settings; the first record stays; the same sidecar again starts nothing',
    async () => {
      const stack = await LocalStack.start({ workDir: join(dir, 'identity'), context: E2E_CONTEXT });
      try {
        await drop(stack, 'late/anna.png', portrait);
        await drop(stack, 'late/anna.wav', voice);
        const first = await until(async () => {
          const job = await jobOf(stack, 'late/anna');
          return job?.status === 'DELIVERED' ? job : undefined;
        });
        await stack.idle();
        expect(first.inputs.sidecar).toBeUndefined();

        // Late sidecar: a new, billed video with its settings, and the record names the sidecar.
        await drop(
          stack,
          'late/anna.json',
          JSON.stringify({ outputFormat: 'WEBM', prompt: 'Late settings' }),
        );
        const second = await until(async () => {
          const job = await jobOf(stack, 'late/anna');
          return job && job.jobId !== first.jobId && job.status === 'DELIVERED' ? job : undefined;
        });
        await stack.idle();
        expect(second.settings).toMatchObject({ outputFormat: 'WEBM', prompt: 'Late settings' });
        expect(second.inputs.sidecar?.key).toBe('inbox/late/anna.json');
        expect((await storesOf(stack).jobs.get(first.jobId))?.status).toBe('DELIVERED');
        expect(await outputKeys(stack, 'late/anna')).toContain('late/anna.webm');
        expect(stack.simulator?.acceptedTasks()).toBe(2);

        // A changed sidecar is a third job; the same bytes again start nothing.
        const executions = stack.sfn.listExecutions().length;
        await drop(
          stack,
          'late/anna.json',
          JSON.stringify({ outputFormat: 'WEBM', prompt: 'Late settings' }),
        );
        await new Promise((r) => setTimeout(r, 2_000));
        await stack.idle();
        expect(stack.sfn.listExecutions()).toHaveLength(executions);
        await drop(stack, 'late/anna.json', JSON.stringify({ outputFormat: 'MOV' }));
        const third = await until(async () => {
          const job = await jobOf(stack, 'late/anna');
          return job && job.jobId !== second.jobId && job.status === 'DELIVERED' ? job : undefined;
        });
        await stack.idle();
        expect(third.settings?.outputFormat).toBe('MOV');
        expect(stack.simulator?.acceptedTasks()).toBe(3);
      } finally {
        await stack.stop();
      }
    },
    SLOW,
  );
});
