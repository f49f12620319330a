import { describe, expect, it } from 'vitest';
import { adoptableTask, type EndedAttempt } from '../../lambdas/core/attempt.js';

const TASK = '0f8f5b9e-2c3a-4d5e-8f90-123456789abc';
const submitted = { RECEIVED: 't0', VALIDATED: 't1', SUBMITTED: 't2' };

const ended = (overrides: Partial<EndedAttempt>): EndedAttempt => ({
  attempt: 1,
  status: 'FAILED',
  taskUUID: TASK,
  stages: submitted,
  ...overrides,
});

describe('adoptableTask: the next attempt keeps a task Runware may hold and never answered for', () => {
  it.each([
    ['the execution was aborted (local mode stopped, or an operator)', 'EXECUTION_ABORTED'],
    ['the execution timed out', 'EXECUTION_TIMED_OUT'],
    ['a step crashed', 'STEP_CRASHED'],
    ['a step timed out', 'STEP_TIMEOUT'],
    ['the hard deadline passed while waiting for the result', 'DEADLINE_EXCEEDED'],
    ['Runware could not be reached after every retry', 'RUNWARE_NETWORK'],
    ['Runware kept answering 5xx', 'RUNWARE_UNAVAILABLE'],
    ["Runware's answer was not readable", 'RUNWARE_BAD_RESPONSE'],
  ])('adopts the task when %s', (_, code) => {
    const previous = ended({ attempt: 3, error: { code } });
    expect(adoptableTask(previous)).toEqual({ taskUUID: TASK, fromAttempt: 3 });
  });

  it('adopts the task of a cancelled attempt', () => {
    expect(adoptableTask(ended({ status: 'CANCELLED' }))).toEqual({ taskUUID: TASK, fromAttempt: 1 });
  });

  it('adopts the task when the step crashed between the request and SUBMITTED (the UUID was given out)', () => {
    const previous = ended({ stages: { RECEIVED: 't0', VALIDATED: 't1' }, error: { code: 'STEP_CRASHED' } });
    expect(adoptableTask(previous)).toEqual({ taskUUID: TASK, fromAttempt: 1 });
  });

  // A refused send never reaches SUBMITTED (the attempt is marked SUBMITTED once Runware took the task).
  const refusedSend = { RECEIVED: 't0', VALIDATED: 't1' };
  const refusals: [string, string][] = [
    ['Runware refused the request (400)', 'RUNWARE_INVALID_REQUEST'],
    ['the account is out of credit (402)', 'RUNWARE_INSUFFICIENT_BALANCE'],
    ['the API key was refused (401/403)', 'RUNWARE_UNAUTHORIZED'],
    ['Runware answered 404', 'RUNWARE_NOT_FOUND'],
    ['Runware refused it otherwise', 'RUNWARE_REJECTED'],
  ];

  it.each([
    ...refusals,
    ['Runware reported that the task failed', 'RUNWARE_TASK_FAILED'] as [string, string],
  ])('takes a new task UUID when %s', (_, code) => {
    expect(adoptableTask(ended({ stages: refusedSend, error: { code } }))).toBeUndefined();
  });

  it.each(refusals)(
    'adopts the task when the refusal (%s) was of a status request of a task the attempt had sent (poll)',
    (_, code) => {
      expect(adoptableTask(ended({ stages: submitted, error: { code } }))).toEqual({
        taskUUID: TASK,
        fromAttempt: 1,
      });
    },
  );

  it.each(refusals)(
    'adopts the task when the refusal (%s) was of a resend after a send that got no answer',
    (_, code) => {
      const previous = ended({ stages: refusedSend, error: { code }, sendUnanswered: true });
      expect(adoptableTask(previous)).toEqual({ taskUUID: TASK, fromAttempt: 1 });
    },
  );

  it.each(refusals)(
    'adopts the same task again when an adopting attempt was refused (%s): the lookup comes first',
    (_, code) => {
      const previous = ended({
        attempt: 2,
        stages: refusedSend,
        adoptedTask: { taskUUID: TASK, fromAttempt: 1 },
        error: { code },
      });
      expect(adoptableTask(previous)).toEqual({ taskUUID: TASK, fromAttempt: 2 });
    },
  );

  it('takes a new task UUID when the adopted task itself was reported failed', () => {
    const previous = ended({
      attempt: 2,
      adoptedTask: { taskUUID: TASK, fromAttempt: 1 },
      error: { code: 'RUNWARE_TASK_FAILED' },
    });
    expect(adoptableTask(previous)).toBeUndefined();
  });

  it('hands on an adopted task when the adopting attempt ended before it gave the UUID out', () => {
    const previous = ended({
      attempt: 3,
      taskUUID: undefined,
      stages: refusedSend,
      adoptedTask: { taskUUID: TASK, fromAttempt: 1 },
      error: { code: 'BUDGET_EXCEEDED' },
    });
    expect(adoptableTask(previous)).toEqual({ taskUUID: TASK, fromAttempt: 1 });
  });

  it('takes a new task UUID when the previous attempt had none (it never reached the submit call)', () => {
    expect(
      adoptableTask(ended({ taskUUID: undefined, error: { code: 'EXECUTION_ABORTED' } })),
    ).toBeUndefined();
  });

  it('takes a new task UUID once the previous attempt got its results or was delivered', () => {
    const generated = { ...submitted, GENERATED: 't3' };
    expect(adoptableTask(ended({ stages: generated, error: { code: 'DELIVERY_FAILED' } }))).toBeUndefined();
    expect(adoptableTask(ended({ stages: generated, error: { code: 'EXECUTION_ABORTED' } }))).toBeUndefined();
    expect(adoptableTask(ended({ status: 'DELIVERED' }))).toBeUndefined();
  });
});
