import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { JOB_EVENT_SOURCE } from '../contract/job-events.js';
import { TransientError } from '../errors.js';

/**
 * Events the pipeline's functions put on the account's default EventBridge bus (the state machine puts
 * JobSucceeded and JobFailed itself). Every detail carries `version`: a field is only ever added within a version.
 */

/** `source` of every event of the pipeline (the state machine's too): one constant, in job-events.ts. */
export const PIPELINE_EVENT_SOURCE = JOB_EVENT_SOURCE;

/** Detail of `JobCancelled`: an operator cancelled the job attempt and it ended CANCELLED. */
export interface JobCancelledDetail {
  version: '1';
  jobId: string;
  attempt: number;
  stem: string;
  /** Runware had accepted the task before the cancel: it cannot be recalled and its charge may still come. */
  taskAccepted: boolean;
  /** When the attempt ended CANCELLED (ISO time). */
  at: string;
}

export interface JobEventPublisher {
  jobCancelled(detail: JobCancelledDetail): Promise<void>;
}

export class EventBridgeJobEvents implements JobEventPublisher {
  constructor(private readonly client: EventBridgeClient) {}

  async jobCancelled(detail: JobCancelledDetail): Promise<void> {
    const out = await this.client.send(
      new PutEventsCommand({
        Entries: [
          { Source: PIPELINE_EVENT_SOURCE, DetailType: 'JobCancelled', Detail: JSON.stringify(detail) },
        ],
      }),
    );
    // PutEvents answers 200 even when an entry was refused: a refused entry is retried by the caller's retry.
    if ((out.FailedEntryCount ?? 0) > 0) {
      const [entry] = out.Entries ?? [];
      throw new TransientError(
        'EVENT_NOT_PUT',
        `EventBridge did not take the JobCancelled event (${entry?.ErrorCode ?? 'no error code'}).`,
      );
    }
  }
}
