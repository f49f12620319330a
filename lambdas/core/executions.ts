import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

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
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  }
}
