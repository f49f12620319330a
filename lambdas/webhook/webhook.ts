import { recordLateCharge } from '../core/cancel.js';
import { notifyIfDone, recordTaskReports, type TaskNotifier } from '../core/completion.js';
import { InvalidWebhookBodyError, WebhookRefusedError, webhookReply } from '../core/errors.js';
import { capResults, parseTaskReports, readJsonBody } from '../core/runware/reports.js';
import type { BudgetStore } from '../core/store/budget.js';
import type { JobStore } from '../core/store/jobs.js';
import type { TaskStore } from '../core/store/tasks.js';
import { verifyWebhookToken } from '../core/webhook-token.js';

export interface WebhookRequest {
  method: string;
  taskUUID: string | undefined;
  token: string | undefined;
  contentType: string | undefined;
  /** Raw body, already base64-decoded. */
  body: string;
}

export interface WebhookResponse {
  statusCode: number;
  body: { message: string };
}

export interface WebhookDeps {
  tasks: TaskStore;
  /** For a task whose job was cancelled after Runware accepted it: what it charged is recorded on the job. */
  jobs: JobStore;
  /** The budget counts such a charge instead of the estimate it kept. */
  budget: BudgetStore;
  /** Told what a late charge adds (the cost metric). */
  onLateCharge?: (usd: number) => void;
  notifier: TaskNotifier;
  secret: () => Promise<string>;
  now: () => Date;
  maxBodyBytes: number;
  /** Told of results beyond the task's `numberResults` (ignored: never delivered or billed), for the log. */
  onExtraResults?: (taskUUID: string, extra: readonly { videoUUID: string }[]) => void;
}

export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const reply = (statusCode: number, message: string): WebhookResponse => ({ statusCode, body: { message } });

/**
 * Runware's report of a finished task. Refused unless the URL carries this task's token (compared in constant
 * time) before anything else is looked at; answered 2xx for every authentic delivery, duplicates included, so
 * that Runware stops retrying; and a duplicate or a replay after completion changes nothing. A refusal is
 * answered with its kind's status and message (see `ERROR_KINDS`).
 */
export async function handleWebhook(request: WebhookRequest, deps: WebhookDeps): Promise<WebhookResponse> {
  try {
    return await accept(request, deps);
  } catch (error) {
    if (!(error instanceof WebhookRefusedError)) throw error;
    const { status, message } = webhookReply(error);
    // The reason a body was refused names fields and rules, never values: it helps whoever sent it.
    if (error instanceof InvalidWebhookBodyError) return reply(status, `${message} ${error.detail}.`);
    return reply(status, message);
  }
}

async function accept(request: WebhookRequest, deps: WebhookDeps): Promise<WebhookResponse> {
  if (request.method.toUpperCase() !== 'POST') throw new WebhookRefusedError('MethodNotAllowed');
  const taskUUID = (request.taskUUID ?? '').toLowerCase();
  if (!UUID.test(taskUUID) || !request.token) throw new WebhookRefusedError('Unauthorized');
  if (!verifyWebhookToken(await deps.secret(), taskUUID, request.token)) {
    throw new WebhookRefusedError('Unauthorized');
  }
  // Runware's Content-Type is not documented (docs/runware-api.md section 1): an authenticated body is read as
  // JSON whatever the header says, so a finished video is never lost to a header.
  if (Buffer.byteLength(request.body, 'utf8') > deps.maxBodyBytes)
    throw new WebhookRefusedError('BodyTooLarge');

  const read = readJsonBody(request.body);
  if (!read.ok) throw new WebhookRefusedError('BodyNotJson');
  // Every shape Runware may report a result or a failure in; a body about another task, or with an unstorable
  // value (cost, id, URL), is refused with the reason (field names and rules, never values).
  const parsed = parseTaskReports(read.json, taskUUID);
  if (!parsed.ok) throw new InvalidWebhookBodyError(parsed.reason);

  let task = await deps.tasks.get(taskUUID);
  if (!task) throw new WebhookRefusedError('UnknownTask');
  if (task.completedAt) return reply(200, 'Already complete.');

  // Results beyond what the task asked for are never recorded, delivered or billed; only logged.
  const { kept, extra } = capResults(parsed.reports.results, {
    numberResults: task.numberResults,
    recorded: Object.keys(task.results ?? {}),
  });
  task = await recordTaskReports(
    deps.tasks,
    task,
    { results: kept, errors: parsed.reports.failures },
    deps.now().toISOString(),
  );
  if (extra.length > 0) deps.onExtraResults?.(taskUUID, extra);
  const outcome = await notifyIfDone(task, deps);
  // The job was cancelled after Runware accepted the task: the charge is recorded, nothing is delivered.
  await recordLateCharge(task, deps);
  return reply(200, outcome.state === 'pending' ? 'Received; waiting for the other results.' : 'Received.');
}
