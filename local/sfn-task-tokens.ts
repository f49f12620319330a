import { randomBytes, randomUUID } from 'node:crypto';
import type { LambdaHost } from './lambda-host.js';
import {
  lambdaTaskError,
  lengthViolation,
  PAYLOAD_LIMIT_BYTES,
  stepError,
  TASK_FAILURE_CAUSE_MAX,
  TASK_FAILURE_ERROR_MAX,
  textBytes,
} from './sfn-limits.js';
import type { FunctionName } from './template.js';

/** An error of the Step Functions API, as the SDK expects it (`__type` in the JSON body). */
export class SfnApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

/** What the definition's `$$.Task.Token` becomes: each invocation gets a fresh token in its place. */
export const TOKEN_PLACEHOLDER = '__local-task-token__';

interface Waiter {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  /** Set when the waiting step is over (answered, timed out): later calls get TaskTimedOut. */
  closed: boolean;
  /** Restarts the step's heartbeat clock (SendTaskHeartbeat), when it has `HeartbeatSeconds`. */
  heartbeat?: () => void;
}

/**
 * The task tokens of local Step Functions: `lambda:invoke.waitForTaskToken` steps wait on them, and SendTaskSuccess,
 * SendTaskFailure and SendTaskHeartbeat answer them with AWS's semantics: a token answers once, a token whose step
 * timed out is refused.
 */
export class TaskTokens {
  private readonly waiters = new Map<string, Waiter>();

  constructor(
    private readonly lambdas: Pick<LambdaHost, 'invoke'>,
    private readonly functionByArn: Map<string, FunctionName>,
  ) {}

  sendTaskSuccess(taskToken: string, output: string): void {
    if (textBytes(output) > PAYLOAD_LIMIT_BYTES)
      throw new SfnApiError('ValidationException', lengthViolation('output', PAYLOAD_LIMIT_BYTES));
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      throw new SfnApiError('InvalidOutput', 'Invalid State Machine Output: the output is not JSON.');
    }
    this.answer(taskToken).resolve(parsed);
  }

  sendTaskFailure(taskToken: string, error = '', cause = ''): void {
    // Lengths in characters (code points), as the API model counts a string's length.
    if ([...error].length > TASK_FAILURE_ERROR_MAX)
      throw new SfnApiError('ValidationException', lengthViolation('error', TASK_FAILURE_ERROR_MAX));
    if ([...cause].length > TASK_FAILURE_CAUSE_MAX)
      throw new SfnApiError('ValidationException', lengthViolation('cause', TASK_FAILURE_CAUSE_MAX));
    const failure = new Error(cause);
    failure.name = error;
    this.answer(taskToken).reject(failure);
  }

  sendTaskHeartbeat(taskToken: string): void {
    this.find(taskToken).heartbeat?.();
  }

  /** Local mode stopped: every waiting step fails. */
  close(): void {
    for (const waiter of this.waiters.values()) waiter.reject(new Error('Local mode stopped'));
  }

  /**
   * `lambda:invoke.waitForTaskToken`: invoke with a fresh token, then wait until someone answers it. With
   * `HeartbeatSeconds`, the step fails with States.HeartbeatTimeout when no SendTaskHeartbeat (or answer) comes
   * within that time: "This action resets the Heartbeat clock"
   * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskHeartbeat.html).
   */
  async invokeAndWait(
    input: { FunctionName: string; Payload: unknown },
    timeoutSeconds: number,
    heartbeatSeconds: number | undefined,
  ): Promise<unknown> {
    const token = randomBytes(48).toString('base64url');
    const payload = JSON.parse(JSON.stringify(input.Payload).replaceAll(TOKEN_PLACEHOLDER, token));
    let waiter: Waiter = { resolve: () => undefined, reject: () => undefined, closed: false };
    const promise = new Promise<unknown>((resolve, reject) => {
      waiter = { resolve, reject, closed: false };
    });
    this.waiters.set(token, waiter);
    // The library times the step out on its own; the token must stop working at the same moment.
    const timer = setTimeout(() => {
      waiter.closed = true;
    }, timeoutSeconds * 1000);
    let heartbeatTimer: NodeJS.Timeout | undefined;
    if (heartbeatSeconds !== undefined) {
      const expire = () => {
        if (waiter.closed) return;
        waiter.closed = true;
        waiter.reject(stepError('States.HeartbeatTimeout', ''));
      };
      waiter.heartbeat = () => {
        clearTimeout(heartbeatTimer);
        heartbeatTimer = setTimeout(expire, heartbeatSeconds * 1000);
      };
      waiter.heartbeat();
    }
    promise
      .finally(() => {
        clearTimeout(timer);
        clearTimeout(heartbeatTimer);
      })
      .catch(() => undefined);
    const fn = this.functionByArn.get(input.FunctionName);
    try {
      if (!fn)
        throw stepError(
          'Lambda.ResourceNotFoundException',
          `Function not found: ${input.FunctionName} (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: ${randomUUID()}; Proxy: null)`,
        );
      await this.lambdas.invoke(fn, payload);
    } catch (error) {
      waiter.closed = true;
      clearTimeout(timer);
      clearTimeout(heartbeatTimer);
      throw error instanceof Error && error.name === 'Lambda.ResourceNotFoundException'
        ? error
        : lambdaTaskError(error);
    }
    return promise;
  }

  private answer(taskToken: string): Waiter {
    const waiter = this.find(taskToken);
    waiter.closed = true;
    return waiter;
  }

  private find(taskToken: string): Waiter {
    const waiter = this.waiters.get(taskToken);
    if (!waiter) throw new SfnApiError('InvalidToken', 'Invalid Token');
    if (waiter.closed) throw new SfnApiError('TaskTimedOut', 'Task Timed Out');
    return waiter;
  }
}
