import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  DeadlineExceededError,
  executionEndMessage,
  InvalidWebhookBodyError,
  JobStateError,
  PipelineError,
  parseErrorCause,
  RunwareRejectedError,
  SupersededAttemptError,
  TRANSIENT_ERROR_NAMES,
  TransientError,
  ValidationError,
  WebhookRefusedError,
  webhookReply,
} from '../../lambdas/core/errors.js';

describe('error kinds', () => {
  it('keeps the names Step Functions matches and the [CODE] message that travels through Lambda', () => {
    const errors = [
      [new ValidationError('IMAGE_TOO_SMALL', 'Too small.'), 'ValidationError', 'VALIDATED'],
      [new RunwareRejectedError('RUNWARE_UNAUTHORIZED', 'No.', 401), 'RunwareRejectedError', 'SUBMITTED'],
      [new TransientError('RUNWARE_BUSY', 'Later.'), 'TransientError', undefined],
      [new DeadlineExceededError('Too late.'), 'DeadlineExceededError', 'GENERATED'],
      [new ConfigurationError('Broken.'), 'ConfigurationError', undefined],
      [new SupersededAttemptError('Over.'), 'JobStateError', undefined],
    ] as const;
    for (const [error, name, stage] of errors) {
      expect(error).toBeInstanceOf(PipelineError);
      expect(error.name).toBe(name);
      expect(error.stage).toBe(stage);
      const info = parseErrorCause(name, JSON.stringify({ errorType: name, errorMessage: error.message }));
      expect(info).toEqual({ name, code: error.code, message: error.message.replace(/^\[[A-Z_]+\] /, '') });
    }
    expect(new SupersededAttemptError('Over.')).toBeInstanceOf(JobStateError);
    expect(new SupersededAttemptError('Over.').code).toBe('STALE_ATTEMPT');
    expect(new DeadlineExceededError('x').code).toBe('DEADLINE_EXCEEDED');
    expect(new ConfigurationError('x').code).toBe('CONFIGURATION');
  });

  it('retries only TransientError', () => {
    expect(TRANSIENT_ERROR_NAMES).toEqual(['TransientError']);
  });

  it('reads errors raised by the service itself, which carry no code', () => {
    expect(parseErrorCause('States.Timeout', undefined)).toMatchObject({ code: 'STEP_TIMEOUT' });
    expect(parseErrorCause('States.HeartbeatTimeout', 'late')).toEqual({
      name: 'States.HeartbeatTimeout',
      code: 'STEP_TIMEOUT',
      message: 'States.HeartbeatTimeout: late',
    });
    expect(parseErrorCause('Sandbox.Timedout', undefined)).toEqual({
      name: 'Sandbox.Timedout',
      code: 'STEP_CRASHED',
      message: 'Sandbox.Timedout: the step failed without a message. Retry the job and check the logs.',
    });
    expect(parseErrorCause('Something.Else', 'why')).toMatchObject({ code: 'INTERNAL' });
  });

  it('words the end of an execution that never reached the fail step', () => {
    expect(executionEndMessage('TIMED_OUT', null)).toBe(
      '[EXECUTION_TIMED_OUT] The job ran past the workflow time limit and was stopped. Upload one of its files again to retry.',
    );
    expect(executionEndMessage('ABORTED', 'operator')).toBe(
      '[EXECUTION_ABORTED] The job was stopped by an operator. Upload one of its files again to retry.',
    );
    expect(executionEndMessage('FAILED', 'boom')).toBe('[EXECUTION_FAILED] boom');
    expect(executionEndMessage('FAILED', null)).toBe('[EXECUTION_FAILED] The workflow ended.');
    expect(executionEndMessage('ABORTED', 'x', 'LocalMode.Stopped')).toMatch(
      /^\[EXECUTION_ABORTED\] Local mode stopped .* Upload one of its files again to retry\.$/,
    );
    expect(executionEndMessage('ABORTED', 'x', 'SomethingElse')).toMatch(/stopped by an operator/);
  });

  it('answers webhook refusals with their status and a bare 500 for anything else', () => {
    expect(webhookReply(new WebhookRefusedError('Unauthorized'))).toEqual({
      status: 401,
      message: 'Unauthorized.',
    });
    expect(webhookReply(new InvalidWebhookBodyError('data.0.videoURL: bad'))).toEqual({
      status: 400,
      message: 'Body is not a Runware task response.',
    });
    expect(new InvalidWebhookBodyError('x')).toMatchObject({
      name: 'InvalidWebhookBodyError',
      code: 'RUNWARE_BAD_WEBHOOK',
    });
    expect(webhookReply(new Error('table detail'))).toEqual({ status: 500, message: 'Internal error.' });
    expect(webhookReply(new ValidationError('X', 'y'))).toEqual({ status: 500, message: 'Internal error.' });
  });
});
