import { notifyIfDone, recordTaskReports, type TaskNotifier } from '../core/completion.js';
import { WebhookRefusedError, webhookReply } from '../core/errors.js';
import { parseWebhookBody } from '../core/runware/schemas.js';
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
  notifier: TaskNotifier;
  secret: () => Promise<string>;
  now: () => Date;
  maxBodyBytes: number;
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
  if (!/^application\/json\b/i.test(request.contentType ?? 'application/json')) {
    throw new WebhookRefusedError('UnsupportedMediaType');
  }
  if (Buffer.byteLength(request.body, 'utf8') > deps.maxBodyBytes)
    throw new WebhookRefusedError('BodyTooLarge');

  let json: unknown;
  try {
    json = JSON.parse(request.body);
  } catch {
    throw new WebhookRefusedError('BodyNotJson');
  }
  const parsed = parseWebhookBody(json);
  const items = [...parsed.results, ...parsed.errors];
  if (items.some((item) => item.taskUUID !== undefined && item.taskUUID.toLowerCase() !== taskUUID)) {
    throw new WebhookRefusedError('WrongTask');
  }

  let task = await deps.tasks.get(taskUUID);
  if (!task) throw new WebhookRefusedError('UnknownTask');
  if (task.completedAt) return reply(200, 'Already complete.');

  task = await recordTaskReports(deps.tasks, task, parsed, deps.now().toISOString());
  const outcome = await notifyIfDone(task, deps);
  return reply(200, outcome.state === 'pending' ? 'Received; waiting for the other results.' : 'Received.');
}
