import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PIPELINE_FUNCTION_NAMES } from '../../lib/function-names.js';
import { HTTP_API_INTEGRATION_TIMEOUT_MS, httpApiEvent } from '../../local/http-api.js';
import { LambdaHost } from '../../local/lambda-host.js';
import type { FunctionName, LocalFunction } from '../../local/template.js';
import { LocalWebhookEndpoint, type WebhookInvoker } from '../../local/webhook-endpoint.js';
import { documentedEventV2 } from '../fixtures/apigateway/http-api.js';

/**
 * The local HTTP API against AWS's documentation: the payload format 2.0 event it hands the function (compared
 * with the documented example), how it maps the function's answer, and the quotas it answers itself
 * (request line and header values, integration timeout), over real sockets with a fake function.
 */

type Answer = (event: EventV2) => Promise<unknown>;

interface EventV2 {
  version: string;
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  pathParameters?: Record<string, string>;
  requestContext: {
    requestId: string;
    routeKey: string;
    stage: string;
    time: string;
    timeEpoch: number;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
  };
  body?: string;
  isBase64Encoded: boolean;
}

const endpoints: LocalWebhookEndpoint[] = [];
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.stop()));
});

/** An endpoint whose webhook function answers with `answer`; the events it received are in `events`. */
async function endpointWith(answer: Answer, integrationTimeoutMs?: number) {
  const events: EventV2[] = [];
  const invoker: WebhookInvoker = {
    invoke: async (_name: FunctionName, event: unknown) => {
      events.push(event as EventV2);
      return answer(event as EventV2);
    },
  };
  const endpoint = new LocalWebhookEndpoint(
    integrationTimeoutMs === undefined ? {} : { integrationTimeoutMs },
  );
  endpoints.push(endpoint);
  const port = Number(new URL(await endpoint.start()).port);
  endpoint.serve(invoker);
  return { endpoint, port, events };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request with exactly these headers (repeats included), by Node's client. */
function send(
  port: number,
  path: string,
  headers: [string, string][],
  body: string | Buffer = '',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // A list of headers is sent as it is: Node adds no Host header to it.
    const flat: string[] = ['Host', '127.0.0.1'];
    for (const [name, value] of headers) flat.push(name, value);
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: flat }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A request written byte for byte: returns the status code and the body. */
function raw(port: number, head: string, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      out += d;
    });
    socket.on('end', () => {
      const [top = '', rest = ''] = out.split('\r\n\r\n');
      // The body may come chunked: its JSON is the part between the braces.
      resolve({ status: Number(top.split(' ')[1]), body: /\{.*\}/s.exec(rest)?.[0] ?? rest });
    });
    socket.on('error', reject);
    socket.write(`${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}

const ok: Answer = async () => ({ statusCode: 200, body: '{}' });

describe('HTTP API payload format 2.0 event', () => {
  it('builds the documented example event from the documented request', () => {
    const documented = documentedEventV2() as {
      requestContext: Record<string, unknown>;
      [key: string]: unknown;
    };
    // Features the webhook API does not configure: mutual TLS, an authorizer, stage variables.
    const { stageVariables: _stageVariables, ...rest } = documented;
    const {
      authentication: _authentication,
      authorizer: _authorizer,
      ...context
    } = documented.requestContext;
    const expected = { ...rest, requestContext: context };

    const event = httpApiEvent({
      method: 'POST',
      rawPath: '/my/path',
      rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
      headers: [
        ['Header1', 'value1'],
        ['Header2', 'value1'],
        ['Cookie', 'cookie1'],
        ['Header2', 'value2'],
        ['Cookie', 'cookie2'],
        ['User-Agent', 'agent'],
      ],
      body: Buffer.from('Hello from Lambda'),
      sourceIp: '192.0.2.1',
      protocol: 'HTTP/1.1',
      routeKey: '$default',
      pathParameters: { parameter1: 'value1' },
      apiId: 'api-id',
      accountId: '123456789012',
      domainName: 'id.execute-api.us-east-1.amazonaws.com',
      requestId: 'id',
      at: new Date(1583348638390),
    });
    // The example's own user-agent header is not in its `headers`; everything else is exactly the example.
    const { 'user-agent': userAgent, ...headers } = event.headers;
    expect(userAgent).toBe('agent');
    // The example's `time` (12 March) and `timeEpoch` (4 March) are eight days apart: `time` is compared by its
    // format, and with the `timeEpoch` it must agree with.
    const { time, ...eventContext } = event.requestContext;
    const { time: documentedTime, ...documentedContext } = expected.requestContext;
    expect({ ...event, headers, requestContext: eventContext }).toEqual({
      ...expected,
      requestContext: documentedContext,
    });
    expect(time).toBe('04/Mar/2020:19:03:58 +0000');
    expect(String(documentedTime).replace(/^\d{2}/, '04')).toBe(time);
  });

  it('hands the function lowercased headers, joined repeats, cookies apart and joined query parameters', async () => {
    const { port, events } = await endpointWith(ok);
    const reply = await send(
      port,
      '/runware/task-1?token=a&x=1&x=2&y=%20z',
      [
        ['Content-Type', 'application/json'],
        ['X-Repeated', 'one'],
        ['X-Repeated', 'two'],
        ['Cookie', 'a=1; b=2'],
        ['Cookie', 'c=3'],
        ['User-Agent', 'Runware/1.0'],
      ],
      '{"data":[]}',
    );
    expect(reply.status).toBe(200);
    const [event] = events;
    expect(event?.version).toBe('2.0');
    expect(event?.routeKey).toBe('POST /runware/{taskUUID}');
    expect(event?.rawPath).toBe('/runware/task-1');
    expect(event?.rawQueryString).toBe('token=a&x=1&x=2&y=%20z');
    expect(event?.queryStringParameters).toEqual({ token: 'a', x: '1,2', y: ' z' });
    expect(event?.pathParameters).toEqual({ taskUUID: 'task-1' });
    expect(event?.cookies).toEqual(['a=1', 'b=2', 'c=3']);
    expect(event?.headers).toMatchObject({
      'content-type': 'application/json',
      'x-repeated': 'one,two',
      'user-agent': 'Runware/1.0',
    });
    expect(Object.keys(event?.headers ?? {}).every((name) => name === name.toLowerCase())).toBe(true);
    expect(event?.headers).not.toHaveProperty('cookie');
    expect(event?.body).toBe('{"data":[]}');
    expect(event?.isBase64Encoded).toBe(false);
    expect(event?.requestContext).toMatchObject({
      routeKey: 'POST /runware/{taskUUID}',
      stage: '$default',
      http: {
        method: 'POST',
        path: '/runware/task-1',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'Runware/1.0',
      },
    });
    expect(event?.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs((event?.requestContext.timeEpoch ?? 0) - Date.now())).toBeLessThan(10_000);
    // API Gateway's request id travels with the answer.
    expect(reply.headers['apigw-requestid']).toBe(event?.requestContext.requestId);
  });

  it('passes a binary body base64-encoded, and leaves out what the request did not have', async () => {
    const { port, events } = await endpointWith(ok);
    await send(port, '/runware/t', [['Content-Type', 'application/octet-stream']], Buffer.from([0, 255, 1]));
    await send(port, '/runware/t', []);
    expect(events[0]?.isBase64Encoded).toBe(true);
    expect(Buffer.from(events[0]?.body ?? '', 'base64')).toEqual(Buffer.from([0, 255, 1]));
    expect(events[1]).not.toHaveProperty('body');
    expect(events[1]).not.toHaveProperty('cookies');
    expect(events[1]).not.toHaveProperty('queryStringParameters');
    expect(events[1]?.rawQueryString).toBe('');
  });
});

describe('HTTP API response mapping (format 2.0)', () => {
  it('answers a result without statusCode as 200 JSON, the result being the body', async () => {
    let result: unknown = { message: 'Hello from Lambda!' };
    const { port } = await endpointWith(async () => result);
    const object = await send(port, '/runware/t', []);
    expect(object.status).toBe(200);
    expect(object.headers['content-type']).toBe('application/json');
    expect(object.body.toString()).toBe('{"message":"Hello from Lambda!"}');
    result = 'Hello from Lambda!';
    const text = await send(port, '/runware/t', []);
    expect(text.status).toBe(200);
    expect(text.body.toString()).toBe('Hello from Lambda!');
  });

  it('turns cookies into set-cookie headers and decodes a base64 body', async () => {
    const { port } = await endpointWith(async () => ({
      statusCode: 201,
      headers: { 'Content-Type': 'application/octet-stream', 'X-Custom': 7 },
      cookies: ['a=1; Secure', 'b=2'],
      body: Buffer.from([1, 2, 3]).toString('base64'),
      isBase64Encoded: true,
    }));
    const reply = await send(port, '/runware/t', []);
    expect(reply.status).toBe(201);
    expect(reply.headers['set-cookie']).toEqual(['a=1; Secure', 'b=2']);
    expect(reply.headers['x-custom']).toBe('7');
    expect(reply.body).toEqual(Buffer.from([1, 2, 3]));
  });

  it.each([
    ['a function error', async () => Promise.reject(new Error('boom'))],
    ['a statusCode that is not a status', async () => ({ statusCode: 'abc', body: 'x' })],
    ['a body that is not a string', async () => ({ statusCode: 200, body: { a: 1 } })],
  ])('answers %s with 500 Internal Server Error', async (_what, answer: Answer) => {
    const { port } = await endpointWith(answer);
    const reply = await send(port, '/runware/t', []);
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.body.toString())).toEqual({ message: 'Internal Server Error' });
  });
});

describe('HTTP API quotas', () => {
  it('waits 30 s for the function by default', () => {
    expect(HTTP_API_INTEGRATION_TIMEOUT_MS).toBe(30_000);
  });

  it('answers 503 Service Unavailable when the function outlives the integration timeout', async () => {
    // The function answers only once the client has its reply, so the reply cannot have waited for it, however
    // slowly a loaded machine runs either.
    let answer: (value: string) => void = () => undefined;
    const { port, events } = await endpointWith(() => new Promise((r) => (answer = r)), 300);
    const reply = await send(port, '/runware/t', []);
    answer('late');
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body.toString())).toEqual({ message: 'Service Unavailable' });
    expect(events).toHaveLength(1);
  });

  it('counts the request line and header values (not names) against 10,240 bytes', async () => {
    const { port, events } = await endpointWith(ok);
    const line = 'POST /runware/t HTTP/1.1';
    // The raw head below has these values: the host, the padding, the content length ('0'), 'close'.
    const fixed = Buffer.byteLength(line) + '127.0.0.1'.length + 1 + 'close'.length;
    const head = (padding: number, name = 'X-Pad') =>
      `${line}\r\nHost: 127.0.0.1\r\n${name}: ${'p'.repeat(padding)}`;
    const exact = await raw(port, head(10_240 - fixed));
    expect(exact.status).toBe(200);
    const over = await raw(port, head(10_240 - fixed + 1));
    expect(over.status).toBe(431);
    expect(events).toHaveLength(1);
    // Long header names do not count: 3,000 bytes of names on top of values at the limit are still accepted.
    const named = await raw(port, head(10_240 - fixed, `X-${'n'.repeat(3_000)}`));
    expect(named.status).toBe(200);
  });

  it('answers a body over 10 MB with 413 and API Gateway’s message', async () => {
    const { port, events } = await endpointWith(ok);
    const reply = await raw(
      port,
      `POST /runware/t HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json`,
      'x'.repeat(10 * 1024 * 1024 + 1),
    );
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toEqual({ message: 'Request Entity Too Large' });
    expect(events).toHaveLength(0);
  });
});

describe('HTTP API in front of the local Lambda host', () => {
  it('answers 500 for a body API Gateway takes (under 10 MB) but Lambda refuses (event over 6 MiB)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'http-api-host-'));
    writeFileSync(
      join(dir, 'index.mjs'),
      'export const handler = async (event) => ({ statusCode: 200, body: String(event.body.length) });\n',
    );
    const functions = {} as Record<FunctionName, LocalFunction>;
    for (const name of PIPELINE_FUNCTION_NAMES)
      functions[name] = {
        name,
        logicalId: name,
        assetDir: dir,
        handler: 'index.handler',
        timeoutSeconds: 10,
        memoryMb: 512,
        environment: {},
        asyncRetryAttempts: 2,
        asyncOnFailure: false,
        arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
      };
    const host = new LambdaHost({ functions, sharedEnvironment: {}, log: () => undefined });
    const endpoint = new LocalWebhookEndpoint();
    endpoints.push(endpoint);
    const port = Number(new URL(await endpoint.start()).port);
    endpoint.serve(host);
    try {
      const small = await send(port, '/runware/t', [['Content-Type', 'text/plain']], 'x'.repeat(1024 * 1024));
      expect(small.status).toBe(200);
      expect(small.body.toString()).toBe(String(1024 * 1024));
      const large = await send(
        port,
        '/runware/t',
        [['Content-Type', 'text/plain']],
        'x'.repeat(7 * 1024 * 1024),
      );
      expect(large.status).toBe(500);
      expect(JSON.parse(large.body.toString())).toEqual({ message: 'Internal Server Error' });
    } finally {
      await host.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
