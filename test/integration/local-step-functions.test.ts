import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LambdaHost } from '../../local/lambda-host.js';
import { LocalStepFunctions } from '../../local/step-functions.js';
import type { FunctionName } from '../../local/template.js';

/**
 * A Lambda task's TimeoutSeconds in local mode counts from when its invocation starts running: the time it
 * waits for one of local mode's few execution environments is not the step's.
 */

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:avatar-pipeline-validate';
const definition = {
  StartAt: 'Work',
  States: {
    Work: {
      Type: 'Task',
      Resource: ARN,
      TimeoutSeconds: 1,
      Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'TimedOut' }],
      End: true,
    },
    TimedOut: { Type: 'Pass', Result: 'timed out', End: true },
  },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A host whose invocations wait `waitMs` for an environment, then run `runMs`. */
function fakeHost(waitMs: number, runMs: number): LambdaHost {
  return {
    invoke: async (_name: FunctionName, _event: unknown, options: { onStart?: () => void } = {}) => {
      await sleep(waitMs);
      options.onStart?.();
      await sleep(runMs);
      return 'done';
    },
  } as unknown as LambdaHost;
}

async function run(host: LambdaHost): Promise<string | undefined> {
  const sfn = new LocalStepFunctions({
    definition,
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Test',
    lambdas: host,
    functionByArn: new Map<string, FunctionName>([[ARN, 'validate']]),
    onEvent: () => undefined,
    onExecutionEnded: () => undefined,
  });
  const execution = sfn.startExecution(
    'arn:aws:states:us-east-1:000000000000:stateMachine:Test',
    'one',
    JSON.stringify({}),
  );
  await execution.done;
  return execution.output;
}

describe('LocalStepFunctions Lambda task timeout', () => {
  // On a fake clock, the host's wait, its run and the step's TimeoutSeconds fire in the order their times say,
  // however slowly a loaded machine runs the callbacks in between.
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does not count the wait for an execution environment', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const output = run(fakeHost(1_500, 300));
    await vi.advanceTimersByTimeAsync(1_800);
    expect(await output).toBe(JSON.stringify('done'));
  });

  it('still times the task out once it has run longer than TimeoutSeconds', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const output = run(fakeHost(0, 1_500));
    await vi.advanceTimersByTimeAsync(1_500);
    expect(await output).toBe(JSON.stringify('timed out'));
  });
});

describe('LocalStepFunctions StopExecution', () => {
  it('aborts a running execution with its error and cause, reports its end once, and leaves an ended one alone', async () => {
    const ended: { status: string; error?: string; cause?: string }[] = [];
    const stateMachineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:Test';
    const sfn = new LocalStepFunctions({
      definition: { StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 60, End: true } } },
      stateMachineArn,
      lambdas: fakeHost(0, 0),
      functionByArn: new Map(),
      onEvent: () => undefined,
      onExecutionEnded: ({ status, error, cause }) =>
        ended.push({ status, ...(error ? { error } : {}), ...(cause ? { cause } : {}) }),
    });
    const execution = sfn.startExecution(stateMachineArn, 'long', JSON.stringify({}));
    await sleep(100);
    sfn.stopExecution(execution.executionArn, 'JobCancelled', 'Cancelled by ops.');
    await execution.done;
    expect(sfn.describeExecution(execution.executionArn)).toMatchObject({
      status: 'ABORTED',
      error: 'JobCancelled',
      cause: 'Cancelled by ops.',
    });
    sfn.stopExecution(execution.executionArn, 'Again', 'Again.');
    expect(sfn.describeExecution(execution.executionArn).error).toBe('JobCancelled');
    expect(ended).toEqual([{ status: 'ABORTED', error: 'JobCancelled', cause: 'Cancelled by ops.' }]);
  });
});
