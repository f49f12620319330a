import { type ClientRequest, createServer, type Server } from 'node:http';
import { forward } from './http-forward.js';
import { closeServer, listenLocal } from './listen.js';

/** A refusal the proxy answers with instead of forwarding. */
export interface S3Refusal {
  status: number;
  body: string;
}

/**
 * Judges a request before it is forwarded: a refusal is answered at once; `onNotFound`, when given, turns an
 * upstream 404 into what the caller may see instead (S3 answers 403 for a missing key to a caller without
 * `s3:ListBucket`).
 */
export type S3Guard = (
  method: string,
  url: URL,
  headers: Record<string, string | string[] | undefined>,
) => { refusal?: S3Refusal; onNotFound?: () => S3Refusal | undefined };

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

  private guard: S3Guard | undefined;

  constructor(private readonly target: string) {}

  /** Judges every request from now on (local mode's IAM: the caller's role and the bucket's policy). */
  setGuard(guard: S3Guard): void {
    this.guard = guard;
  }

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
      const judged = this.guard?.(req.method ?? 'GET', url, req.headers);
      const refuse = (refusal: S3Refusal) => {
        req.resume();
        const body = req.method === 'HEAD' ? '' : refusal.body;
        res.writeHead(refusal.status, {
          'content-type': 'application/xml',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      };
      if (judged?.refusal) return refuse(judged.refusal);
      const upstream = forward(target, req, res, {
        intercept: (answer) => {
          const instead = answer.statusCode === 404 ? judged?.onNotFound?.() : undefined;
          if (!instead) return false;
          answer.resume();
          refuse(instead);
          return true;
        },
      });
      this.upstreams.add(upstream);
      upstream.on('close', () => this.upstreams.delete(upstream));
      // A client that breaks off mid-body (an upload aborted because its source failed) must not leave s3rver
      // waiting for the rest of it: that connection would hold the stack's stop for ever. S3 drops it too.
      req.on('close', () => {
        if (!req.complete) upstream.destroy();
      });
      // Likewise a client that goes away before the answer was sent whole (a download it cancelled: the simulator
      // refusing an audio file too large, half read): `forward` ends the upstream request then.
      req.pipe(upstream);
    });
    return listenLocal(this.server);
  }

  async stop(): Promise<void> {
    for (const upstream of this.upstreams) upstream.destroy();
    await closeServer(this.server);
  }
}
