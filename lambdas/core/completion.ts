import { createHash } from 'node:crypto';
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { answerToken } from './aws/task-tokens.js';
import { fitTaskFailure, taskFailureCause } from './contract/bounds.js';
import type { GenerationResult, TaskError, TaskRecord } from './job.js';
import { REDACTED, redactSecrets } from './redact.js';
import { RUNWARE_ERROR_CODES } from './runware/error-codes.js';
import { providerWords } from './runware/provider-text.js';
import type { TaskStore } from './store/tasks.js';

export type TaskOutcome =
  | { state: 'pending'; received: number; expected: number }
  | { state: 'succeeded'; results: GenerationResult[]; errors: TaskError[] }
  | { state: 'failed'; error: TaskError };

/**
 * Decides whether a Runware task is over. With `numberResults > 1` each result arrives on its own (webhook or
 * poll), in any order: the task is over when every result or a failure report for it is in. If some results
 * failed but others were made (and paid for), the task succeeds with those and keeps the failures on record.
 */
export function evaluateTask(task: Pick<TaskRecord, 'numberResults' | 'results' | 'errors'>): TaskOutcome {
  const results = Object.values(task.results ?? {}).sort(
    (a, b) => a.receivedAt.localeCompare(b.receivedAt) || a.videoUUID.localeCompare(b.videoUUID),
  );
  const errors = Object.values(task.errors ?? {});
  const received = results.length + errors.length;
  if (results.length >= task.numberResults) return { state: 'succeeded', results, errors };
  if (errors.length > 0 && (received >= task.numberResults || task.numberResults === 1)) {
    if (results.length > 0) return { state: 'succeeded', results, errors };
    const [first] = errors;
    return {
      state: 'failed',
      error: first ?? { code: RUNWARE_ERROR_CODES.taskFailed, message: 'The task failed.' },
    };
  }
  return { state: 'pending', received, expected: task.numberResults };
}

/** Stable id of a failure report, so the same report delivered twice counts once. */
export function errorId(report: unknown): string {
  return createHash('sha256').update(JSON.stringify(report)).digest('hex').slice(0, 24);
}

/** Tells the waiting submit step how the task ended. */
export interface TaskNotifier {
  /** 'gone' when the step is no longer waiting on this token (timed out into polling, or already told). */
  succeed(taskToken: string, output: { taskUUID: string; results: number }): Promise<'delivered' | 'gone'>;
  fail(taskToken: string, error: string, cause: string): Promise<'delivered' | 'gone'>;
}

export class SfnTaskNotifier implements TaskNotifier {
  constructor(private readonly sfn: SFNClient) {}

  succeed(taskToken: string, output: { taskUUID: string; results: number }) {
    return this.send(() =>
      this.sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
    );
  }

  fail(taskToken: string, error: string, cause: string) {
    // Over 256 / 32,768 characters the call itself fails and the job would wait for the poll fallback.
    const fitted = fitTaskFailure(error, cause);
    return this.send(() => this.sfn.send(new SendTaskFailureCommand({ taskToken, ...fitted })));
  }

  private send(call: () => Promise<unknown>): Promise<'delivered' | 'gone'> {
    return answerToken(call);
  }
}

/**
 * If the task is over and the waiting step was not told yet, tells it (once: the task is then marked
 * completed, and later deliveries change nothing).
 */
export async function notifyIfDone(
  task: TaskRecord,
  deps: { tasks: TaskStore; notifier: TaskNotifier; now: () => Date },
): Promise<TaskOutcome> {
  const outcome = evaluateTask(task);
  if (outcome.state === 'pending' || task.completedAt) return outcome;
  const told =
    outcome.state === 'succeeded'
      ? await deps.notifier.succeed(task.taskToken, {
          taskUUID: task.taskUUID,
          results: outcome.results.length,
        })
      : await deps.notifier.fail(
          task.taskToken,
          'RunwareTaskError',
          // Cut inside the message, so the fail step still reads the `[CODE]` and the JSON.
          taskFailureCause(`[${outcome.error.code}] ${outcome.error.message}`),
        );
  // A token that is gone was not told: its step crashed or timed out and is being retried (the retry saves a
  // fresh token and must still be told), or it moved on to polling (the poller completes the task itself).
  if (told === 'delivered') await deps.tasks.markCompleted(task.taskUUID, deps.now().toISOString());
  return outcome;
}

/**
 * Keeps what Runware reported about a task (results and failures), whichever way it came: webhook or
 * `getResponse`. Each result counts once by videoUUID and each failure once by its content.
 */
export async function recordTaskReports(
  tasks: TaskStore,
  task: TaskRecord,
  reports: {
    results: readonly {
      videoUUID: string;
      videoURL: string;
      cost?: number | undefined;
      seed?: number | undefined;
    }[];
    errors: readonly { code?: string | undefined; message?: string | undefined }[];
  },
  receivedAt: string,
): Promise<TaskRecord> {
  let current = task;
  for (const result of reports.results) {
    ({ task: current } = await tasks.addResult(task.taskUUID, {
      videoUUID: result.videoUUID,
      videoURL: withoutCredentials(result.videoURL),
      receivedAt,
      ...(result.cost !== undefined ? { cost: result.cost } : {}),
      ...(result.seed !== undefined ? { seed: result.seed } : {}),
    }));
  }
  for (const error of reports.errors) {
    current = await tasks.addError(task.taskUUID, errorId(error), taskErrorOf(error));
  }
  return current;
}

/**
 * A video URL without its user and password, as the task item keeps it (the only place the rest of the URL is kept:
 * deliver downloads from it, and the item expires; see {@link recordableVideoUrl} for the job record). A URL with
 * a user is never downloaded (see `isAllowedUrl`), so the URL kept still fails delivery the same way, with
 * `redacted` as its user name.
 */
export function withoutCredentials(videoURL: string): string {
  let url: URL;
  try {
    url = new URL(videoURL);
  } catch {
    return videoURL;
  }
  if (url.username === '' && url.password === '') return videoURL;
  url.username = 'redacted';
  url.password = '';
  return url.href;
}

/**
 * A video URL as the job record (and so `<stem>.json` and the CLI) keeps it: scheme, host and path only. The query
 * and fragment are dropped whatever they hold: a presigned URL's `X-Amz-Signature`, `X-Amz-Credential` and
 * session token, a CDN's `Signature`/`Policy`/`Key-Pair-Id`, a `token`, in any spelling (percent-encoded names or
 * separators, twice encoded) are all secrets, and a list of names to remove would miss the next provider's. The
 * user and password go too, and the path is redacted like any text, for a secret spelled into it. The full URL
 * stays only in the task item, which deliver reads and which expires.
 */
export function recordableVideoUrl(videoURL: string): string {
  let url: URL;
  try {
    url = new URL(videoURL);
  } catch {
    // Not a URL (the schema refuses these): cut at the first query or fragment marker in any spelling.
    return redactSecrets(videoURL.split(/[?#]|%3F|%23/i)[0] ?? '');
  }
  const userinfo = url.username !== '' || url.password !== '' ? `${REDACTED}@` : '';
  return redactSecrets(`${url.protocol}//${userinfo}${url.host}${url.pathname}`);
}

/** Maps Runware's error report for a task to the job's error. */
export function taskErrorOf(report: { code?: string | undefined; message?: string | undefined }): TaskError {
  const provider = report.code ? ` (${report.code})` : '';
  return {
    code: RUNWARE_ERROR_CODES.taskFailed,
    message: `Runware could not make the video${provider}: ${providerWords(report.message ?? '') || 'no reason given'}. Check the inputs and prompt, then retry.`,
  };
}
