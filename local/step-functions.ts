import './polyfills.js';
import { randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
} from 'aws-local-stepfunctions';
import type { LambdaHost } from './lambda-host.js';
import {
  dataLimitCause,
  HISTORY_LIMIT_CAUSE,
  HISTORY_LIMIT_ERROR,
  HistoryCount,
  historyFull,
  inputLimitCause,
  lambdaTaskError,
  lengthViolation,
  PAYLOAD_LIMIT_BYTES,
  payloadBytes,
  stepError,
  type TaskKind,
  textBytes,
} from './sfn-limits.js';
import { shortenedRetries } from './sfn-retries.js';
import { loadExecutions, saveExecutions } from './sfn-state-file.js';
import { SfnApiError, TaskTokens, TOKEN_PLACEHOLDER } from './sfn-task-tokens.js';
import { assertRunnable } from './sfn-unsupported.js';
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

/**
 * The failure one execution met at one of AWS's limits. It ends the execution at once, whatever its Catch fields say:
 * the library's run is aborted and the execution recorded FAILED.
 */
class Limits {
  failure: { error: string; cause: string } | undefined;
  /** Aborts the library's run; set as soon as the run exists (before any Task handler can be called). */
  abort: () => void = () => undefined;

  fail(error: string, cause: string): void {
    if (this.failure) return;
    this.failure = { error, cause };
    this.abort();
  }
}

/** A Task handler of one state, told which execution's limits it counts against. */
type TaskRunner = (input: unknown) => Promise<unknown>;

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

/** The `error` of an execution that local mode closed at start-up because the stack had died under it. */
export const LOCAL_STOP_ERROR = 'LocalMode.Stopped';

const LAMBDA_ARN = /^arn:aws:lambda:/;
const WAIT_FOR_TASK_TOKEN = ':states:::lambda:invoke.waitForTaskToken';
const PUT_EVENTS = ':states:::events:putEvents';
/** Lets every microtask run first: the events the library has dispatched so far are then all counted and checked. */
const nextMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));
/** What the library is told for Lambda tasks, whose own TimeoutSeconds is timed here (about 11 days). */
const LIBRARY_TIMEOUT_SECONDS = 999_999;

/**
 * Step Functions on one machine: the synthesized definition run by aws-local-stepfunctions, with the service
 * integrations it lacks supplied here (`lambda:invoke.waitForTaskToken` with real task tokens and heartbeats,
 * `events:putEvents`), and the API calls the handlers make (StartExecution, SendTask*) answered with AWS's semantics:
 * execution names are unique, a token answers once, a token whose step timed out is refused. AWS's limits the library
 * does not enforce hold here (local/sfn-limits.ts): the 256 KiB payload quota, the 25,000-event history, the error
 * names of Lambda task failures; and a definition using what the stand-in cannot run is refused at construction
 * (local/sfn-unsupported.ts). Task tokens are kept in local/sfn-task-tokens.ts, the executions' state file is
 * read and written by local/sfn-state-file.ts.
 */
export class LocalStepFunctions {
  readonly executions = new Map<string, LocalExecution>();
  private readonly tokens: TaskTokens;
  private readonly machine: StateMachine;
  /**
   * Tests only: executions started from now on wait this many milliseconds before each retry of a bounded
   * retrier (`MaxAttempts` ≤ `BOUNDED_RETRIES` (sfn-retries.ts)) instead of `IntervalSeconds × BackoffRate^n`, so a test sees
   * the retries without waiting out their backoff. Open-ended retriers (Runware busy, the slot wait's re-asks)
   * keep their timing. Undefined (the default): the definition's intervals, as on AWS.
   */
  retryIntervalMs: number | undefined;
  private readonly runners: Record<string, TaskRunner> = {};
  /** How each Task state reaches its resource (it decides the history events of an attempt). */
  private readonly taskKinds = new Map<string, TaskKind>();
  /** What `States.DataLimitExceeded` names for each Task's too-large result (see `dataLimitCause`). */
  private readonly resultLabels = new Map<string, string>();
  /** Executions the state file lists as RUNNING: the previous stack died while they ran. */
  private readonly interrupted: LocalExecution[] = [];
  /** Set by {@link close}: a stopped stack neither records nor reports anything any more, as if killed. */
  private closed = false;
  private readonly runs = new Set<{ abort: () => void }>();
  /** The run of each RUNNING execution, by ARN (what StopExecution aborts). */
  private readonly runOf = new Map<string, { abort: () => void }>();

