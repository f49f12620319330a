import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_MEDIA_LIMITS } from '../../lambdas/core/media/inspect.js';
import { type ApiAnswer, handleApi, SnapshotCache, snapshotOf } from './api.js';
import type { ConsoleBackend } from './backend.js';
import { renderPage } from './page.js';
import { checkRequest, newToken, securityHeaders } from './security.js';

/** The console's HTTP server: node:http, the gate on every request, then the page or the JSON API. */

export interface ConsoleOptions {
  backend: ConsoleBackend;
  /** 0: a free port. */
  port: number;
  readOnly: boolean;
  /** @default a new random token */
  token?: string;
  /** How old a table read may be when a page asks again. @default 2000 */
  snapshotMaxAgeMs?: number;
}

export interface RunningConsole {
  /** The address to open, token included. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

/** Bodies larger than this are refused before they are read whole (the audio limit, and room for nothing else). */
const MAX_BODY_BYTES = DEFAULT_MEDIA_LIMITS.maxAudioBytes + 1024;

export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const token = options.token ?? newToken();
  const snapshots = new SnapshotCache(snapshotOf(options.backend), options.snapshotMaxAgeMs ?? 2000);
  const mediaOrigins = await options.backend.mediaOrigins();
  let port = options.port;

  const server: Server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      console.error('avatar-pipeline console:', error);
      if (!res.headersSent) send(res, { status: 500, json: { error: { message: 'Internal error.' } } });
      else res.destroy();
    });
  });

  const send = (res: ServerResponse, answer: ApiAnswer, extra: Record<string, string> = {}) => {
    const body = JSON.stringify(answer.json);
    res.writeHead(answer.status, {
      ...securityHeaders(mediaOrigins),
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...extra,
    });
    res.end(body);
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const facts = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    const refusal = checkRequest(facts, { token, port, readOnly: options.readOnly });
    if (refusal) {
      req.resume();
      send(res, { status: refusal.status, json: { error: { message: refusal.message } } }, refusal.headers);
      return;
    }
    const url = new URL(facts.url, 'http://console');
    if (url.pathname === '/' || url.pathname === '/index.html') {
      const nonce = randomBytes(16).toString('base64');
      const html = renderPage({ nonce, readOnly: options.readOnly, target: options.backend.description });
      res.writeHead(200, {
        ...securityHeaders(mediaOrigins, nonce),
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(html),
      });
      res.end(req.method === 'HEAD' ? undefined : html);
      return;
    }
    if (!url.pathname.startsWith('/api/')) {
      send(res, { status: 404, json: { error: { message: `No such page: ${url.pathname}` } } });
      return;
    }
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    if (body === 'too large') {
      send(res, {
        status: 413,
        json: { error: { message: 'The file is larger than any audio a job accepts.' } },
      });
      return;
    }
    const answer = await handleApi(
      { method: facts.method, path: url.pathname, query: url.searchParams, ...(body ? { body } : {}) },
      { backend: options.backend, snapshots, readOnly: options.readOnly },
    );
    send(res, answer);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Only this machine: the token keeps out other pages in its browser, the address keeps out other machines.
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      // The gate checks `Host` against the port actually taken (with --port 0, a free one).
      port = (server.address() as AddressInfo).port;
      resolve();
    });
  });
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Uint8Array | 'too large'> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return 'too large';
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      return 'too large';
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
