import { SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { SlotWaker } from '../store/slots.js';

/** What Step Functions answers for a token no step waits on any more (timed out, execution ended, answered). */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/** Runs a SendTask* call: 'gone' when the token is no longer waited on, any other error thrown. */
export async function answerToken(call: () => Promise<unknown>): Promise<'delivered' | 'gone'> {
  try {
    await call();
    return 'delivered';
  } catch (error) {
    if (GONE.has((error as Error).name)) return 'gone';
    throw error;
  }
}

/**
 * Wakes a job's `WaitForSlot` step: its output is discarded, the job goes on to take its slot in Submit. The client
 * is made on the first wake: record, fail and the sweep often free a slot nobody waits for.
 */
export class SfnSlotWaker implements SlotWaker {
  constructor(private readonly sfn: () => SFNClient) {}

  wake(taskToken: string): Promise<'delivered' | 'gone'> {
    return answerToken(() => this.sfn().send(new SendTaskSuccessCommand({ taskToken, output: '{}' })));
  }
}
