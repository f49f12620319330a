import { randomUUID } from 'node:crypto';
import { LambdaFunctionError } from './lambda-errors.js';

/**
 * The limits AWS Step Functions enforces and `aws-local-stepfunctions` does not, as pure functions that
 * `LocalStepFunctions` applies: payload sizes, the execution history quota, the error names of Lambda task
 * failures, and the definition features the stand-in cannot run (refused at start, never silently ignored).
 */

/**
 * "Maximum input or output size for a task, state, or execution: 262,144 bytes of data as a UTF-8 encoded string.
 * This quota affects tasks (activity, Lambda function, or integrated service), state or execution output, and input
 * data when scheduling a task, entering a state, or starting an execution."
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-task-executions
 * The API reference gives the same bound as the length of `input` / `output` ("Maximum length of 262144 ... expressed as
 * bytes in UTF-8 encoding"): https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
 */
export const PAYLOAD_LIMIT_BYTES = 262_144;

/**
 * "Maximum execution history size: 25,000 events in a single state machine execution history. If the execution history
 * reaches this quota, the execution will fail."
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-state-machine-executions
 */
export const HISTORY_EVENT_LIMIT = 25_000;

/**
 * `SendTaskFailure`'s `error` and `cause` bounds ("Maximum length of 256" / "32768"):
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html
 */
export const TASK_FAILURE_ERROR_MAX = 256;
export const TASK_FAILURE_CAUSE_MAX = 32_768;

/** How AWS measures a payload: the UTF-8 bytes of its JSON text (the quota page above). */
export function payloadBytes(value: unknown): number {
  return textBytes(JSON.stringify(value) ?? 'null');
}

/** The size of a payload already given as JSON text (an API call's `input` or `output`). */
export function textBytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * The message AWS's request validation gives a member longer than its model allows, as AWS answered it for
 * `SendTaskFailure`'s `cause` ("1 validation error detected: Value at 'cause' failed to satisfy constraint: Member must
 * have length less than or equal to 32768", error code `ValidationException`, HTTP 400; the value itself is not echoed
 * because the member is sensitive): https://github.com/irothschild/stefuna/pull/8. StartExecution's `input` and
 * SendTaskSuccess's `output` carry the same kind of length constraint (API reference), so they are refused the same way.
 * The exact wording for those two members cannot be checked without an account.
 */
export function lengthViolation(member: string, max: number): string {
  return `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${max}`;
}

/**
 * `Cause` of `States.DataLimitExceeded` as AWS writes it, recorded against AWS in LocalStack's validated snapshots
 * (tests/aws/services/stepfunctions/v2/error_handling/test_states_errors.snapshot.json in localstack/localstack): the
 * state's name for a state's own output, the function ARN for a Lambda-ARN task's result, `lambda` for a
 * `lambda:invoke` task's result. https://github.com/aws-ia/terraform-aws-control_tower_account_factory/issues/414
 * shows the same wording from a real account.
 */
export function dataLimitCause(stateOrTask: string): string {
  return `The state/task '${stateOrTask}' returned a result with a size exceeding the maximum number of bytes service limit.`;
}

/**
 * `Cause` when a state's input (after `InputPath` and `Parameters`) is over the limit. AWS documents
 * States.DataLimitExceeded for a state's input larger than the payload size quota after Parameters processing
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), but no recorded wording of its
 * cause was found: this one is local mode's, and whether AWS lets a Catch see this case cannot be known without an
 * account (local mode ends the execution, as the docs say of the error).
 */
export function inputLimitCause(state: string): string {
  return `The state/task '${state}' has an input with a size exceeding the maximum number of bytes service limit.`;
}

/**
 * The failure AWS records when the history is full: `States.Runtime`, "The execution reached the maximum number of
 * history events (25000).", and that failure is event 25,000 itself (measured on AWS and reported in
 * https://github.com/floci-io/floci/issues/2734; the same error and cause in
 * https://github.com/loads/ardere/issues/86).
 */
export const HISTORY_LIMIT_ERROR = 'States.Runtime';
export const HISTORY_LIMIT_CAUSE = `The execution reached the maximum number of history events (${HISTORY_EVENT_LIMIT}).`;

/** An error Step Functions reports, shaped the way `aws-local-stepfunctions` reads it (`name` = Error, `message` = Cause). */
export function stepError(name: string, cause: string): Error {
  const error = new Error(cause);
  error.name = name;
  return error;
}

// ---------------------------------------------------------------------------------------------------------------
// History events
// ---------------------------------------------------------------------------------------------------------------

/** How a Task state talks to its resource, which decides the history events each attempt adds. */
export type TaskKind = 'lambda-arn' | 'wait-for-task-token' | 'request-response';

/** What `aws-local-stepfunctions` reports (its `EventLog`, reduced to what the count needs). */
export interface LibraryEvent {
  type: string;
  state?: { name: string; type: string };
}

/**
 * The history events AWS would record for what the library reports, an approximation built from the history event
 * types (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html) and histories recorded on
 * AWS (LocalStack's validated snapshots cited at {@link dataLimitCause}):
 * - the execution: `ExecutionStarted` and one closing event (`ExecutionSucceeded` / `Failed` / `Aborted` / `TimedOut`);
 * - every state: `<Type>StateEntered` and `<Type>StateExited` (a caught error exits the state too, right after the
 *   attempt's failure);
 * - every attempt of a Task: `LambdaFunctionScheduled`, `LambdaFunctionStarted` and its end (`...Succeeded` / `Failed` /
 *   `TimedOut`) for a Lambda ARN; `TaskScheduled`, `TaskStarted` and its end for a service integration, plus
 *   `TaskSubmitted` for `.waitForTaskToken` (4 events a retried round, which lib/slot-wait.ts budgets as "about five");
 * - a Map iteration or Parallel branch: one event for its start and one for its end.
 * It does not count what AWS adds and the library does not report (`MapStateStarted`, `ParallelStateStarted`,
 * `TaskStateAborted` ...): local mode's count can be a little lower than AWS's, never higher.
 */
