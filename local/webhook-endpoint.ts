import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webhookRequest } from './events.js';
import type { LambdaHost } from './lambda-host.js';

const ROUTE = /^\/runware\/([^/]+)$/;
/**
 * HTTP API quotas (AWS, "Quotas for configuring and running an HTTP API"): payload size 10 MB, and 10,240 bytes
 * for the request line and header values together. API Gateway refuses more before the function sees it.
 */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
const MAX_HEADER_BYTES = 10_240;

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
 * (payload format 2.0) event for the webhook function; anything else is answered the way API Gateway does.
 */
export class LocalWebhookEndpoint {
  private server: Server | undefined;
  readonly requests: { method: string; path: string; status: number }[] = [];

  private lambdas: Pick<LambdaHost, 'invoke'> | undefined;

  /**
   * Listens first (the origin is part of the functions' environment, so it must be known before they exist);
   * requests are answered 503 until {@link serve} names the functions.
   */
  async start(port = 0): Promise<string> {
    // Node answers 431 itself to a request line and headers over the limit (the status is Node's; API Gateway's
    // own answer to that is not documented), and 400 to a request it cannot parse.
    this.server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) send(res, 500, { message: 'Internal Server Error' });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Routes requests to the webhook function from now on. */
  serve(lambdas: Pick<LambdaHost, 'invoke'>): void {
    this.lambdas = lambdas;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const target = parseTarget(req.url ?? '/');
    const record = (status: number) =>
      this.requests.push({
        method,
        path: target instanceof Refused ? (req.url ?? '') : target.pathname,
        status,
      });
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
    if (Number(req.headers['content-length'] ?? 0) > MAX_PAYLOAD_BYTES) {
      record(413);
      return refuse(req, res, tooLarge);
    }
    // Never more than the limit in memory, whatever the client streams.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_PAYLOAD_BYTES) {
        record(413);
        return refuse(req, res, tooLarge);
      }
      chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks);
    const contentType = String(req.headers['content-type'] ?? '');
    const isText = /^(application\/json|text\/)/i.test(contentType);
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]),
    );
    // API Gateway (payload 2.0) joins repeated query parameters with commas.
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
    const event = webhookRequest({
      taskUUID: decodeURIComponent(match[1] ?? ''),
      method,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      query,
      body: raw,
      isBase64Encoded: !isText,
      domainName: req.headers.host ?? '127.0.0.1',
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    });
    if (!this.lambdas) {
      record(503);
      return send(res, 503, { message: 'Service Unavailable' });
    }
    try {
      const result = (await this.lambdas.invoke('webhook', event)) as {
        statusCode?: number;
        headers?: Record<string, string>;
        body?: string;
      };
      const status = result.statusCode ?? 200;
      record(status);
      res.writeHead(status, result.headers ?? { 'content-type': 'application/json' });
      res.end(result.body ?? '');
    } catch {
      record(500);
      send(res, 500, { message: 'Internal Server Error' });
    }
  }
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