  constructor(private readonly options: LocalStepFunctionsOptions) {
    // Refused before anything runs: what the library would ignore or send to the real AWS must not pass for working.
    assertRunnable(options.definition, (resource) => this.kindOf(resource));
    this.tokens = new TaskTokens(options.lambdas, options.functionByArn);
    this.load();
    // A Lambda task's TimeoutSeconds is timed here, from when its invocation starts running: the library would
    // count from when the state is entered, so the time an invocation waits for one of local mode's few
    // execution environments (no wait on AWS, where concurrency is far higher) would end jobs with States.Timeout.
    const definition = structuredClone(options.definition);
    const states = (definition.States ?? {}) as Record<string, Record<string, unknown>>;
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== 'Task') continue;
      const resource = String(state.Resource);
      const kind = this.kindOf(resource);
      if (kind) this.taskKinds.set(name, kind);
      const timeoutSeconds = Number(state.TimeoutSeconds ?? 60);
      if (kind === 'lambda-arn') {
        const fn = this.functionOf(resource);
        state.TimeoutSeconds = LIBRARY_TIMEOUT_SECONDS;
        this.resultLabels.set(name, resource);
        this.runners[name] = (input) => this.invokeTimed(fn, input, timeoutSeconds);
      } else if (kind === 'wait-for-task-token') {
        const heartbeatSeconds =
          state.HeartbeatSeconds === undefined ? undefined : Number(state.HeartbeatSeconds);
        aliasHeartbeatTimeout(state);
        this.resultLabels.set(name, 'lambda');
        this.runners[name] = (input) =>
          this.tokens.invokeAndWait(
            input as { FunctionName: string; Payload: unknown },
            timeoutSeconds,
            heartbeatSeconds,
          );
      } else {
        this.resultLabels.set(name, 'events');
        this.runners[name] = async (input) => {
          const entries = (input as { Entries: { Source: string; DetailType: string; Detail: unknown }[] })
            .Entries;
          for (const entry of entries) options.onEvent(entry);
          return { Entries: entries.map(() => ({ EventId: randomUUID() })), FailedEntryCount: 0 };
        };
      }
    }
    this.machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  }

  startExecution(stateMachineArn: string, name: string, input: string): LocalExecution {
    // The request is validated before anything is looked up, as AWS's request validation does.
    if (textBytes(input) > PAYLOAD_LIMIT_BYTES)
      throw new SfnApiError('ValidationException', lengthViolation('input', PAYLOAD_LIMIT_BYTES));
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
    this.tokens.sendTaskSuccess(taskToken, output);
  }

  sendTaskFailure(taskToken: string, error = '', cause = ''): void {
    this.tokens.sendTaskFailure(taskToken, error, cause);
  }

  sendTaskHeartbeat(taskToken: string): void {
    this.tokens.sendTaskHeartbeat(taskToken);
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
    this.tokens.close();
  }

  /** Resolves when every execution started so far has ended. */
  async idle(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  private async run(execution: LocalExecution): Promise<void> {
    const input: unknown = JSON.parse(execution.input);
    const limits = new Limits();
    const history = new HistoryCount((state) => this.taskKinds.get(state));
    const handlers: Record<string, TaskRunner> = {};
    for (const [name, runner] of Object.entries(this.runners))
      handlers[name] = this.guarded(name, runner, limits);
    const run = this.machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        ...(this.retryIntervalMs === undefined
          ? {}
          : { retryIntervalOverrides: shortenedRetries(this.options.definition, this.retryIntervalMs) }),
      },
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
    limits.abort = () => run.abort();
    this.runs.add(run);
    this.runOf.set(execution.executionArn, run);
    const progress = (async () => {
      for await (const event of run.eventLogs) {
        // Once failed at a limit, the execution has ended for AWS: what the library still runs is not recorded.
        if (limits.failure) continue;
        if (event.type === 'StateEntered') execution.states.push(event.state.name);
        history.add(event);
        // A state's output over the quota fails the execution: AWS records ExecutionFailed right after the state,
        // with no StateExited and no Catch (LocalStack's AWS-validated snapshot test_start_large_input, see
        // local/sfn-limits.ts; https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html:
        // "States.DataLimitExceeded ... a terminal error that can't be caught by the States.ALL error type").
        if (event.type === 'StateExited' && payloadBytes(event.state.output ?? null) > PAYLOAD_LIMIT_BYTES)
          limits.fail('States.DataLimitExceeded', dataLimitCause(event.state.name));
        if (!event.type.startsWith('Execution') && historyFull(history.events))
          limits.fail(HISTORY_LIMIT_ERROR, HISTORY_LIMIT_CAUSE);
      }
    })().catch(() => undefined);
    try {
      execution.output = JSON.stringify(await run.result);
      execution.status = 'SUCCEEDED';
    } catch (error) {
      if (error instanceof ExecutionTimeoutError) execution.status = 'TIMED_OUT';
      else if (error instanceof ExecutionAbortedError) execution.status = 'ABORTED';
      else {
        // AWS reports the error that ended the execution (a Fail state's Error and Cause, or an uncaught task
        // error's name and message); the library wraps it in an ExecutionError.
        const ended =
          error instanceof ExecutionError && error.cause instanceof Error ? error.cause : (error as Error);
        execution.status = 'FAILED';
        execution.error = ended.name;
        execution.cause = ended.message;
      }
    }
    this.runs.delete(run);
    this.runOf.delete(execution.executionArn);
    // Every event is checked before the outcome is final: the last state's output may be the one over the quota.
    await progress;
    if (limits.failure) {
      execution.status = 'FAILED';
      execution.error = limits.failure.error;
      execution.cause = limits.failure.cause;
      delete execution.output;
    }
    execution.stopDate = new Date();
    if (this.closed) return;
    this.save();
    this.options.onExecutionEnded(execution);
  }

  private load(): void {
    for (const execution of loadExecutions(this.options.stateFile)) {
      this.executions.set(execution.executionArn, execution);
      if (execution.status === 'RUNNING') this.interrupted.push(execution);
    }
  }

  private save(): void {
    if (!this.closed) saveExecutions(this.options.stateFile, this.executions.values());
  }

  /**
   * A Task handler held to AWS's payload quota: its input (after InputPath and Parameters) over the quota fails the
   * execution (terminal, as the docs say of States.DataLimitExceeded); its result over the quota fails the task with
   * States.DataLimitExceeded, which Retry and Catch see like any task error, States.ALL included: that is what AWS
   * recorded for a Lambda task (LocalStack's AWS-validated snapshots, see `dataLimitCause`), although the docs call the
   * error uncatchable. Nothing runs once the execution has failed at a limit.
   */
  private guarded(name: string, runner: TaskRunner, limits: Limits): TaskRunner {
    return async (input) => {
      // The library calls a handler in the same tick as it reports the previous state's exit: wait until that event
      // has been checked, so that no task starts after its execution has failed at a limit.
      await nextMacrotask();
      if (limits.failure) throw stepError(limits.failure.error, limits.failure.cause);
      if (payloadBytes(input ?? null) > PAYLOAD_LIMIT_BYTES) {
        limits.fail('States.DataLimitExceeded', inputLimitCause(name));
        throw stepError('States.DataLimitExceeded', inputLimitCause(name));
      }
      const result = await runner(input);
      if (payloadBytes(result ?? null) > PAYLOAD_LIMIT_BYTES)
        throw stepError('States.DataLimitExceeded', dataLimitCause(this.resultLabels.get(name) ?? name));
      return result;
    };
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
        .then(resolve, (error: unknown) => reject(lambdaTaskError(error)))
        .finally(() => clearTimeout(timer));
    });
  }

  /** How local mode serves a Task's `Resource`; undefined when it has no stand-in for it. */
  private kindOf(resource: string): TaskKind | undefined {
    if (LAMBDA_ARN.test(resource)) return this.options.functionByArn.has(resource) ? 'lambda-arn' : undefined;
    if (resource.endsWith(WAIT_FOR_TASK_TOKEN)) return 'wait-for-task-token';
    if (resource.endsWith(PUT_EVENTS)) return 'request-response';
    return undefined;
  }

  private functionOf(arn: string): FunctionName {
    const name = this.options.functionByArn.get(arn);
    if (!name) throw new Error(`No local function for ${arn}`);
    return name;
  }
}

/**
 * AWS: "States.Timeout: A Task state either ran longer than the TimeoutSeconds value, or failed to send a heartbeat for a
 * period longer than the HeartbeatSeconds value", while the heartbeat's own name is States.HeartbeatTimeout
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). The library matches one name per
 * error, so a Retry or Catch of States.Timeout is told the heartbeat's name as well.
 */
function aliasHeartbeatTimeout(state: Record<string, unknown>): void {
  if (state.HeartbeatSeconds === undefined) return;
  for (const field of ['Retry', 'Catch'] as const) {
    const rules = Array.isArray(state[field]) ? (state[field] as { ErrorEquals?: unknown }[]) : [];
    for (const rule of rules) {
      const errors = Array.isArray(rule.ErrorEquals) ? (rule.ErrorEquals as string[]) : [];
      if (errors.includes('States.Timeout') && !errors.includes('States.HeartbeatTimeout'))
        rule.ErrorEquals = [...errors, 'States.HeartbeatTimeout'];
    }
  }
}