export class HistoryCount {
  /** Events recorded so far. */
  events = 0;
  /** Whether the state being run ended in a caught error (its exit then records no Succeeded event). */
  private caught = false;

  constructor(private readonly taskKindOf: (state: string) => TaskKind | undefined) {}

  add(event: LibraryEvent): number {
    const kind = event.state && event.state.type === 'Task' ? this.taskKindOf(event.state.name) : undefined;
    const isTask = event.state?.type === 'Task';
    // Scheduled, Started (and Submitted) of an attempt.
    const attemptStart = !isTask ? 0 : kind === 'wait-for-task-token' ? 3 : 2;
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimeout':
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
      case 'ParallelBranchStarted':
      case 'ParallelBranchSucceeded':
      case 'ParallelBranchFailed':
        this.events += 1;
        break;
      case 'StateEntered':
        this.caught = false;
        this.events += 1 + attemptStart;
        break;
      case 'StateFailed':
        // The attempt's Failed / TimedOut; a state that is not a Task records nothing of its own.
        this.events += isTask ? 1 : 0;
        break;
      case 'StateRetried':
        this.events += attemptStart;
        break;
      case 'StateCaught':
        this.caught = true;
        break;
      case 'StateExited':
        // The attempt's Succeeded (unless it failed and was caught), then <Type>StateExited.
        this.events += (isTask && !this.caught ? 1 : 0) + 1;
        this.caught = false;
        break;
    }
    return this.events;
  }
}

/**
 * Whether the history, with `events` recorded so far, is full: the execution then fails, its failure event being
 * event 25,000 (see {@link HISTORY_LIMIT_CAUSE}).
 */
export function historyFull(events: number): boolean {
  return events >= HISTORY_EVENT_LIMIT - 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Lambda task errors
// ---------------------------------------------------------------------------------------------------------------

/**
 * The HTTP status of the errors Lambda's Invoke API declares (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors).
 * Step Functions calls Lambda with the AWS SDK for Java, which names a declared error by its code and anything else
 * AWSLambdaException: an invocation the state machine's role may not make is `Lambda.AWSLambdaException` with "Error
 * Code: AccessDeniedException" in its cause (https://github.com/awslabs/aws-deployment-framework/issues/460,
 * https://github.com/aws-samples/lambda-refarch-imagerecognition/issues/19).
 */
const LAMBDA_API_STATUS: Record<string, number> = {
  TooManyRequestsException: 429,
  ServiceException: 500,
  ResourceNotFoundException: 404,
  ResourceNotReadyException: 502,
  ResourceConflictException: 409,
  RequestTooLargeException: 413,
  InvalidParameterValueException: 400,
  InvalidRequestContentException: 400,
};
/** Undeclared codes local mode can meet, with their status (the causes cited above). */
const UNDECLARED_STATUS: Record<string, number> = { AccessDeniedException: 403 };

/**
 * The error Step Functions reports for a Lambda task that did not return, so that `Retry` and `Catch` see what they
 * would on AWS:
 * - an error of the function (its `errorType`, `Sandbox.Timedout` when it ran out of time, `Runtime.ExitError` when its
 *   process died): that name, with the JSON payload Lambda returned as `Cause`
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html, "Error names");
 * - an error of the Lambda service in front of it (a `LambdaFunctionError` named `Lambda.<Error Code>`: throttled
 *   `Lambda.TooManyRequestsException`, failed `Lambda.ServiceException`, unknown function
 *   `Lambda.ResourceNotFoundException`), or an error named `AccessDeniedException` (an invocation IAM refused):
 *   `Lambda.<Error Code>` for a code the Invoke API declares, else `Lambda.AWSLambdaException`, with the Java SDK's
 *   message as `Cause`, as in "Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code:
 *   TooManyRequestsException; Request ID: ...)" (https://github.com/HumanCellAtlas/data-store/issues/1118; the
 *   best-practice page names these "Lambda service exceptions":
 *   https://docs.aws.amazon.com/step-functions/latest/dg/sfn-best-practices.html#bp-lambda-serviceexception);
 * - anything else that went wrong in local mode's own host: `Lambda.ServiceException`, what a failure of Lambda itself
 *   is on AWS. (`Lambda.SdkClientException`, a failure between Step Functions and Lambda, has no local cause.)
 */
export function lambdaTaskError(error: unknown): Error {
  if (error instanceof LambdaFunctionError) {
    if (!error.errorType.startsWith('Lambda.')) return error;
    return lambdaServiceError(error.errorType.slice('Lambda.'.length), error.errorMessage);
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.name.endsWith('AccessDeniedException'))
    return lambdaServiceError('AccessDeniedException', message);
  return lambdaServiceError('ServiceException', message);
}

function lambdaServiceError(code: string, message: string): Error {
  const declared = LAMBDA_API_STATUS[code];
  const status = declared ?? UNDECLARED_STATUS[code] ?? 500;
  return stepError(
    declared === undefined ? 'Lambda.AWSLambdaException' : `Lambda.${code}`,
    `${message} (Service: AWSLambda; Status Code: ${status}; Error Code: ${code}; Request ID: ${randomUUID()}; Proxy: null)`,
  );
}
