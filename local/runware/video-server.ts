/** `GET /video/<videoUUID>.<ext>`: the rendered results, served (or, under a `videoFault`, not) like a CDN. */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TaskRegistry } from './registry.js';
import { SIM_FORMAT_FILES } from './spec.js';

const HTML_ERROR_PAGE = '<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>\n';

/** Serves the video `name` (`<videoUUID>.<ext>`) as its task's `videoFault` says. */
export async function serveVideo(
  registry: TaskRegistry,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
): Promise<void> {
  const match = /^([0-9a-f-]{36})\.([a-z0-9]+)$/i.exec(name);
  const entry = match?.[1] === undefined ? undefined : registry.video(match[1]);
  const file = entry?.result.file;
  // `ttl`: once it has run out the URL answers like any deleted object (see SimulatedResult.expiresAtMs).
  const expiresAtMs = entry?.result.expiresAtMs ?? entry?.task.expiresAt?.getTime();
  if (
    !entry ||
    file === undefined ||
    match?.[2]?.toLowerCase() !== SIM_FORMAT_FILES[entry.task.format].ext ||
    (expiresAtMs !== undefined && Date.now() >= expiresAtMs)
  ) {
    notFound(res);
    return;
  }
  const head = req.method === 'HEAD';
  const contentType = SIM_FORMAT_FILES[entry.task.format].contentType;
  switch (entry.task.faults.videoFault) {
    case '404':
      notFound(res);
      return;
    case 'unreachable':
      req.socket.destroy();
      return;
    case 'wrong-content-type':
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': Buffer.byteLength(HTML_ERROR_PAGE),
      });
      res.end(head ? undefined : HTML_ERROR_PAGE);
      return;
    case 'truncate': {
      const bytes = await readFile(file);
      res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': bytes.length });
      if (head) res.end();
      // Half the promised bytes, then the connection drops: what a client sees when a download breaks.
      else res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.destroy());
      return;
    }
    default: {
      const { size } = await stat(file);
      res.writeHead(200, {
        'Content-Type': contentType,
        'Content-Length': size,
        'Cache-Control': 'private, max-age=3600',
      });
      if (head) res.end();
      else
        createReadStream(file)
          .on('error', () => res.destroy())
          .pipe(res);
    }
  }
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not Found');
}
