import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LambdaHost } from '../../local/lambda-host.js';
import { LocalWebhookEndpoint } from '../../local/webhook-endpoint.js';

/**
 * The local stand-in for the HTTP API, driven over real sockets: what API Gateway refuses itself (malformed
 * targets, unknown routes, payloads over its quota) never reaches the function and is never a 500.
 */

interface WebhookEvent {
  rawPath: string;
  body: string;
  pathParameters: { taskUUID: string };
}

const invoked: WebhookEvent[] = [];
let endpoint: LocalWebhookEndpoint;
let port: number;

beforeAll(async () => {
  const host = {
    invoke: async (_name: string, event: WebhookEvent) => {
      invoked.push(event);
      return { statusCode: 200, body: JSON.stringify({ taskUUID: event.pathParameters.taskUUID }) };
    },
  } as unknown as LambdaHost;
  endpoint = new LocalWebhookEndpoint();
  port = Number(new URL(await endpoint.start()).port);
  endpoint.serve(host);
});
afterAll(async () => endpoint.stop());
beforeEach(() => {
  invoked.length = 0;
});

/** Sends one request exactly as written and returns the status line's code and the body. */
function raw(requestLine: string, body = '{}'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      out += d;
    });
    socket.on('end', () => {
      const [head = '', rest = ''] = out.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), body: rest });
    });
    socket.on('error', reject);
    socket.write(
      `${requestLine} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

describe('LocalWebhookEndpoint', () => {
  it('turns a well-formed POST into an event with the task UUID decoded once', async () => {
    const res = await raw('POST /runware/a%20b');
    expect(res.status).toBe(200);
    expect(invoked.map((e) => e.pathParameters.taskUUID)).toEqual(['a b']);
  });

  it.each([
    ['GET /%zz', 400],
    ['POST /runware/%zz', 400],
    ['POST /runware/%E0%A4%A', 400],
    ['POST /runware/abc%', 400],
    ['POST /%C0%AF/runware/abc', 400],
    ['POST http://[/runware/abc', 400],
    ['POST runware/abc', 400],
    ['OPTIONS *', 400],
    ['POST //runware/abc', 404],
    ['GET /runware/abc', 404],
    ['POST /runware/abc/extra', 404],
    ['POST /', 404],
    [`POST /runware/${'a'.repeat(11_000)}`, 431],
    [`POST /runware/${'a'.repeat(100_000)}`, 431],
  ])('answers %s with %i, as API Gateway refuses it, without invoking the function', async (line, status) => {
    const res = await raw(line);
    expect(res.status).toBe(status);
    expect(invoked).toHaveLength(0);
  });

  it('accepts an absolute-form target, as HTTP/1.1 servers must, and routes on its path', async () => {
    const res = await raw('POST http://127.0.0.1/runware/abc');
    expect(res.status).toBe(200);
    expect(invoked.map((e) => e.rawPath)).toEqual(['/runware/abc']);
  });

  it('refuses a payload over 10 MB by its Content-Length without reading it', async () => {
    const res = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/runware/abc',
          headers: { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024 + 1) },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('{'); // the rest never comes: the answer must not wait for it
    });
    expect(res).toBe(413);
    expect(invoked).toHaveLength(0);
  });

  it('refuses a streamed payload once it passes 10 MB, and takes one of exactly 10 MB', async () => {
    const post = (size: number) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/runware/abc',
            headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        // The server may close the connection mid-upload once it has answered.
        req.on('error', (error) => (size > 10 * 1024 * 1024 ? undefined : reject(error)));
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent < size) {
            const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
            sent += part.length;
            if (!req.write(part)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
    expect(await post(10 * 1024 * 1024 + 1)).toBe(413);
    expect(invoked).toHaveLength(0);
    expect(await post(10 * 1024 * 1024)).toBe(200);
    expect(invoked).toHaveLength(1);
  });

  it('records refused requests with their status', async () => {
    const before = endpoint.requests.length;
    await raw('GET /%zz');
    expect(endpoint.requests.slice(before)).toEqual([{ method: 'GET', path: '/%zz', status: 400 }]);
  });
});
