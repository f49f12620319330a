import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';

export interface ExecutionInput {
  jobId: string;
  attempt: number;
  stem: string;
}

/** Starts state machine executions under deterministic names. */
export interface ExecutionStarter {
  /** Starts `name`; when an execution of that name exists already, succeeds without starting another. */
  start(name: string, input: ExecutionInput): Promise<{ executionArn: string; alreadyExisted: boolean }>;
}

export class SfnExecutionStarter implements ExecutionStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(
    name: string,
    input: ExecutionInput,
  ): Promise<{ executionArn: string; alreadyExisted: boolean }> {
    try {
      const out = await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return { executionArn: out.executionArn ?? this.arnOf(name), alreadyExisted: false };
    } catch (error) {
      // Standard workflows keep execution names unique for 90 days: the name *is* the idempotency key.
      if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists') {
        return { executionArn: this.arnOf(name), alreadyExisted: true };
      }
      throw error;
    }
  }

  private arnOf(name: string): string {
    return executionArnOf(this.stateMachineArn, name);
  }
}

/** Stops state machine executions (an operator's cancel). */
export interface ExecutionStopper {
  /** Stops the execution; 'ended' when it had ended already or never started. */
  stop(executionArn: string, error: string, cause: string): Promise<'stopped' | 'ended'>;
}

export class SfnExecutionStopper implements ExecutionStopper {
  constructor(private readonly sfn: SFNClient) {}

  async stop(executionArn: string, error: string, cause: string): Promise<'stopped' | 'ended'> {
    try {
      const described = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (described.status !== 'RUNNING') return 'ended';
      await this.sfn.send(new StopExecutionCommand({ executionArn, error, cause }));
      return 'stopped';
    } catch (caught) {
      if ((caught as Error).name === 'ExecutionDoesNotExist') return 'ended';
      throw caught;
    }
  }
}

/** The ARN of the execution `name` of a state machine. */
export const executionArnOf = (stateMachineArn: string, name: string): string =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
