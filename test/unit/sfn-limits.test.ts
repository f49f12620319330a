import { describe, expect, it } from 'vitest';
import { LambdaFunctionError } from '../../local/lambda-errors.js';
import {
  HISTORY_EVENT_LIMIT,
  HistoryCount,
  historyFull,
  type LibraryEvent,
  lambdaTaskError,
  PAYLOAD_LIMIT_BYTES,
  payloadBytes,
  type TaskKind,
  textBytes,
} from '../../local/sfn-limits.js';

/** The pure parts of local mode's Step Functions limits: sizes, the history count, Lambda error names. */

describe('payload sizes', () => {
  it('measures a payload as the UTF-8 bytes of its JSON text', () => {
    expect(payloadBytes({ a: 'é' })).toBe(Buffer.byteLength('{"a":"é"}'));
    expect(payloadBytes('é')).toBe(4);
    expect(payloadBytes(undefined)).toBe(4);
    expect(textBytes('"é"')).toBe(4);
    expect(PAYLOAD_LIMIT_BYTES).toBe(256 * 1024);
  });
});

describe('the history count', () => {
  const kinds: Record<string, TaskKind> = {
    Fn: 'lambda-arn',
    Token: 'wait-for-task-token',
    Put: 'request-response',
  };
  const count = (events: LibraryEvent[]) => {
    const history = new HistoryCount((state) => kinds[state]);
    for (const event of events) history.add(event);
    return history.events;
  };
  const state = (name: string, type = 'Task') => ({ name, type });

  it('counts a Lambda-ARN task as AWS records it: entered, scheduled, started, succeeded, exited', () => {
    expect(
      count([
        { type: 'ExecutionStarted' },
        { type: 'StateEntered', state: state('Fn') },
        { type: 'StateExited', state: state('Fn') },
        { type: 'ExecutionSucceeded' },
      ]),
    ).toBe(1 + 5 + 1);
  });

  it('counts a failed attempt, a retry and a catch the way AWS records them', () => {
    expect(
      count([
        { type: 'StateEntered', state: state('Fn') }, // entered, scheduled, started
        { type: 'StateFailed', state: state('Fn') }, // failed
        { type: 'StateRetried', state: state('Fn') }, // scheduled, started
        { type: 'StateFailed', state: state('Fn') }, // failed
        { type: 'StateCaught', state: state('Fn') },
        // The library reports the caught state's exit too: only TaskStateExited, no LambdaFunctionSucceeded.
        { type: 'StateExited', state: state('Fn') },
      ]),
    ).toBe(3 + 1 + 2 + 1 + 1);
  });

  it('counts 4 events a round of a retried .waitForTaskToken task, within the "about five" of lib/slot-wait.ts', () => {
    const round = count([
      { type: 'StateFailed', state: state('Token') },
      { type: 'StateRetried', state: state('Token') },
    ]);
    expect(round).toBe(4); // TaskTimedOut, then TaskScheduled, TaskStarted, TaskSubmitted
    expect(round).toBeLessThanOrEqual(5);
  });

  it('counts two events for a state that is not a Task, and none for its failure', () => {
    expect(
      count([
        { type: 'StateEntered', state: state('C', 'Choice') },
        { type: 'StateExited', state: state('C', 'Choice') },
        { type: 'StateFailed', state: state('C', 'Choice') },
      ]),
    ).toBe(2);
  });

  it('is full when the next event would be the 25,000th', () => {
    expect(historyFull(HISTORY_EVENT_LIMIT - 2)).toBe(false);
    expect(historyFull(HISTORY_EVENT_LIMIT - 1)).toBe(true);
  });
});

describe('the error names of Lambda task failures', () => {
  it('keeps a function error as Lambda reported it', () => {
    const error = new LambdaFunctionError('RunwareBusyError', 'busy');
    expect(lambdaTaskError(error)).toBe(error);
  });

  it.each([
    ['Lambda.TooManyRequestsException', 429],
    ['Lambda.ServiceException', 500],
    ['Lambda.ResourceNotFoundException', 404],
  ])('gives %s the Lambda service message as its cause', (name, status) => {
    const error = lambdaTaskError(new LambdaFunctionError(name, 'Rate Exceeded.'));
    expect(error.name).toBe(name);
    expect(error.message).toMatch(
      new RegExp(
        `^Rate Exceeded\\. \\(Service: AWSLambda; Status Code: ${status}; Error Code: ${name.slice(7)};`,
      ),
    );
  });

  it('names an invocation IAM refused Lambda.AWSLambdaException, with AccessDeniedException in its cause', () => {
    const refused = new Error(
      'User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: lambda:InvokeFunction',
    );
    refused.name = 'AccessDeniedException';
    const error = lambdaTaskError(refused);
    expect(error.name).toBe('Lambda.AWSLambdaException');
    expect(error.message).toMatch(
      /lambda:InvokeFunction \(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException;/,
    );
    expect(lambdaTaskError(new LambdaFunctionError('Lambda.AccessDeniedException', 'no')).name).toBe(
      'Lambda.AWSLambdaException',
    );
  });

  it('names anything else Lambda.ServiceException', () => {
    expect(lambdaTaskError(new Error('boom')).name).toBe('Lambda.ServiceException');
    expect(lambdaTaskError('boom').message).toMatch(/^boom \(Service: AWSLambda; Status Code: 500;/);
  });
});
