import { afterEach, describe, expect, it, vi } from 'vitest';
import { LambdaFunctionError } from '../../local/lambda-errors.js';
import type { LambdaHost } from '../../local/lambda-host.js';
import { HISTORY_EVENT_LIMIT, PAYLOAD_LIMIT_BYTES } from '../../local/sfn-limits.js';
import { type LocalExecution, LocalStepFunctions } from '../../local/step-functions.js';
import type { FunctionName } from '../../local/template.js';

/**
 * AWS's Step Functions limits in local mode's stand-in, run through small definitions with scripted functions: the
 * payload quota, the history quota, the error names of Lambda task failures, heartbeats, and the refusal of what the
 * stand-in cannot run.
 */

const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Limits';
const WORK = 'arn:aws:lambda:us-east-1:000000000000:function:avatar-pipeline-validate';
const NEXT = 'arn:aws:lambda:us-east-1:000000000000:function:avatar-pipeline-record';
const WAIT_FOR_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const functionByArn = new Map<string, FunctionName>([
  [WORK, 'validate'],
  [NEXT, 'record'],
]);

/** `n` bytes of JSON text once quoted: two-byte characters, so that bytes and characters differ. */
const utf8Of = (bytes: number) => 'é'.repeat(bytes / 2);

type Script = (name: FunctionName, event: unknown) => unknown;

function machine(definition: Record<string, unknown>, script: Script = () => ({})) {
  const calls: FunctionName[] = [];
  const lambdas: Pick<LambdaHost, 'invoke'> = {
    invoke: async (name, event, options = {}) => {
      calls.push(name);
      options.onStart?.();
      return script(name, event);
    },
  };
  const sfn = new LocalStepFunctions({
    definition,
    stateMachineArn: MACHINE,
    lambdas,
    functionByArn,
    onEvent: () => undefined,
    onExecutionEnded: () => undefined,
  });
  return { sfn, calls };
}

async function runOnce(
  definition: Record<string, unknown>,
  script?: Script,
  input: unknown = {},
): Promise<{ execution: LocalExecution; calls: FunctionName[] }> {
  const { sfn, calls } = machine(definition, script);
  const execution = sfn.startExecution(MACHINE, 'one', JSON.stringify(input));
  await execution.done;
  return { execution, calls };
}

/** Work (a Lambda-ARN task) whose errors are caught into `$.error`, then Done. */
const caught = (task: Record<string, unknown> = {}) => ({
  StartAt: 'Work',
  States: {
    Work: {
      Type: 'Task',
      Resource: WORK,
      TimeoutSeconds: 30,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
      Next: 'Done',
      ...task,
    },
    Caught: { Type: 'Pass', End: true },
    Done: { Type: 'Pass', End: true },
  },
});

const errorOf = (execution: LocalExecution) =>
  (JSON.parse(execution.output ?? '{}') as { error?: { Error: string; Cause: string } }).error;

afterEach(() => {
  vi.useRealTimers();
});

