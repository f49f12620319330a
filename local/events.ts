import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { StepInput } from '../lambdas/core/job.js';

/**
 * Typed builders of the events the functions receive, shaped as AWS sends them: S3 notifications through
 * EventBridge, Step Functions status changes, schedules, API Gateway HTTP API (payload 2.0) requests and step
 * inputs. Local mode builds its events with them, and the unit tests build theirs the same way, so a handler
 * test and a local run feed the handlers one shape. Every field has a plausible default; pass what matters.
 */

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

/** The envelope of an EventBridge event. */
export interface EventBridgeEnvelope<Type extends string, Detail> {
  version: string;
  id: string;
  'detail-type': Type;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Detail;
}

/** Fields every builder of an EventBridge event accepts. */
export interface EnvelopeOptions {
  id?: string;
  time?: string;
  account?: string;
  region?: string;
}

function envelope<Type extends string, Detail>(
  type: Type,
  source: string,
  resources: string[],
  detail: Detail,
  options: EnvelopeOptions,
): EventBridgeEnvelope<Type, Detail> {
  const account = options.account ?? LOCAL_ACCOUNT;
  return {
    version: '0',
    id: options.id ?? randomUUID(),
    'detail-type': type,
    source,
    account,
    time: options.time ?? new Date().toISOString(),
    region: options.region ?? LOCAL_REGION,
    resources,
    detail,
  };
}

/** How S3 event notifications encode keys: form encoding, `/` kept. */
export function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

export interface S3ObjectDetail {
  version: string;
  bucket: { name: string };
  object: { key: string; size?: number; etag?: string; sequencer: string };
  'request-id': string;
  requester: string;
  [key: string]: unknown;
}

/** The EventBridge `Object Created` / `Object Deleted` event of an S3 bucket (what ingest receives). */
export type S3ObjectEvent = EventBridgeEnvelope<'Object Created' | 'Object Deleted', S3ObjectDetail>;

export interface S3ObjectOptions extends EnvelopeOptions {
  bucket: string;
  /** The key as stored; the event carries it URL-encoded, as S3 does. */
  key: string;
  sequencer: string;
}

function s3Event(
  type: S3ObjectEvent['detail-type'],
  options: S3ObjectOptions,
  object: Omit<S3ObjectDetail['object'], 'key' | 'sequencer'>,
  extra: Record<string, unknown>,
): S3ObjectEvent {
  return envelope(
    type,
    'aws.s3',
    [`arn:aws:s3:::${options.bucket}`],
    {
      version: '0',
      bucket: { name: options.bucket },
      object: { key: encodeKey(options.key), ...object, sequencer: options.sequencer },
      'request-id': randomUUID(),
      requester: options.account ?? LOCAL_ACCOUNT,
      ...extra,
    },
    options,
  );
}

/** S3 `Object Created` through EventBridge. */
export function s3ObjectCreated(
  options: S3ObjectOptions & { size: number; etag: string; reason?: 'PutObject' | 'CopyObject' },
): S3ObjectEvent {
  return s3Event(
    'Object Created',
    options,
    { size: options.size, etag: options.etag },
    { reason: options.reason ?? 'PutObject' },
  );
}

/** S3 `Object Deleted` through EventBridge. */
export function s3ObjectDeleted(options: S3ObjectOptions): S3ObjectEvent {
  return s3Event('Object Deleted', options, {}, { 'deletion-type': 'Permanently Deleted' });
}

export interface ExecutionStatusDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: string;
  input: string;
  cause: string | null;
  error: string | null;
}

/** `Step Functions Execution Status Change`, as EventBridge delivers it. */
export function executionStatusChange(
  detail: Omit<ExecutionStatusDetail, 'cause' | 'error'> & { cause?: string | null; error?: string | null },
  options: EnvelopeOptions = {},
): EventBridgeEnvelope<'Step Functions Execution Status Change', ExecutionStatusDetail> {
  return envelope(
    'Step Functions Execution Status Change',
    'aws.states',
    [detail.executionArn],
    { ...detail, cause: detail.cause ?? null, error: detail.error ?? null },
    options,
  );
}

/** The event of an EventBridge schedule. */
export function scheduledEvent(
  ruleArn?: string,
  options: EnvelopeOptions = {},
): EventBridgeEnvelope<'Scheduled Event', Record<string, never>> {
  return envelope('Scheduled Event', 'aws.events', ruleArn ? [ruleArn] : [], {}, options);
}

export interface WebhookRequestOptions {
  taskUUID: string;
  /** The `?token=` query parameter; omitted when undefined. */
  token?: string;
  method?: string;
  /** The raw body; sent base64-encoded when `isBase64Encoded`. */
  body?: string | Buffer;
  isBase64Encoded?: boolean;
  headers?: Record<string, string>;
  /** Every query parameter (API Gateway joins repeated ones with commas); overrides `token`. */
  query?: Record<string, string>;
  rawQueryString?: string;
  /** The path as requested. @default '/runware/<taskUUID, URL-encoded>' */
  rawPath?: string;
  sourceIp?: string;
  domainName?: string;
}

/** An API Gateway HTTP API (payload 2.0) request to the webhook route `POST /runware/{taskUUID}`. */
export function webhookRequest(options: WebhookRequestOptions): APIGatewayProxyEventV2 {
  const path = options.rawPath ?? `/runware/${encodeURIComponent(options.taskUUID)}`;
  const method = options.method ?? 'POST';
  const query = options.query ?? (options.token === undefined ? {} : { token: options.token });
  const headers = options.headers ?? { 'content-type': 'application/json' };
  const raw = Buffer.from(options.body ?? '');
  const routeKey = 'POST /runware/{taskUUID}';
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: options.rawQueryString ?? new URLSearchParams(query).toString(),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    pathParameters: { taskUUID: options.taskUUID },
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: 'local',
      domainName: options.domainName ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method,
        path,
        protocol: 'HTTP/1.1',
        sourceIp: options.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: options.isBase64Encoded ? raw.toString('base64') : raw.toString('utf8'),
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}

/** What the state machine passes a step: the job and its attempt, plus what that step's state adds. */
export function stepInput<Extra extends object = Record<string, never>>(
  jobId: string,
  attempt = 1,
  extra?: Extra,
): StepInput & Extra {
  return { jobId, attempt, ...(extra ?? ({} as Extra)) };
}
