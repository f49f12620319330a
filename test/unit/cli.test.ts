import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSince } from '../../cli/commands/since.js';
import { EXIT } from '../../cli/errors.js';
import { estimateCost, parseModel } from '../../cli/estimate-cost.js';
import {
  describeJob,
  duration,
  jobsTable,
  outputCheckLines,
  progressLine,
  totalCost,
  totalEstimate,
  usd,
} from '../../cli/format.js';
import { resolveTarget } from '../../cli/target.js';
import type { JobRecord } from '../../lambdas/core/job.js';

const file = (key: string) => ({ key, etag: 'e', size: 1, sequencer: '1' });

function job(fields: Partial<JobRecord> = {}): JobRecord {
  return {
    jobId: 'a'.repeat(32),
    stem: 'promo/anna',
    attempt: 1,
    status: 'DELIVERED',
    stages: {
      RECEIVED: '2026-11-26T10:00:00.000Z',
      VALIDATED: '2026-11-26T10:00:02.500Z',
      SUBMITTED: '2026-11-26T10:00:03.000Z',
      GENERATED: '2026-11-26T10:02:03.000Z',
      DELIVERED: '2026-11-26T10:02:04.000Z',
    },
    inputs: { image: file('inbox/promo/anna.png'), audio: file('inbox/promo/anna.wav') },
    executionName: 'x-1',
    claimedBy: 'event',
    media: {
      image: { format: 'png', width: 512, height: 512, bytes: 1, sha256: 's' },
      audio: { format: 'wav', durationSeconds: 6, bytes: 1, sha256: 's' },
    },
    estimatedCostUsd: 0.522,
    priceUsdPerSecond: 0.087,
    costUsd: 0.522,
    outputs: [{ key: 'promo/anna.mp4', bytes: 10, videoUUID: 'v' }],
    createdAt: '2026-11-26T10:00:00.000Z',
    updatedAt: '2026-11-26T10:02:04.000Z',
    ...fields,
  };
}

/** A job that ended without outputs (FAILED or CANCELLED) with `error`, through the stages given. */
function endedJob(
  status: 'FAILED' | 'CANCELLED',
  stages: JobRecord['stages'],
  error: Omit<NonNullable<JobRecord['error']>, 'at'>,
  fields: Partial<JobRecord> = {},
): JobRecord {
  return job({ status, stages, outputs: undefined, error: { ...error, at: 'x' }, ...fields });
}

describe('the CLI estimate', () => {
  it('is audio seconds times the price per second times the results', () => {
    expect(estimateCost(6, 'klingai:avatar@2.0-pro', 1).estimatedUsd).toBe(0.522);
    expect(estimateCost(6, 'klingai:avatar@2.0-pro', 2).estimatedUsd).toBe(1.044);
    expect(estimateCost(10, 'klingai:avatar@2.0-standard', 1)).toEqual({
      model: 'klingai:avatar@2.0-standard',
      audioSeconds: 10,
      numberResults: 1,
      usdPerSecond: 0.044,
      estimatedUsd: 0.44,
    });
  });

  it('accepts a model by its full name or its short suffix, and refuses others', () => {
    expect(parseModel(undefined)).toBe('klingai:avatar@2.0-pro');
    expect(parseModel('standard')).toBe('klingai:avatar@2.0-standard');
    expect(parseModel('klingai:avatar@2.0-pro')).toBe('klingai:avatar@2.0-pro');
    expect(() => parseModel('runway:gen4')).toThrow(/Unknown model "runway:gen4"/);
  });
});

