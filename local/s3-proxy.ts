import { type ClientRequest, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface S3FaultMatch {
  method?: string;
  bucket?: string;
  keyPrefix?: string;
}

/**
 * A pass-through in front of the local S3 through which the functions reach it, so that tests can make S3
 * fail the way it does on AWS (503 SlowDown) for chosen requests. Everything else is forwarded untouched.
 */
export class S3FaultProxy {
  private server: Server | undefined;
  /** Requests to s3rver in flight: each is ended with its downstream side, and all at stop. */
  private readonly upstreams = new Set<ClientRequest>();
  private readonly faults: { match: S3FaultMatch; remaining: number }[] = [];
  /** Requests answered with a fault. */
  readonly failed: { method: string; path: string }[] = [];

  constructor(private readonly target: string) {}

  /** The next `count` requests that match answer 503 SlowDown. */
  failNext(count: number, match: S3FaultMatch): void {
    this.faults.push({ match, remaining: count });
  }

  async start(): Promise<string> {
    const target = new URL(this.target);
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://local');
      const [, bucket = '', ...rest] = decodeURIComponent(url.pathname).split('/');
      const key = rest.join('/');
      const fault = this.faults.find(
        (f) =>
          f.remaining > 0 &&
          (!f.match.method || f.match.method === req.method) &&
          (!f.match.bucket || f.match.bucket === bucket) &&
          (!f.match.keyPrefix || key.startsWith(f.match.keyPrefix)),
      );
      if (fault) {
        fault.remaining -= 1;
        this.failed.push({ method: req.method ?? '', path: url.pathname });
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
        );
        return;
      }
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      this.upstreams.add(upstream);
      upstream.on('close', () => this.upstreams.delete(upstream));
      // A client that breaks off mid-body (an upload aborted because its source failed) must not leave s3rver
      // waiting for the rest of it: that connection would hold the stack's stop for ever. S3 drops it too.
      req.on('close', () => {
        if (!req.complete) upstream.destroy();
      });
      // Likewise a client that goes away before the answer was sent whole (a download it cancelled: the simulator
      // refusing an audio file too large, half read): s3rver would keep streaming into a connection nobody reads.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const upstream of this.upstreams) upstream.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
