import './polyfills.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { ExecutionAbortedError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import { LambdaFunctionError, type LambdaHost } from './lambda-host.js';
import { type FunctionName, LOCAL_STATE_MACHINE_NAME } from './template.js';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface LocalExecution {
  executionArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  /** States entered, in order (for progress display and tests). */
  states: string[];
  done: Promise<void>;
}

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

interface Waiter {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  /** Set when the waiting step is over (answered, timed out): later calls get TaskTimedOut. */
  closed: boolean;
}

export interface LocalStepFunctionsOptions {
  definition: Record<string, unknown>;
  stateMachineArn: string;
  lambdas: LambdaHost;
  functionByArn: Map<string, FunctionName>;
  /** `events:putEvents` entries (JobSucceeded, JobFailed). */
  onEvent: (entry: { Source: string; DetailType: string; Detail: unknown }) => void;
  /** An execution ended; TIMED_OUT and ABORTED ones are what the "execution ended" rule sends to fail. */
  onExecutionEnded: (execution: LocalExecution) => void;
}

const TOKEN_PLACEHOLDER = '__local-task-token__';
const LAMBDA_ARN = /^arn:aws:lambda:/;
/** What the library is told for Lambda tasks, whose own TimeoutSeconds is timed here (about 11 days). */
const LIBRARY_TIMEOUT_SECONDS = 999_999;

/**
 * Step Functions on one machine: the synthesized definition run by aws-local-stepfunctions, with the service
 * integrations it lacks supplied here (`lambda:invoke.waitForTaskToken` with real task tokens, `events:putEvents`),
 * and the API calls the handlers make (StartExecution, SendTask*) answered with AWS's semantics: execution names
 * are unique, a token answers once, a token whose step timed out is refused.
 */
export class LocalStepFunctions {
  readonly executions = new Map<string, LocalExecution>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly machine: StateMachine;
  private readonly handlers: Record<string, (input: unknown) => Promise<unknown>> = {};

  constructor(private readonly options: LocalStepFunctionsOptions) {
    // A Lambda task's TimeoutSeconds is timed here, from when its invocation starts running: the library would
    // count from when the state is entered, so the time an invocation waits for one of local mode's few
    // execution environments (no wait on AWS, where concurrency is far higher) would end jobs with States.Timeout.
    const definition = structuredClone(options.definition);
    const states = (definition.States ?? {}) as Record<string, Record<string, unknown>>;
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== 'Task') continue;
      const resource = String(state.Resource);
      const timeoutSeconds = Number(state.TimeoutSeconds ?? 60);
      if (LAMBDA_ARN.test(resource)) {
        const fn = this.functionOf(resource);
        state.TimeoutSeconds = LIBRARY_TIMEOUT_SECONDS;
        this.handlers[name] = (input) => this.invokeTimed(fn, input, timeoutSeconds);
      } else if (resource.endsWith(':states:::lambda:invoke.waitForTaskToken')) {
        this.handlers[name] = (input) =>
          this.invokeAndWait(input as { FunctionName: string; Payload: unknown }, timeoutSeconds);
      } else if (resource.endsWith(':states:::events:putEvents')) {
        this.handlers[name] = async (input) => {
          const entries = (input as { Entries: { Source: string; DetailType: string; Detail: unknown }[] })
            .Entries;
          for (const entry of entries) options.onEvent(entry);
          return { Entries: entries.map(() => ({ EventId: randomUUID() })), FailedEntryCount: 0 };
        };
      } else {
        throw new Error(`Local mode has no stand-in for the resource ${resource} of state ${name}`);
      }
    }
    this.machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  }

  startExecution(stateMachineArn: string, name: string, input: string): LocalExecution {
    if (stateMachineArn !== this.options.stateMachineArn)
      throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // AWS: the same name and input of a running execution is the same start; anything else is a conflict.
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution: LocalExecution = {
      executionArn,
      name,
      input,
      status: 'RUNNING',
      startDate: new Date(),
      states: [],
      done: Promise.resolve(),
    };
    this.executions.set(executionArn, execution);
    execution.done = this.run(execution);
    return execution;
  }

  describeExecution(executionArn: string): LocalExecution {
    const execution = this.executions.get(executionArn);
    if (!execution)
      throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  listExecutions(status?: ExecutionStatus): LocalExecution[] {
    return [...this.executions.values()]
      .filter((e) => !status || e.status === status)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  }

  sendTaskSuccess(taskToken: string, output: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      throw new SfnApiError('InvalidOutput', 'Invalid State Machine Output: the output is not JSON.');
    }
    this.answer(taskToken).resolve(parsed);
  }

  sendTaskFailure(taskToken: string, error = '', cause = ''): void {
    const failure = new Error(cause);
    failure.name = error;
    this.answer(taskToken).reject(failure);
  }

  sendTaskHeartbeat(taskToken: string): void {
    this.find(taskToken);
  }

  /** Resolves when every execution started so far has ended. */
  async idle(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  private async run(execution: LocalExecution): Promise<void> {
    const input: unknown = JSON.parse(execution.input);
    const run = this.machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: this.handlers as never },
      context: {
        Execution: {
          Id: execution.executionArn,
          Name: execution.name,
          Input: input as never,
          StartTime: execution.startDate.toISOString(),
        },
        StateMachine: { Id: this.options.stateMachineArn, Name: LOCAL_STATE_MACHINE_NAME },
        Task: { Token: TOKEN_PLACEHOLDER },
      },
    });
    const progress = (async () => {
      for await (const event of run.eventLogs) {
        if (event.type === 'StateEntered') execution.states.push(event.state.name);
      }
    })().catch(() => undefined);
    try {
      execution.output = JSON.stringify(await run.result);
      execution.status = 'SUCCEEDED';
    } catch (error) {
      if (error instanceof ExecutionTimeoutError) execution.status = 'TIMED_OUT';
      else if (error instanceof ExecutionAbortedError) execution.status = 'ABORTED';
      else {
        execution.status = 'FAILED';
        execution.error = (error as Error).name;
        execution.cause = String((error as { cause?: unknown }).cause ?? (error as Error).message);
      }
    }
    execution.stopDate = new Date();
    await progress;
    this.options.onExecutionEnded(execution);
  }

  /** A Lambda task: fails with States.Timeout once it has run `timeoutSeconds` (waiting to start not counted). */
  private invokeTimed(fn: FunctionName, input: unknown, timeoutSeconds: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onStart = () => {
        timer = setTimeout(
          () => reject(Object.assign(new Error('States.Timeout'), { name: 'States.Timeout' })),
          timeoutSeconds * 1000,
        );
      };
      this.options.lambdas
        .invoke(fn, input, { onStart })
        .then(resolve, reject)
        .finally(() => clearTimeout(timer));
    });
  }

  /** `lambda:invoke.waitForTaskToken`: invoke with a fresh token, then wait until someone answers it. */
  private async invokeAndWait(
    input: { FunctionName: string; Payload: unknown },
    timeoutSeconds: number,
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
    promise.finally(() => clearTimeout(timer)).catch(() => undefined);
    try {
      await this.options.lambdas.invoke(this.functionOf(input.FunctionName), payload);
    } catch (error) {
      waiter.closed = true;
      clearTimeout(timer);
      throw error instanceof LambdaFunctionError
        ? error
        : Object.assign(new Error(String(error)), { name: 'Lambda.Unknown' });
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

  private functionOf(arn: string): FunctionName {
    const name = this.options.functionByArn.get(arn);
    if (!name) throw new Error(`No local function for ${arn}`);
    return name;
  }
}
