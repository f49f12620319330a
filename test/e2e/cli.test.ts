import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointsOf, writeEndpointsFile } from '../../cli/endpoints-file.js';
import type { JobRecord } from '../../lambdas/core/job.js';
import type { LocalStack } from '../../local/stack.js';
import { parseJson, runCli } from '../support/cli.js';
import { startLocal } from '../support/local.js';

let stack: LocalStack;
let dir: string;
let endpoints: string;

/** Runs the installed command as a user would, in its own process, and never throws on a non-zero exit. */
const cli = (...args: string[]) => runCli(dir, args);
const json = parseJson;

beforeAll(async () => {
  ({ stack, dir } = await startLocal());
  endpoints = join(dir, 'endpoints.json');
  writeEndpointsFile(endpoints, endpointsOf(stack));
}, 120_000);
afterAll(async () => stack?.stop());

describe('the avatar-pipeline CLI against local mode', () => {
  it('submits a job, waits for it, then lists it with its cost and reads its status', {
    timeout: 300_000,
  }, async () => {
    const submitted = await cli(
      'submit',
      '--endpoints',
      endpoints,
      '--image',
      join(dir, 'portrait.png'),
      '--audio',
      join(dir, 'voice3.wav'),
      '--stem',
      'cli/anna',
      '--prompt',
      'A calm presenter',
      '--wait',
      '--json',
    );
    expect(submitted.stderr).toContain('DELIVERED');
    expect(submitted.code).toBe(0);
    const outcome = json<{ job: JobRecord; videos: string[]; durationSeconds: number; costUsd: number }>(
      submitted.stdout,
    );
    expect(outcome.job.status).toBe('DELIVERED');
    expect(outcome.job.settings?.prompt).toBe('A calm presenter');
    expect(outcome.videos).toEqual([`s3://${stack.names.outputBucket}/cli/anna.mp4`]);
    expect(outcome.durationSeconds).toBeCloseTo(3, 1);
    expect(outcome.costUsd).toBeGreaterThan(0);

    const listed = await cli('jobs', '--endpoints', endpoints, '--json');
    expect(listed.code).toBe(0);
    const table = json<{ jobs: JobRecord[]; count: number; totalUsd: number }>(listed.stdout);
    expect(table.jobs.map((j) => [j.stem, j.status, j.costUsd])).toEqual([
      ['cli/anna', 'DELIVERED', outcome.costUsd],
    ]);
    expect(table.totalUsd).toBe(outcome.costUsd);
    const words = await cli('jobs', '--endpoints', endpoints);
    expect(words.stdout).toMatch(/cli\/anna\s+DELIVERED/);
    expect(words.stdout).toContain('1 job(s), total USD');
    expect((await cli('jobs', '--endpoints', endpoints, '--state', 'FAILED', '--json')).stdout).toContain(
      '"count": 0',
    );

    for (const ref of ['cli/anna', outcome.job.jobId]) {
      const read = await cli('status', ref, '--endpoints', endpoints, '--json');
      expect(read.code).toBe(0);
      expect(json<JobRecord>(read.stdout).jobId).toBe(outcome.job.jobId);
    }
    const status = await cli('status', 'cli/anna', '--endpoints', endpoints);
    expect(status.stdout).toContain('DELIVERED');
    expect(status.stdout).toContain(`s3://${stack.names.outputBucket}/cli/anna.mp4`);

    const spent = await cli('cost', '--endpoints', endpoints, '--since', '1h', '--json');
    expect(json<{ totalUsd: number; paidJobs: number }>(spent.stdout)).toMatchObject({
      totalUsd: outcome.costUsd,
      paidJobs: 1,
    });
  });

  it('estimates a 3 s voice at the pro price per second, times the results', {
    timeout: 120_000,
  }, async () => {
    const one = await cli('estimate', '--audio', join(dir, 'voice3.wav'), '--json');
    expect(one.code).toBe(0);
    const estimate = json<{ audioSeconds: number; usdPerSecond: number; estimatedUsd: number }>(one.stdout);
    expect(estimate.audioSeconds).toBeCloseTo(3, 1);
    expect(estimate.usdPerSecond).toBe(0.087);
    expect(estimate.estimatedUsd).toBeCloseTo(0.261, 2);
    const two = await cli(
      'estimate',
      '--audio',
      join(dir, 'voice3.wav'),
      '--results',
      '2',
      '--model',
      'standard',
    );
    expect(two.stdout).toMatch(
      /x USD 0\.044\/s \(klingai:avatar@2\.0-standard\) x 2 result\(s\) = USD 0\.26/,
    );
    // Against the local stack: its own price table (a stack output, in its endpoints file), and it says so.
    const local = await cli(
      'estimate',
      '--audio',
      join(dir, 'voice3.wav'),
      '--endpoints',
      endpoints,
      '--json',
    );
    expect(json<{ priceTable: { source: string } }>(local.stdout).priceTable).toEqual({
      source: `local (${endpoints})`,
    });
  });

  it('exits non-zero with a clear message for an unknown job', async () => {
    const read = await cli('status', 'nobody/here', '--endpoints', endpoints, '--json');
    expect(read.code).toBe(3);
    expect(read.stderr).toContain('No job "nobody/here"');
    expect(json<{ error: { code: string } }>(read.stdout).error.code).toBe('UNKNOWN_JOB');
  });

  it('exits non-zero with a clear message when the local stack is not running', async () => {
    const missing = await cli('jobs', '--local', '--endpoints', join(dir, 'no-such-file.json'));
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('The local stack is not running');
    expect(missing.stderr).toContain('npm start -- --keep');
    // A file left behind by a stack whose process is gone counts as not running too.
    const stale = join(dir, 'stale.json');
    writeEndpointsFile(stale, endpointsOf(stack, 2 ** 22 + 12_345));
    const dead = await cli('jobs', '--endpoints', stale, '--json');
    expect(dead.code).toBe(4);
    expect(json<{ error: { code: string } }>(dead.stdout).error.code).toBe('LOCAL_NOT_RUNNING');
  });
});
