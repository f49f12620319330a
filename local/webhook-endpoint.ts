import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  HTTP_API_INTEGRATION_TIMEOUT_MS,
  HTTP_API_MAX_PAYLOAD_BYTES,
  HTTP_API_MAX_REQUEST_LINE_AND_HEADER_VALUES_BYTES,
  httpApiEvent,
  httpApiResponse,
  requestLineAndHeaderValueBytes,
} from './http-api.js';
import type { InvokeOptions } from './lambda-host.js';
import { closeServer, listenLocal } from './listen.js';
import type { FunctionName } from './template.js';

const ROUTE = /^\/runware\/([^/]+)$/;
const ROUTE_KEY = 'POST /runware/{taskUUID}';
/**
 * What Node itself reads of a request's head before it answers 431 on its own. Above the HTTP API quota
 * (10,240 bytes of request line and header *values*, checked per request below) by enough for the header names.
 */
const NODE_MAX_HEADER_BYTES = 64 * 1024;

/** Who the endpoint invokes: the local Lambda host, or a fake in tests. */
export interface WebhookInvoker {
  invoke(name: FunctionName, event: unknown, options?: InvokeOptions): Promise<unknown>;
}

export interface LocalWebhookEndpointOptions {
  /**
   * How long API Gateway waits for the function before it answers 503 (the integration's `TimeoutInMillis`; the
   * template sets none, so the HTTP API's maximum and default, 30 s, applies).
   * @default 30_000
   */
  integrationTimeoutMs?: number;
  /** The API id in events and the default domain name. @default 'local' */
  apiId?: string;
}

/** A request API Gateway refuses itself, with the status and body it answers. */
class Refused extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'Refused';
  }
}

/**
 * Stands in for the HTTP API: one route, `POST /runware/{taskUUID}`, turned into an API Gateway HTTP API
 * (payload format 2.0) event for the webhook function (see `http-api.ts` for the mapping and its sources);
 * anything else is answered the way API Gateway does. Its answers of its own:
 * - 404 `{"message":"Not Found"}` for a route the API does not have;
 * - 413 `{"message":"Request Entity Too Large"}` for a body over the 10 MB quota (the status and body are not in
 *   the HTTP API documentation; they are REST API's `REQUEST_TOO_LARGE` gateway response);
 * - 431 for a request line and header values over 10,240 bytes (the quota is documented, API Gateway's answer to
 *   it is not: 431 is HTTP's status for it);
 * - 500 `{"message":"Internal Server Error"}` when the invocation fails (function error, timeout, refusal, or a
 *   response it cannot map): https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html
 * - 503 `{"message":"Service Unavailable"}` when the function has not answered within the integration timeout
 *   (30 s). Not in the documentation; it is what HTTP APIs answer, as reported by users, e.g.
 *   https://github.com/cortexlabs/cortex/issues/1225 and https://github.com/serverless/serverless/issues/11222
 * Every answer carries an `apigw-requestid` header, as API Gateway's do.
 */
export class LocalWebhookEndpoint {
  private server: Server | undefined;
  readonly requests: { method: string; path: string; status: number }[] = [];

  private lambdas: WebhookInvoker | undefined;
  private readonly integrationTimeoutMs: number;
  private readonly apiId: string;

  constructor(options: LocalWebhookEndpointOptions = {}) {
    this.integrationTimeoutMs = options.integrationTimeoutMs ?? HTTP_API_INTEGRATION_TIMEOUT_MS;
    this.apiId = options.apiId ?? 'local';
  }

