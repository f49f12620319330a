import type { CfnResource } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { LambdaFunctionError } from '../../local/lambda-errors.js';
import type { LambdaHost } from '../../local/lambda-host.js';
import { type LocalExecution, LocalStepFunctions } from '../../local/step-functions.js';
import type { FunctionName } from '../../local/template.js';
import { type AslDefinition, definitionOf } from '../infra/definition';
import { type Synthesized, synth } from '../infra/synth';

/**
 * The synthesized state machine run by aws-local-stepfunctions with scripted functions: a step that fails as
 * superseded because an operator marked the cancel (before StopExecution reached the execution) goes through Fail, which ends
 * the job CANCELLED and puts JobCancelled itself; the execution must then not publish JobFailed as well.
 */

const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:Test';
let s: Synthesized;
let definition: AslDefinition;
beforeAll(() => {
  s = synth({ settleSeconds: '0' });
  definition = definitionOf(s.template);
});

const arnOf = (name: FunctionName) =>
  `arn:aws:lambda:us-east-1:123456789012:function:${s.stack.getLogicalId(
    s.stack.pipeline.functions[name].node.defaultChild as CfnResource,
  )}`;

/** Validate fails as superseded (the cancel mark); fail answers `failure`. */
async function run(failure: Record<string, unknown>) {
  const calls: FunctionName[] = [];
  const host = {
    invoke: async (name: FunctionName) => {
      calls.push(name);
      if (name === 'validate')
        throw new LambdaFunctionError('SupersededAttemptError', 'Attempt 1 of job j was cancelled.');
      if (name === 'fail') return failure;
      throw new Error(`unexpected ${name}`);
    },
  } as unknown as LambdaHost;
  const events: string[] = [];
  const sfn = new LocalStepFunctions({
    definition: definition as unknown as Record<string, unknown>,
    stateMachineArn: STATE_MACHINE,
    lambdas: host,
    functionByArn: new Map(
      (['validate', 'submit', 'poll', 'record', 'deliver', 'fail'] as const).map((name) => [
        arnOf(name),
        name,
      ]),
    ),
    onEvent: (entry) => events.push(entry.DetailType),
    onExecutionEnded: () => undefined,
  });
  const execution: LocalExecution = sfn.startExecution(
    STATE_MACHINE,
    'j-1',
    JSON.stringify({ jobId: 'j', attempt: 1, stem: 'promo/anna' }),
  );
  await execution.done;
  return { execution, events, calls };
}

describe('a failure of a cancelled attempt', () => {
  it('ends in Cancelled without JobFailed when the fail step found the attempt cancelled', async () => {
    const { execution, events, calls } = await run({
      code: 'CANCELLED',
      message: 'Cancelled by ops@laptop before validation.',
      stage: 'RECEIVED',
      errorKey: 'promo/anna.error.json',
      cancelled: true,
    });
    expect(calls).toEqual(['validate', 'fail']);
    expect(events).toEqual([]);
    expect(execution).toMatchObject({
      status: 'FAILED',
      states: ['Settle', 'Validate', 'Fail', 'IsCancelled', 'Cancelled'],
      error: 'JobCancelled',
      cause: 'Cancelled by an operator; see <stem>.error.json in the output bucket.',
    });
  });

  it('still publishes JobFailed and ends in Failed for an ordinary failure', async () => {
    const { execution, events } = await run({
      code: 'STALE_ATTEMPT',
      message: 'x',
      stage: 'RECEIVED',
      errorKey: 'promo/anna.error.json',
    });
    expect(events).toEqual(['JobFailed']);
    expect(execution).toMatchObject({
      status: 'FAILED',
      states: ['Settle', 'Validate', 'Fail', 'IsCancelled', 'PublishFailed', 'Failed'],
      error: 'JobFailed',
    });
  });
});
