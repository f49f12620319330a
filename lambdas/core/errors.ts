/**
 * Typed errors of the pipeline. Each has a stable `name` (what Step Functions sees as `Error` and matches in
 * Retry/Catch) and a stable `code` (what the job record and `<stem>.error.json` carry). The message is for a
 * person: it says what went wrong and what to do about it, and never carries a secret.
 *
 * Lambda serializes only `errorType` (the name) and `errorMessage`, so the code travels as a `[CODE]` prefix of
 * the message; {@link parseErrorCause} reads it back in the fail step.
 */

export const STAGES = ['RECEIVED', 'VALIDATED', 'SUBMITTED', 'GENERATED', 'DELIVERED'] as const;
export type Stage = (typeof STAGES)[number];
export type JobStatus = Stage | 'FAILED';

/** Error names that the state machine retries (with backoff) before giving up. */
export const TRANSIENT_ERROR_NAMES = ['TransientError'] as const;

export type ErrorName =
  | 'ValidationError'
  | 'RunwareRejectedError'
  | 'RunwareTaskError'
  | 'TransientError'
  | 'DeadlineExceededError'
  | 'DeliveryError'
  | 'ConfigurationError'
  | 'JobStateError';

export class PipelineError extends Error {
  /** Stage the job was trying to reach when this happened. */
  readonly stage: Stage | undefined;

  constructor(
    name: ErrorName,
    readonly code: string,
    message: string,
    options?: { stage?: Stage; cause?: unknown },
  ) {
    super(`[${code}] ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
    this.stage = options?.stage;
  }

  /** The message without the `[CODE]` prefix. */
  get detail(): string {
    return this.message.slice(this.code.length + 3);
  }
}

/** Bad input: the user must change a file or the sidecar. Never retried, never billed. */
export class ValidationError extends PipelineError {
  constructor(code: string, message: string) {
    super('ValidationError', code, message, { stage: 'VALIDATED' });
  }
}

/** Runware refused the task (400/401/402/403/404...). Final: retrying would fail the same way. */
export class RunwareRejectedError extends PipelineError {
  constructor(
    code: string,
    message: string,
    readonly httpStatus?: number,
  ) {
    super('RunwareRejectedError', code, message, { stage: 'SUBMITTED' });
  }
}

/** Runware accepted the task but reported that it failed. */
export class RunwareTaskError extends PipelineError {
  constructor(code: string, message: string) {
    super('RunwareTaskError', code, message, { stage: 'GENERATED' });
  }
}

/** Something that may work if tried again: 429, 5xx, 504, network errors, throttling. */
export class TransientError extends PipelineError {
  constructor(code: string, message: string, options?: { stage?: Stage; cause?: unknown }) {
    super('TransientError', code, message, options);
  }
}

export class DeadlineExceededError extends PipelineError {
  constructor(message: string) {
    super('DeadlineExceededError', 'DEADLINE_EXCEEDED', message, { stage: 'GENERATED' });
  }
}

/** The video could not be copied to the output bucket (bad URL, host not allowed, wrong content...). */
export class DeliveryError extends PipelineError {
  constructor(code: string, message: string) {
    super('DeliveryError', code, message, { stage: 'DELIVERED' });
  }
}

export class ConfigurationError extends PipelineError {
  constructor(message: string) {
    super('ConfigurationError', 'CONFIGURATION', message);
  }
}

/** The job is not in a state where this step may run (a stale attempt, a missing record). */
export class JobStateError extends PipelineError {
  constructor(code: string, message: string) {
    super('JobStateError', code, message);
  }
}

export interface ErrorInfo {
  /** Error name as Step Functions saw it, e.g. `ValidationError` or `States.Timeout`. */
  name: string;
  code: string;
  message: string;
}

const CODE_PREFIX = /^\[([A-Z0-9_]+)\] ([\s\S]*)$/;

/**
 * Reads a Step Functions `{Error, Cause}` pair back into a code and a person-readable message. Causes from
 * Lambda are JSON (`{errorType, errorMessage, trace}`); causes from the service itself are plain text.
 */
export function parseErrorCause(error: string, cause: string | undefined): ErrorInfo {
  let text = cause ?? '';
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && 'errorMessage' in parsed) {
      text = String((parsed as { errorMessage: unknown }).errorMessage);
    }
  } catch {
    // plain-text cause
  }
  const match = CODE_PREFIX.exec(text);
  if (match?.[1] && match[2] !== undefined) return { name: error, code: match[1], message: match[2] };
  return { name: error, code: serviceErrorCode(error), message: serviceErrorMessage(error, text) };
}

function serviceErrorCode(error: string): string {
  switch (error) {
    case 'States.Timeout':
    case 'States.HeartbeatTimeout':
      return 'STEP_TIMEOUT';
    case 'Lambda.Unknown':
    case 'Lambda.ServiceException':
    case 'Sandbox.Timedout':
    case 'Runtime.ExitError':
      return 'STEP_CRASHED';
    default:
      return 'INTERNAL';
  }
}

function serviceErrorMessage(error: string, text: string): string {
  if (error === 'States.Timeout')
    return 'A step took longer than its time limit. Retry the job; if it happens again, check the logs of the step.';
  if (text) return `${error}: ${text.slice(0, 500)}`;
  return `${error}: the step failed without a message. Retry the job and check the logs.`;
}
