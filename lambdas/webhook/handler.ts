import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod';
import { metrics } from '../core/aws/metrics.js';
import { dynamoClient, logger, readSecret, sfnClient } from '../core/aws/runtime.js';
import { SfnTaskNotifier } from '../core/completion.js';
import { loadConfig } from '../core/config.js';
import { INTERNAL_REPLY } from '../core/errors.js';
import { DynamoBudgetStore } from '../core/store/budget.js';
import { DynamoJobStore } from '../core/store/jobs.js';
import { Table } from '../core/store/table.js';
import { DynamoTaskStore } from '../core/store/tasks.js';
import { handleWebhook, MAX_WEBHOOK_BODY_BYTES } from './webhook.js';

const config = loadConfig(z.object({ TABLE_NAME: z.string().min(1), WEBHOOK_SECRET_ARN: z.string().min(1) }));

const table = new Table(dynamoClient(), config.TABLE_NAME);
const deps = {
  tasks: new DynamoTaskStore(table),
  jobs: new DynamoJobStore(table),
  budget: new DynamoBudgetStore(table),
  onLateCharge: (usd: number) => metrics.lateCharge(usd),
  notifier: new SfnTaskNotifier(sfnClient()),
  secret: () => readSecret(config.WEBHOOK_SECRET_ARN),
  now: () => new Date(),
  maxBodyBytes: MAX_WEBHOOK_BODY_BYTES,
  // Runware sent more videos than the task asked for: they are not delivered or billed, but an operator should know.
  onExtraResults: (taskUUID: string, extra: readonly { videoUUID: string }[]) =>
    logger.warn('webhook.extraResults', { taskUUID, ignored: extra.map((r) => r.videoUUID) }),
};

/** API Gateway HTTP API (payload v2): `POST /runware/{taskUUID}?token=...`. */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const headers = Object.fromEntries(
    Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const raw = event.body ?? '';
  const body = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const taskUUID = event.pathParameters?.taskUUID;
  // The path parameter is whatever the caller sent: log it only when it is a UUID.
  const loggedTask = /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(taskUUID ?? '')
    ? taskUUID
    : '(invalid)';
  try {
    const response = await handleWebhook(
      {
        method: event.requestContext.http.method,
        taskUUID,
        token: event.queryStringParameters?.token,
        contentType: headers['content-type'],
        body,
      },
      deps,
    );
    if (response.statusCode >= 400) metrics.webhookRefused();
    // The token is never logged; the task UUID is not a secret.
    logger.info('webhook', {
      taskUUID: loggedTask,
      statusCode: response.statusCode,
      outcome: response.body.message,
    });
    return json(response.statusCode, response.body);
  } catch (error) {
    logger.error('webhook failed', {
      taskUUID: loggedTask,
      error: { name: (error as Error).name, message: (error as Error).message },
    });
    // 5xx makes Runware deliver again later; the body says nothing about why.
    return json(INTERNAL_REPLY.status, { message: INTERNAL_REPLY.message });
  }
};

const json = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
