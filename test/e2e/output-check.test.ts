import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointsOf, writeEndpointsFile } from '../../cli/endpoints-file.js';
import { JobSucceededDetailSchema } from '../../lambdas/core/contract/job-events.js';
import type { VideoContentFault } from '../../local/runware/faults.js';
import type { LocalStack } from '../../local/stack.js';
import { runCli } from '../support/cli.js';
import { drop, finishedJob, outputKeys, readOutput, type Samples, startLocal } from '../support/local.js';

/**
 * The output check end to end: the simulator renders a video that is shorter than its audio, one without sound and
 * one without picture (`videoContent` faults); each is delivered all the same (it was paid for), and the problem
 * is in the job record, in `<stem>.json`, in the JobSucceeded event and in `avatar-pipeline status`.
 */
let stack: LocalStack;
let samples: Samples;
let dir: string;
// One stack for the four jobs; the synth it starts with can take minutes on a busy machine.
beforeAll(async () => {
  ({ stack, samples, dir } = await startLocal());
}, 600_000);
afterAll(async () => stack?.stop());

describe('a delivered video is checked before it counts', () => {
  it.each([
    ['short', 'DURATION_MISMATCH', 'lasts'],
    ['silent', 'NO_AUDIO_TRACK', 'is silent'],
    ['no-picture', 'NO_VIDEO_TRACK', 'has no picture'],
  ] as [VideoContentFault, string, string][])(
    'delivers a %s video with its problem on record',
    {
      timeout: 120_000,
    },
    async (fault, code, words) => {
      const stem = `check/${fault}/anna`;
      stack.simulator?.queueFault({ videoContent: fault });
      await drop(stack, `${stem}.png`, samples.portrait);
      await drop(stack, `${stem}.wav`, samples.voice5s);
      const job = await finishedJob(stack, stem);

      expect(job.status).toBe('DELIVERED');
      expect(await outputKeys(stack, `${stem}.`)).toEqual([`${stem}.json`, `${stem}.mp4`]);
      const problem = { output: `${stem}.mp4`, code, message: expect.stringContaining(words) };
      expect(job.outputCheck).toMatchObject({ passed: false, problems: [problem] });
      expect(job.outputCheck?.problems).toHaveLength(1);
      const record = JSON.parse((await readOutput(stack, `${stem}.json`)).toString('utf8'));
      expect(record.outputCheck).toEqual(job.outputCheck);
      const event = stack.events.find((e) => e.detailType === 'JobSucceeded' && e.detail.jobId === job.jobId);
      const detail = JobSucceededDetailSchema.parse(event?.detail);
      expect(detail.outputCheck).toEqual({ passed: false, problems: [problem] });

      const endpoints = join(dir, 'endpoints.json');
      writeEndpointsFile(endpoints, endpointsOf(stack));
      const status = await runCli(dir, ['status', stem, '--endpoints', endpoints]);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain('Output check: 1 problem(s)');
      expect(status.stdout).toContain(`${code}: The video ${stem}.mp4`);
    },
  );

  it('passes a video as long as its audio, with picture and sound', { timeout: 120_000 }, async () => {
    const stem = 'check/fine/anna';
    await drop(stack, `${stem}.png`, samples.portrait);
    await drop(stack, `${stem}.wav`, samples.voice3s);
    const job = await finishedJob(stack, stem);
    expect(job.outputCheck).toMatchObject({
      passed: true,
      expectedSeconds: expect.closeTo(3, 1),
      videos: [{ output: `${stem}.mp4`, hasVideo: true, hasAudio: true, width: expect.any(Number) }],
      problems: [],
    });
  });
});
