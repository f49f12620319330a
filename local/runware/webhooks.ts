/** Webhook delivery: POSTs each result or error to the task's `webhookURL`, retrying until a 2xx like Runware. */

import { randomUUID } from 'node:crypto';
import type { FailureShape } from './faults.js';
import { redactText } from './redact.js';
import { describe, type Runtime } from './runtime.js';
import {
  resultItem,
  type SimulatedError,
  type SimulatedResult,
  type SimulatedTask,
  type SimulatorWebhookBody,
  taskError,
  type WebhookDelivery,
} from './types.js';

/**
 * Webhook attempts per delivery, and the pauses between them. INVENTED: Runware documents only that it retries
 * until it gets a 2xx ("Retry behavior" could not be read; docs/runware-api.md section 1), not how often or how long.
 */
const WEBHOOK_RETRY_DELAYS_MS = [200, 500, 1000] as const;
/** INVENTED: Runware's delivery timeout is not documented. */
const WEBHOOK_TIMEOUT_MS = 10_000;
/** The shapes `round-robin` cycles through. */
const FAILURE_SHAPES: readonly Exclude<FailureShape, 'round-robin'>[] = [
  'errors',
  'data-item',
  'error-object',
  'bare',
];

export class WebhookSender {
  /** Every webhook POST attempt, in order. */
  readonly deliveries: WebhookDelivery[] = [];
  /** Per task, one promise per webhook delivery, settled once its first POST attempt is over. */
  private readonly firstPosts = new WeakMap<SimulatedTask, Promise<void>[]>();

  constructor(private readonly runtime: Runtime) {}

  /** Failure webhooks sent so far, for `round-robin`. */
  private failuresSent = 0;

  /**
   * Reports a finished result: one webhook per result (documented for `numberResults > 1`). The envelope
   * `{"data":[item]}` is UNCONFIRMED (a bare item is the other plausible shape); the pipeline takes both.
   */
  sendResult(task: SimulatedTask, result: SimulatedResult): void {
    const { extraResults = 0, webhookCost } = task.faults;
    const item = {
      ...resultItem(task, result),
      ...(webhookCost === undefined ? {} : { cost: webhookCost }),
    };
    const extra = Array.from({ length: Math.max(0, extraResults) }, () => ({
      ...item,
      videoUUID: randomUUID(),
    }));
    this.send(task, { data: [item, ...extra] });
  }

  /** Reports the task's or one result's failure: the one place that shapes a failure webhook's body. */
  sendFailure(task: SimulatedTask, error: SimulatedError): void {
    const chosen = task.faults.failureShape ?? 'errors';
    const shape =
      chosen === 'round-robin'
        ? (FAILURE_SHAPES[this.failuresSent % FAILURE_SHAPES.length] ?? 'errors')
        : chosen;
    this.failuresSent += 1;
    const item = taskError(task, error);
    const bodies: Record<typeof shape, SimulatorWebhookBody> = {
      errors: { errors: [item] },
      'data-item': {
        data: [{ taskType: 'videoInference', taskUUID: task.taskUUID, status: 'error', error: { ...error } }],
      },
      'error-object': { error: { ...error }, taskUUID: task.taskUUID },
      bare: item,
    };
    this.send(task, bodies[shape]);
  }

  /** Delivers a webhook in the background, noting when its first POST attempt is over (for `ackDelayMs`). */
  private send(task: SimulatedTask, body: SimulatorWebhookBody): void {
    let firstPostDone = (): void => {};
    const firstPost = new Promise<void>((resolve) => {
      firstPostDone = resolve;
    });
    const posts = this.firstPosts.get(task) ?? [];
    posts.push(firstPost);
    this.firstPosts.set(task, posts);
    this.runtime.track(this.deliver(task, body, firstPostDone).finally(firstPostDone));
  }

  /** Settles when each webhook sent so far for the task had its first POST answered (or failed). */
  async firstPostsOf(task: SimulatedTask): Promise<void> {
    await Promise.all(this.firstPosts.get(task) ?? []);
  }

  private async deliver(
    task: SimulatedTask,
    body: SimulatorWebhookBody,
    onFirstPost: () => void,
  ): Promise<void> {
    const url = task.task.webhookURL;
    if (url === undefined) return;
    if (task.faults.loseWebhook) {
      this.runtime.log(
        `runware-sim: webhook for ${task.taskUUID} to ${redactText(url)} dropped (loseWebhook)`,
      );
      return;
    }
    const copies = task.faults.duplicateWebhook ? 2 : 1;
    for (let copy = 0; copy < copies && !this.runtime.stopping; copy++) {
      await this.post(task, url, body, copy === 0 ? onFirstPost : undefined);
    }
  }

  /** One delivery: POSTs until a 2xx, retrying a few times like Runware does. */
  private async post(
    task: SimulatedTask,
    url: string,
    body: SimulatorWebhookBody,
    onFirstAttempt?: () => void,
  ): Promise<void> {
    const { runtime } = this;
    const shown = redactText(url);
    const attempts = WEBHOOK_RETRY_DELAYS_MS.length + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let status: number | null = null;
      let problem: string | undefined;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'User-Agent': 'runware-simulator' },
          body: JSON.stringify(body),
          redirect: 'manual',
          signal: runtime.deadline(WEBHOOK_TIMEOUT_MS),
        });
        status = response.status;
        await response.arrayBuffer().catch(() => undefined);
      } catch (error) {
        problem = redactText(describe(error));
      }
      if (runtime.stopping) return;
      this.deliveries.push({
        taskUUID: task.taskUUID,
        url: shown,
        attempt,
        status,
        ...(problem === undefined ? {} : { error: problem }),
        body,
        at: new Date(),
      });
      runtime.log(
        `runware-sim: webhook POST ${shown} -> ${status ?? problem} (attempt ${attempt}/${attempts})`,
      );
      if (attempt === 1) onFirstAttempt?.();
      if (status !== null && status >= 200 && status < 300) return;
      const pause = WEBHOOK_RETRY_DELAYS_MS[attempt - 1];
      if (pause !== undefined) await runtime.sleep(pause);
    }
    runtime.log(`runware-sim: webhook for ${task.taskUUID} to ${shown} given up after ${attempts} attempts`);
  }
}
