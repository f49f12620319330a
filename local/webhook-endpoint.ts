import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webhookRequest } from './events.js';
import type { LambdaHost } from './lambda-host.js';

const ROUTE = /^\/runware\/([^/]+)$/;
/** API Gateway refuses larger payloads before the function sees them. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

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
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => send(res, 500, { message: 'Internal Server Error' }));
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
    const url = new URL(req.url ?? '/', 'http://local');
    const method = req.method ?? 'GET';
    const match = ROUTE.exec(url.pathname);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size <= MAX_PAYLOAD_BYTES) chunks.push(chunk as Buffer);
    }
    const record = (status: number) => this.requests.push({ method, path: url.pathname, status });
    if (!match || method !== 'POST') {
      record(404);
      return send(res, 404, { message: 'Not Found' });
    }
    if (size > MAX_PAYLOAD_BYTES) {
      record(413);
      return send(res, 413, { message: 'Request Entity Too Large' });
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

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
