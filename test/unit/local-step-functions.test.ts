import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LambdaFunctionError } from '../../local/lambda-errors.js';
import type { LambdaHost } from '../../local/lambda-host.js';
import { LOCAL_STOP_ERROR, type LocalExecution, LocalStepFunctions } from '../../local/step-functions.js';

/** Local Step Functions bookkeeping: executions kept in a state file, cut-off ones closed, ListExecutions. */

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:local';
const definition = { StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 30, End: true } } };
const dir = mkdtempSync(join(tmpdir(), 'local-sfn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function machine(stateFile: string, ended: LocalExecution[] = []) {
  return new LocalStepFunctions({
    definition,
    stateMachineArn: ARN,
    lambdas: {} as LambdaHost,
    functionByArn: new Map(),
    onEvent: () => undefined,
    onExecutionEnded: (e) => ended.push(e),
    stateFile,
  });
}

describe('local Step Functions state', () => {
  it('lists executions after a restart and closes the ones left running as ABORTED', async () => {
    const stateFile = join(dir, 'executions.json');
    const first = machine(stateFile);
    first.startExecution(ARN, 'job-1', '{"jobId":"j","attempt":1,"stem":"s"}');
    first.close();
    const kept = JSON.parse(readFileSync(stateFile, 'utf8')) as { name: string; status: string }[];
    expect(kept).toMatchObject([{ name: 'job-1', status: 'RUNNING' }]);

    const ended: LocalExecution[] = [];
    const second = machine(stateFile, ended);
    expect(second.listExecutions('RUNNING')).toHaveLength(1);
    const closed = second.closeInterrupted();
    expect(closed).toHaveLength(1);
    expect(ended).toMatchObject([{ name: 'job-1', status: 'ABORTED', error: LOCAL_STOP_ERROR }]);
    expect(second.listExecutions('ABORTED')[0]?.stopDate).toBeInstanceOf(Date);
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject([{ status: 'ABORTED' }]);
    // Closed once: a third start finds nothing to close.
    expect(machine(stateFile).closeInterrupted()).toEqual([]);
  });

  it('answers ListExecutions for its own state machine only, as AWS does', () => {
    const sfn = machine(join(dir, 'other.json'));
    expect(sfn.listExecutionsOf(ARN)).toEqual([]);
    expect(() => sfn.listExecutionsOf(`${ARN}-other`)).toThrow(
      expect.objectContaining({ type: 'StateMachineDoesNotExist' }),
    );
  });
});

describe('retryIntervalMs (tests only)', () => {
  const FN = 'arn:aws:lambda:us-east-1:000000000000:function:validate';
  /** A task failing `failures` times with `Boom`, whose retrier waits an hour between tries on AWS. */
  function retrying(maxAttempts: number, failures: number) {
    const calls: number[] = [];
    const sfn = new LocalStepFunctions({
      definition: {
        StartAt: 'Task',
        States: {
          Task: {
            Type: 'Task',
            Resource: FN,
            Retry: [
              { ErrorEquals: ['Boom'], IntervalSeconds: 3600, BackoffRate: 2, MaxAttempts: maxAttempts },
            ],
            End: true,
          },
        },
      },
      stateMachineArn: ARN,
      lambdas: {
        invoke: async () => {
          calls.push(Date.now());
          if (calls.length <= failures) throw new LambdaFunctionError('Boom', 'try again');
          return { ok: true };
        },
      } as unknown as LambdaHost,
      functionByArn: new Map([[FN, 'validate']]),
      onEvent: () => undefined,
      onExecutionEnded: () => undefined,
    });
    return { sfn, calls };
  }

  it('retries a bounded retrier after the given interval instead of its backoff, as often as it allows', async () => {
    const { sfn, calls } = retrying(3, 4);
    sfn.retryIntervalMs = 5;
    const execution = sfn.startExecution(ARN, 'bounded', '{}');
    await execution.done;
    // Three retries of the hour-long backoff, each taken after 5 ms; the fourth failure ends the execution.
    expect(calls).toHaveLength(4);
    // As AWS reports it: the error that ended the execution by its name, and the function's error payload as cause.
    expect(execution).toMatchObject({ status: 'FAILED', error: 'Boom' });
    expect(JSON.parse(execution.cause ?? '')).toMatchObject({ errorType: 'Boom', errorMessage: 'try again' });
  });

  it('leaves open-ended retriers (more than 10 attempts) their own intervals', async () => {
    const { sfn, calls } = retrying(100, 1);
    sfn.retryIntervalMs = 5;
    sfn.startExecution(ARN, 'open-ended', '{}');
    // Well past 5 ms, the retry still waits out its hour.
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toHaveLength(1);
    sfn.close();
  });
});