describe('the CLI formatting', () => {
  it('writes amounts and durations for people', () => {
    expect(usd(undefined)).toBe('-');
    expect(usd(0.522)).toBe('USD 0.5220');
    expect(usd(12.3456)).toBe('USD 12.35');
    expect(duration(4.25)).toBe('4.3 s');
    expect(duration(185)).toBe('3 min 05 s');
    expect(duration(3725)).toBe('1 h 02 min');
  });

  it('describes a delivered job with its stages, the time each took, its cost and outputs', () => {
    const text = describeJob(job(), 'out-bucket');
    expect(text).toContain('Job promo/anna (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, attempt 1): DELIVERED');
    expect(text).toContain('VALIDATED  2026-11-26T10:00:02.500Z (+2.5 s)');
    expect(text).toContain('GENERATED  2026-11-26T10:02:03.000Z (+2 min 00 s)');
    expect(text).toContain('Video length: 6.0 s');
    expect(text).toContain('Cost: USD 0.5220 (estimated USD 0.5220 at USD 0.087/s)');
    expect(text).toContain('s3://out-bucket/promo/anna.mp4');
  });

  it('points a job delivered while the inbox had changed at its archive, not at the names the inbox shows', () => {
    const message = "The image in the inbox is no longer this job's: its video is archived, not shown.";
    const notShown = {
      at: '2026-11-26T10:02:04.000Z',
      code: 'INBOX_CHANGED' as const,
      message,
      changed: ['image' as const],
    };
    const text = describeJob(job({ notShown }), 'out-bucket');
    expect(text).toContain(`Not shown: ${message}`);
    expect(text).toContain(`Archived:\n  s3://out-bucket/archive/${'a'.repeat(32)}/video-1.mp4.archived`);
    expect(text).toContain(`s3://out-bucket/archive/${'a'.repeat(32)}/record.json.archived (the job record)`);
    expect(text).not.toContain('s3://out-bucket/promo/anna.mp4');
  });

  it('describes a failed job with its error, where the report is and what to do', () => {
    const failed = endedJob(
      'FAILED',
      { RECEIVED: '2026-11-26T10:00:00.000Z', FAILED: '2026-11-26T10:00:01.000Z' },
      { stage: 'RECEIVED', code: 'AUDIO_TOO_SHORT', message: 'The voice track lasts 1 s.' },
      { costUsd: undefined, media: undefined },
    );
    const text = describeJob(failed, 'out');
    expect(text).toContain('Error at RECEIVED: AUDIO_TOO_SHORT');
    expect(text).toContain('s3://out/promo/anna.error.json');
    expect(text).toContain('What to do: Fix the input');
    expect(text).toContain('Cost: -');
  });

  it('describes a cancelled job: who cancelled it, a late charge, and how to retry', () => {
    const cancelled = endedJob(
      'CANCELLED',
      {
        RECEIVED: '2026-11-26T10:00:00.000Z',
        SUBMITTED: '2026-11-26T10:00:03.000Z',
        CANCELLED: '2026-11-26T10:00:13.000Z',
      },
      { stage: 'SUBMITTED', code: 'CANCELLED', message: 'Cancelled by ops@laptop.' },
      {
        costUsd: 0.522,
        lateCostUsd: 0.522,
        cancel: { requestedAt: '2026-11-26T10:00:12.000Z', by: 'ops@laptop', during: 'SUBMITTED' },
      },
    );
    const text = describeJob(cancelled, 'out');
    expect(text).toContain('(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, attempt 1): CANCELLED');
    expect(text).toContain('CANCELLED  2026-11-26T10:00:13.000Z (+10.0 s)');
    expect(text).toContain('Cost: USD 0.5220 (charged by Runware after the cancel)');
    expect(text).toContain('Cancel asked by ops@laptop at 2026-11-26T10:00:12.000Z');
    expect(text).toContain('Cancelled while SUBMITTED (code CANCELLED)');
    expect(text).toContain(
      'What to do: Start it again with the same inputs: avatar-pipeline retry promo/anna',
    );
    expect(text).not.toContain('Outputs:');
  });

  it('lists jobs as a table with each estimate and cost, and the totals', () => {
    const jobs = [
      job(),
      job({ stem: 'b', jobId: 'b'.repeat(32), costUsd: 1.2, estimatedCostUsd: 1.044, status: 'FAILED' }),
    ];
    expect(totalCost(jobs)).toBe(1.722);
    expect(totalEstimate(jobs)).toBe(1.566);
    expect(jobsTable(jobs).split('\n')).toEqual([
      'CREATED (UTC)        STEM        STATE      JOB             ESTIMATE        COST',
      '2026-11-26 10:00:00  promo/anna  DELIVERED  aaaaaaaaaaaa  USD 0.5220  USD 0.5220',
      '2026-11-26 10:00:00  b           FAILED     bbbbbbbbbbbb    USD 1.04    USD 1.20',
      '2 job(s), total USD 1.72 (estimated USD 1.57)',
    ]);
  });

  it('says a cost Runware did not report is unknown, and counts the estimate for it in the totals', () => {
    const unknown = job({ stem: 'b', costUsd: undefined, costUnknown: true, estimatedCostUsd: 0.6 });
    expect(describeJob(unknown, 'out')).toContain(
      'Cost: unknown (Runware reported none); the estimate USD 0.6000 is counted instead',
    );
    const listed = jobsTable([job(), unknown]);
    expect(listed).toContain('~USD 0.6000');
    expect(listed).toContain('2 job(s), total USD 1.12 (estimated USD 1.12)');
    expect(listed).toContain(
      'Runware reported no cost for 1 job(s): their estimate is counted in the total instead.',
    );
    expect(totalCost([job(), unknown])).toBeCloseTo(1.122, 6);
  });

  it('shows the output check: passed, or each problem of a video delivered all the same', () => {
    const passed = job({
      outputCheck: { passed: true, expectedSeconds: 6, toleranceSeconds: 0.5, videos: [], problems: [] },
    });
    expect(describeJob(passed, 'out')).toContain(
      "Output check: passed (length within 0.5 s of the audio's 6 s)",
    );
    const problem = {
      output: 'promo/anna.mp4',
      code: 'NO_AUDIO_TRACK' as const,
      message: 'The video is silent.',
    };
    const failed = job({ outputCheck: { passed: false, videos: [], problems: [problem] } });
    expect(describeJob(failed, 'out')).toContain(
      'Output check: 1 problem(s); the video was delivered all the same (it was paid for):\n' +
        '  NO_AUDIO_TRACK: The video is silent.',
    );
    expect(outputCheckLines(job())).toEqual([]);
  });

  it('shows the stages passed and what the job waits for', () => {
    expect(progressLine(undefined, 1)).toMatch(/waiting for the pipeline to pick the job up$/);
    const rendering = job({ status: 'SUBMITTED', stages: { RECEIVED: 'a', VALIDATED: 'b', SUBMITTED: 'c' } });
    expect(progressLine(rendering, 75)).toBe(
      '[1 min 15 s] RECEIVED > VALIDATED > SUBMITTED: Runware is rendering',
    );
    const queued = job({ status: 'QUEUED', stages: { RECEIVED: 'a', VALIDATED: 'b', QUEUED: 'c' } });
    expect(progressLine(queued, 9)).toBe(
      '[    9.0 s] RECEIVED > VALIDATED > QUEUED: waiting for a Runware slot',
    );
    const stopping = { ...queued, cancel: { requestedAt: 'd', by: 'ops', during: 'QUEUED' as const } };
    expect(progressLine(stopping, 10)).toMatch(/QUEUED: being cancelled$/);
    const cancelled = {
      ...stopping,
      status: 'CANCELLED' as const,
      stages: { ...queued.stages, CANCELLED: 'e' },
    };
    expect(progressLine(cancelled, 11)).toMatch(/QUEUED > CANCELLED: cancelled$/);
  });

  it('reads --since as a date or a span back from now', () => {
    const now = new Date('2026-11-26T12:00:00.000Z');
    expect(parseSince('24h', now)?.toISOString()).toBe('2026-11-25T12:00:00.000Z');
    expect(parseSince('7d', now)?.toISOString()).toBe('2026-11-19T12:00:00.000Z');
    expect(parseSince('2026-11-01', now)?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(parseSince(undefined, now)).toBeUndefined();
    expect(() => parseSince('yesterday', now)).toThrow(/--since must be/);
  });
});

describe('the CLI target', () => {
  const cfn = mockClient(CloudFormationClient);
  afterEach(() => cfn.reset());
  const options = { stack: 'AvatarPipeline', region: 'eu-west-1', endpoints: undefined };

  it('finds the buckets, table and state machine of a deployed stack from its outputs', async () => {
    const output = (OutputKey: string, OutputValue: string) => ({ OutputKey, OutputValue });
    cfn.on(DescribeStacksCommand, { StackName: 'AvatarPipeline' }).resolves({
      Stacks: [
        {
          StackName: 'AvatarPipeline',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [
            output('InputBucketName', 'in'),
            output('OutputBucketName', 'out'),
            output('TableName', 'jobs'),
            output('StateMachineArn', 'arn:sm'),
          ],
        },
      ],
    });
    const target = await resolveTarget({ stack: 'AvatarPipeline', region: 'eu-west-1' });
    expect(target.names).toEqual({
      inputBucket: 'in',
      outputBucket: 'out',
      tableName: 'jobs',
      stateMachineArn: 'arn:sm',
    });
    expect(target.description).toBe('stack AvatarPipeline (eu-west-1)');
  });

  it('says clearly when the stack does not exist or there are no credentials', async () => {
    const missing = Object.assign(new Error('Stack with id AvatarPipeline does not exist'), {
      name: 'ValidationError',
    });
    cfn.on(DescribeStacksCommand).rejects(missing);
    await expect(resolveTarget(options)).rejects.toMatchObject({
      exitCode: EXIT.unavailable,
      code: 'STACK_NOT_FOUND',
    });
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    cfn.on(DescribeStacksCommand).rejects(noCredentials);
    await expect(resolveTarget(options)).rejects.toMatchObject({ code: 'NO_CREDENTIALS' });
  });

  it('refuses a local endpoints file that is missing', async () => {
    await expect(resolveTarget({ local: true, endpoints: '/nonexistent/endpoints.json' })).rejects.toThrow(
      /The local stack is not running .* npm start -- --keep/,
    );
  });
});