describe('the 256 KiB payload quota', () => {
  it('refuses StartExecution with an input over 262,144 UTF-8 bytes, and takes one of exactly that size', () => {
    const { sfn } = machine({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } });
    // {"d":"…"} is 8 bytes of JSON around the string.
    const over = JSON.stringify({ d: utf8Of(PAYLOAD_LIMIT_BYTES - 6) });
    expect(Buffer.byteLength(over)).toBe(PAYLOAD_LIMIT_BYTES + 2);
    expect(over.length).toBeLessThan(PAYLOAD_LIMIT_BYTES);
    expect(() => sfn.startExecution(MACHINE, 'big', over)).toThrow(
      expect.objectContaining({
        type: 'ValidationException',
        message: expect.stringContaining(
          "Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144",
        ),
      }),
    );
    const fits = JSON.stringify({ d: utf8Of(PAYLOAD_LIMIT_BYTES - 8) });
    expect(Buffer.byteLength(fits)).toBe(PAYLOAD_LIMIT_BYTES);
    expect(sfn.startExecution(MACHINE, 'fits', fits).status).toBe('RUNNING');
  });

  it('fails a Lambda task whose result is over the quota with States.DataLimitExceeded, which its Catch sees', async () => {
    const { execution, calls } = await runOnce(caught(), () => utf8Of(PAYLOAD_LIMIT_BYTES));
    expect(calls).toEqual(['validate']);
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.states).toEqual(['Work', 'Caught']);
    expect(errorOf(execution)).toEqual({
      Error: 'States.DataLimitExceeded',
      Cause: `The state/task '${WORK}' returned a result with a size exceeding the maximum number of bytes service limit.`,
    });
  });

  it('fails the execution when a state’s output is over the quota, whatever its Catch says, and runs nothing after', async () => {
    // The result fits; the state's output (the input with the result added at $.result) does not.
    const definition = caught({ ResultPath: '$.result', Next: 'After' });
    (definition.States as Record<string, unknown>).After = { Type: 'Task', Resource: NEXT, Next: 'Done' };
    const { execution, calls } = await runOnce(definition, () => utf8Of(140_000), { big: utf8Of(140_000) });
    expect(calls).toEqual(['validate']);
    expect(execution).toMatchObject({
      status: 'FAILED',
      error: 'States.DataLimitExceeded',
      cause:
        "The state/task 'Work' returned a result with a size exceeding the maximum number of bytes service limit.",
    });
    expect(execution.output).toBeUndefined();
  });

  it('fails the execution when a Pass state’s output is over the quota', async () => {
    const { execution } = await runOnce({
      StartAt: 'Grow',
      States: { Grow: { Type: 'Pass', Result: { d: utf8Of(PAYLOAD_LIMIT_BYTES) }, End: true } },
    });
    expect(execution).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
  });

  it('fails the execution without invoking the function when a task’s input after Parameters is over the quota', async () => {
    const { execution, calls } = await runOnce(
      caught({ Parameters: { 'a.$': '$.half', 'b.$': '$.half' } }),
      () => ({}),
      { half: utf8Of(140_000) },
    );
    expect(calls).toEqual([]);
    expect(execution).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
  });

  it('refuses SendTaskSuccess with an output over the quota and leaves the task waiting for a valid answer', async () => {
    let token = '';
    const { sfn } = machine(
      {
        StartAt: 'Wait',
        States: {
          Wait: {
            Type: 'Task',
            Resource: WAIT_FOR_TOKEN,
            Parameters: { FunctionName: WORK, Payload: { 'token.$': '$$.Task.Token' } },
            TimeoutSeconds: 30,
            End: true,
          },
        },
      },
      (_name, event) => {
        token = (event as { token: string }).token;
        return {};
      },
    );
    const execution = sfn.startExecution(MACHINE, 'token', '{}');
    await expect.poll(() => token).not.toBe('');
    expect(() => sfn.sendTaskSuccess(token, JSON.stringify(utf8Of(PAYLOAD_LIMIT_BYTES)))).toThrow(
      expect.objectContaining({
        type: 'ValidationException',
        message: expect.stringContaining("Value at 'output' failed to satisfy constraint"),
      }),
    );
    expect(() => sfn.sendTaskFailure(token, 'E', 'x'.repeat(32_769))).toThrow(
      expect.objectContaining({ type: 'ValidationException', message: expect.stringContaining("'cause'") }),
    );
    expect(() => sfn.sendTaskFailure(token, 'E'.repeat(257), '')).toThrow(
      expect.objectContaining({ type: 'ValidationException', message: expect.stringContaining("'error'") }),
    );
    sfn.sendTaskSuccess(token, '{"ok":true}');
    await execution.done;
    expect(execution).toMatchObject({ status: 'SUCCEEDED', output: '{"ok":true}' });
  });
});

describe('the 25,000-event history quota', () => {
  it('fails a looping execution with States.Runtime when its history is full', async () => {
    // A Choice that loops on itself: ExecutionStarted, then two events a round (entered, exited), so AWS's 24,999th
    // event is the 12,499th exit and the 25,000th the failure.
    const { execution } = await runOnce(
      {
        StartAt: 'Loop',
        States: {
          Loop: {
            Type: 'Choice',
            Choices: [{ Variable: '$.spin', BooleanEquals: true, Next: 'Loop' }],
            Default: 'Done',
          },
          Done: { Type: 'Succeed' },
        },
      },
      undefined,
      { spin: true },
    );
    expect(execution).toMatchObject({
      status: 'FAILED',
      error: 'States.Runtime',
      cause: `The execution reached the maximum number of history events (${HISTORY_EVENT_LIMIT}).`,
    });
    expect(execution.states.length).toBeGreaterThanOrEqual(12_499);
    expect(execution.states.length).toBeLessThanOrEqual(12_500);
  }, 120_000);
});

