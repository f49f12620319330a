import { randomBytes, randomUUID } from 'node:crypto';
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

/**
 * EventBridge's `time`: ISO 8601 to the second, no fraction ("time": "2021-11-12T00:00:00Z" in
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html and every event of
 * https://docs.aws.amazon.com/eventbridge/latest/ref/events-structure.html).
 */
export function eventTime(at: Date | string = new Date()): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
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
    time: eventTime(options.time),
    region: options.region ?? LOCAL_REGION,
    resources,
    detail,
  };
}

/** How S3 event notifications encode keys: form encoding, `/` kept. */
export function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/**
 * The `detail` of S3's events on EventBridge, field for field as in the `Object Created` / `Object Deleted`
 * examples of https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html (`version-id` appears there
 * because that bucket is versioned; local S3 keeps no versions, so local events carry none).
 */
export interface S3ObjectDetail {
  version: string;
  bucket: { name: string };
  object: { key: string; size?: number; etag?: string; sequencer: string };
  'request-id': string;
  requester: string;
  'source-ip-address': string;
  reason: string;
  [key: string]: unknown;
}

/** The EventBridge `Object Created` / `Object Deleted` event of an S3 bucket (what ingest receives). */
export type S3ObjectEvent = EventBridgeEnvelope<'Object Created' | 'Object Deleted', S3ObjectDetail>;

export interface S3ObjectOptions extends EnvelopeOptions {
  bucket: string;
  /** The key as stored; the event carries it URL-encoded, as S3 does. */
  key: string;
  sequencer: string;
  /** S3's request id (16 characters, e.g. `N4N7GDK58NMKJ12R`). @default a random one */
  requestId?: string;
  /** @default '127.0.0.1' */
  sourceIpAddress?: string;
}

/** An id shaped like S3's `x-amz-request-id`: 16 upper-case letters and digits. */
function s3RequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function s3Event(
  type: S3ObjectEvent['detail-type'],
  options: S3ObjectOptions,
  object: Omit<S3ObjectDetail['object'], 'key' | 'sequencer'>,
  extra: { reason: string } & Record<string, unknown>,
): S3ObjectEvent {
  return envelope(
    type,
    'aws.s3',
    [`arn:aws:s3:::${options.bucket}`],
    {
      version: '0',
      bucket: { name: options.bucket },
      object: { key: encodeKey(options.key), ...object, sequencer: options.sequencer },
      'request-id': options.requestId ?? s3RequestId(),
      requester: options.account ?? LOCAL_ACCOUNT,
      'source-ip-address': options.sourceIpAddress ?? '127.0.0.1',
      ...extra,
    },
    options,
  );
}

/**
 * Which S3 API created an object: the `reason` of `Object Created`
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html).
 */
export type S3CreatedReason = 'PutObject' | 'POST Object' | 'CopyObject' | 'CompleteMultipartUpload';

/** S3 `Object Created` through EventBridge. */
export function s3ObjectCreated(
  options: S3ObjectOptions & { size: number; etag: string; reason?: S3CreatedReason },
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
  return s3Event(
    'Object Deleted',
    options,
    {},
    { reason: 'DeleteObject', 'deletion-type': 'Permanently Deleted' },
  );
}

/** The part of an s3rver notification record (lib/models/event.js) that S3's EventBridge event is made of. */
export interface S3rverRecord {
  eventName: string;
  eventTime: string;
  requestParameters?: { sourceIPAddress?: string };
  responseElements?: { 'x-amz-request-id'?: string };
  s3: {
    bucket: { name: string };
    object: { key: string; size?: number; eTag?: string };
  };
}

let lastSequencer = 0n;

/**
 * A sequencer as S3 gives one: hexadecimal, growing with each write, so that of two events of one key the later
 * write has the greater (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
 * s3rver's is the millisecond in hex, the same for two writes in one millisecond; this one is the millisecond
 * times 4096 plus a count, 18 digits like S3's (`0064D3901D00059242`), so it also grows across restarts.
 */
export function nextSequencer(now = Date.now()): string {
  const candidate = BigInt(now) * 4096n;
  lastSequencer = candidate > lastSequencer ? candidate : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(18, '0');
}

/**
 * What S3 sends EventBridge for one of s3rver's notification records: `Object Created` (its `reason` from the
 * operation; s3rver names both POST Object and CompleteMultipartUpload `Post`, and local clients (the SDK's
 * `Upload`, the AWS CLI) only make the latter), `Object Deleted`, nothing for other records. The key is
 * URL-encoded as S3 does; s3rver's is not. `etag` is looked up by the caller when s3rver leaves it out (copies).
 */
export function s3EventOfRecord(record: S3rverRecord, etag?: string): S3ObjectEvent | undefined {
  const { bucket, object } = record.s3;
  const common = {
    bucket: bucket.name,
    key: object.key,
    sequencer: nextSequencer(),
    time: record.eventTime,
    ...(record.responseElements?.['x-amz-request-id']
      ? { requestId: record.responseElements['x-amz-request-id'] }
      : {}),
    ...(record.requestParameters?.sourceIPAddress
      ? { sourceIpAddress: record.requestParameters.sourceIPAddress.replace(/^::ffff:/, '') }
      : {}),
  };
  if (record.eventName.startsWith('ObjectRemoved:')) return s3ObjectDeleted(common);
  const reasons: Record<string, S3CreatedReason> = {
    'ObjectCreated:Put': 'PutObject',
    'ObjectCreated:Post': 'CompleteMultipartUpload',
    'ObjectCreated:Copy': 'CopyObject',
    'ObjectCreated:CompleteMultipartUpload': 'CompleteMultipartUpload',
  };
  const reason = reasons[record.eventName];
  if (!reason) return undefined;
  return s3ObjectCreated({ ...common, size: object.size ?? 0, etag: object.eTag ?? etag ?? '', reason });
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
