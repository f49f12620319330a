import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { LOCAL_ACCOUNT } from './events.js';

/**
 * How an API Gateway HTTP API turns a request into a Lambda proxy integration event (payload format 2.0) and the
 * function's answer into a response, as documented in "Create AWS Lambda proxy integrations for HTTP APIs in API
 * Gateway": https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 * - "Duplicate headers are combined with commas and included in the headers field. Duplicate query strings are
 *   combined with commas and included in the queryStringParameters field."
 * - "All cookie headers in the request are combined with commas and added to the cookies field. In the response
 *   to the client, each cookie becomes a set-cookie header."
 * - "All headernames are lowercased."
 * - A response without `statusCode`: "isBase64Encoded is false, statusCode is 200, content-type is
 *   application/json, body is the function's response."
 * And the quotas of "Quotas for configuring and running an HTTP API in API Gateway":
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
 */

/** "Payload size: 10 MB" (http-api-quotas). */
export const HTTP_API_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** "Total combined size of request line and header values: 10240 bytes" (http-api-quotas). */
export const HTTP_API_MAX_REQUEST_LINE_AND_HEADER_VALUES_BYTES = 10_240;
/** "Maximum integration timeout: 30 seconds" (http-api-quotas); the template sets no `TimeoutInMillis`. */
export const HTTP_API_INTEGRATION_TIMEOUT_MS = 30_000;

/** A request as it arrived, before API Gateway's mapping. */
export interface HttpApiRequest {
  method: string;
  /** The request target's path, undecoded. */
  rawPath: string;
  /** The query string without `?`, undecoded ('' when none). */
  rawQueryString: string;
  /** Header names and values in arrival order, repeated names included (Node's `rawHeaders` as pairs). */
  headers: readonly (readonly [string, string])[];
  body: Buffer;
  sourceIp: string;
  /** `HTTP/1.1`. */
  protocol: string;
  routeKey: string;
  pathParameters?: Record<string, string>;
  apiId: string;
  /** @default the `host` header, else `<apiId>.execute-api.us-east-1.amazonaws.com` */
  domainName?: string;
  /** @default local mode's account */
  accountId?: string;
  /** When API Gateway received it. @default now */
  at?: Date;
  requestId?: string;
}

/**
 * The bytes the HTTP API quota counts: the request line and the header values (not the names). Measured from
 * what arrived: `METHOD target HTTP/x.y` and each value.
 */
export function requestLineAndHeaderValueBytes(
  requestLine: string,
  headers: readonly (readonly [string, string])[],
): number {
  let total = Buffer.byteLength(requestLine, 'latin1');
  for (const [, value] of headers) total += Buffer.byteLength(value, 'latin1');
  return total;
}

/**
 * Content types whose body an HTTP API passes as text; a body of any other type arrives base64-encoded with
 * `isBase64Encoded: true`. The documentation says only that binary bodies are encoded; which types API Gateway
 * counts as text is not listed: JSON and `text/*` are text here.
 */
const TEXT_TYPES = /^(application\/json|text\/)/i;

/** The payload format 2.0 event of `request`. */
export function httpApiEvent(request: HttpApiRequest): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [rawName, value] of request.headers) {
    const name = rawName.toLowerCase();
    if (name === 'cookie') {
      // Each cookie of each Cookie header becomes an entry of `cookies`; the header itself is not passed on.
      for (const cookie of value.split(';')) if (cookie.trim()) cookies.push(cookie.trim());
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const query: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(request.rawQueryString))
    query[key] = key in query ? `${query[key]},${value}` : value;
  const at = request.at ?? new Date();
  const host = request.domainName ?? headers.host ?? `${request.apiId}.execute-api.us-east-1.amazonaws.com`;
  const contentType = headers['content-type'];
  // Without a content type the body is passed as text, as in the documented example (which has none).
  const isBase64Encoded =
    request.body.length > 0 && contentType !== undefined && !TEXT_TYPES.test(contentType);
  return {
    version: '2.0',
    routeKey: request.routeKey,
    rawPath: request.rawPath,
    rawQueryString: request.rawQueryString,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: request.accountId ?? LOCAL_ACCOUNT,
      apiId: request.apiId,
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method: request.method,
        path: request.rawPath,
        protocol: request.protocol,
        sourceIp: request.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: request.requestId ?? randomUUID(),
      routeKey: request.routeKey,
      stage: '$default',
      time: accessLogTime(at),
      timeEpoch: at.getTime(),
    },
    ...(request.pathParameters ? { pathParameters: request.pathParameters } : {}),
    ...(request.body.length
      ? { body: isBase64Encoded ? request.body.toString('base64') : request.body.toString('utf8') }
      : {}),
    isBase64Encoded,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, the documented example's `requestContext.time`. */
export function accessLogTime(at: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${two(at.getUTCDate())}/${MONTHS[at.getUTCMonth()]}/${at.getUTCFullYear()}:` +
    `${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} +0000`
  );
}

/** What the client gets. */
export interface HttpApiResponse {
  status: number;
  /** Names and values; `set-cookie` may repeat. */
  headers: [string, string][];
  body: Buffer;
}

/**
 * The client's response for a function's result (payload format 2.0), or undefined when the result is not a
 * response API Gateway can use (answered 500 `{"message":"Internal Server Error"}`, as for an invocation error).
 */
export function httpApiResponse(result: unknown): HttpApiResponse | undefined {
  const structured =
    typeof result === 'object' && result !== null && !Array.isArray(result) && 'statusCode' in result;
  if (!structured) {
    // Valid JSON without `statusCode`: the whole result is the body, with status 200 and content-type JSON. A
    // string is the body as it is ("Hello from Lambda!" in the documented example), anything else its JSON text.
    const body = typeof result === 'string' ? result : JSON.stringify(result);
    return {
      status: 200,
      headers: [['content-type', 'application/json']],
      body: Buffer.from(body ?? 'null'),
    };
  }
  const r = result as {
    statusCode?: unknown;
    headers?: unknown;
    cookies?: unknown;
    body?: unknown;
    isBase64Encoded?: unknown;
  };
  const status = Number(r.statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599) return undefined;
  if (r.body !== undefined && r.body !== null && typeof r.body !== 'string') return undefined;
  const headers: [string, string][] = [];
  if (r.headers !== undefined && r.headers !== null) {
    if (typeof r.headers !== 'object' || Array.isArray(r.headers)) return undefined;
    for (const [name, value] of Object.entries(r.headers)) {
      if (!['string', 'number', 'boolean'].includes(typeof value)) return undefined;
      headers.push([name.toLowerCase(), String(value)]);
    }
  }
  if (r.cookies !== undefined) {
    if (!Array.isArray(r.cookies) || !r.cookies.every((c) => typeof c === 'string')) return undefined;
    for (const cookie of r.cookies as string[]) headers.push(['set-cookie', cookie]);
  }
  const text = typeof r.body === 'string' ? r.body : '';
  const body = r.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  return { status, headers, body };
}
