import './polyfills.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
  lambdas: Pick<LambdaHost, 'invoke'>;
  functionByArn: Map<string, FunctionName>;
  /** `events:putEvents` entries (JobSucceeded, JobFailed). */
  onEvent: (entry: { Source: string; DetailType: string; Detail: unknown }) => void;
  /** An execution ended; TIMED_OUT and ABORTED ones are what the "execution ended" rule sends to fail. */
  onExecutionEnded: (execution: LocalExecution) => void;
  /**
   * A JSON file the executions are kept in, so that they are still listed after a restart. An execution it
   * lists as RUNNING was cut off when the stack died: {@link LocalStepFunctions.closeInterrupted} ends it.
   */
  stateFile?: string;
}

/** What the state file keeps of an execution (dates as ISO strings; nothing that is only alive in memory). */
type StoredExecution = Omit<LocalExecution, 'done' | 'startDate' | 'stopDate'> & {
  startDate: string;
  stopDate?: string;
};

/** The `error` of an execution that local mode closed at start-up because the stack had died under it. */
export const LOCAL_STOP_ERROR = 'LocalMode.Stopped';

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
  /** Executions the state file lists as RUNNING: the previous stack died while they ran. */
  private readonly interrupted: LocalExecution[] = [];
  /** Set by {@link close}: a stopped stack neither records nor reports anything any more, as if killed. */
  private closed = false;
  private readonly runs = new Set<{ abort: () => void }>();
  /** The run of each RUNNING execution, by ARN (what StopExecution aborts). */
  private readonly runOf = new Map<string, { abort: () => void }>();

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.load();
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
    this.save();
    execution.done = this.run(execution);
    return execution;
  }

  describeExecution(executionArn: string): LocalExecution {
    const execution = this.executions.get(executionArn);
    if (!execution)
      throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  /** `ListExecutions` as the API answers it: only for the state machine there is. */
  listExecutionsOf(stateMachineArn: string, status?: ExecutionStatus): LocalExecution[] {
    if (stateMachineArn !== this.options.stateMachineArn)
      throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    return this.listExecutions(status);
  }

  listExecutions(status?: ExecutionStatus): LocalExecution[] {
    return [...this.executions.values()]
      .filter((e) => !status || e.status === status)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  }

  /**
   * `StopExecution`: a RUNNING execution ends ABORTED with `error` and `cause`, reported to the "execution ended"
   * rule like on AWS; an execution that has ended stays as it was.
   */
  stopExecution(executionArn: string, error?: string, cause?: string): LocalExecution {
    const execution = this.describeExecution(executionArn);
    const run = this.runOf.get(executionArn);
    if (execution.status !== 'RUNNING' || !run) return execution;
    if (error !== undefined) execution.error = error;
    if (cause !== undefined) execution.cause = cause;
    run.abort();
    return execution;
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

  /**
   * Ends the executions the previous stack left RUNNING the way AWS ends a stopped one: ABORTED, reported to
   * the "execution ended" rule (which fails the job with EXECUTION_ABORTED, so that it can be retried).
   */
  closeInterrupted(): LocalExecution[] {
    const closed = this.interrupted.splice(0);
    for (const execution of closed) {
      execution.status = 'ABORTED';
      execution.error = LOCAL_STOP_ERROR;
      execution.cause = 'Local mode stopped while this execution was running.';
      execution.stopDate = new Date();
    }
    this.save();
    for (const execution of closed) this.options.onExecutionEnded(execution);
    return closed;
  }

  /** From now on nothing is recorded or reported: what was running stays RUNNING in the state file. */
  close(): void {
    this.closed = true;
    for (const run of this.runs) run.abort();
    for (const waiter of this.waiters.values()) waiter.reject(new Error('Local mode stopped'));
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
    this.runs.add(run);
    this.runOf.set(execution.executionArn, run);
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
    this.runs.delete(run);
    this.runOf.delete(execution.executionArn);
    execution.stopDate = new Date();
    await progress;
    if (this.closed) return;
    this.save();
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

  private load(): void {
    const file = this.options.stateFile;
    if (!file || !existsSync(file)) return;
    const stored = JSON.parse(readFileSync(file, 'utf8')) as StoredExecution[];
    for (const { startDate, stopDate, ...rest } of stored) {
      const execution: LocalExecution = {
        ...rest,
        startDate: new Date(startDate),
        ...(stopDate ? { stopDate: new Date(stopDate) } : {}),
        done: Promise.resolve(),
      };
      this.executions.set(execution.executionArn, execution);
      if (execution.status === 'RUNNING') this.interrupted.push(execution);
    }
  }

  /** Writes every execution to the state file (whole, then renamed: a kill never leaves half a file). */
  private save(): void {
    const file = this.options.stateFile;
    if (!file || this.closed) return;
    const stored: StoredExecution[] = [...this.executions.values()].map(
      ({ done: _done, startDate, stopDate, ...rest }) => ({
        ...rest,
        startDate: startDate.toISOString(),
        ...(stopDate ? { stopDate: stopDate.toISOString() } : {}),
      }),
    );
    writeFileSync(`${file}.tmp`, JSON.stringify(stored));
    renameSync(`${file}.tmp`, file);
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
