import { type JobStatus, STAGES, type Stage } from './contract/lifecycle.js';

/**
 * Typed errors of the pipeline, under one root ({@link PipelineError}), and the one table that says what each
 * kind of error means: the stage a job fails at, its code, how the webhook answers it and what a person reads.
 *
 * Each kind has a stable `name` (what Step Functions sees as `Error` and matches in Retry/Catch) and a stable
 * `code` (what the job record and `<stem>.error.json` carry). The message is for a person: it says what went
 * wrong and what to do about it, and never carries a secret.
 *
 * Lambda serializes only `errorType` (the name) and `errorMessage`, so the code travels as a `[CODE]` prefix of
 * the message; {@link parseErrorCause} reads it back in the fail step.
 */

interface ErrorKind {
  /** Stage a job fails at with this error; without one, the stage after the last one the job reached. */
  readonly stage?: Stage;
  /** Retried with backoff by the state machine before it gives up. */
  readonly retried?: true;
  /** The job waits: retried by the submit step (backoff, jitter) until the job's hard deadline. */
  readonly waits?: true;
  /** For errors that carry no `[CODE]` (raised by AWS, not by our code): the code recorded. */
  readonly code?: string;
  /** For errors that carry no message a person can act on: the message recorded. */
  readonly message?: string;
  /** For errors the webhook answers: the HTTP status and the body's message (never more than this). */
  readonly reply?: { readonly status: number; readonly message: string };
}

const crashed = { code: 'STEP_CRASHED' } as const;
const retryUpload = 'Upload one of its files again to retry.';

/** Every kind of error, by the name Step Functions (or the webhook) sees. */
export const ERROR_KINDS = {
  // Raised by the pipeline's own code: the code travels in the message.
  /** Bad input: the user must change a file or the sidecar. Never retried, never billed. */
  ValidationError: { stage: 'VALIDATED' },
  /** Runware refused the task (400/401/402/403/404...). Final: retrying would fail the same way. */
  RunwareRejectedError: { stage: 'SUBMITTED' },
  /** Runware accepted the task but reported that it failed. */
  RunwareTaskError: { stage: 'GENERATED' },
  /** Something that may work if tried again: 5xx, network errors, throttling. */
  TransientError: { retried: true },
  /** Every Runware slot is taken (`maxConcurrentTasks`): the job waits for one. */
  NoSlotError: { stage: 'SUBMITTED', code: 'NO_SLOT', waits: true },
  /** Runware is at capacity (429, 503, 504, 408): the job waits, its slot given back. */
  RunwareBusyError: { stage: 'SUBMITTED', waits: true },
  /**
   * The job's estimated charge does not fit in what is left of the daily or monthly budget: not submitted,
   * nothing charged. Not retried by the state machine; a new attempt (re-drop, retry) may fit later.
   */
  BudgetExceededError: { stage: 'SUBMITTED', code: 'BUDGET_EXCEEDED' },
  DeadlineExceededError: { stage: 'GENERATED', code: 'DEADLINE_EXCEEDED' },
  /** The job's hard deadline passed while it waited to be submitted (no slot, or Runware at capacity). */
  WaitDeadlineError: { stage: 'SUBMITTED', code: 'DEADLINE_EXCEEDED' },
  /** The video could not be copied to the output bucket (bad URL, host not allowed, wrong content...). */
  DeliveryError: { stage: 'DELIVERED' },
  ConfigurationError: { code: 'CONFIGURATION' },
  /** The job is not in a state where this step may run (a superseded attempt, a missing record). */
  JobStateError: {},

  // Raised by Step Functions or Lambda: no code in the message.
  'States.Timeout': {
    code: 'STEP_TIMEOUT',
    message:
      'A step took longer than its time limit. Retry the job; if it happens again, check the logs of the step.',
  },
  'States.HeartbeatTimeout': { code: 'STEP_TIMEOUT' },
  'Lambda.Unknown': crashed,
  'Lambda.ServiceException': crashed,
  'Sandbox.Timedout': crashed,
  'Runtime.ExitError': crashed,
  // An execution that ended without reaching the fail step (EventBridge status change).
  'Execution.TIMED_OUT': {
    code: 'EXECUTION_TIMED_OUT',
    message: `The job ran past the workflow time limit and was stopped. ${retryUpload}`,
  },
  'Execution.ABORTED': {
    code: 'EXECUTION_ABORTED',
    message: `The job was stopped by an operator. ${retryUpload}`,
  },
  // The `error` local mode gives an execution it closes at start-up because the stack died while it ran.
  'LocalMode.Stopped': {
    code: 'EXECUTION_ABORTED',
    message: `Local mode stopped (Ctrl-C or a crash) while the job was running; its execution was closed as aborted at the next start. ${retryUpload}`,
  },

  // Requests the webhook refuses: they change nothing.
  MethodNotAllowed: { reply: { status: 405, message: 'Method not allowed.' } },
  Unauthorized: { reply: { status: 401, message: 'Unauthorized.' } },
  UnsupportedMediaType: { reply: { status: 415, message: 'Expected application/json.' } },
  BodyTooLarge: { reply: { status: 413, message: 'Body too large.' } },
  BodyNotJson: { reply: { status: 400, message: 'Body is not JSON.' } },
  /** A webhook body that matches none of the shapes Runware is known to send. */
  InvalidWebhookBodyError: {
    code: 'RUNWARE_BAD_WEBHOOK',
    reply: { status: 400, message: 'Body is not a Runware task response.' },
  },
  WrongTask: { reply: { status: 400, message: 'Body is about another task.' } },
  UnknownTask: { reply: { status: 404, message: 'Unknown task.' } },
} as const satisfies Record<string, ErrorKind>;

