import { describe, expect, it } from 'vitest';
import type { TaskKind } from '../../local/sfn-limits.js';
import { assertRunnable, unsupportedFeatures } from '../../local/sfn-unsupported.js';

/** The definition features local mode's Step Functions stand-in refuses at start, one per feature. */

const LAMBDA = 'arn:aws:lambda:us-east-1:123456789012:function:work';
const TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const kinds = (resource: string): TaskKind | undefined =>
  resource === LAMBDA ? 'lambda-arn' : resource === TOKEN ? 'wait-for-task-token' : undefined;

/** A one-state machine whose state is `state`. */
const one = (state: Record<string, unknown>, top: Record<string, unknown> = {}) => ({
  StartAt: 'S',
  States: { S: { End: true, ...state } },
  ...top,
});
const task = (extra: Record<string, unknown> = {}) => one({ Type: 'Task', Resource: LAMBDA, ...extra });
const fieldsOf = (definition: unknown) =>
  unsupportedFeatures(definition, kinds).map((f) => `${f.state}:${f.field}`);

describe('the features local mode refuses', () => {
  it('accepts a plain JSONPath machine of Lambda, .waitForTaskToken, Pass, Choice, Wait and Parallel states', () => {
    const definition = {
      StartAt: 'A',
      QueryLanguage: 'JSONPath',
      States: {
        A: {
          Type: 'Task',
          Resource: LAMBDA,
          TimeoutSeconds: 5,
          Retry: [{ ErrorEquals: ['States.ALL'] }],
          Next: 'B',
        },
        B: { Type: 'Task', Resource: TOKEN, HeartbeatSeconds: 60, Next: 'C' },
        C: { Type: 'Choice', Choices: [{ Variable: '$.x', IsPresent: true, Next: 'D' }], Default: 'D' },
        D: { Type: 'Wait', Seconds: 1, Next: 'E' },
        E: {
          Type: 'Parallel',
          Branches: [{ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }],
          End: true,
        },
      },
    };
    expect(unsupportedFeatures(definition, kinds)).toEqual([]);
    expect(() => assertRunnable(definition, kinds)).not.toThrow();
  });

  it('refuses QueryLanguage JSONata on the machine', () => {
    expect(fieldsOf(one({ Type: 'Pass' }, { QueryLanguage: 'JSONata' }))).toEqual([
      '(definition):QueryLanguage',
    ]);
  });

  it('refuses QueryLanguage JSONata on a state', () => {
    expect(fieldsOf(one({ Type: 'Pass', QueryLanguage: 'JSONata' }))).toEqual(['S:QueryLanguage']);
  });

  it('refuses Assign (workflow variables)', () => {
    expect(fieldsOf(one({ Type: 'Pass', Assign: { x: 1 } }))).toEqual(['S:Assign']);
  });

  it('refuses Arguments (JSONata)', () => {
    expect(fieldsOf(task({ Arguments: { a: '{% 1 %}' } }))).toEqual(['S:Arguments']);
  });

  it('refuses Output (JSONata)', () => {
    expect(fieldsOf(one({ Type: 'Pass', Output: '{% 1 %}' }))).toEqual(['S:Output']);
  });

  it('refuses a Choice rule with a Condition (JSONata)', () => {
    expect(
      fieldsOf({
        StartAt: 'C',
        States: {
          C: { Type: 'Choice', Choices: [{ Condition: '{% true %}', Next: 'E' }] },
          E: { Type: 'Succeed' },
        },
      }),
    ).toEqual(['C:Choices[0].Condition']);
  });

  it('refuses Assign and Output in a catcher', () => {
    expect(
      fieldsOf(
        task({ Catch: [{ ErrorEquals: ['States.ALL'], Assign: { e: 1 }, Output: '{% 1 %}', Next: 'S' }] }),
      ),
    ).toEqual(['S:Catch[0].Assign', 'S:Catch[0].Output']);
  });

  it('refuses Credentials (cross-account tasks)', () => {
    expect(fieldsOf(task({ Credentials: { RoleArn: 'arn:aws:iam::1:role/r' } }))).toEqual(['S:Credentials']);
  });

  it('refuses a Resource the stand-in has no handler for', () => {
    const found = unsupportedFeatures(
      one({ Type: 'Task', Resource: 'arn:aws:states:::sqs:sendMessage' }),
      kinds,
    );
    expect(found).toEqual([
      { state: 'S', field: 'Resource', why: expect.stringContaining('arn:aws:states:::sqs:sendMessage') },
    ]);
  });

  it('refuses a Task inside a Parallel branch', () => {
    expect(
      fieldsOf(
        one({
          Type: 'Parallel',
          Branches: [{ StartAt: 'T', States: { T: { Type: 'Task', Resource: LAMBDA, End: true } } }],
        }),
      ),
    ).toEqual(['S/Branches[0]/T:Type']);
  });

  it('refuses Items (JSONata) of a Map', () => {
    expect(
      fieldsOf(
        one({
          Type: 'Map',
          Items: '{% [1] %}',
          ItemProcessor: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } },
        }),
      ),
    ).toEqual(['S:Items']);
  });

  it.each(['ItemReader', 'ResultWriter', 'ItemBatcher', 'ToleratedFailurePercentage', 'Label'])(
    'refuses %s of a distributed Map',
    (field) => {
      expect(
        fieldsOf(
          one({
            Type: 'Map',
            [field]: {},
            ItemProcessor: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } },
          }),
        ),
      ).toEqual([`S:${field}`]);
    },
  );

  it('refuses a Map in DISTRIBUTED mode', () => {
    expect(
      fieldsOf(
        one({
          Type: 'Map',
          ItemProcessor: {
            ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
            StartAt: 'P',
            States: { P: { Type: 'Pass', End: true } },
          },
        }),
      ),
    ).toEqual(['S:ItemProcessor.ProcessorConfig.Mode']);
  });

  it('refuses TimeoutSecondsPath and HeartbeatSecondsPath', () => {
    expect(
      fieldsOf(
        one({ Type: 'Task', Resource: TOKEN, TimeoutSecondsPath: '$.t', HeartbeatSecondsPath: '$.h' }),
      ),
    ).toEqual(['S:TimeoutSecondsPath', 'S:HeartbeatSecondsPath']);
  });

  it('refuses HeartbeatSeconds on a task that is not .waitForTaskToken', () => {
    expect(fieldsOf(task({ HeartbeatSeconds: 10 }))).toEqual(['S:HeartbeatSeconds']);
  });

  it('refuses States.TaskFailed in a Retry or Catch of a Lambda-ARN task', () => {
    expect(
      fieldsOf(
        task({
          Retry: [{ ErrorEquals: ['States.TaskFailed'] }],
          Catch: [{ ErrorEquals: ['Custom', 'States.TaskFailed'], Next: 'S' }],
        }),
      ),
    ).toEqual(['S:Retry[0].ErrorEquals', 'S:Catch[0].ErrorEquals']);
  });

  it('lists every refusal in one error naming the state and the field', () => {
    expect(() => assertRunnable(task({ Assign: {}, Credentials: {} }), kinds)).toThrow(
      /refuses to start it:\n {2}- state S, field Assign: workflow variables[^\n]*\n {2}- state S, field Credentials: /,
    );
  });
});
