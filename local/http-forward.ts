import {
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';

/**
 * The forwarding shape local mode's pass-through proxies share (S3 in front of s3rver, DynamoDB in front of
 * dynalite): a request judged by the proxy goes on to the emulator with its method, path and headers, and the
 * answer comes back as the emulator sent it.
 */

export interface ForwardOptions {
  /** Headers sent upstream. @default the request's own */
  headers?: OutgoingHttpHeaders;
  /** Sees the emulator's answer first; true when it answered the client itself (nothing is piped then). */
  intercept?: (answer: IncomingMessage) => boolean;
}

/**
 * Sends `req` on to `target` and pipes the answer back into `res`; the caller writes the request body into the
 * returned request. An upstream error drops the client's connection, and a client that goes away before the
 * answer was sent whole (a download it cancelled) ends the upstream request: the emulator would otherwise keep
 * streaming into a connection nobody reads.
 */
export function forward(
  target: URL,
  req: IncomingMessage,
  res: ServerResponse,
  options: ForwardOptions = {},
): ClientRequest {
  const upstream = request(
    {
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: options.headers ?? req.headers,
    },
    (answer) => {
      if (options.intercept?.(answer)) return;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  return upstream;
}