export type ErrorName = keyof typeof ERROR_KINDS;
export type WebhookRefusal = {
  [K in ErrorName]: (typeof ERROR_KINDS)[K] extends { reply: object } ? K : never;
}[ErrorName];

const kindOf = (name: string): ErrorKind | undefined =>
  Object.hasOwn(ERROR_KINDS, name) ? (ERROR_KINDS as Record<string, ErrorKind>)[name] : undefined;

/** Error names that the state machine retries (with backoff) before giving up. */
export const TRANSIENT_ERROR_NAMES: readonly string[] = Object.entries(
  ERROR_KINDS as Record<string, ErrorKind>,
)
  .filter(([, kind]) => kind.retried)
  .map(([name]) => name);

/** Error names that make a job wait: the submit step retries them until the job's hard deadline. */
export const WAITING_ERROR_NAMES: readonly string[] = Object.entries(ERROR_KINDS as Record<string, ErrorKind>)
  .filter(([, kind]) => kind.waits)
  .map(([name]) => name);

/** The webhook's answer to anything that is not one of its refusals: says nothing about why. */
export const INTERNAL_REPLY = { status: 500, message: 'Internal error.' } as const;

/** The root of every error the pipeline raises on purpose. */
export class PipelineError extends Error {
  override readonly name: ErrorName;

