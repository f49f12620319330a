/**
 * How long each request to local mode's servers takes, from its `request` event to its answer finished, by server
 * and kind of call (DynamoDB target, S3 method, Step Functions action, webhook): where figure 1's user-side wait
 * goes. The functions reach S3 and DynamoDB through local mode's IAM pass-throughs, so each of their calls is
 * counted twice, once at the pass-through (what the function waits) and once at the emulator behind it.
 */
import { type IncomingMessage, Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalStack } from '../local/stack.js';
import { quantile } from './support.js';

const BENCH_HEADER = 'x-avatar-bench';

export interface CallTimes {
  /** `server: kind` → durations in ms. */
  readonly calls: Map<string, number[]>;
  stop(): void;
}

/** Times every request to the stack's servers but the bench's own (tagged, see `tagBenchRequests`). */
export function timeCalls(stack: LocalStack): CallTimes {
  const portOf = (url: string) => Number(new URL(url).port);
  const servers = new Map<number, string>([
    [portOf(stack.endpoints.s3), 's3rver'],
    [portOf(stack.endpoints.dynamodb), 'dynalite'],
    [portOf(stack.endpoints.aws), 'aws endpoint'],
    [portOf(stack.endpoints.webhook), 'webhook'],
    [portOf(stack.endpoints.runware), 'runware'],
  ]);
  // The pass-throughs listen on ports of their own, which the stack does not show.
  const serverOf = (port: number, req: IncomingMessage) =>
    servers.get(port) ??
    (String(req.headers['x-amz-target'] ?? '').startsWith('DynamoDB_')
      ? 'dynamodb pass-through'
      : 's3 pass-through');
  const calls = new Map<string, number[]>();
  // At a pass-through, the caller too: each function signs with its own key (local/iam).
  const callers = new Map(
    Object.entries(stack.iam.model.functions).map(([name, fn]) => [fn.accessKeyId, name] as const),
  );
  const callerOf = (req: IncomingMessage) => {
    const key = String(req.headers.authorization ?? '').match(/Credential=([^/,\s]+)\//)?.[1];
    return key ? ` by ${callers.get(key) ?? 'another'}` : '';
  };
  const emit = Server.prototype.emit;
  Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request') {
      const req = args[0] as IncomingMessage;
      const res = args[1] as ServerResponse;
      const port = (this.address() as AddressInfo | null)?.port ?? 0;
      const server = serverOf(port, req);
      if (!req.headers[BENCH_HEADER]) {
        const started = performance.now();
        const by = server.endsWith('pass-through') ? callerOf(req) : '';
        const name = `${server}: ${kindOf(req)}${by}`;
        res.once('finish', () => {
          const list = calls.get(name) ?? [];
          list.push(performance.now() - started);
          calls.set(name, list);
        });
      }
    }
    return emit.apply(this, [event, ...args] as Parameters<Server['emit']>);
  } as Server['emit'];
  return {
    calls,
    stop: () => {
      Server.prototype.emit = emit;
    },
  };
}

function kindOf(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string')
    return target.replace(/^DynamoDB_\d+\./, '').replace(/^AWSStepFunctions\./, '');
  const url = req.url ?? '/';
  if (req.headers['x-amz-copy-source']) return 'CopyObject';
  if (req.method === 'GET' && /[?&]list-type=2/.test(url)) return 'ListObjectsV2';
  if (req.method === 'POST' && /[?&]uploads/.test(url)) return 'CreateMultipartUpload';
  return `${req.method} object`;
}

/** Per kind of call: how many per job, p50 and p95 in ms, and the time per job, largest first. */
export function summarizeCalls(calls: Map<string, number[]>, jobs: number) {
  return Object.fromEntries(
    [...calls.entries()]
      .map(([name, ms]) => {
        const total = ms.reduce((a, b) => a + b, 0);
        return [
          name,
          {
            perJob: Math.round((ms.length / Math.max(1, jobs)) * 10) / 10,
            p50: Math.round(quantile(ms, 0.5) * 10) / 10,
            p95: Math.round(quantile(ms, 0.95) * 10) / 10,
            msPerJob: Math.round(total / Math.max(1, jobs)),
          },
        ] as const;
      })
      .sort((a, b) => b[1].msPerJob - a[1].msPerJob),
  );
}
