import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobSucceededDetailSchema } from '../../lambdas/core/contract/job-events.js';
import { probe } from '../../local/ffmpeg.js';
import type { LocalStack } from '../../local/stack.js';
import { E2E_CONTEXT, type Samples } from '../support/local.js';
import { useLocalStack } from '../support/local-test.js';

let stack: LocalStack;
let samples: Samples;
let dir: string;
const local = useLocalStack(E2E_CONTEXT, (started) => {
  ({ stack, samples, dir } = started);
});

async function probeOutput(key: string) {
  const file = join(dir, key.replaceAll('/', '_'));
  writeFileSync(file, await local.readOutput(key));
  return probe(file);
}

/** How many videoInference tasks the simulator accepted for a stem's job. */
function submissionsFor(taskUUID: string | undefined): number {
  return (stack.simulator?.submissions ?? []).filter((s) => s.task.taskUUID === taskUUID).length;
}

describe('local mode, end to end', () => {
  it.each([
    ['MP4', 'mp4', 'h264'],
    ['WEBM', 'webm', 'vp9'],
    ['MOV', 'mov', 'h264'],
  ])(
    'makes a playable %s video of the audio length, with a complete job record',
    async (format, ext, codec) => {
      const stem = `formats/${ext}`;
      await local.drop(
        `${stem}.json`,
        JSON.stringify({ outputFormat: format, prompt: `A ${format} presenter` }),
      );
      await local.drop(`${stem}.png`, samples.portrait);
      await local.drop(`${stem}.wav`, samples.voice3s);
      const job = await local.finishedJob(stem);

      expect(job.status).toBe('DELIVERED');
      expect(await local.outputKeys(stem)).toEqual([`${stem}.${ext}`, `${stem}.json`].sort());
      const facts = await probeOutput(`${stem}.${ext}`);
      expect(facts.streams.map((s) => s.codecType).sort()).toEqual(['audio', 'video']);
      expect(facts.streams.find((s) => s.codecType === 'video')?.codecName).toBe(codec);
      expect(Math.abs(facts.durationSeconds - 3)).toBeLessThan(0.5);

      const record = JSON.parse((await local.readOutput(`${stem}.json`)).toString('utf8'));
      expect(record).toMatchObject({
        jobId: job.jobId,
        status: 'DELIVERED',
        model: 'klingai:avatar@2.0-pro',
        prompt: `A ${format} presenter`,
        settings: { outputFormat: format },
        taskUUID: job.taskUUID,
        inputs: {
          image: {
            key: `inbox/${stem}.png`,
            format: 'png',
            width: 720,
            height: 960,
            sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          },
          audio: {
            key: `inbox/${stem}.wav`,
            durationSeconds: 3,
            sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          },
          sidecar: { key: `inbox/${stem}.json` },
        },
        costUsd: expect.any(Number),
        // The avatar model's results carry no seed (docs/runware-api.md section 8), so the record says null.
        results: [{ videoUUID: expect.any(String), seed: null, output: `${stem}.${ext}` }],
      });
      expect(Object.keys(record.stages)).toEqual([
        'RECEIVED',
        'VALIDATED',
        'SUBMITTED',
        'GENERATED',
        'DELIVERED',
      ]);
      expect(submissionsFor(job.taskUUID)).toBe(1);
      const succeeded = stack.events.filter(
        (e) => e.detailType === 'JobSucceeded' && e.detail.jobId === job.jobId,
      );
      expect(succeeded).toHaveLength(1);
      // The published detail is the documented one (docs/events.md), version 1.
      expect(JobSucceededDetailSchema.parse(succeeded[0]?.detail)).toMatchObject({
        version: '1',
        jobId: job.jobId,
        attempt: 1,
        stem,
        outputs: [`${stem}.${ext}`],
        recordKey: `${stem}.json`,
      });
      expect(succeeded[0]?.source).toBe('avatar-pipeline');
    },
  );

  it('starts the job whichever file of the pair lands first', async () => {
    await local.drop('order/audio-first.wav', samples.voice3s);
    await new Promise((r) => setTimeout(r, 300));
    await local.drop('order/audio-first.png', samples.portrait);
    expect((await local.finishedJob('order/audio-first')).status).toBe('DELIVERED');
  });

  it('honours a sidecar that lands after the pair', async () => {
    await local.drop('late/sidecar.png', samples.portrait);
    await local.drop('late/sidecar.wav', samples.voice3s);
    // ttl: above this stack's floor (hardDeadlineSeconds 40 + the Record and Deliver retries = 4975 s).
    await local.drop(
      'late/sidecar.json',
      JSON.stringify({ prompt: 'Landed last', outputQuality: 70, ttl: 7200 }),
    );
    // The job made with the sidecar: the pair's own job too if its settings were frozen before the sidecar
    // landed (then the sidecar starts the next job), so not simply the stem's first execution.
    const job = await local.finishedJob(
      'late/sidecar',
      (j) => j.inputs.sidecar?.key === 'inbox/late/sidecar.json',
    );
    expect(job.status).toBe('DELIVERED');
    expect(job.settings).toMatchObject({ prompt: 'Landed last', outputQuality: 70, ttl: 7200 });
    expect(stack.simulator?.submissions.find((s) => s.task.taskUUID === job.taskUUID)?.task).toMatchObject({
      positivePrompt: 'Landed last',
      outputQuality: 70,
      ttl: 7200,
    });
  });

  it('delivers two videos for numberResults 2', async () => {
    await local.drop('multi/two.json', JSON.stringify({ numberResults: 2 }));
    await local.drop('multi/two.png', samples.portrait);
    await local.drop('multi/two.wav', samples.voice3s);
    const job = await local.finishedJob('multi/two');
    expect(job.status).toBe('DELIVERED');
    expect(await local.outputKeys('multi/two')).toEqual([
      'multi/two-1.mp4',
      'multi/two-2.mp4',
      'multi/two.json',
    ]);
    expect(job.results).toHaveLength(2);
  });

  it('ends FAILED with <stem>.error.json on an error webhook, keeping the inputs', async () => {
    stack.simulator?.queueFault({
      errorWebhook: { code: 'providerError', message: 'The provider could not animate this face' },
    });
    await local.drop('faults/error-webhook.png', samples.portrait);
    await local.drop('faults/error-webhook.wav', samples.voice3s);
    const job = await local.finishedJob('faults/error-webhook');
    expect(job).toMatchObject({
      status: 'FAILED',
      error: { stage: 'GENERATED', code: 'RUNWARE_TASK_FAILED' },
    });
    const error = JSON.parse((await local.readOutput('faults/error-webhook.error.json')).toString('utf8'));
    expect(error).toMatchObject({ code: 'RUNWARE_TASK_FAILED', stage: 'GENERATED' });
    expect(error.message).toContain('The provider could not animate this face');
    expect(await local.inputExists('faults/error-webhook.png')).toBe(true);
    expect(await local.inputExists('faults/error-webhook.wav')).toBe(true);
    expect(
      stack.events.filter((e) => e.detailType === 'JobFailed' && e.detail.jobId === job.jobId),
    ).toHaveLength(1);
  });

  it('rescues a lost webhook by polling', async () => {
    stack.simulator?.queueFault({ loseWebhook: true });
    await local.drop('faults/lost-webhook.png', samples.portrait);
    await local.drop('faults/lost-webhook.wav', samples.voice3s);
    const job = await local.finishedJob('faults/lost-webhook');
    expect(job.status).toBe('DELIVERED');
    const execution = stack.sfn.listExecutions().find((e) => e.input.includes('faults/lost-webhook'));
    expect(execution?.states).toContain('Poll');
    expect(submissionsFor(job.taskUUID)).toBe(1);
  });

  it('delivers once when the webhook is delivered twice', async () => {
    stack.simulator?.queueFault({ duplicateWebhook: true });
    await local.drop('faults/duplicate.png', samples.portrait);
    await local.drop('faults/duplicate.wav', samples.voice3s);
    const job = await local.finishedJob('faults/duplicate');
    expect(job.status).toBe('DELIVERED');
    expect(job.outputs).toHaveLength(1);
    expect(
      stack.simulator?.webhookDeliveries.filter((d) => d.url.includes(job.taskUUID ?? 'x')).length,
    ).toBeGreaterThanOrEqual(2);
    expect(
      stack.events.filter((e) => e.detailType === 'JobSucceeded' && e.detail.jobId === job.jobId),
    ).toHaveLength(1);
  });

  it('retries a 429 on submit and submits the task once', async () => {
    stack.simulator?.queueFault({ submitStatus: [429] });
    await local.drop('faults/busy.png', samples.portrait);
    await local.drop('faults/busy.wav', samples.voice3s);
    const job = await local.finishedJob('faults/busy');
    expect(job.status).toBe('DELIVERED');
    expect(submissionsFor(job.taskUUID)).toBe(1);
  });
});