  constructor(
    name: ErrorName,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`[${code}] ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
  }

  /** The message without its `[CODE]` prefix: what a person reads. */
  get detail(): string {
    return this.message.slice(this.code.length + 3);
  }

  /** Stage a job fails at with this kind of error (see {@link ERROR_KINDS}). */
  get stage(): Stage | undefined {
    return kindOf(this.name)?.stage;
  }
}

/** A kind whose errors each carry their own code: `new ValidationError('IMAGE_TOO_SMALL', '...')`. */
const codedKind = (name: ErrorName) =>
  class extends PipelineError {
    constructor(code: string, message: string, options?: { cause?: unknown }) {
      super(name, code, message, options);
    }
  };

/** A kind with the one code the table gives it: `new ConfigurationError('...')`. */
const fixedKind = (
  name:
    | 'DeadlineExceededError'
    | 'WaitDeadlineError'
    | 'ConfigurationError'
    | 'NoSlotError'
    | 'BudgetExceededError',
) =>
  class extends PipelineError {
    constructor(message: string) {
      super(name, ERROR_KINDS[name].code, message);
    }
  };

export class ValidationError extends codedKind('ValidationError') {}
export class RunwareTaskError extends codedKind('RunwareTaskError') {}
export class TransientError extends codedKind('TransientError') {}
export class RunwareBusyError extends codedKind('RunwareBusyError') {}
export class DeliveryError extends codedKind('DeliveryError') {}
export class JobStateError extends codedKind('JobStateError') {}
export class DeadlineExceededError extends fixedKind('DeadlineExceededError') {}
export class ConfigurationError extends fixedKind('ConfigurationError') {}
export class NoSlotError extends fixedKind('NoSlotError') {}
export class WaitDeadlineError extends fixedKind('WaitDeadlineError') {}
export class BudgetExceededError extends fixedKind('BudgetExceededError') {}

export class RunwareRejectedError extends PipelineError {
  /**
   * The refused request was a resend of a task whose earlier send got no answer or a server error: Runware may
   * hold that task, so the refusal is not its word about it (see `adoptableTask` in attempt.ts).
   */
  afterUncertainTry = false;

  constructor(
    code: string,
    message: string,
    /** Runware's HTTP status: which refusal it was, when the code (e.g. RUNWARE_REJECTED) does not say. */
    readonly httpStatus?: number,
  ) {
    super('RunwareRejectedError', code, message);
  }
}

/** The attempt a step works for is over (failed, retried or gone): its work is no longer wanted. */
export class SupersededAttemptError extends JobStateError {
  constructor(message: string) {
    super('STALE_ATTEMPT', message);
  }
}

/** A webhook request refused before anything is changed; answered with the status and message of its kind. */
export class WebhookRefusedError extends PipelineError {
  constructor(name: WebhookRefusal, detail?: string) {
    const kind: ErrorKind = ERROR_KINDS[name];
    super(name, kind.code ?? 'WEBHOOK_REFUSED', detail ?? kind.reply?.message ?? name);
  }
}

/** A webhook body that matches none of the shapes Runware is known to send. */
export class InvalidWebhookBodyError extends WebhookRefusedError {
  /** `detail` says why, in field names and rules (never values): the webhook adds it to its 400 answer. */
  constructor(detail: string) {
    super('InvalidWebhookBodyError', detail);
  }
}

/** What the webhook answers for an error: its refusal, or a bare 500 for anything else. */
export function webhookReply(error: unknown): { status: number; message: string } {
  const kind = error instanceof WebhookRefusedError ? kindOf(error.name) : undefined;
  return kind?.reply ?? INTERNAL_REPLY;
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
  const kind = kindOf(error);
  return { name: error, code: kind?.code ?? 'INTERNAL', message: kind?.message ?? unexplained(error, text) };
}

function unexplained(error: string, text: string): string {
  if (text) return `${error}: ${text.slice(0, 500)}`;
  return `${error}: the step failed without a message. Retry the job and check the logs.`;
}

/**
 * The `errorMessage` of an execution that ended without reaching the fail step (timed out, aborted...), in the
 * `[CODE] message` form the fail step reads.
 */
export function executionEndMessage(
  status: string,
  cause: string | null | undefined,
  error?: string | null,
): string {
  // A stopped execution may name why (StopExecution's `error`); a known name explains it better.
  const kind = (error ? kindOf(error) : undefined) ?? kindOf(`Execution.${status}`);
  return `[${kind?.code ?? `EXECUTION_${status}`}] ${kind?.message ?? cause ?? 'The workflow ended.'}`;
}

/** Which stage an error belongs to; otherwise the stage after the last one the job reached. */
export function stageOfError(name: string, reached: JobStatus | undefined): Stage {
  const known = kindOf(name)?.stage;
  if (known) return known;
  const index = reached && reached !== 'FAILED' && reached !== 'CANCELLED' ? STAGES.indexOf(reached) : 0;
  const next = STAGES[Math.min(index + 1, STAGES.length - 1)] ?? 'VALIDATED';
  // Waiting is not work of its own: what fails after validation fails at submission.
  return next === 'QUEUED' ? 'SUBMITTED' : next;
}