describe('the error names of Lambda task failures', () => {
  const failWith = async (failure: unknown, task: Record<string, unknown> = {}) =>
    errorOf(
      (
        await runOnce(caught(task), () => {
          throw failure;
        })
      ).execution,
    );

  it('names a function error by its errorType, with Lambda’s JSON payload as the cause', async () => {
    expect(await failWith(new LambdaFunctionError('ValidationError', 'bad image'))).toEqual({
      Error: 'ValidationError',
      Cause: JSON.stringify({ errorType: 'ValidationError', errorMessage: 'bad image' }),
    });
  });

  it('names a function that ran out of time Sandbox.Timedout', async () => {
    const error = await failWith(
      new LambdaFunctionError('Sandbox.Timedout', 'Task timed out after 3.00 seconds'),
    );
    expect(error?.Error).toBe('Sandbox.Timedout');
    expect(JSON.parse(error?.Cause ?? '{}')).toMatchObject({ errorType: 'Sandbox.Timedout' });
  });

  it('names a throttled invocation Lambda.TooManyRequestsException, with the service’s message as the cause', async () => {
    const error = await failWith(
      new LambdaFunctionError('Lambda.TooManyRequestsException', 'Rate Exceeded.'),
    );
    expect(error?.Error).toBe('Lambda.TooManyRequestsException');
    expect(error?.Cause).toMatch(
      /^Rate Exceeded\. \(Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException; Request ID: [0-9a-f-]{36}; Proxy: null\)$/,
    );
  });

  it('names a failure of the Lambda service Lambda.ServiceException', async () => {
    const stopped = await failWith(
      new LambdaFunctionError('Lambda.ServiceException', 'The local Lambda host stopped'),
    );
    expect(stopped?.Error).toBe('Lambda.ServiceException');
    expect(stopped?.Cause).toMatch(/Status Code: 500; Error Code: ServiceException/);
    // Anything else that breaks in local mode's own host is a failure of Lambda, not of the function.
    expect((await failWith(new Error('spawn failed')))?.Error).toBe('Lambda.ServiceException');
  });

  it('lets a Retry of Lambda.TooManyRequestsException retry a throttled invocation', async () => {
    let attempts = 0;
    const { execution } = await runOnce(
      caught({
        Retry: [
          {
            ErrorEquals: ['Lambda.TooManyRequestsException'],
            IntervalSeconds: 1,
            MaxAttempts: 2,
            BackoffRate: 1,
          },
        ],
      }),
      () => {
        attempts += 1;
        if (attempts === 1)
          throw new LambdaFunctionError('Lambda.TooManyRequestsException', 'Rate Exceeded.');
        return 'done';
      },
    );
    expect(attempts).toBe(2);
    expect(execution.states).toEqual(['Work', 'Done']);
  });

  it('names an unknown function of a .waitForTaskToken task Lambda.ResourceNotFoundException', async () => {
    const { execution } = await runOnce({
      StartAt: 'Wait',
      States: {
        Wait: {
          Type: 'Task',
          Resource: WAIT_FOR_TOKEN,
          Parameters: { FunctionName: `${WORK}-gone`, Payload: {} },
          TimeoutSeconds: 30,
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    });
    expect(errorOf(execution)?.Error).toBe('Lambda.ResourceNotFoundException');
  });

  describe('a .waitForTaskToken task with HeartbeatSeconds', () => {
    const waiting = (catchErrors: string[]) => ({
      StartAt: 'Wait',
      States: {
        Wait: {
          Type: 'Task',
          Resource: WAIT_FOR_TOKEN,
          Parameters: { FunctionName: WORK, Payload: { 'token.$': '$$.Task.Token' } },
          TimeoutSeconds: 30,
          HeartbeatSeconds: 1,
          Catch: [{ ErrorEquals: catchErrors, ResultPath: '$.error', Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    });

    it('fails with States.HeartbeatTimeout when no heartbeat comes, and the token stops working', async () => {
      let token = '';
      const { sfn } = machine(waiting(['States.HeartbeatTimeout']), (_name, event) => {
        token = (event as { token: string }).token;
        return {};
      });
      const execution = sfn.startExecution(MACHINE, 'quiet', '{}');
      await execution.done;
      expect(errorOf(execution)?.Error).toBe('States.HeartbeatTimeout');
      expect(() => sfn.sendTaskSuccess(token, '{}')).toThrow(
        expect.objectContaining({ type: 'TaskTimedOut' }),
      );
    });

    it('is caught by a Catch of States.Timeout too', async () => {
      const { execution } = await runOnce(waiting(['States.Timeout']));
      expect(errorOf(execution)?.Error).toBe('States.HeartbeatTimeout');
    });

    it('keeps waiting while heartbeats come', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      let token = '';
      const { sfn } = machine(waiting(['States.ALL']), (_name, event) => {
        token = (event as { token: string }).token;
        return {};
      });
      const execution = sfn.startExecution(MACHINE, 'alive', '{}');
      await expect.poll(() => token).not.toBe('');
      // 3.6 s in all, 0.9 s between heartbeats, on the fake clock: a loaded machine cannot stretch a gap past 1 s.
      for (let i = 0; i < 4; i++) {
        vi.advanceTimersByTime(900);
        sfn.sendTaskHeartbeat(token);
      }
      sfn.sendTaskSuccess(token, '"done"');
      await execution.done;
      expect(execution).toMatchObject({ status: 'SUCCEEDED', output: '"done"' });
    });
  });
});

describe('what local mode cannot run', () => {
  it('refuses to build the stand-in for a definition using JSONata, naming the state and the field', () => {
    expect(() =>
      machine({
        StartAt: 'Work',
        States: {
          Work: {
            Type: 'Task',
            Resource: WORK,
            QueryLanguage: 'JSONata',
            Arguments: { a: '{% $states.input %}' },
            End: true,
          },
        },
      }),
    ).toThrow(/state Work, field QueryLanguage: JSONata[\s\S]*state Work, field Arguments: JSONata/);
  });
});