  /**
   * Listens first (the origin is part of the functions' environment, so it must be known before they exist);
   * requests are answered 503 until {@link serve} names the functions.
   */
  async start(port = 0): Promise<string> {
    // Node answers 431 itself to a head over its own limit, and 400 to a request it cannot parse.
    this.server = createServer({ maxHeaderSize: NODE_MAX_HEADER_BYTES }, (req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) send(res, 500, { message: 'Internal Server Error' });
      });
    });
    return listenLocal(this.server, port);
  }

  /** Routes requests to the webhook function from now on. */
  serve(lambdas: WebhookInvoker): void {
    this.lambdas = lambdas;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const requestId = randomUUID();
    res.setHeader('apigw-requestid', requestId);
    const target = parseTarget(req.url ?? '/');
    const record = (status: number) =>
      this.requests.push({
        method,
        path: target instanceof Refused ? (req.url ?? '') : target.pathname,
        status,
      });
    const headers = pairs(req.rawHeaders);
    const requestLine = `${method} ${req.url ?? '/'} HTTP/${req.httpVersion}`;
    if (
      requestLineAndHeaderValueBytes(requestLine, headers) > HTTP_API_MAX_REQUEST_LINE_AND_HEADER_VALUES_BYTES
    ) {
      record(431);
      return refuse(req, res, new Refused(431, 'Request Header Fields Too Large'));
    }
    if (target instanceof Refused) {
      record(target.status);
      return refuse(req, res, target);
    }
    const url = target;
    const match = ROUTE.exec(url.pathname);
    if (!match || method !== 'POST') {
      record(404);
      return refuse(req, res, new Refused(404, 'Not Found'));
    }
    // API Gateway decodes a path parameter once; one that does not decode is a bad request, not a crash.
    const taskUUID = decodePathParameter(match[1] ?? '');
    if (taskUUID instanceof Refused) {
      record(taskUUID.status);
      return refuse(req, res, taskUUID);
    }
    const tooLarge = new Refused(413, 'Request Entity Too Large');
    if (Number(req.headers['content-length'] ?? 0) > HTTP_API_MAX_PAYLOAD_BYTES) {
      record(413);
      return refuse(req, res, tooLarge);
    }
    // Never more than the limit in memory, whatever the client streams.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > HTTP_API_MAX_PAYLOAD_BYTES) {
        record(413);
        return refuse(req, res, tooLarge);
      }
      chunks.push(chunk as Buffer);
    }
    const rawQuery = (req.url ?? '').includes('?')
      ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1)
      : '';
    const event = httpApiEvent({
      method,
      rawPath: url.pathname,
      rawQueryString: rawQuery,
      headers,
      body: Buffer.concat(chunks),
      sourceIp: stripIpv4Mapping(req.socket.remoteAddress ?? '127.0.0.1'),
      protocol: `HTTP/${req.httpVersion}`,
      routeKey: ROUTE_KEY,
      pathParameters: { taskUUID },
      apiId: this.apiId,
      requestId,
    });
    if (!this.lambdas) {
      record(503);
      return send(res, 503, { message: 'Service Unavailable' });
    }
    const outcome = await this.invokeWithin(this.lambdas, event);
    const response = outcome.kind === 'result' ? httpApiResponse(outcome.result) : undefined;
    if (outcome.kind === 'timeout') {
      record(503);
      return send(res, 503, { message: 'Service Unavailable' });
    }
    if (!response) {
      record(500);
      return send(res, 500, { message: 'Internal Server Error' });
    }
    record(response.status);
    const byName = new Map<string, string[]>();
    for (const [name, value] of response.headers) byName.set(name, [...(byName.get(name) ?? []), value]);
    // Each cookie its own `set-cookie` line; any other name given twice (in two letter cases) joined by commas.
    for (const [name, values] of byName)
      res.setHeader(name, name === 'set-cookie' ? values : values.join(','));
    res.writeHead(response.status);
    res.end(response.body);
  }

  /**
   * Invokes the webhook function and waits at most the integration timeout. The invocation itself goes on (on AWS
   * the function keeps running after API Gateway has given up on it); its result is then dropped.
   */
  private invokeWithin(
    lambdas: WebhookInvoker,
    event: unknown,
  ): Promise<{ kind: 'result'; result: unknown } | { kind: 'error' } | { kind: 'timeout' }> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ kind: 'timeout' }), this.integrationTimeoutMs);
      lambdas.invoke('webhook', event).then(
        (result) => {
          clearTimeout(timer);
          resolve({ kind: 'result', result });
        },
        () => {
          clearTimeout(timer);
          resolve({ kind: 'error' });
        },
      );
    });
  }
}

/** Node's `rawHeaders` (name, value, name, value, ...) as pairs, in arrival order. */
function pairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] ?? '', raw[i + 1] ?? '']);
  return out;
}

/** `::ffff:127.0.0.1` (an IPv4 client on a dual-stack socket) as API Gateway shows it: `127.0.0.1`. */
function stripIpv4Mapping(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** The request target as a URL: origin-form, or absolute-form (which HTTP/1.1 servers must accept). */
function parseTarget(raw: string): URL | Refused {
  if (!raw.startsWith('/') && !/^https?:\/\//i.test(raw)) return new Refused(400, 'Bad Request');
  try {
    // A target starting with `//` is a path here, not a host (`new URL` alone would read it as one).
    const url = raw.startsWith('/') ? new URL(`http://local${raw}`) : new URL(raw);
    // Invalid percent-encoding anywhere in the path (`/%zz`) is refused up front, as a malformed URI.
    decodeURI(url.pathname);
    return url;
  } catch {
    return new Refused(400, 'Bad Request');
  }
}

function decodePathParameter(value: string): string | Refused {
  try {
    return decodeURIComponent(value);
  } catch {
    return new Refused(400, 'Bad Request');
  }
}

/**
 * Answers a refused request. The rest of a body too large is not read (it could be endless): that connection
 * closes after the answer. Other refusals leave the body to Node, which reads and drops it.
 */
function refuse(req: IncomingMessage, res: ServerResponse, refused: Refused): void {
  const close = refused.status === 413 && !req.complete;
  // Taken now: the response lets go of its socket once it has finished.
  const socket = req.socket;
  if (close) res.setHeader('connection', 'close');
  send(res, refused.status, { message: refused.reason });
  if (close) res.once('finish', () => socket.destroySoon());
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
