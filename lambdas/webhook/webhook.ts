import { notifyIfDone, recordTaskReports, type TaskNotifier } from '../core/completion.js';
import { parseWebhookBody } from '../core/runware/schemas.js';
import type { JobStore } from '../core/store.js';
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
  store: JobStore;
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
 * that Runware stops retrying; and a duplicate or a replay after completion changes nothing.
 */
export async function handleWebhook(request: WebhookRequest, deps: WebhookDeps): Promise<WebhookResponse> {
  if (request.method.toUpperCase() !== 'POST') return reply(405, 'Method not allowed.');
  const taskUUID = request.taskUUID ?? '';
  if (!UUID.test(taskUUID) || !request.token) return reply(401, 'Unauthorized.');
  if (!verifyWebhookToken(await deps.secret(), taskUUID.toLowerCase(), request.token)) {
    return reply(401, 'Unauthorized.');
  }
  if (!/^application\/json\b/i.test(request.contentType ?? 'application/json')) {
    return reply(415, 'Expected application/json.');
  }
  if (Buffer.byteLength(request.body, 'utf8') > deps.maxBodyBytes) return reply(413, 'Body too large.');

  let json: unknown;
  try {
    json = JSON.parse(request.body);
  } catch {
    return reply(400, 'Body is not JSON.');
  }
  let parsed: ReturnType<typeof parseWebhookBody>;
  try {
    parsed = parseWebhookBody(json);
  } catch {
    return reply(400, 'Body is not a Runware task response.');
  }
  const items = [...parsed.results, ...parsed.errors];
  if (
    items.some(
      (item) => item.taskUUID !== undefined && item.taskUUID.toLowerCase() !== taskUUID.toLowerCase(),
    )
  ) {
    return reply(400, 'Body is about another task.');
  }

  let task = await deps.store.getTask(taskUUID.toLowerCase());
  if (!task) return reply(404, 'Unknown task.');
  if (task.completedAt) return reply(200, 'Already complete.');

  task = await recordTaskReports(deps.store, task, parsed, deps.now().toISOString());
  const outcome = await notifyIfDone(task, deps);
  return reply(200, outcome.state === 'pending' ? 'Received; waiting for the other results.' : 'Received.');
}
